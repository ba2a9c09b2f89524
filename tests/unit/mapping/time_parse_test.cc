#include "connector/record/time_parse.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace siem {
namespace {

TEST(TimeParse, FormsAzureReallySends) {
  const std::int64_t base = 1772619330000;  // 2026-03-04T10:15:30Z
  EXPECT_EQ(parse_time_ms("2026-03-04T10:15:30Z"), base);
  EXPECT_EQ(parse_time_ms("2026-03-04T10:15:30.1234567Z"), base + 123);
  EXPECT_EQ(parse_time_ms("2026-03-04T10:15:30.1Z"), base + 100);
  EXPECT_EQ(parse_time_ms("2026-03-04T11:15:30+01:00"), base);
  EXPECT_EQ(parse_time_ms("2026-03-04T05:15:30.000-05:00"), base);
  EXPECT_EQ(parse_time_ms("2026-03-04T11:15:30+0100"), base);
  EXPECT_EQ(parse_time_ms("2026-03-04 10:15:30.087554000"), base + 87);
  EXPECT_EQ(parse_time_ms("2026-03-04T10:15:30"), base);  // no zone: UTC
  EXPECT_EQ(parse_time_ms("3/4/2026 10:15:30 AM"), base);
  EXPECT_EQ(parse_time_ms("11/14/2025 1:48:53 AM"), parse_time_ms("2025-11-14T01:48:53Z"));
  EXPECT_EQ(parse_time_ms("11/14/2025 1:48:53 PM"), parse_time_ms("2025-11-14T13:48:53Z"));
  EXPECT_EQ(parse_time_ms("11/14/2025 12:05:00 AM"), parse_time_ms("2025-11-14T00:05:00Z"));
  EXPECT_EQ(parse_time_ms("1772619330"), base);
  EXPECT_EQ(parse_time_ms("1772619330123"), base + 123);
  EXPECT_EQ(parse_time_ms(" 2026-03-04T10:15:30Z "), base);
}

TEST(TimeParse, CalendarEdges) {
  EXPECT_EQ(parse_time_ms("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(parse_time_ms("1969-12-31T23:59:59Z"), -1000);
  EXPECT_EQ(parse_time_ms("2000-02-29T00:00:00Z"), 951782400000);  // a leap day of a century leap year
  EXPECT_EQ(parse_time_ms("2024-03-01T00:00:00Z"), 1709251200000);
  EXPECT_EQ(parse_time_ms("2025-12-31T23:59:59.999Z"), 1767225599999);
  EXPECT_EQ(parse_time_ms("2026-01-01T00:30:00+01:00"), 1767223800000);  // the offset crosses the year
}

TEST(TimeParse, RejectsGarbage) {
  for (const char* bad : {"", "yesterday", "2026-13-04T10:15:30Z", "2026-03-04T25:15:30Z", "2026-03-04T10:15:30Zjunk",
                          "13/45/2026 1:00:00 AM", "2026/03/04", "11/14/2025 13:48:53 PM"})
    EXPECT_FALSE(parse_time_ms(bad).has_value()) << bad;
}

// Graph writes 0001-01-01T00:00:00Z for "no date": a year before 1900 is no event's time.
TEST(TimeParse, SentinelDatesAreNoTime) {
  for (const char* none : {"0001-01-01T00:00:00Z", "0001-01-01T00:00:00.0000000Z", "1899-12-31T23:59:59Z", "1/1/0001 12:00:00 AM"})
    EXPECT_FALSE(parse_time_ms(none).has_value()) << none;
  EXPECT_TRUE(parse_time_ms("1900-01-01T00:00:00Z").has_value());
}

TEST(TimeParse, FormatsUtcMilliseconds) {
  EXPECT_EQ(format_time_ms(1772619330123), "2026-03-04T10:15:30.123Z");
  EXPECT_EQ(format_time_ms(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(format_time_ms(951782400000), "2000-02-29T00:00:00.000Z");
}

// The mapper formats every record's time into one reused string: the contents are replaced, whatever
// was there before (longer, shorter), and the same as the returning form for any time.
TEST(TimeParse, FormatsIntoAReusedString) {
  std::string out = "previous contents, longer than a timestamp";
  for (std::int64_t ms : {1772619330123LL, 0LL, -1LL, 951782400000LL, 253402300800000LL, -62167219200001LL}) {
    format_time_ms(ms, out);
    EXPECT_EQ(out, format_time_ms(ms)) << ms;
  }
  format_time_ms(1772619330123, out);
  EXPECT_EQ(out, "2026-03-04T10:15:30.123Z");
}

TEST(TimeParse, IsoDurations) {
  EXPECT_EQ(parse_iso_duration_ms("PT5H"), 5 * 3600 * 1000);
  EXPECT_EQ(parse_iso_duration_ms("PT90S"), 90 * 1000);
  EXPECT_EQ(parse_iso_duration_ms("P1DT2H30M"), (24 * 3600 + 2 * 3600 + 30 * 60) * 1000LL);
  EXPECT_FALSE(parse_iso_duration_ms("5H"));
  EXPECT_FALSE(parse_iso_duration_ms("PT"));
}

// The fixed-position reader of YYYY-MM-DDThh:mm:ss[.f] + Z or +hh:mm must give what the general
// reader gives: the same text with a lower-case 'z' (or a space before the offset) takes the general
// reader, so both are compared over fraction lengths 0-9, offsets, calendar rollovers, out-of-range
// fields, the year floor and near misses.
TEST(TimeParse, CanonicalFormsReadAsTheGeneralReader) {
  std::vector<std::string> bases = {"2026-12-07T04:21:36", "2024-02-29T23:59:59", "2023-02-29T00:00:00",
                                    "2026-01-31T24:00:00", "2026-13-01T00:00:00", "2026-00-10T00:00:00",
                                    "2026-04-31T12:60:00", "2016-12-31T23:59:60", "1899-12-31T23:59:59",
                                    "1900-01-01T00:00:00", "0001-01-01T00:00:00", "9999-12-31T23:59:59",
                                    "2026-12-07T04:21:61", "2026-12-00T04:21:00"};
  std::vector<std::string> fractions = {"", ".", ".1", ".12", ".123", ".1234", ".999999", ".1234567", ".123456789"};
  for (const auto& b : bases)
    for (const auto& f : fractions) {
      const std::string text = b + f;
      EXPECT_EQ(parse_time_ms(text + "Z"), parse_time_ms(text + "z")) << text;
      EXPECT_EQ(parse_time_ms("  " + text + "Z\n"), parse_time_ms(text + "z")) << text;
      // Offsets: the general reader takes them after a space too.
      for (const std::string zone : {"+00:00", "-05:30", "+14:00", "-12:59", "+99:99"})
        EXPECT_EQ(parse_time_ms(text + zone), parse_time_ms(text + " " + zone)) << text << zone;
    }
  for (const std::string zone : {"+0530", "+05", "+05:3", "+05:300", "05:30", "+a5:30", "*05:30"})
    EXPECT_EQ(parse_time_ms("2026-12-07T04:21:36.1234567" + zone), parse_time_ms("2026-12-07T04:21:36.1234567 " + zone)) << zone;
  EXPECT_EQ(parse_time_ms("2026-12-07T04:21:36.5-01:00"), std::optional<std::int64_t>(1796617296500 + 3600000));
  // Near misses of the form: not read as UTC at fixed positions.
  EXPECT_EQ(parse_time_ms("2026-12-07T04:21:36.12aZ"), std::nullopt);
  EXPECT_EQ(parse_time_ms("2026-12-07T04:21:36,5Z"), parse_time_ms("2026-12-07T04:21:36,5z"));
  EXPECT_EQ(parse_time_ms("2026-12-07T04:21:36.5Z"), parse_time_ms("2026-12-07T04:21:36.500+00:00"));
  EXPECT_EQ(parse_time_ms("2026-1a-07T04:21:36Z"), std::nullopt);
  EXPECT_EQ(parse_time_ms("2026-12-07X04:21:36Z"), std::nullopt);
  EXPECT_EQ(parse_time_ms("2026-12-07 04:21:36Z"), parse_time_ms("2026-12-07T04:21:36z"));
  EXPECT_EQ(parse_time_ms("2026-12-07T04:21:36.123Z"), std::optional<std::int64_t>(1796617296123));
}


// The microsecond form the pull sources' windows and checkpoints read (parse_rfc3339_us): Graph's
// seven fraction digits kept to the microsecond, the zone optional or required by rule, a floor
// year, and parse_rfc3339_ms() its floor in milliseconds.
TEST(TimeParse, Rfc3339MicrosecondsKeepGraphPrecision) {
  const std::int64_t base = 1772619330000000;  // 2026-03-04T10:15:30Z
  EXPECT_EQ(parse_rfc3339_us("2026-03-04T10:15:30Z"), base);
  EXPECT_EQ(parse_rfc3339_us("2026-03-04T10:15:30.1234567Z"), base + 123456);  // the 7th digit dropped
  EXPECT_EQ(parse_rfc3339_us("2026-03-04T10:15:30.000001z"), base + 1);
  EXPECT_EQ(parse_rfc3339_us("2026-03-04t11:15:30.5+01:00"), base + 500000);
  EXPECT_EQ(parse_rfc3339_us("2026-03-04 05:15:30-05:00"), base);
  EXPECT_EQ(parse_rfc3339_us("2016-12-31T23:59:60Z"), parse_rfc3339_us("2017-01-01T00:00:00Z"));  // a leap second
  EXPECT_EQ(parse_rfc3339_us("1969-12-31T23:59:59.9999995Z"), -1);
  EXPECT_EQ(parse_rfc3339_ms("1969-12-31T23:59:59.9995Z"), -1);  // floored, as before
  EXPECT_EQ(parse_rfc3339_ms("2026-03-04T10:15:30.1239Z"), base / 1000 + 123);
}

TEST(TimeParse, Rfc3339MicrosecondRules) {
  const Rfc3339Rules pull{.zone_optional = true, .min_year = 1970};
  // No zone: refused by default, UTC when the rule allows it.
  EXPECT_EQ(parse_rfc3339_us("2026-03-04T10:15:30.25"), std::nullopt);
  EXPECT_EQ(parse_rfc3339_us("2026-03-04T10:15:30.25", pull), parse_rfc3339_us("2026-03-04T10:15:30.25Z"));
  EXPECT_EQ(parse_rfc3339_us("2026-03-04T10:15:30", pull), std::optional<std::int64_t>(1772619330000000));
  // The year floor: before it nothing, from it on the offset still applies (a negative time).
  EXPECT_EQ(parse_rfc3339_us("1969-12-31T23:59:59Z", pull), std::nullopt);
  EXPECT_EQ(parse_rfc3339_us("1969-12-31T23:59:59Z"), -1000000);
  EXPECT_EQ(parse_rfc3339_us("1970-01-01T00:30:00+01:00", pull), -1800LL * 1000000);
  for (const char* bad : {"2026-03-04T10:15:30.Z", "2026-03-04T10:15:30+0a:00", "2026-03-04T10:15:30+01", "2026-03-04T10:15",
                          "2026-13-04T10:15:30Z", "2026-03-04T24:00:00Z", "2026-03-04T10:15:30Z ", "2026-03-04T10:15:30 PST",
                          " 2026-03-04T10:15:30Z", "26-03-04T10:15:30Z", ""})
    EXPECT_EQ(parse_rfc3339_us(bad, pull), std::nullopt) << bad;
}

}  // namespace
}  // namespace siem
