#include <gtest/gtest.h>

#include "connector/record/cef_parser.h"
#include "connector/record/encoding.h"

namespace siem {
namespace {

TEST(CefEscaping, WorkedExampleOfTheStandard) {
  const std::string v = "a|b=c\\d\ne";
  std::string header, ext;
  encoding::append_cef_header(header, v);
  encoding::append_cef_extension_value(ext, v);
  EXPECT_EQ(header, "a\\|b=c\\\\d e");
  EXPECT_EQ(ext, "a|b\\=c\\\\d\\ne");
}

TEST(CefEscaping, HostileValuesRoundTripAndCannotInject) {
  const std::vector<std::string> hostile = {
      "x cs6=pa.fake suser=admin", "a|b|c|d", "trailing\\", "\\=", "line1\r\nline2", "k=v k2=v2", "=", " ", "\x01\x7f"};
  for (const auto& v : hostile) {
    std::string line = "CEF:0|";
    for (int i = 0; i < 5; ++i) {
      encoding::append_cef_header(line, v);
      line += '|';
    }
    line += "5|msg=";
    encoding::append_cef_extension_value(line, v);
    line += " suser=";
    encoding::append_cef_extension_value(line, v);
    std::string err;
    auto r = parse_cef_strict(line, &err);
    ASSERT_TRUE(r.has_value()) << err << " for " << line;
    ASSERT_EQ(r->extension.size(), 2u) << line;
    std::string expected = v;
    for (auto& c : expected)
      if ((static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\r') || c == 0x7f) c = ' ';
    EXPECT_EQ(r->extension[0].second, expected);
    EXPECT_EQ(r->extension[1].first, "suser");
    EXPECT_EQ(r->name.find('\n'), std::string::npos);
    EXPECT_EQ(line.find('\n'), std::string::npos);
  }
}

TEST(CefParser, IsStrict) {
  EXPECT_FALSE(parse_cef_strict("CEF:0|a|b|c|d|e|5|msg=a=b"));      // unescaped '='
  EXPECT_FALSE(parse_cef_strict("CEF:0|a|b|c|d|e|11|"));            // severity out of range
  EXPECT_FALSE(parse_cef_strict("CEF:0|a|b|c|d|e|"));               // six header fields
  EXPECT_FALSE(parse_cef_strict("CEF:0|a|b|c|d|e|5|msg=x\\q"));     // invalid escape
  EXPECT_FALSE(parse_cef_strict("CEF:0|a|b|c|d|e|5|msg=x\ny=1"));   // raw newline
  EXPECT_TRUE(parse_cef_strict("CEF:0|a|b|c|d|e|5|"));
  auto r = parse_cef_strict("CEF:0|Microsoft|Entra ID|1.0|Role:Add|Add member|9|rt=1 msg=hello world cs1Label=roleName cs1=Global Administrator");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->get("msg"), "hello world");
  EXPECT_EQ(r->get("cs1"), "Global Administrator");
  EXPECT_EQ(r->severity, 9);
}

TEST(Utf8, TruncationNeverSplitsACharacter) {
  std::string s = "ab\xC3\xA9\xE2\x82\xAC";  // a b é €
  EXPECT_TRUE(encoding::truncate_utf8(s, 4));
  EXPECT_EQ(s, "ab\xC3\xA9");
  s = "ab\xC3\xA9";
  EXPECT_TRUE(encoding::truncate_utf8(s, 3));
  EXPECT_EQ(s, "ab");
}

TEST(JsonEscaping, ControlCharactersAndInvalidUtf8) {
  std::string out;
  encoding::append_json_string(out, std::string("a\"b\\c\n\x01\xff", 8));
  EXPECT_EQ(out, "\"a\\\"b\\\\c\\n\\u0001\xEF\xBF\xBD\"");
}

// Found by fuzz_cef_encoder: overlong forms, UTF-16 surrogates and code points above U+10FFFF
// passed through as if valid, giving JSON text that strict parsers reject.
TEST(JsonEscaping, OverlongSurrogateAndOutOfRangeSequencesAreReplaced) {
  const std::string bad[] = {"\xE0\x80\x80", "\xC0\xAF", "\xED\xA0\x80", "\xF0\x80\x80\x80", "\xF4\x90\x80\x80"};
  for (const auto& b : bad) {
    std::string out;
    encoding::append_json_string(out, "x" + b);
    EXPECT_EQ(out.find(b), std::string::npos) << out;
    EXPECT_EQ(out.rfind("\"x\xEF\xBF\xBD", 0), 0u) << out;
  }
  const std::string good = "\xE0\xA0\x80 \xED\x9F\xBF \xF0\x90\x80\x80 \xF4\x8F\xBF\xBF \xEF\xBF\xBD";
  std::string out;
  encoding::append_json_string(out, good);
  EXPECT_EQ(out, "\"" + good + "\"");
}

}  // namespace
}  // namespace siem
