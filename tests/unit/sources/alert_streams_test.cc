// The alert streams on the I/O-free engine (alert_streams.h): the risk detection and PIM alert
// URLs, a risk detection whose state changes being a new record while a re-read is not, and the
// PIM alerts' snapshot dedupe (unchanged alerts never again, changed / resolved ones once, keys of
// alerts no longer listed forgotten) across a checkpoint round trip.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "connector/sources/graph/alert_streams.h"
#include "connector/sources/graph/pull_engine.h"
#include "tests/unit/sources/engine_test_support.h"

namespace siem::sources {
namespace {

using nlohmann::json;
using namespace engine_test;

json risk(const std::string& id, const char* detected, const char* updated, const char* state) {
  return {{"id", id}, {"riskEventType", "unfamiliarFeatures"}, {"riskLevel", "high"}, {"riskState", state},
          {"riskDetail", "none"}, {"detectedDateTime", detected}, {"lastUpdatedDateTime", updated}};
}

json alert(const std::string& id, bool active, int incidents, const char* modified) {
  return {{"id", id}, {"alertDefinitionId", id}, {"scopeId", "/"}, {"scopeType", "DirectoryRole"},
          {"isActive", active}, {"incidentCount", incidents}, {"lastModifiedDateTime", modified}};
}

TEST(AlertStreams, UrlsAreTheRealApis) {
  StreamSpec users("riskDetections", StreamType::risk_detections, "https://graph.microsoft.us");
  users.page_size = 1000;  // the API's maximum is 500
  EXPECT_EQ(build_url(users, T("2024-01-01T00:00:00Z"), T("2024-01-01T01:00:00Z")),
            "https://graph.microsoft.us/v1.0/identityProtection/riskDetections?$filter=detectedDateTime%20ge%202024-01-01T00:00:00Z"
            "%20and%20detectedDateTime%20le%202024-01-01T01:00:00Z&$top=500");
  StreamSpec sps("servicePrincipalRiskDetections", StreamType::sp_risk_detections, "https://g");
  EXPECT_NE(build_url(sps, 0, kSecond).find("/v1.0/identityProtection/servicePrincipalRiskDetections?$filter="), std::string::npos);
  StreamSpec alerts("roleManagementAlerts", StreamType::pim_alerts, "https://g");
  EXPECT_EQ(build_url(alerts, 0, 0),
            "https://g/beta/identityGovernance/roleManagementAlerts/alerts?$filter=scopeId%20eq%20%27%2F%27%20and%20scopeType%20eq%20"
            "%27DirectoryRole%27&$expand=alertDefinition%2CalertIncidents");
  EXPECT_TRUE(users.windowed());
  EXPECT_FALSE(alerts.windowed());
  EXPECT_EQ(users.kind(), SourceKind::graph_risk_detection);
  EXPECT_EQ(alerts.kind(), SourceKind::graph_pim_alert);
}

TEST(AlertStreams, ARiskStateChangeIsANewRecordAndAReReadIsNot) {
  const WindowOptions o = lookback_options(60 * kMin);
  auto p = fresh_poller({"riskDetections", StreamType::risk_detections, "https://g"}, o);
  const Micros now = T("2024-01-01T01:00:00Z");
  const json open = risk("r1", "2024-01-01T00:30:00Z", "2024-01-01T00:30:00Z", "atRisk");
  auto r1 = p.on_page(*p.begin(now), page({open, risk("r2", "2024-01-01T00:40:00Z", "2024-01-01T00:40:00Z", "atRisk")}), "t");
  EXPECT_EQ(r1.records.size(), 2u);
  EXPECT_EQ(r1.records[0].kind_hint, SourceKind::graph_risk_detection);
  // The next poll (a new process: the checkpoint round trip) re-reads the lookback: r1 was
  // remediated meanwhile, r2 is unchanged.
  StreamPoller q({"riskDetections", StreamType::risk_detections, "https://g"}, o);
  q.restore(decode_checkpoint(encode_checkpoint({{"riskDetections", p.completed()}})).at("riskDetections"), std::nullopt);
  const json remediated = risk("r1", "2024-01-01T00:30:00Z", "2024-01-01T01:01:00Z", "remediated");
  auto url = q.begin(now + 2 * kMin);
  ASSERT_TRUE(url);
  EXPECT_LE(q.window().start, T("2024-01-01T00:30:00Z"));
  auto r2 = q.on_page(*url, page({remediated, risk("r2", "2024-01-01T00:40:00Z", "2024-01-01T00:40:00Z", "atRisk"), open}), "t");
  ASSERT_EQ(r2.records.size(), 1u);
  EXPECT_EQ(json::parse(std::string_view(r2.records[0].json))["riskState"], "remediated");
  EXPECT_EQ(r2.duplicates, 2u);
}

TEST(AlertStreams, PimAlertSnapshotsDeliverNewChangedAndResolvedAlertsOnce) {
  WindowOptions o;
  StreamPoller p({"roleManagementAlerts", StreamType::pim_alerts, "https://g"}, o);
  p.restore(std::nullopt, std::nullopt);
  Micros now = T("2024-01-01T00:00:00Z");
  const json a = alert("a", true, 2, "2024-01-01T00:00:00Z"), b = alert("b", false, 0, "0001-01-01T08:00:00Z");
  // Two pages; the snapshot keys count from both.
  auto url = p.begin(now);
  auto r1 = p.on_page(*url, page({a}, "https://g/next"), "t");
  auto r1b = p.on_page("https://g/next", page({b}), "t");
  EXPECT_EQ(r1.records.size() + r1b.records.size(), 2u);
  EXPECT_EQ(r1.records[0].kind_hint, SourceKind::graph_pim_alert);
  // Unchanged a year later: nothing (no time-based expiry of a state's keys).
  StreamPoller q({"roleManagementAlerts", StreamType::pim_alerts, "https://g"}, o);
  q.restore(decode_checkpoint(encode_checkpoint({{"roleManagementAlerts", p.completed()}})).at("roleManagementAlerts"), std::nullopt);
  now += 365LL * 24 * 60 * kMin;
  EXPECT_TRUE(q.on_page(*q.begin(now), page({a, b}), "t").records.empty());
  // a has a third incident, b is raised: both once; then nothing.
  const json a2 = alert("a", true, 3, "2024-06-01T00:00:00Z"), b2 = alert("b", true, 1, "2024-06-01T00:00:00Z");
  EXPECT_EQ(q.on_page(*q.begin(now + kMin), page({a2, b2}), "t").records.size(), 2u);
  EXPECT_TRUE(q.on_page(*q.begin(now + 2 * kMin), page({a2, b2}), "t").records.empty());
  // b is resolved without a new lastModifiedDateTime: still a change (isActive is part of the key).
  const json b3 = alert("b", false, 0, "2024-06-01T00:00:00Z");
  auto r5 = q.on_page(*q.begin(now + 3 * kMin), page({a2, b3}), "t");
  ASSERT_EQ(r5.records.size(), 1u);
  EXPECT_EQ(json::parse(std::string_view(r5.records[0].json))["isActive"], false);
  // Only the keys of the last complete snapshot are kept.
  EXPECT_EQ(q.completed().seen.size(), 2u);
}

TEST(AlertStreams, KeysStayShortWhateverTheServerSends) {
  json r = risk("r1", "2024-01-01T00:30:00Z", "2024-01-01T00:30:00Z", "atRisk");
  r["lastUpdatedDateTime"] = std::string(100'000, 'x');
  const std::string k1 = alert_stream_key(StreamType::risk_detections, r, "r1");
  EXPECT_LE(k1.size(), 512u);
  r["lastUpdatedDateTime"] = std::string(99'999, 'x') + "y";  // differs only at the end
  EXPECT_NE(alert_stream_key(StreamType::risk_detections, r, "r1"), k1);
  EXPECT_EQ(alert_stream_key(StreamType::risk_detections, r, ""), "");  // no id, no key
  EXPECT_EQ(alert_stream_key(StreamType::pim_alerts, alert("a", false, 0, "x"), "a"), "a|x|false|0");
}

}  // namespace
}  // namespace siem::sources
