// Conditions prepared when compiled (values lower-cased, a mask of their lengths, the values that
// are an integer's text) must answer exactly as the plain rule: the value's text (a record string
// as it is, an integer as its digits, other scalars as scalar_text(), objects and arrays as JSON)
// compared case-insensitively with each value; a missing or null value equals nothing.
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <simdjson.h>

#include "connector/mapping/expression.h"

namespace siem::mapping {
namespace {

// The rule itself, written out plainly (the reference the prepared conditions are held to).
bool reference(const Condition& c, const std::optional<json::element>& e) {
  using Op = Condition::Op;
  if (c.op == Op::exists || c.op == Op::missing) return e.has_value() == (c.op == Op::exists);
  if (!e) return c.op == Op::not_equals || c.op == Op::not_in;
  std::string text;
  if (!json::scalar_text(*e, text)) text = json::to_json(*e);
  bool any = false;
  for (const auto& v : c.values) {
    switch (c.op) {
      case Op::contains: any = any || json::icontains(text, v); break;
      case Op::starts_with: any = any || json::istarts_with(text, v); break;
      default: any = any || json::iequals(text, v); break;
    }
  }
  return (c.op == Op::not_equals || c.op == Op::not_in) ? !any : any;
}

TEST(Conditions, PreparedAnswerAsTheTextCompare) {
  const std::vector<std::string> values = {
      "v", "0", "00", "-0", "+1", "-1", "1", "50126", "050126", "9223372036854775807", "18446744073709551615",
      "true", "TRUE", "1.5", "1e5", "Success", "SUCCESS", "success ", "", "ipaddr", "IPADDR", "User", "user",
      "Add member to role", "add MEMBER to role (pim activation)", "@", "a\xc3\xa9", "A\xc3\xa9",
      std::string(63, 'x'), std::string(64, 'x'), std::string(70, 'X'), std::string(64, 'y'), "[1,2]", "{\"a\":1}",
      "administrative", "Administrative"};
  // The record values: each value above as a string, and numbers, booleans, nulls, objects, arrays.
  std::vector<std::string> records;
  for (const auto& v : values) {
    std::string r = "{\"p\":";
    encoding::append_json_string(r, v);
    records.push_back(r + "}");
  }
  for (const char* raw : {"0", "-0", "1", "-1", "50126", "9223372036854775807", "18446744073709551615", "1.5",
                          "1e5", "true", "false", "null", "[1,2]", "{\"a\":1}", "{\"value\":\"Administrative\"}",
                          "{\"value\":0,\"localizedValue\":\"zero\"}", "[]", "{}"})
    records.push_back(std::string("{\"p\":") + raw + "}");
  records.push_back("{}");
  // Conditions of one to three values, for every op.
  std::vector<std::vector<std::string>> lists;
  for (std::size_t i = 0; i < values.size(); ++i) {
    lists.push_back({values[i]});
    lists.push_back({values[i], values[(i * 7 + 3) % values.size()], values[(i * 11 + 5) % values.size()]});
  }
  lists.push_back({});
  using Op = Condition::Op;
  simdjson::dom::parser parser;
  std::size_t checked = 0, held = 0;
  for (const auto& text : records) {
    json::element root;
    ASSERT_EQ(parser.parse(text).get(root), simdjson::SUCCESS) << text;
    EvalContext ctx;
    ctx.record = root;
    for (const Op op : {Op::exists, Op::missing, Op::equals, Op::not_equals, Op::in, Op::not_in, Op::contains,
                        Op::starts_with}) {
      for (const auto& list : lists) {
        Condition c;
        c.op = op;
        c.values = list;
        c.path = json::Path("p");
        Condition prepared = c;
        prepared.prepare();
        const bool expect = reference(c, c.path.first(root));
        SCOPED_TRACE(text + " op " + std::to_string(static_cast<int>(op)) + " values " +
                     (list.empty() ? std::string("-") : list.front()));
        EXPECT_EQ(condition_holds(prepared, ctx), expect);
        EXPECT_EQ(condition_holds(c, ctx), expect);  // not prepared: the values as they are
        ++checked;
        held += expect ? 1 : 0;
      }
    }
  }
  // Both answers occur often (the cases are not all of one kind).
  EXPECT_GT(held, checked / 10);
  EXPECT_LT(held, checked - checked / 10);
}

// Which values prepare() takes for an integer's text: exactly what std::to_chars writes.
TEST(Conditions, IntegerValuesAreThoseWrittenAsTheRecordWritesIntegers) {
  Condition c;
  c.op = Condition::Op::in;
  c.values = {"0", "00", "-0", "+1", "-1", "50126", " 1", "1 ", "9223372036854775807", "9223372036854775808", "x"};
  c.prepare();
  EXPECT_EQ(c.integers, (std::vector<std::int64_t>{0, -1, 50126, 9223372036854775807}));
  EXPECT_EQ(c.lowered.size(), c.values.size());
}

}  // namespace
}  // namespace siem::mapping
