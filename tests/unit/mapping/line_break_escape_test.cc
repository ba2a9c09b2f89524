// U+0085 (NEL), U+2028 and U+2029 never travel raw in an output line: JSON strings escape them
// (\u0085, \u2028, \u2029: a JSON parser reads back the exact text), CEF extension values write the
// line break as \n and header fields as a space (what the strict CEF parser reads back). Checked on
// the encoders and on whole mapped events, ECS and CEF.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <nlohmann/json.hpp>

#include "connector/enrichment/mapping_stage.h"
#include "connector/mapping/mapper.h"
#include "connector/record/cef_parser.h"
#include "connector/record/encoding.h"

namespace siem {
namespace {

const std::string kNel = "\xC2\x85", kLs = "\xE2\x80\xA8", kPs = "\xE2\x80\xA9";

bool has_raw_line_break(std::string_view text) {
  for (const auto& b : {kNel, kLs, kPs})
    if (text.find(b) != std::string_view::npos) return true;
  return false;
}

// (Built anew rather than with std::string::replace, which GCC 12 at -O3 reports as a false
// -Wrestrict overlap.)
std::string replace_breaks(std::string_view s, std::string_view with) {
  std::string out;
  for (std::size_t i = 0; i < s.size();) {
    bool replaced = false;
    for (const auto& b : {kNel, kLs, kPs})
      if (s.substr(i).starts_with(b)) {
        out.append(with);
        i += std::string_view(b).size();
        replaced = true;
        break;
      }
    if (!replaced) out.push_back(s[i++]);
  }
  return out;
}

// Values where the breaks sit at the start, the end, next to each other, inside long ASCII runs
// (the word-at-a-time scan) and next to other multi-byte characters.
std::vector<std::string> values() {
  return {kLs,
          "a" + kPs + "b",
          kNel + "start",
          "end" + kLs,
          kLs + kPs + kNel,
          "a long run of plain ascii text " + kLs + " then more plain ascii text " + kNel + "!",
          "caf\xC3\xA9" + kPs + "\xE2\x82\xAC" + kNel + "\xF0\x9F\x94\x91",
          "x=y|z\\" + kLs + "\n"};
}

TEST(UnicodeLineBreaks, JsonStringsEscapeThemAndParsersReadTheExactTextBack) {
  std::string out;
  encoding::append_json_string(out, "a" + kNel + "b" + kLs + "c" + kPs + "d");
  EXPECT_EQ(out, R"("a\u0085b\u2028c\u2029d")");
  simdjson::dom::parser parser;
  for (const auto& v : values()) {
    std::string json;
    encoding::append_json_string(json, v);
    EXPECT_FALSE(has_raw_line_break(json)) << json;
    EXPECT_EQ(nlohmann::json::parse(json).get<std::string>(), v) << json;
    std::string_view back;
    ASSERT_EQ(parser.parse(json).get_string().get(back), simdjson::SUCCESS) << json;
    EXPECT_EQ(back, v);
  }
}

TEST(UnicodeLineBreaks, NeighbouringCharactersAreLeftAlone) {
  // U+0084, U+0086, U+2027 and U+202A share lead bytes with the breaks; truncated sequences are
  // invalid UTF-8 (replaced), not breaks.
  const std::string near = "\xC2\x84\xC2\x86\xE2\x80\xA7\xE2\x80\xAA";
  std::string json, cef;
  encoding::append_json_string(json, near);
  EXPECT_EQ(json, "\"" + near + "\"");
  encoding::append_cef_extension_value(cef, near);
  EXPECT_EQ(cef, near);
  json.clear();
  encoding::append_json_string(json, "x\xE2\x80");
  EXPECT_EQ(json, "\"x\xEF\xBF\xBD\xEF\xBF\xBD\"");
}

TEST(UnicodeLineBreaks, CefWritesThemAsLineBreaksTheStrictParserReadsBack) {
  for (const auto& v : values()) {
    std::string line = "CEF:0|";
    for (int i = 0; i < 5; ++i) {
      encoding::append_cef_header(line, v);
      line += '|';
    }
    line += "5|msg=";
    encoding::append_cef_extension_value(line, v);
    line += " suser=x";
    EXPECT_FALSE(has_raw_line_break(line)) << line;
    EXPECT_EQ(line.find('\n'), std::string::npos) << line;
    std::string err;
    auto r = parse_cef_strict(line, &err);
    ASSERT_TRUE(r.has_value()) << err << " for " << line;
    EXPECT_EQ(r->get("msg"), replace_breaks(v, "\n"));
    EXPECT_EQ(r->get("suser"), "x");
    std::string header = replace_breaks(v, " ");
    for (auto& c : header)
      if (c == '\n') c = ' ';
    EXPECT_EQ(r->vendor, header);
  }
}

TEST(UnicodeLineBreaks, MappedEventsCarryNoneRaw) {
  Diagnostics diags;
  auto doc = ConfigDocument::load_string("{}", "test.yaml", diags);
  auto mapper = make_mapping_stage(doc->root(), nullptr);
  ASSERT_FALSE(diags.has_errors()) << diags.format();
  nlohmann::json record = {
      {"id", "Directory_" + kLs + "1"},
      {"category", "UserManagement"},
      {"activityDisplayName", "Update user" + kNel + "injected line"},
      {"activityDateTime", "2026-03-04T10:15:30Z"},
      {"loggedByService", "Core Directory"},
      {"result", "success"},
      {"resultReason", "a" + kPs + "b"},
      {"initiatedBy", {{"user", {{"userPrincipalName", "alice" + kLs + "@contoso.example"}}}}},
      {"targetResources", nlohmann::json::array()}};
  RawRecord rec;
  rec.json = record.dump();  // nlohmann writes them raw: the input has them unescaped
  ASSERT_TRUE(has_raw_line_break(rec.json));
  MappedEvent ev;
  auto err =
      mapper->map(rec, std::nullopt, format_bit(OutputFormat::ecs) | format_bit(OutputFormat::cef), ev);
  ASSERT_FALSE(err) << *err;
  EXPECT_FALSE(has_raw_line_break(ev.ecs)) << ev.ecs;
  EXPECT_FALSE(has_raw_line_break(ev.cef)) << ev.cef;
  const auto ecs = nlohmann::json::parse(ev.ecs);
  EXPECT_EQ(ecs["event"]["id"], "Directory_" + kLs + "1");
  std::string cef_error;
  auto cef = parse_cef_strict(ev.cef, &cef_error);
  ASSERT_TRUE(cef) << cef_error << "\n" << ev.cef;
  EXPECT_EQ(cef->get("externalId"), "Directory_\n1");
}

}  // namespace
}  // namespace siem
