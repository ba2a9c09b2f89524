// The security-alert sources end to end: the real `siem-connector run --once` binary against the
// Graph/ARM emulator over HTTPS on 127.0.0.1 (pull_fixture.h), file sink in raw format.
//   * graph_security_alerts: every alert once across @odata.nextLink pages, a 429 with Retry-After
//     and a 503; a second run (a restart) delivers nothing; an alert updated inside the lookback
//     is delivered again exactly once, as its new version, with a late alert; a fourth run nothing.
//   * azure_defender_alerts: two subscriptions, ARM nextLink pages, 429/503; a restart delivers
//     nothing; a status change and an alert that shows up late (generated hours ago) are delivered
//     once; an alert older than the retention never is.
#include "tests/component/sources/pull_fixture.h"
#include "tools/emulator/alerts.h"

namespace siem::pulltest {
namespace {

constexpr const char* kSub2 = "44444444-4444-4444-4444-444444444444";

class PullAlerts : public PullRunOnce {
 protected:
  void start(int arm_page_size) {
    emulator::Options o;
    o.apps = {app()};
    o.subscriptions = {kSub, kSub2};
    o.arm_page_size = arm_page_size;
    server_ = test::make_tls_server(*pki_, false);
    emu_ = std::make_unique<emulator::Emulator>(o, *server_);
    server_->start();
    url_ = server_->base_url();
  }

  json admin(const std::string& op, const json& body) {
    auto res = test::http_fetch("POST", url_ + "/_emulator/" + op, body.dump(), {}, pki_->ca_pem());
    EXPECT_EQ(res.status, 200) << res.body;
    return res.body.empty() ? json::object() : json::parse(res.body);
  }

  // Lines delivered from line `from` on: (id, status) -> count.
  std::map<std::pair<std::string, std::string>, int> versions(std::size_t from, std::size_t* lines = nullptr) const {
    std::map<std::pair<std::string, std::string>, int> out;
    std::ifstream in(dir_ / "out.ndjson");
    std::string line;
    std::size_t n = 0;
    while (std::getline(in, line)) {
      if (n++ < from) continue;
      const auto r = json::parse(line);
      const json& holder = r.contains("properties") ? r["properties"] : r;
      out[{r.value("id", ""), holder.value("status", "")}]++;
    }
    if (lines) *lines = n;
    return out;
  }

  static int count_status(const json& stats, int status) {
    const auto& s = stats["statuses"];
    return static_cast<int>(std::count(s.begin(), s.end(), status));
  }
};

TEST_F(PullAlerts, GraphSecurityAlertsEveryVersionOnceAcrossPagesThrottlingRestartsAndUpdates) {
  start(1000);
  // Twelve more alerts over the last hour so the stream pages (page_size 4).
  const auto seeded = emu_->records(emulator::kSecurityAlerts);
  ASSERT_EQ(seeded.size(), 4u);
  const auto now = std::chrono::system_clock::now();
  for (int i = 0; i < 12; ++i) {
    json a = seeded[static_cast<std::size_t>(i) % seeded.size()];
    a["id"] = "da-extra-" + std::to_string(i);
    a["lastUpdateDateTime"] = emulator::format_time(
        std::chrono::duration_cast<std::chrono::microseconds>((now - std::chrono::minutes(5 + 4 * i)).time_since_epoch()).count());
    emu_->add_record(emulator::kSecurityAlerts, a);
  }
  write_config(source("alerts", "graph_security_alerts", "page_size: 4"));
  server_->add_fault(httpd::Fault::with_status("/v1.0/security/alerts_v2", 429, 1, {{"Retry-After", "1"}},
                                               R"({"error":{"code":"TooManyRequests","message":"Please retry again later."}})"));
  server_->add_fault(httpd::Fault::with_status("/v1.0/security/alerts_v2", 503, 1, {{"Retry-After", "1"}}, "{}"));

  auto r1 = run();
  ASSERT_EQ(r1.status, 0) << r1.err;
  std::size_t lines1 = 0;
  auto first = versions(0, &lines1);
  std::set<std::pair<std::string, std::string>> expected;
  for (const auto& a : emu_->records(emulator::kSecurityAlerts)) expected.insert({a["id"].get<std::string>(), a["status"].get<std::string>()});
  ASSERT_EQ(expected.size(), 16u);
  EXPECT_EQ(first.size(), expected.size());
  for (const auto& v : expected) EXPECT_EQ(first.count(v) ? first[v] : 0, 1) << v.first;
  auto stats = endpoint_stats("graph.securityAlerts");
  EXPECT_EQ(count_status(stats, 429), 1);
  EXPECT_EQ(count_status(stats, 503), 1);
  EXPECT_GE(count_status(stats, 200), 4);  // 16 alerts, 4 per page
  // The window is asked of the server on lastUpdateDateTime.
  EXPECT_NE(stats["targets"][0].get<std::string>().find("lastUpdateDateTime%20ge%20"), std::string::npos) << stats["targets"][0];
  for (std::size_t i = 0; i + 1 < stats["statuses"].size(); ++i) {
    if (stats["statuses"][i] == 429) {
      EXPECT_GE(stats["received_ms"][i + 1].get<std::int64_t>() - stats["received_ms"][i].get<std::int64_t>(), 1000);
    }
  }

  // A restart reads the lookback again and delivers nothing.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  auto r2 = run();
  ASSERT_EQ(r2.status, 0) << r2.err;
  std::size_t lines2 = 0;
  EXPECT_TRUE(versions(lines1, &lines2).empty());

  // The Defender for Identity alert is resolved (its lastUpdateDateTime moves to a minute ago) and a
  // late alert appears ten minutes back: both once, the update as its new version.
  const std::string updated = seeded[1]["id"];
  admin("update", {{"collection", emulator::kSecurityAlerts}, {"id", updated}, {"status", "resolved"}, {"age_seconds", 60}});
  const std::string late = admin("late", {{"collection", emulator::kSecurityAlerts}, {"age_seconds", 600}})["id"];
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  auto r3 = run();
  ASSERT_EQ(r3.status, 0) << r3.err;
  std::size_t lines3 = 0;
  auto third = versions(lines2, &lines3);
  ASSERT_EQ(third.size(), 2u) << lines3 - lines2;
  EXPECT_EQ(third[(std::pair<std::string, std::string>{updated, "resolved"})], 1);
  EXPECT_EQ(lines3 - lines2, 2u);
  bool late_seen = false;
  for (const auto& [v, n] : third) late_seen = late_seen || v.first == late;
  EXPECT_TRUE(late_seen) << late;

  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  auto r4 = run();
  ASSERT_EQ(r4.status, 0) << r4.err;
  EXPECT_TRUE(versions(lines3).empty());
}

TEST_F(PullAlerts, DefenderAlertsPerSubscriptionAsStateWithStatusChangesAndLateAlerts) {
  start(2);  // ARM pages of two alerts
  const auto now = std::chrono::system_clock::now();
  const auto us = [](std::chrono::system_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  };
  // An alert older than the default 90-day retention: never delivered.
  json ancient = emu_->records(emulator::kDefenderAlerts).front();
  emulator::make_late_alert(ancient, emulator::kDefenderAlerts, "ancient-1", emulator::format_time(us(now - std::chrono::hours(24 * 100))));
  emu_->add_record(emulator::kDefenderAlerts, ancient);
  write_config(source("defender", "azure_defender_alerts", std::string("subscriptions: [") + kSub + ", " + kSub2 + "]"));
  server_->add_fault(httpd::Fault::with_status("/subscriptions/", 429, 1, {{"Retry-After", "1"}},
                                               R"({"error":{"code":"TooManyRequests","message":"Too many requests."}})"));
  server_->add_fault(httpd::Fault::with_status("/subscriptions/", 503, 1, {{"Retry-After", "1"}}, "{}"));

  auto r1 = run();
  ASSERT_EQ(r1.status, 0) << r1.err;
  std::size_t lines1 = 0;
  auto first = versions(0, &lines1);
  std::set<std::pair<std::string, std::string>> expected;
  std::set<std::string> subs_seen;
  for (const auto& a : emu_->records(emulator::kDefenderAlerts))
    if (a["name"] != "ancient-1") expected.insert({a["id"].get<std::string>(), a["properties"]["status"].get<std::string>()});
  ASSERT_EQ(expected.size(), 6u);  // three per subscription
  EXPECT_EQ(first.size(), expected.size());
  for (const auto& v : expected) {
    EXPECT_EQ(first.count(v) ? first[v] : 0, 1) << v.first;
    subs_seen.insert(v.first.substr(0, v.first.find("/resourceGroups")));
  }
  EXPECT_EQ(subs_seen.size(), 2u);
  auto stats = endpoint_stats("arm.defenderAlerts");
  EXPECT_EQ(count_status(stats, 429), 1);
  EXPECT_EQ(count_status(stats, 503), 1);
  EXPECT_GE(count_status(stats, 200), 4);  // two pages per subscription
  bool paged = false;
  for (const auto& t : stats["targets"]) paged = paged || t.get<std::string>().find("$skiptoken=") != std::string::npos;
  EXPECT_TRUE(paged);

  auto r2 = run();
  ASSERT_EQ(r2.status, 0) << r2.err;
  std::size_t lines2 = 0;
  EXPECT_TRUE(versions(lines1, &lines2).empty());

  // The suspicious role assignment alert of the first subscription is resolved; an alert generated
  // three hours ago shows up only now (far outside any time window).
  json target;
  for (const auto& a : emu_->records(emulator::kDefenderAlerts))
    if (a["id"].get<std::string>().find(kSub) != std::string::npos && a["properties"]["status"] == "Active") {
      target = a;
      break;
    }
  ASSERT_TRUE(target.is_object());
  admin("update", {{"collection", emulator::kDefenderAlerts}, {"id", target["name"]}, {"status", "Resolved"}});
  const std::string late = admin("late", {{"collection", emulator::kDefenderAlerts}, {"age_seconds", 3 * 3600}})["id"];
  auto r3 = run();
  ASSERT_EQ(r3.status, 0) << r3.err;
  std::size_t lines3 = 0;
  auto third = versions(lines2, &lines3);
  EXPECT_EQ(lines3 - lines2, 2u);
  EXPECT_EQ(third[(std::pair<std::string, std::string>{target["id"].get<std::string>(), "Resolved"})], 1);
  bool late_seen = false;
  for (const auto& [v, n] : third) late_seen = late_seen || v.first.ends_with("/" + late);
  EXPECT_TRUE(late_seen) << late << "\n" << r3.err;

  auto r4 = run();
  ASSERT_EQ(r4.status, 0) << r4.err;
  EXPECT_TRUE(versions(lines3).empty());
  EXPECT_TRUE(error_lines(r4.err).empty()) << r4.err;
}

TEST_F(PullAlerts, DefenderSubscriptionMustBeAGuid) {
  start(1000);
  write_config(source("defender", "azure_defender_alerts", "subscriptions: [\"../../providers/x?y\"]"));
  auto r = run_binary({"validate", "-c", (dir_ / "config.yaml").string()}, dir_, std::chrono::seconds(30));
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_NE(r.err.find("is not a subscription id"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("config.yaml:"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace siem::pulltest
