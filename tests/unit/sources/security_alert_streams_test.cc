// The security-alert streams of the I/O-free pull engine (security_alert_streams.h): URLs per cloud, the
// Graph alerts_v2 window on lastUpdateDateTime with one record per alert version, and the Defender
// for Cloud list read as state (id + status, retention horizon, restart from the checkpoint).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "connector/sources/graph/security_alert_streams.h"
#include "connector/sources/graph/pull_engine.h"
#include "tests/unit/sources/engine_test_support.h"

namespace siem::sources {
namespace {

using nlohmann::json;
using namespace engine_test;

json graph_alert(const std::string& id, const std::string& updated, const std::string& status = "new") {
  return {{"id", id}, {"status", status}, {"severity", "high"}, {"serviceSource", "microsoftDefenderForIdentity"},
          {"createdDateTime", "2024-01-01T00:00:00Z"}, {"lastUpdateDateTime", updated}, {"evidence", json::array()}};
}

json defender_alert(const std::string& name, const std::string& generated, const std::string& status) {
  return {{"id", "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Security/locations/westeurope/alerts/" + name},
          {"name", name},
          {"type", "Microsoft.Security/Locations/alerts"},
          {"properties", {{"alertType", "VM_EICAR"}, {"status", status}, {"timeGeneratedUtc", generated}}}};
}

std::vector<std::string> ids(const StreamPoller::PageResult& r) {
  std::vector<std::string> out;
  for (const auto& rec : r.records) {
    const json j = json::parse(std::string_view(rec.json));
    const json& holder = j.contains("properties") ? j["properties"] : j;
    out.push_back(j["id"].get<std::string>() + "|" + holder.value("status", ""));
  }
  return out;
}

TEST(AlertStreams, UrlsPerCloudFilterOnLastUpdateAndArmApiVersion) {
  for (const char* cloud : {"global", "usgov", "usgov_dod", "china"}) {
    const auto roots = cloud_roots(cloud).value();
    StreamSpec g{"alerts_v2", StreamType::security_alerts, roots.graph};
    g.page_size = 250;
    EXPECT_EQ(build_url(g, T("2024-01-01T00:00:00Z"), T("2024-01-01T01:00:00Z")),
              roots.graph + "/v1.0/security/alerts_v2?$filter=lastUpdateDateTime%20ge%202024-01-01T00:00:00Z%20and%20"
                            "lastUpdateDateTime%20lt%202024-01-01T01:00:00Z&$top=250");
    EXPECT_TRUE(g.windowed());
    EXPECT_FALSE(g.arm());
    StreamSpec d{"defender.s", StreamType::defender_alerts, roots.arm};
    d.scope = "/subscriptions/33333333-3333-3333-3333-333333333333";
    EXPECT_EQ(build_url(d, 0, 0), roots.arm + "/subscriptions/33333333-3333-3333-3333-333333333333/providers/Microsoft.Security/alerts"
                                              "?api-version=2022-01-01");
    EXPECT_FALSE(d.windowed());
    EXPECT_TRUE(d.arm());
  }
}

TEST(AlertStreams, EveryAlertVersionOnceAcrossLookbackReReadsAndRestart) {
  WindowOptions o;
  o.lookback = 10 * kMin;
  o.safety_lag = 0;
  const StreamSpec spec{"alerts_v2", StreamType::security_alerts, "https://g"};
  StreamPoller p(spec, o);
  p.restore(std::nullopt, T("2024-01-01T00:00:00Z"));
  auto u = p.begin(T("2024-01-01T00:10:00Z"));
  ASSERT_TRUE(u);
  auto r1 = p.on_page(*u, page({graph_alert("a", "2024-01-01T00:05:00.1234567Z"), graph_alert("b", "2024-01-01T00:09:00Z")}), "t");
  EXPECT_EQ(ids(r1), (std::vector<std::string>{"a|new", "b|new"}));
  EXPECT_EQ(r1.records[0].kind_hint, SourceKind::graph_security_alert);

  // Restart from the checkpoint; the lookback re-reads b (same version, spelled with other digits),
  // a is updated (a new version), and c arrives late inside the lookback.
  StreamPoller q(spec, o);
  q.restore(p.completed(), std::nullopt);
  auto u2 = q.begin(T("2024-01-01T00:20:00Z"));
  ASSERT_TRUE(u2);
  auto r2 = q.on_page(*u2, page({graph_alert("b", "2024-01-01T00:09:00.0000000Z"), graph_alert("a", "2024-01-01T00:12:00Z", "resolved"),
                                 graph_alert("c", "2024-01-01T00:07:00Z")}), "t");
  EXPECT_EQ(ids(r2), (std::vector<std::string>{"c|new", "a|resolved"}));  // oldest first
  EXPECT_EQ(r2.duplicates, 1u);
  // And again: nothing.
  StreamPoller z(spec, o);
  z.restore(q.completed(), std::nullopt);
  auto u3 = z.begin(T("2024-01-01T00:21:00Z"));
  ASSERT_TRUE(u3);
  auto r3 = z.on_page(*u3, page({graph_alert("a", "2024-01-01T00:12:00Z", "resolved"), graph_alert("c", "2024-01-01T00:07:00Z")}), "t");
  EXPECT_TRUE(r3.records.empty());
}

TEST(AlertStreams, DefenderListIsStateKeyedByIdAndStatusWithARetentionHorizon) {
  WindowOptions o;
  o.retention = 90LL * 24 * 60 * kMin;
  const StreamSpec spec{"defender.s", StreamType::defender_alerts, "https://m"};
  StreamPoller p(spec, o);
  p.restore(std::nullopt, std::nullopt);
  const Micros now = T("2024-06-01T00:00:00Z");
  auto u = p.begin(now);
  ASSERT_TRUE(u);
  // Paging via ARM's nextLink; an alert older than the retention is not read (its key would have
  // aged out of the dedupe window, so it would come back as new).
  auto r1 = p.on_page(*u, page({defender_alert("x", "2024-05-31T23:00:00Z", "Active"), defender_alert("old", "2024-02-01T00:00:00Z", "Active")},
                               "https://m/next", "nextLink"), "t");
  ASSERT_TRUE(r1.next_url);
  EXPECT_EQ(r1.outside, 1u);
  auto r2 = p.on_page("https://m/next", page({defender_alert("y", "2024-01-01T00:00:00Z", "Active")}), "t");
  EXPECT_EQ(ids(r1).size() + ids(r2).size(), 1u);
  EXPECT_EQ(r2.outside, 1u);
  EXPECT_EQ(r1.records[0].kind_hint, SourceKind::azure_defender_alert);

  // Restart: the same list gives nothing; x resolved (a new status) and a late alert generated long
  // ago (no time window could have waited for it) are delivered once.
  StreamPoller q(spec, o);
  q.restore(p.completed(), std::nullopt);
  auto u2 = q.begin(now + 60 * kMin);
  ASSERT_TRUE(u2);
  auto r3 = q.on_page(*u2, page({defender_alert("x", "2024-05-31T23:00:00Z", "Active")}), "t");
  EXPECT_TRUE(r3.records.empty());
  auto u3 = q.begin(now + 120 * kMin);
  auto r4 = q.on_page(*u3, page({defender_alert("x", "2024-05-31T23:00:00Z", "Resolved"), defender_alert("x", "2024-05-31T23:00:00Z", "Active"),
                                 defender_alert("late", "2024-05-20T00:00:00Z", "Active")}), "t");
  ASSERT_EQ(r4.records.size(), 2u);
  EXPECT_EQ(r4.duplicates, 1u);
  EXPECT_EQ(ids(r4), (std::vector<std::string>{"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Security/locations/westeurope/alerts/late|Active",
                                               "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Security/locations/westeurope/alerts/x|Resolved"}));
}

TEST(AlertStreams, DedupeKeys) {
  EXPECT_EQ(security_alert_dedupe_key(StreamType::security_alerts, "a", "2024-01-01T00:00:00.1200000Z", "new"),
            security_alert_dedupe_key(StreamType::security_alerts, "a", "2024-01-01T00:00:00.12Z", "resolved"));
  EXPECT_NE(security_alert_dedupe_key(StreamType::security_alerts, "a", "2024-01-01T00:00:00Z", "new"),
            security_alert_dedupe_key(StreamType::security_alerts, "a", "2024-01-01T00:00:01Z", "new"));
  EXPECT_NE(security_alert_dedupe_key(StreamType::defender_alerts, "a", "t", "Active"), security_alert_dedupe_key(StreamType::defender_alerts, "a", "t", "Resolved"));
  EXPECT_EQ(security_alert_dedupe_key(StreamType::defender_alerts, "a", "t1", "Active"), security_alert_dedupe_key(StreamType::defender_alerts, "a", "t2", "Active"));
}

}  // namespace
}  // namespace siem::sources
