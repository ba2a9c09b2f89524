// Syslog message construction: PRI, RFC 5424 / 3164 headers, SD escaping, truncation, framing.
#include <gtest/gtest.h>

#include <climits>
#include <cstdio>
#include <ctime>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "sinks/syslog/syslog_format.h"

namespace {

using namespace siem::syslog;

siem::MappedEvent event() {
  siem::MappedEvent e;
  e.kind = siem::SourceKind::graph_directory_audit;
  e.source_name = "entra-audit";
  e.set_id("Directory_1d2c");
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
  e.set_id(R"(a"b\c]d)");
  e.tier = -1;
  EXPECT_EQ(escape_sd_value(R"("]\)"), R"(\"\]\\)");  // specials first, adjacent, last
  EXPECT_EQ(escape_sd_value(""), "");
  EXPECT_EQ(escape_sd_value("plain"), "plain");
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

// RFC 3164 §4.1.2: HOSTNAME is the name without its domain, or the IP address: an address keeps
// its dots (and an IPv6 address its colons).
TEST(SyslogFormat, Rfc3164HostnameKeepsAnIpAddressWhole) {
  FormatOptions o;
  o.rfc = Rfc::rfc3164;
  auto e = event();
  o.hostname = "192.0.2.17";
  EXPECT_EQ(format_message(e, "CEF:0|x", o).message, "<163>Mar  4 10:15:31 192.0.2.17 siem-connector: CEF:0|x");
  o.hostname = "2001:db8::17";
  EXPECT_EQ(format_message(e, "CEF:0|x", o).message, "<163>Mar  4 10:15:31 2001:db8::17 siem-connector: CEF:0|x");
  o.hostname = "host-1.example";
  EXPECT_EQ(format_message(e, "CEF:0|x", o).message, "<163>Mar  4 10:15:31 host-1 siem-connector: CEF:0|x");
  // The sink's header writer follows the same rule.
  o.hostname = "10.0.0.1";
  HeaderBuilder head(o);
  std::string out;
  append_message(out, head, e, "CEF:0|x", std::nullopt);
  EXPECT_EQ(out, "<163>Mar  4 10:15:31 10.0.0.1 siem-connector: CEF:0|x");
}

// An event whose texts were never set (a default MappedEvent): its id is an empty text that is
// still NUL-terminated (the header writer runs strcspn over it), so the header has id="".
TEST(SyslogFormat, AnEventWithoutTextsGivesAnEmptyId) {
  FormatOptions o;
  o.hostname = "connector01";
  o.sd_id = "conn@99999";
  const siem::MappedEvent e;
  // strcspn over a null pointer is undefined (the sanitizer build reports it; an optimised build
  // may drop the call): the pointer itself is checked too.
  ASSERT_NE(e.id().data(), nullptr);
  HeaderBuilder head(o);
  std::string out;
  append_message(out, head, e, "x", std::nullopt);
  EXPECT_NE(out.find(" id=\"\""), std::string::npos) << out;
  EXPECT_EQ(out, format_message(e, "x", o).message);
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

// formats.md §4.6: "The largest cs* or msg value is shortened first, and events are never split."
// Every key still arrives; the longest value loses the excess (whole characters, whole escape
// pairs); cs6 (the pinned privileged-access tags) and the keys after the cut value stay intact.
TEST(SyslogFormat, OversizeCefShortensTheLargestValueFirst) {
  FormatOptions o;
  o.max_message_size = 600;
  const std::string cs1 = std::string(300, 'r') + "\\=" + std::string(100, 'x');
  const std::string body = "CEF:0|Microsoft|Entra ID|1.0|c\\|d|n|8|rt=1 cs6Label=privilegedAccessTags cs6=pa.role.tier0 "
                           "cs1Label=roleName cs1=" + cs1 + " cs4=abc msg=" + std::string(250, 'm') + " cn3=0";
  for (bool direct : {false, true}) {
    std::string m;
    bool truncated = false;
    if (direct) {
      HeaderBuilder head(o);
      truncated = append_message(m, head, event(), body, std::nullopt);
    } else {
      auto f = format_message(event(), body, o);
      m = f.message;
      truncated = f.truncated;
    }
    EXPECT_TRUE(truncated);
    EXPECT_EQ(m.size(), 600u) << m;
    const std::string got = m.substr(m.find("CEF:0|"));
    EXPECT_EQ(got.rfind("CEF:0|Microsoft|Entra ID|1.0|c\\|d|n|8|rt=1 cs6Label=privilegedAccessTags cs6=pa.role.tier0 cs1Label=roleName cs1=rrr", 0), 0u) << got;
    EXPECT_NE(got.find(" cs4=abc msg=" + std::string(250, 'm') + " cn3=0"), std::string::npos) << "the keys after the cut value arrive whole: " << got;
    const std::size_t v = got.find(" cs1=") + 5;
    const std::string kept = got.substr(v, got.find(" cs4=") - v);
    EXPECT_EQ(cs1.rfind(kept, 0), 0u) << "the shortened value is a prefix of the original";
    EXPECT_LT(kept.size(), cs1.size());
  }
  // The escape pair is never split: a cut that would end inside "\=" keeps neither half.
  o.max_message_size = 600 - 0;
  const std::string body2 = "CEF:0|V|P|1|c|n|5|cs1=" + std::string(2000, 'a') + " msg=" + std::string(10, '\\') + "==";
  auto f2 = format_message(event(), body2, o);
  EXPECT_EQ(f2.message.size(), 600u);
  EXPECT_NE(f2.message.find(" msg="), std::string::npos);
  // Not CEF-shaped (ECS JSON, or fewer than seven pipes): cut at the end as before.
  FormatOptions j;
  j.max_message_size = 480;
  j.body_is_cef = false;
  const std::string json = "{\"message\":\"" + std::string(1000, 'a') + "\"}";
  EXPECT_EQ(json.rfind(format_message(event(), json, j).message.substr(format_message(event(), json, j).message.find('{')), 0), 0u);
}

TEST(SyslogFormat, Framing) {
  std::string out;
  append_framed(out, "<13>1 - - - - - a\nb", Framing::octet_counting);
  EXPECT_EQ(out, "19 <13>1 - - - - - a\nb");
  out.clear();
  append_framed(out, "x\ny\rz", Framing::lf);
  EXPECT_EQ(out, "x y z\n");
}

// The RFC 3339 and RFC 3164 timestamps, computed without gmtime_r/snprintf up to year 9999, are the
// ones the C library gives, across leap days, century years, the ends of the fast range and beyond.
std::string libc_rfc3339(std::int64_t ms) {
  if (ms <= 0) return "-";
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  const int n = std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                              tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return std::string(buf, static_cast<std::size_t>(n));
}

std::string libc_rfc3164(std::int64_t ms) {
  static const char* const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::time_t secs = static_cast<std::time_t>((ms > 0 ? ms : 0) / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  const int n = std::snprintf(buf, sizeof buf, "%s %2d %02d:%02d:%02d", months[tm.tm_mon], tm.tm_mday, tm.tm_hour,
                              tm.tm_min, tm.tm_sec);
  return std::string(buf, static_cast<std::size_t>(n));
}

TEST(SyslogFormat, TimestampsMatchTheCLibrary) {
  std::vector<std::int64_t> times = {-5, 0, 1, 999, 1000, 59'999, 86'399'999, 86'400'000,
                                     951'782'400'000,      // 2000-02-29
                                     4'107'456'000'000,    // 2100-02-28
                                     4'107'542'400'000,    // 2100-03-01
                                     1'772'619'331'002,    // 2026-03-04T10:15:31.002Z
                                     253'402'300'799'999,  // 9999-12-31T23:59:59.999Z, the last fast one
                                     253'402'300'800'000,  // 10000-01-01: the C library's path
                                     253'402'300'800'001, 300'000'000'000'000};
  std::uint64_t x = 88172645463325252ull;  // xorshift64: a fixed, bounded sample of the fast range
  for (int i = 0; i < 20'000; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    times.push_back(static_cast<std::int64_t>(x % 253'402'300'800'000ull));
  }
  for (const auto t : times) {
    ASSERT_EQ(rfc3339_utc(t), libc_rfc3339(t)) << t;
    ASSERT_EQ(rfc3164_time(t), libc_rfc3164(t)) << t;
  }
}

// append_message (the sink's path: the header from a HeaderBuilder, body copied once into the
// batch buffer) writes exactly append_framed(format_message(...)), for every header option,
// truncation, line breaks in any field, both framings and none (UDP), after earlier messages, with
// the builder's cached day, source and kind changing from one message to the next.
TEST(SyslogFormat, AppendMessageIsFormatThenFrame) {
  std::vector<siem::MappedEvent> events;
  events.push_back(event());
  auto odd = event();
  odd.source_name = "a\nb\r\"]\\";
  odd.set_id("id\r\nwith breaks");
  odd.tier = -1;
  odd.severity = 10;
  odd.time_ms = 0;
  events.push_back(odd);
  auto big = event();
  big.set_id(std::string(600, 'i'));  // structured data alone exceeds a small max_message_size
  events.push_back(big);
  // What the sink's header writer keeps from one message to the next (the day's date, the last
  // source name, each kind's MSGID and SD parameter) changes between these.
  auto other = event();
  other.kind = siem::SourceKind::azure_activity;
  other.source_name = "arm]\\";
  other.set_id(std::string("a\0\"b", 4));  // a NUL before the character to escape
  other.time_ms = 1772619331002 + 86'400'000;  // the next day
  events.push_back(other);
  auto collide = event();  // 32 days on: the first day's slot of the builder's dates, which it takes
  collide.time_ms = 1772619331002 + 32 * 86'400'000LL + 1;
  events.push_back(collide);
  auto later = event();
  later.time_ms = 1772619331002 + 3'600'000 * 13 + 999;  // the first day again, later
  later.kind = siem::SourceKind::unknown;
  events.push_back(later);
  auto far = event();
  far.time_ms = 253'402'300'800'001;  // past 9999: the C library's path
  far.severity = 0;
  events.push_back(far);
  const std::vector<std::string> bodies = {"", "CEF:0|Microsoft|Entra|1|x|y|5|msg=a\\\\b\nc\r",
                                           "{\"a\":\"line\\nbreak\"}\n", std::string(9000, 'x') + "\r\n",
                                           "CEF:0|x|" + std::string(470, 'a') + "\\=" + std::string(40, 'b'),
                                           "{\"a\":\"no\\nbreak\"}", std::string(9000, 'y')};
  // The same messages written with the body marked single-line wherever it has no CR or LF (as
  // an encoder's payload is): only the header is then scanned, and the bytes must not change.
  std::string single, gathered, out, expected;
  int checked = 0, viewed = 0;
  for (const auto rfc : {Rfc::rfc5424, Rfc::rfc3164})
    for (const std::size_t max : {std::size_t{480}, std::size_t{8192}})
      for (const bool bom : {false, true})
        for (const std::string sd : {"", "siem@32473"})
          for (const bool cef : {true, false})
            for (const auto framing : {std::optional<Framing>(), std::optional(Framing::lf),
                                       std::optional(Framing::octet_counting)}) {
              FormatOptions o;
              o.rfc = rfc;
              o.max_message_size = max;
              o.bom = bom;
              o.sd_id = sd;
              o.body_is_cef = cef;
              o.hostname = "host.example\n";
              HeaderBuilder head(o);
              HeaderBuilder single_head(o), gather_head(o);
              out = "earlier";
              expected = out;
              single = out;
              gathered = out;
              for (const auto& e : events)
                for (const auto& b : bodies) {
                  const auto f = format_message(e, b, o);
                  if (framing) append_framed(expected, f.message, *framing);
                  else expected += f.message;
                  ASSERT_EQ(append_message(out, head, e, b, framing), f.truncated);
                  const bool no_breaks = b.find_first_of("\r\n") == std::string::npos;
                  ASSERT_EQ(append_message(single, single_head, e, b, framing, no_breaks), f.truncated);
                  // The gather write's pieces: the head, then the body where it is (or nothing when
                  // it was copied after the head), then the LF; the body view is into `b`.
                  const auto piece = append_message_head(gathered, gather_head, e, b, framing, no_breaks);
                  ASSERT_EQ(piece.truncated, f.truncated);
                  if (!piece.body.empty()) {
                    ASSERT_GE(piece.body.data(), b.data());
                    ASSERT_LE(piece.body.data() + piece.body.size(), b.data() + b.size());
                    ++viewed;
                  }
                  gathered.append(piece.body);
                  if (framing == Framing::lf) gathered += '\n';
                  ++checked;
                }
              ASSERT_EQ(out, expected);
              ASSERT_EQ(single, expected);
              ASSERT_EQ(gathered, expected);
            }
  EXPECT_EQ(checked, 96 * 49);  // 7 events x 7 bodies per option set
  EXPECT_GT(viewed, checked / 4);  // bodies sent where they are, not only the copied ones
}

// Randomized differential check (fixed seed, bounded count): the sink's path (one HeaderBuilder per
// option set, reused across all its events, so its cached day, source and kind parts are exercised
// as they change) against the reference format_message + append_framed, over days changing both
// ways, seconds around midnight, times <= 0 and past year 9999, unknown kinds, ids and source names
// with NUL, `"`, `]`, `\` and line breaks, severities out of range, both RFCs, with and without SD,
// IP-address and dotted hostnames, and oversize CEF lines (the largest msg/csN value shrinks).
class Differential {
 public:
  std::mt19937_64 rng{20261207};

  std::size_t below(std::size_t n) { return static_cast<std::size_t>(rng() % n); }

  std::string text(std::size_t max_len) {
    static const std::vector<std::string> pieces = {"a", "Z", "0", "-", " ", "\"", "]", "\\", std::string(1, '\0'),
                                                    "\n", "\r", "\xC3\xA9", "\xE2\x82\xAC", "=", "|", "x.y"};
    std::string s;
    const std::size_t n = below(max_len + 1);
    while (s.size() < n) s += pieces[below(pieces.size())];
    return s;
  }

  // A CEF extension value: plain text, UTF-8 and escape pairs (\\ \= \n), `len` pieces long.
  std::string cef_value(std::size_t len) {
    static const std::vector<std::string> pieces = {"v", "w", " ", "\\\\", "\\=", "\\n", "\xC3\xA9", "\xF0\x9F\x94\x91"};
    std::string s;
    for (std::size_t i = 0; i < len; ++i) s += pieces[below(pieces.size())];
    return s;
  }

  std::string body() {
    switch (below(5)) {
      case 0: return "";
      case 1: return "{\"a\":\"" + text(200) + "\"}\n";
      case 2: return text(9000);
      default: {  // a CEF line, often larger than the message limit
        static const std::vector<std::string> keys = {"msg", "cs1", "cs2", "cs3", "cs4", "cs5", "cs6",
                                                      "act", "suser", "cs1Label", "externalId"};
        std::string line = "CEF:0|Microsoft|Entra \\| ID|1.0|" + text(8) + "|name|" + std::to_string(below(11)) + "|";
        const std::size_t pairs = below(8);
        for (std::size_t i = 0; i < pairs; ++i) {
          if (i) line += ' ';
          line += keys[below(keys.size())] + "=" + cef_value(below(4) == 0 ? below(3000) : below(40));
        }
        return line;
      }
    }
  }

  std::int64_t time(std::int64_t& day) {
    constexpr std::int64_t kDay = 86'400'000;
    constexpr std::int64_t kFastLimit = 253'402'300'800'000;  // 10000-01-01T00:00:00Z
    switch (below(9)) {
      case 0: return 0;
      case 1: return -static_cast<std::int64_t>(below(1'000'000'000'000ULL)) - 1;
      case 2: return kFastLimit - 1 + static_cast<std::int64_t>(below(3)) * static_cast<std::int64_t>(below(2) ? 1 : kDay * 400);
      case 3: day += 1; break;
      case 4: day -= 1; break;
      case 5: day = static_cast<std::int64_t>(below(kFastLimit / kDay)); break;
      case 6: return day * kDay + static_cast<std::int64_t>(below(4001)) - 2000;  // around midnight
      default: break;
    }
    return day * kDay + static_cast<std::int64_t>(below(kDay));
  }

  siem::MappedEvent event(std::int64_t& day) {
    static const std::vector<std::string> sources = {"entra-audit", "arm]\\", "a\"b", ""};
    siem::MappedEvent e;
    e.kind = static_cast<siem::SourceKind>(below(static_cast<std::size_t>(siem::kLastSourceKind) + 4));
    e.source_name = below(4) == 0 ? text(20) : sources[below(sources.size())];
    e.set_id(below(10) == 0 ? std::string(700, 'i') : text(40));
    e.time_ms = time(day);
    const int severities[] = {INT_MIN, -1, 0, 3, 5, 8, 10, 11, INT_MAX};
    e.severity = severities[below(std::size(severities))];
    const int tiers[] = {-7, -1, 0, 1, 2, 12345};
    e.tier = tiers[below(std::size(tiers))];
    return e;
  }
};

TEST(SyslogFormat, AppendMessageMatchesTheReferenceOnRandomEvents) {
  Differential d;
  const std::vector<std::string> hosts = {"connector01.contoso.example", "10.0.0.1", "2001:db8::17", "plainhost",
                                          "", "host\n.example", "10.0.0.1.example"};
  const std::size_t maxes[] = {64, 480, 1024, 8192};
  const std::optional<Framing> framings[] = {std::nullopt, Framing::lf, Framing::octet_counting};
  int checked = 0, truncated = 0;
  std::int64_t day = 20'516;  // 2026-03-04
  for (const auto rfc : {Rfc::rfc5424, Rfc::rfc3164})
    for (const std::string sd : {"", "siem@32473"})
      for (const auto& host : hosts) {
        FormatOptions o;
        o.rfc = rfc;
        o.sd_id = sd;
        o.hostname = host;
        o.max_message_size = maxes[d.below(std::size(maxes))];
        o.bom = d.below(2) == 0;
        o.body_is_cef = d.below(4) != 0;
        if (d.below(3) == 0) o.tag.clear();
        HeaderBuilder head(o);
        std::string out, expected;
        for (int i = 0; i < 150; ++i) {
          const auto e = d.event(day);
          const std::string b = d.body();
          const auto framing = framings[d.below(std::size(framings))];
          if (d.below(8) == 0) out.clear();  // mostly appended after earlier messages
          expected = out;
          const auto f = format_message(e, b, o);
          if (framing) append_framed(expected, f.message, *framing);
          else expected += f.message;
          ASSERT_EQ(append_message(out, head, e, b, framing), f.truncated) << "event " << checked;
          ASSERT_EQ(out, expected) << "event " << checked << " host " << host << " time " << e.time_ms;
          ++checked;
          truncated += f.truncated ? 1 : 0;
        }
      }
  EXPECT_EQ(checked, 2 * 2 * 7 * 150);
  EXPECT_GT(truncated, checked / 10);  // the oversize paths are exercised, not only the plain one
}

}  // namespace
