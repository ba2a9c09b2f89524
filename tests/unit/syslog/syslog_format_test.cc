// Syslog message construction: PRI, RFC 5424 / 3164 headers, SD escaping, truncation, framing.
#include <gtest/gtest.h>

#include "sinks/syslog/syslog_format.h"

namespace {

using namespace siem::syslog;

siem::MappedEvent event() {
  siem::MappedEvent e;
  e.kind = siem::SourceKind::graph_directory_audit;
  e.source_name = "entra-audit";
  e.id = "Directory_1d2c";
  e.time_ms = 1772619331002;  // 2026-03-04T10:15:31.002Z
  e.severity = 8;
  e.tier = 0;
  return e;
}

TEST(SyslogFormat, SeverityMapping) {
  EXPECT_EQ(severity_from_cef(10), 2);
  EXPECT_EQ(severity_from_cef(9), 2);
  EXPECT_EQ(severity_from_cef(8), 3);
  EXPECT_EQ(severity_from_cef(7), 3);
  EXPECT_EQ(severity_from_cef(6), 4);
  EXPECT_EQ(severity_from_cef(4), 4);
  EXPECT_EQ(severity_from_cef(3), 5);
  EXPECT_EQ(severity_from_cef(1), 5);
  EXPECT_EQ(severity_from_cef(0), 6);
}

TEST(SyslogFormat, Facilities) {
  EXPECT_EQ(facility_from_string("local4"), 20);
  EXPECT_EQ(facility_from_string("auth"), 4);
  EXPECT_EQ(facility_from_string("23"), 23);
  EXPECT_FALSE(facility_from_string("24"));
  EXPECT_FALSE(facility_from_string("local8"));
}

TEST(SyslogFormat, Rfc5424Header) {
  FormatOptions o;
  o.hostname = "connector01";
  auto f = format_message(event(), "CEF:0|Microsoft|x", o);
  EXPECT_EQ(f.message,
            "<163>1 2026-03-04T10:15:31.002Z connector01 siem-connector - graph_directory_audit "
            "[siem@32473 source=\"entra-audit\" kind=\"graph_directory_audit\" id=\"Directory_1d2c\" tier=\"0\"] "
            "CEF:0|Microsoft|x");
  EXPECT_FALSE(f.truncated);
}

TEST(SyslogFormat, SdEscapingAndConfigurableId) {
  FormatOptions o;
  o.sd_id = "conn@99999";
  auto e = event();
  e.id = R"(a"b\c]d)";
  e.tier = -1;
  auto f = format_message(e, "x", o);
  EXPECT_NE(f.message.find(R"([conn@99999 source="entra-audit" kind="graph_directory_audit" id="a\"b\\c\]d"] x)"),
            std::string::npos)
      << f.message;
  o.sd_id.clear();
  EXPECT_NE(format_message(e, "x", o).message.find("graph_directory_audit - x"), std::string::npos);
}

TEST(SyslogFormat, HeaderFieldsArePrintableAscii) {
  EXPECT_EQ(header_field("a b\xC3\xA9", 10), "a_b__");
  EXPECT_EQ(header_field("", 10), "-");
  EXPECT_EQ(header_field("abcdef", 3), "abc");
}

TEST(SyslogFormat, Rfc3164Header) {
  FormatOptions o;
  o.rfc = Rfc::rfc3164;
  o.hostname = "connector01.contoso.example";
  auto e = event();
  e.time_ms = 1772619331002 - 3 * 86400000LL;  // Mar  1
  EXPECT_EQ(format_message(e, "CEF:0|x", o).message, "<163>Mar  1 10:15:31 connector01 siem-connector: CEF:0|x");
  o.tag.clear();  // ArcSight form
  EXPECT_EQ(format_message(e, "CEF:0|x", o).message, "<163>Mar  1 10:15:31 connector01 CEF:0|x");
}

TEST(SyslogFormat, NoTimeGivesNilValue) {
  FormatOptions o;
  auto e = event();
  e.time_ms = 0;
  e.severity = 0;
  EXPECT_EQ(format_message(e, "x", o).message.rfind("<166>1 - - siem-connector", 0), 0u);
}

TEST(SyslogFormat, SafeCutUtf8AndCefEscapes) {
  // "é" is C3 A9: a cut at 2 would split it.
  EXPECT_EQ(safe_cut("a\xC3\xA9z", 2, false), 1u);
  EXPECT_EQ(safe_cut("a\xC3\xA9z", 3, false), 3u);
  // A 4-byte character.
  EXPECT_EQ(safe_cut("ab\xF0\x9F\x98\x80", 5, false), 2u);
  // CEF: never leave a lone backslash that opened an escape pair.
  EXPECT_EQ(safe_cut(R"(msg=a\=b)", 6, true), 5u);
  EXPECT_EQ(safe_cut(R"(msg=a\\b)", 7, true), 7u);   // "\\" pair complete
  EXPECT_EQ(safe_cut(R"(msg=a\\\=b)", 8, true), 7u);  // third backslash opens "\=" -> drop it
  EXPECT_EQ(safe_cut(R"(msg=a\=b)", 6, false), 6u);   // JSON: only UTF-8 matters
  EXPECT_EQ(safe_cut("abc", 10, true), 3u);
}

TEST(SyslogFormat, TruncatesBodyToMaxMessageSize) {
  FormatOptions o;
  o.max_message_size = 480;
  std::string body = "CEF:0|Microsoft|Entra|1|x|y|5|msg=" + std::string(1000, 'a');
  auto f = format_message(event(), body, o);
  EXPECT_TRUE(f.truncated);
  EXPECT_EQ(f.message.size(), 480u);
  EXPECT_NE(f.message.find("] CEF:0|Microsoft"), std::string::npos);
  // Exactly at the limit: untouched.
  auto head = format_message(event(), "", o).message.size();
  auto exact = format_message(event(), std::string(480 - head, 'b'), o);
  EXPECT_FALSE(exact.truncated);
  EXPECT_EQ(exact.message.size(), 480u);
}

TEST(SyslogFormat, Framing) {
  std::string out;
  append_framed(out, "<13>1 - - - - - a\nb", Framing::octet_counting);
  EXPECT_EQ(out, "19 <13>1 - - - - - a\nb");
  out.clear();
  append_framed(out, "x\ny\rz", Framing::lf);
  EXPECT_EQ(out, "x y z\n");
}

}  // namespace
