// graph_risk_detections and graph_pim_alerts end to end: the real `siem-connector run --once`
// binary against the Graph emulator over HTTPS on 127.0.0.1, file sink in raw format:
//   * risk detections of users and service principals: every record once across pages (`$top`
//     20, the API's maximum 500), a 429 with Retry-After and a 503; a second run delivers
//     nothing; a late detection inside the lookback is delivered once; a detection whose state
//     changes later (remediated, new lastUpdatedDateTime) is delivered again exactly once, and a
//     further run delivers nothing;
//   * PIM alerts (state, read whole every poll, paged): every alert once, nothing on the next run,
//     a changed alert (more incidents) and a resolved one (isActive false) once each, across
//     restarts of the binary (the dedupe keys are persisted with the checkpoint);
//   * the queries are the real APIs': detectedDateTime window, the alerts' scope filter and $expand.
#include <algorithm>

#include "tests/component/sources/pull_fixture.h"

namespace siem::pulltest {

namespace {

json risk(const std::string& id, std::int64_t detected_us, bool service_principal) {
  json r = {{"id", id},
            {"riskEventType", service_principal ? "leakedCredentials" : "unfamiliarFeatures"},
            {"riskState", "atRisk"},
            {"riskLevel", "medium"},
            {"riskDetail", "none"},
            {"source", "IdentityProtection"},
            {"detectionTimingType", "realtime"},
            {"activityDateTime", emulator::format_time(detected_us - 60'000'000)},
            {"detectedDateTime", emulator::format_time(detected_us)},
            {"lastUpdatedDateTime", emulator::format_time(detected_us)}};
  if (service_principal) {
    r["servicePrincipalId"] = "sp-" + id;
    r["appId"] = "app-" + id;
  } else {
    r["userId"] = "user-" + id;
    r["userPrincipalName"] = "user-" + id + "@contoso.com";
  }
  return r;
}

json pim_alert(int n, bool active, int incidents) {
  const std::string id = "DirectoryRole_" + std::string(kTenant) + "_Alert" + std::to_string(n);
  json inc = json::array();
  for (int i = 0; i < incidents; ++i) inc.push_back({{"id", "inc-" + std::to_string(i)}, {"assigneeId", "user-" + std::to_string(i)}});
  return {{"id", id},
          {"alertDefinitionId", id},
          {"scopeId", "/"},
          {"scopeType", "DirectoryRole"},
          {"incidentCount", incidents},
          {"isActive", active},
          {"lastModifiedDateTime", "2026-11-01T10:00:00Z"},
          {"lastScannedDateTime", "2026-11-02T10:00:00Z"},
          {"alertDefinition", {{"id", id}, {"displayName", "Alert " + std::to_string(n)}, {"severityLevel", "medium"}}},
          {"alertIncidents", inc}};
}

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

int count_status(const json& stats, int status) {
  const auto& s = stats["statuses"];
  return static_cast<int>(std::count(s.begin(), s.end(), status));
}

}  // namespace

TEST_F(PullRunOnce, RiskDetectionsOnceAcrossPagesThrottlingLateRecordsAndStateChanges) {
  seed_ = false;
  start_emulator();
  const std::int64_t now = now_us();
  std::set<std::string> expected;
  for (int i = 0; i < 45; ++i) {  // users: three pages of 20
    const std::string id = "risk-user-" + std::to_string(i);
    emu_->add_record("riskDetections", risk(id, now - (5 + i) * 60'000'000LL, false));
    expected.insert(id);
  }
  for (int i = 0; i < 3; ++i) {
    const std::string id = "risk-sp-" + std::to_string(i);
    emu_->add_record("servicePrincipalRiskDetections", risk(id, now - (7 + i) * 60'000'000LL, true));
    expected.insert(id);
  }
  write_config(source("risk", "graph_risk_detections", "page_size: 20"));
  server_->add_fault(httpd::Fault::with_status("/v1.0/identityProtection/riskDetections", 429, 1, {{"Retry-After", "1"}},
                                               R"({"error":{"code":"TooManyRequests","message":"Please retry again later."}})"));
  server_->add_fault(httpd::Fault::with_status("/v1.0/identityProtection/servicePrincipalRiskDetections", 503, 1, {{"Retry-After", "1"}}, "{}"));

  auto r1 = run();
  ASSERT_EQ(r1.status, 0) << r1.err;
  std::size_t lines1 = 0;
  auto first = delivered(0, &lines1);
  EXPECT_EQ(first.size(), expected.size());
  for (const auto& id : expected) EXPECT_EQ(first.count(id) ? first[id] : 0, 1) << "record " << id;
  const auto users = endpoint_stats("graph.riskDetections");
  EXPECT_EQ(count_status(users, 429), 1);
  EXPECT_GE(count_status(users, 200), 3);  // three pages through @odata.nextLink
  EXPECT_EQ(count_status(endpoint_stats("graph.servicePrincipalRiskDetections"), 503), 1);
  const std::string target = users["targets"][0].get<std::string>();
  EXPECT_NE(target.find("detectedDateTime%20ge%20"), std::string::npos) << target;
  EXPECT_NE(target.find("&$top=20"), std::string::npos) << target;

  // Nothing new: the lookback is read again and every record is a duplicate.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  auto r2 = run();
  ASSERT_EQ(r2.status, 0) << r2.err;
  std::size_t lines2 = 0;
  EXPECT_TRUE(delivered(lines1, &lines2).empty());

  // A late detection (ten minutes old, inside the 30 min lookback) and a state change of an
  // earlier one: Identity Protection remediated it and stamped lastUpdatedDateTime.
  emu_->add_record("riskDetections", risk("risk-late", now - 10 * 60'000'000LL, false));
  ASSERT_TRUE(emu_->update_record("riskDetections", "risk-user-0",
                                  {{"riskState", "remediated"}, {"riskDetail", "userPerformedSecuredPasswordReset"},
                                   {"lastUpdatedDateTime", emulator::format_time(now_us())}}));
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  auto r3 = run();
  ASSERT_EQ(r3.status, 0) << r3.err;
  std::size_t lines3 = 0;
  auto third = delivered(lines2, &lines3);
  EXPECT_EQ(third, (std::map<std::string, int>{{"risk-late", 1}, {"risk-user-0", 1}}));
  {
    std::ifstream in(dir_ / "out.ndjson");
    std::string line, last_state;
    while (std::getline(in, line)) {
      const auto rec = json::parse(line);
      if (rec.value("id", "") == "risk-user-0") last_state = rec.value("riskState", "");
    }
    EXPECT_EQ(last_state, "remediated");
  }

  // And once only: the next run delivers nothing.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  auto r4 = run();
  ASSERT_EQ(r4.status, 0) << r4.err;
  EXPECT_TRUE(delivered(lines3).empty());
}

TEST_F(PullRunOnce, PimAlertsNewChangedAndResolvedOnceAcrossRestarts) {
  seed_ = false;
  start_emulator();
  std::set<std::string> expected;
  for (int n = 0; n < 25; ++n) {  // two pages of 20
    const json a = pim_alert(n, n % 3 == 0, n % 3 == 0 ? 2 : 0);
    emu_->add_record("roleManagementAlerts", a);
    expected.insert(a["id"].get<std::string>());
  }
  write_config(source("alerts", "graph_pim_alerts", ""));
  server_->add_fault(httpd::Fault::with_status("/beta/identityGovernance/roleManagementAlerts", 429, 1, {{"Retry-After", "1"}},
                                               R"({"error":{"code":"TooManyRequests","message":"Please retry again later."}})"));
  server_->add_fault(httpd::Fault::with_status("/beta/identityGovernance/roleManagementAlerts", 503, 1, {{"Retry-After", "1"}}, "{}"));

  auto r1 = run();
  ASSERT_EQ(r1.status, 0) << r1.err;
  std::size_t lines1 = 0;
  auto first = delivered(0, &lines1);
  EXPECT_EQ(first.size(), expected.size());
  for (const auto& id : expected) EXPECT_EQ(first.count(id) ? first[id] : 0, 1) << "alert " << id;
  const auto stats = endpoint_stats("graph.roleManagementAlerts");
  EXPECT_EQ(count_status(stats, 429), 1);
  EXPECT_EQ(count_status(stats, 503), 1);
  EXPECT_GE(count_status(stats, 200), 2);  // two pages
  EXPECT_EQ(count_status(stats, 400), 0);  // the scope filter the API requires
  const std::string target = stats["targets"][0].get<std::string>();
  EXPECT_NE(target.find("scopeType%20eq%20%27DirectoryRole%27"), std::string::npos) << target;
  EXPECT_NE(target.find("alertIncidents"), std::string::npos) << target;
  {  // the incidents came expanded
    std::ifstream in(dir_ / "out.ndjson");
    std::string line;
    ASSERT_TRUE(std::getline(in, line));
    EXPECT_TRUE(json::parse(line).contains("alertIncidents")) << line;
  }

  // Unchanged alerts are not delivered again (a new process: the keys come from the state file).
  auto r2 = run();
  ASSERT_EQ(r2.status, 0) << r2.err;
  std::size_t lines2 = 0;
  EXPECT_TRUE(delivered(lines1, &lines2).empty());

  // One alert gets a third incident, another is resolved: one event each.
  const std::string changed = pim_alert(0, true, 0)["id"], resolved = pim_alert(3, true, 0)["id"];
  ASSERT_TRUE(emu_->update_record("roleManagementAlerts", changed,
                                  {{"incidentCount", 3}, {"lastModifiedDateTime", "2026-11-03T10:00:00Z"}}));
  ASSERT_TRUE(emu_->update_record("roleManagementAlerts", resolved, {{"isActive", false}, {"incidentCount", 0}}));
  auto r3 = run();
  ASSERT_EQ(r3.status, 0) << r3.err;
  std::size_t lines3 = 0;
  EXPECT_EQ(delivered(lines2, &lines3), (std::map<std::string, int>{{changed, 1}, {resolved, 1}}));

  auto r4 = run();
  ASSERT_EQ(r4.status, 0) << r4.err;
  EXPECT_TRUE(delivered(lines3).empty());
}

TEST_F(PullRunOnce, AlertSourcesRefuseTheChinaCloud) {
  start_emulator();
  write_config(source("risk", "graph_risk_detections", "") + source("alerts", "graph_pim_alerts", ""));
  std::string cfg = slurp(dir_ / "config.yaml");
  for (std::size_t p = 0; (p = cfg.find("cloud: custom", p)) != std::string::npos;) cfg.replace(p, 13, "cloud: china");
  std::ofstream(dir_ / "config.yaml") << cfg;
  auto r = run_binary({"validate", "-c", (dir_ / "config.yaml").string()}, dir_, std::chrono::seconds(30));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("graph_risk_detections is not served in cloud 'china'"), std::string::npos) << r.err;
}

}  // namespace siem::pulltest
