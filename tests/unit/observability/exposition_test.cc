// The exposition writer's own rules (the format as a whole is checked with the reference parser
// in tests/component/observability): label escaping, family names per format, histogram lines.
#include <gtest/gtest.h>

#include "connector/core/metrics.h"

namespace siem {
namespace {

TEST(Exposition, EscapesBackslashQuoteAndNewlineInLabelValues) {
  EXPECT_EQ(Exposition::escape_label("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
  EXPECT_EQ(Exposition::escape_label("plain"), "plain");
}

TEST(Exposition, CounterFamilyNamesFollowEachFormat) {
  Exposition prom(false);
  prom.family("siem_x", Exposition::Type::counter, "Help.");
  prom.sample({{"sink", "a\"b"}}, 3);
  EXPECT_EQ(prom.finish(),
            "# HELP siem_x_total Help.\n# TYPE siem_x_total counter\nsiem_x_total{sink=\"a\\\"b\"} 3\n");
  Exposition om(true);
  om.family("siem_x", Exposition::Type::counter, "Help.");
  om.sample({}, 3);
  EXPECT_EQ(om.finish(), "# HELP siem_x Help.\n# TYPE siem_x counter\nsiem_x_total 3\n# EOF\n");
}

TEST(Exposition, HistogramHasCumulativeBucketsInfSumAndCount) {
  LatencyHistogram h;
  h.observe_us(500);         // 0.0005 s: first bucket
  h.observe_us(2'000'000);   // 2 s: le 2.5
  h.observe_us(20'000'000);  // 20 s: +Inf only
  Exposition x(false);
  x.family("siem_d_seconds", Exposition::Type::histogram, "D.");
  x.histogram({{"sink", "s"}}, h.snapshot());
  const auto text = x.finish();
  EXPECT_NE(text.find("siem_d_seconds_bucket{sink=\"s\",le=\"0.001\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("siem_d_seconds_bucket{sink=\"s\",le=\"1.0\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("siem_d_seconds_bucket{sink=\"s\",le=\"2.5\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("siem_d_seconds_bucket{sink=\"s\",le=\"10.0\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("siem_d_seconds_bucket{sink=\"s\",le=\"+Inf\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("siem_d_seconds_sum{sink=\"s\"} 22.0005\n"), std::string::npos) << text;
  EXPECT_NE(text.find("siem_d_seconds_count{sink=\"s\"} 3\n"), std::string::npos) << text;
}

}  // namespace
}  // namespace siem
