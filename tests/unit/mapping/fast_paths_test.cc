// The fast paths of the mapping engine (Rule::append_json, append_text, string_view, integer_constant) against
// Rule::evaluate() for every rule of every shipped mapping, over every sample record under every
// kind's mapping, and over variants of the records whose values change type (a string where a
// number was, null, {}, [], escapes, an object where a string was): byte for byte the same. And
// every row of the conversion table: its fast implementation against its general one.
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <utility>
#include <string>
#include <vector>

#include <simdjson.h>

#include "connector/config/config_node.h"
#include "connector/mapping/expression.h"
#include "connector/mapping/fast_paths_forms.h"
#include "connector/mapping/json_out.h"
#include "connector/mapping/kind_detect.h"
#include "connector/mapping/mapping_rules.h"
#include "connector/record/shipped_files.h"
#include "tests/support/fast_path_check.h"
#include "tests/support/record_variants.h"
#include "tests/support/sample_records.h"

namespace siem {
namespace {

class FastPaths : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    Diagnostics diags;
    set_ = new mapping::MappingSet(mapping::MappingSet::load(shipped_mapping_files(find_mappings_dir()), diags));
    ASSERT_FALSE(diags.has_errors()) << diags.format();
  }
  static void TearDownTestSuite() {
    delete set_;
    set_ = nullptr;
  }
  // Both paths for every rule of `m` on `json`; the first disagreements are reported.
  void check(const mapping::KindMapping& m, const std::string& json, bool with_enrichment) {
    const std::size_t before = report_.disagreements.size();
    testing::check_fast_paths(*set_, m, json, with_enrichment, report_);
    for (std::size_t i = before; i < report_.disagreements.size() && i < before + 5; ++i)
      ADD_FAILURE() << report_.disagreements[i];
  }

  static mapping::MappingSet* set_;
  simdjson::dom::parser parser_;
  testing::FastPathReport report_;
};

mapping::MappingSet* FastPaths::set_ = nullptr;

// What a rule's append_json() writes through the document writer's cursor after a "<" prefix, with no
// room made in advance (it grows at the first write), and what it answered.
std::pair<std::optional<bool>, std::string> append_through_cursor(const mapping::Rule& rule,
                                                                  const mapping::EvalContext& ctx) {
  std::string out = "<";
  std::optional<bool> written;
  {
    mapping::CursorOut cursor(out, 0);
    written = rule.append_json(ctx, cursor);
    cursor.finish();
  }
  return {written, out};
}

TEST_F(FastPaths, AgreeWithEvaluateOnEverySampleUnderEveryKind) {
  const auto records = testing::sample_records();
  ASSERT_GT(records.size(), 30u);
  std::vector<SourceKind> kinds(all_source_kinds().begin(), all_source_kinds().end());
  kinds.push_back(SourceKind::unknown);
  for (const auto& sample : records)
    for (auto kind : kinds)
      for (bool enriched : {false, true}) check(set_->for_kind(kind), sample.json, enriched);
  EXPECT_GT(report_.compared, 10'000u);  // the fast paths were really taken
}

TEST_F(FastPaths, AgreeWithEvaluateWhenValuesChangeType) {
  std::size_t n = 0;
  for (const auto& sample : testing::sample_records()) {
    simdjson::dom::element root;
    ASSERT_EQ(parser_.parse(sample.json).get(root), simdjson::SUCCESS) << sample.file;
    const auto& m = set_->for_kind(detect_kind(root));
    for (const auto& variant : testing::record_variants(sample.json)) {
      check(m, variant, ++n % 2 == 0);
      if (HasFailure()) return;  // one record's report is enough to act on
    }
  }
  EXPECT_GT(n, 1'000u);
  EXPECT_GT(report_.compared, 50'000u);
}

// `unit` repeated past 2 KiB: longer than the JSON writers' direct limit for one text.
std::string long_text(const std::string& unit) {
  std::string s;
  while (s.size() < 2048) s += unit;
  return s;
}

// Every conversion (conversion_table.cc), as `{from: v, type: <name>}` (int also with a multiply)
// over values of every JSON type: Rule::append_json (the fast implementation, or the plain writer)
// gives what Rule::evaluate (the general implementation) + append_value_json give, and
// Rule::append_text what evaluate().text() gives, or leaves the case to it.
TEST(ConversionTable, FastImplementationsAgreeWithTheGeneralOnes) {
  const std::vector<std::string> values = {
      R"("")", R"("x")", R"("42")", R"(" 7 ")", R"("4.6")", R"("true")", R"("0")", R"("FALSE")",
      R"("alice@contoso.com")", R"("@")", R"("a@")", R"("2026-03-04T10:15:30.123Z")", R"("3/4/2026 10:15:30 AM")",
      R"("not a time")", R"("10.1.2.3")", R"("10.1.2.3:443")", R"("[2001:db8::5]:443")", R"("fe80::1%eth0")",
      R"("0.0.0.0")", R"("/subscriptions/ABC-1/resourceGroups/x")", R"("PT1H30M")", R"("\"quoted\"")",
      R"("Ünïcödé\u2028")", "0", "42", "-7", "18446744073709551615", "4.5", "-2.5", "1e300", "true", "false",
      "null", "[]", R"(["a","",1,true,null,{"k":1}])", R"(["10.1.2.3"])", "{}",
      R"({"value":"v","localizedValue":"V"})", R"({"userPrincipalName":"a@b.c","IPAddress":["1.2.3.4"]})",
      // hostile texts: control characters, quotes, backslashes, line breaks, in every conversion's
      // shape (a UPN, a time, an ARM id, a list), and longer than the cursor's direct limit (1 KiB)
      R"("\u0000\u0001\u001f\"\\\u2028\u2029\u0085 x")", R"("us\u0001er\"@dom\\ain\u2028")",
      R"("/subscriptions/S\u0001/resourceGroups/g\"r/providers/Microsoft.X/t\\y/n\u2028a/m")",
      R"(["\u0001","\"",1e-7,-0.0,18446744073709551615,"\u2028"])",
      "\"" + long_text(R"(a\\\"\u0001\u2028@)") + "\"", "\"" + long_text("/subscriptions/x/providers/M.N/t/") + "\"",
      "[\"" + long_text(R"(\u0002\\\")") + "\",2]",
      // numbers at the limits of the integer and the shortest double forms
      "-9223372036854775808", "9223372036854775807", "9223372036854775808", "-0.0", "5e-324",
      "-1.7976931348623157e308", "2.2250738585072014e-308", "0.00012345678901234567", "0.0001", "0.00001",
      "1234567890123456.7", "1e15", "1e16", "123456789012345678", "47.60621", "-122.33207"};
  std::size_t compared = 0;
  for (const auto& row : mapping::conversion_table()) {
    for (const std::optional<double> multiply : {std::optional<double>(), std::optional<double>(2.5),
                                                 std::optional<double>(1000)}) {
      if (multiply && row.id != mapping::Conversion::integer) continue;
      auto e = std::make_shared<mapping::Expr>();
      e->src = mapping::Expr::Src::from;
      e->paths.emplace_back("v");
      e->conversion = row.id;
      e->multiply = multiply;
      e->is_plain = e->plain();
      mapping::Rule rule;
      rule.alternatives.push_back(e);
      rule.plain = e->plain();
      rule.direct = e->direct();
      for (const auto& v : values) {
        const std::string json = "{\"v\":" + v + "}";
        simdjson::dom::parser parser;
        simdjson::dom::element record;
        ASSERT_EQ(parser.parse(json).get(record), simdjson::SUCCESS) << json;
        mapping::EvalContext ctx;
        ctx.record = record;
        std::string general;
        if (const auto value = rule.evaluate(ctx); !value.empty()) mapping::append_value_json(general, value);
        const auto value = rule.evaluate(ctx);
        const std::string general_text = value.empty() ? std::string() : value.text();
        const std::string name = std::string(row.name.empty() ? "none" : row.name) + (multiply ? " with multiply" : "");
        std::string text;
        if (const auto written = rule.append_text(ctx, text)) {
          ++compared;
          EXPECT_EQ(text, general_text) << "text of type " << name << " of " << v;
          EXPECT_EQ(*written, !value.empty()) << "text of type " << name << " of " << v;
        } else {
          EXPECT_EQ(text, "") << "type " << name << " of " << v << ": text left to evaluate() after appending";
        }
        std::string fast;
        const auto written = rule.append_json(ctx, fast);
        // The same through the document writer's cursor, with no room made in advance (it grows at the
        // first write) and after a prefix.
        const auto [cursor_written, cursor_out] = append_through_cursor(rule, ctx);
        EXPECT_EQ(cursor_written, written) << "cursor, type " << name << " of " << v;
        EXPECT_EQ(cursor_out, "<" + fast) << "cursor, type " << name << " of " << v;
        if (!written) {
          EXPECT_EQ(fast, "") << "type " << name << " of " << v << ": left to evaluate() after appending";
          continue;
        }
        ++compared;
        EXPECT_EQ(fast, *written ? general : std::string()) << "type " << name << " of " << v;
        EXPECT_EQ(*written, !general.empty()) << "type " << name << " of " << v;
      }
    }
  }
  EXPECT_GT(compared, 900u);  // the fast implementations were really taken, in both forms
}

// The template fast path's test of whether a text needs no escaping (json_plain_text) and the
// escaper itself (write_json_string) decide alike for every byte value 0-255, alone and at every
// position of texts around the 16-byte blocks: a byte the fast path calls plain is copied as it is,
// and one it does not is escaped or replaced (a lone byte from 0x80 on is invalid UTF-8).
TEST(Templates, PlainTextTestAgreesWithTheEscaperOnEveryByte) {
  for (std::size_t len : {1, 2, 15, 16, 17, 31, 33}) {
    for (std::size_t at = 0; at < len; ++at) {
      for (int b = 0; b < 256; ++b) {
        std::string s(len, 'a');
        s[at] = static_cast<char>(b);
        std::vector<char> padded(s.begin(), s.end());
        padded.resize(len + 16, '"');  // what follows the text must not count
        const bool plain = mapping::fast_paths_detail::json_plain_text(padded.data(), len);
        std::vector<char> out(encoding::json_string_bound(len));
        const char* end = encoding::write_json_string(out.data(), "", s);
        const bool copied = std::string(out.data(), static_cast<std::size_t>(end - out.data())) == "\"" + s + "\"";
        ASSERT_EQ(plain, copied) << "byte " << b << " at " << at << " of " << len;
      }
    }
  }
}

// A template's text rendered straight into the document writer's cursor and quoted where it lies
// when it needs no escaping (fast_paths_forms.h, append_direct): the same bytes as the string
// writer and as evaluate() + append_value_json, for record values that need escaping (quotes,
// backslashes, control characters, non-ASCII, line breaks) at every position relative to the
// 16-byte blocks tested, long texts, numbers, empty and missing values, an optional group.
TEST(Templates, RenderedIntoTheCursorAgreeWithTheGeneralWriter) {
  using Part = mapping::TemplatePart;
  auto e = std::make_shared<mapping::Expr>();
  e->src = mapping::Expr::Src::tpl;
  e->parts.push_back(Part{"", json::Path("v"), {}});
  e->parts.push_back(Part{" signed in", std::nullopt, {}});
  Part open, close;
  open.group = Part::Group::open;
  close.group = Part::Group::close;
  e->parts.push_back(open);
  e->parts.push_back(Part{" to ", std::nullopt, {}});
  e->parts.push_back(Part{"", json::Path("w"), {}});
  e->parts.push_back(close);
  e->is_plain = e->plain();
  mapping::Rule rule;
  rule.alternatives.push_back(e);
  rule.plain = e->plain();
  rule.direct = e->direct();
  ASSERT_TRUE(rule.direct);
  std::vector<std::string> values = {R"("")", R"("x")", "42", "-9223372036854775808", "18446744073709551615", "-2.5", "true", "null", "{}", R"("caf\u00e9")",
                                     R"("a\u2028b\u2029")", R"("\u007f")", "\"" + long_text("plain text ") + "\"",
                                     "\"" + long_text(R"(a\"b)") + "\""};
  for (std::size_t at = 0; at < 40; ++at)  // one special byte at every position of a 40-byte text
    for (const char* special : {R"(\")", R"(\\)", R"(\u0001)", R"(\u001f)", R"(\u0080)", R"(\u00ff)", " "}) {
      std::string t(40, 'a');
      t.replace(at, 1, special);
      values.push_back("\"" + t + "\"");
    }
  std::size_t compared = 0;
  for (const auto& v : values)
    for (const char* w : {"", R"(,"w":"App\"1")", R"(,"w":"")"}) {
      const std::string json = "{\"v\":" + v + w + "}";
      simdjson::dom::parser parser;
      simdjson::dom::element record;
      ASSERT_EQ(parser.parse(json).get(record), simdjson::SUCCESS) << json;
      mapping::EvalContext ctx;
      ctx.record = record;
      std::string general;
      if (const auto value = rule.evaluate(ctx); !value.empty()) mapping::append_value_json(general, value);
      std::string fast;
      const auto written = rule.append_json(ctx, fast);
      const auto [cursor_written, cursor_out] = append_through_cursor(rule, ctx);
      ASSERT_TRUE(written.has_value()) << json;
      EXPECT_EQ(fast, general) << json;
      EXPECT_EQ(cursor_written, written) << json;
      EXPECT_EQ(cursor_out, "<" + general) << json;
      // an integer's text as std::to_string writes it (the renderer writes its digits in place)
      if (v == "-9223372036854775808" || v == "18446744073709551615" || v == "42") {
        const bool to_app = std::string_view(w).find("App") != std::string_view::npos;
        EXPECT_EQ(general, "\"" + v + " signed in" + (to_app ? " to App\\\"1\"" : "\"")) << json;
      }
      ++compared;
    }
  EXPECT_GT(compared, 800u);
}

// ip_address() remembers its last answer per thread; it must answer as the check itself does for
// any sequence of texts: the same text again, another text of the same length, and another text
// written over the same buffer (a parser reuses its buffers, so where a text lies means nothing).
TEST(IpAddress, RememberedAnswersEqualTheChecks) {
  const std::vector<std::string> texts = {
      "10.1.2.3", "10.1.2.4", "10.1.2.3:443", "10.1.2.3:44", "0.0.0.0", "256.1.2.3", "1.2.3", "01.2.3.4",
      "2001:db8::5", "2001:db8::6", "[2001:db8::5]:443", "fe80::1%eth0", "fe80::1%eth1", "::", "::1",
      "<IP ADDRESS>", "", "x", "1.2.3.4 ", "2001:0db8:0000:0000:0000:ff00:0042:8329", "::ffff:192.0.2.128",
      "[2001:0db8:0000:0000:0000:ff00:0042:8329]:65535", "20.190.128.5:443", "20.190.128.5:4430000"};
  const mapping::Conversion conversions[] = {mapping::Conversion::ip, mapping::Conversion::ipv4,
                                             mapping::Conversion::ipv6, mapping::Conversion::none};
  std::size_t compared = 0;
  const auto same = [&](mapping::Conversion c, std::string_view sv, const std::string& what) {
    const auto remembered = mapping::ip_address(c, sv);
    const auto checked = mapping::ip_address_checked(c, sv);
    ++compared;
    ASSERT_EQ(remembered.has_value(), checked.has_value()) << what;
    if (checked) {
      EXPECT_EQ(remembered->data(), checked->data()) << what;  // a view into the same text
      EXPECT_EQ(remembered->size(), checked->size()) << what;
    }
  };
  for (const auto c1 : conversions)
    for (const auto c2 : conversions)
      for (const auto& a : texts)
        for (const auto& b : texts) {
          const std::string what = "\"" + a + "\" then \"" + b + "\"";
          same(c1, a, what);
          same(c2, b, what);
          same(c2, b, what + " twice");
          // b written over a's buffer (as long as a): the same address, other bytes.
          std::string buffer = a;
          same(c1, buffer, what + " in one buffer");
          buffer.assign(b.substr(0, a.size()));
          buffer.resize(a.size(), '9');
          same(c2, buffer, what + " in one buffer");
          if (::testing::Test::HasFailure()) return;
        }
  EXPECT_GT(compared, 40'000u);
}


// A shortcut that writes part of a value through the cursor and then leaves the case to the
// general evaluator (nullopt): what it wrote is taken out again, so the member the document writer
// then writes from evaluate() follows its prefix directly (json_document.cc's write_field()).
TEST(CursorOut, ShortcutGivingUpLeavesNothingBehind) {
  std::string doc = "{";
  {
    mapping::CursorOut out(doc, 0);
    out.put(std::string_view("\"a\":"));
    const auto gave_up = mapping::write_or_rewind(out, [](mapping::CursorOut& o) -> std::optional<bool> {
      o.json_string("", "partial");
      o.put('[');
      return std::nullopt;
    });
    EXPECT_FALSE(gave_up.has_value());
    out.put('1');  // what the general evaluator writes instead
    out.put(std::string_view(",\"b\":"));
    const auto kept = mapping::write_or_rewind(out, [](mapping::CursorOut& o) -> std::optional<bool> {
      o.json_string("", "v");
      return true;
    });
    ASSERT_TRUE(kept.has_value());
    EXPECT_TRUE(*kept);
    out.put('}');
    out.finish();
  }
  EXPECT_EQ(doc, R"({"a":1,"b":"v"})");
}

}  // namespace
}  // namespace siem
