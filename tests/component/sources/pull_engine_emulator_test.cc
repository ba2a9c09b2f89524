// The pull engine against the real emulator over HTTPS (test CA made at test time): every record of
// every stream delivered exactly once across pages, across a 429 and a 503 (Retry-After honoured,
// asserted via the emulator's stats), after a restart from the checkpoint, and after a late record
// appears inside the lookback window. The test itself is the transport here; the product HTTP
// client is exercised by the source plugin tests.
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "connector/sources/graph/pull_engine.h"
#include "tests/component/sources/emulator_fixture.h"
#include "tests/support/test_http.h"

namespace siem::sources {
namespace {

using nlohmann::json;

class PullAgainstEmulator : public test::EmulatorOverTls {
 protected:
  void SetUp() override {
    EmulatorOverTls::SetUp();
    auto r = test::http_fetch("POST", base_ + "/" + kTenant + "/oauth2/v2.0/token",
                              "grant_type=client_credentials&client_id=" + std::string(kClient) +
                                  "&client_secret=" + std::string(kSecret) + "&scope=" + encode_query_value(base_ + "/.default"),
                              {}, pki_->ca_pem());
    ASSERT_EQ(r.status, 200) << r.body;
    token_ = json::parse(r.body)["access_token"];
  }

  // Reads one window to the end, honouring Retry-After on 429/503 (bounded attempts).
  std::vector<RawRecord> read_window(StreamPoller& p, Micros now) {
    std::vector<RawRecord> out;
    auto url = p.begin(now);
    for (int pages = 0; url && pages < 200; ++pages) {
      test::TestResponse r;
      for (int attempt = 0; attempt < 5; ++attempt) {
        r = test::http_fetch("GET", *url, {}, {{"Authorization", "Bearer " + token_}}, pki_->ca_pem());
        if (r.status != 429 && r.status != 503) break;
        double wait = r.header("Retry-After").empty() ? 0.05 : std::stod(r.header("Retry-After"));
        std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<int>(wait * 1000)));
      }
      EXPECT_EQ(r.status, 200) << *url << ": " << r.body;
      if (r.status != 200) break;
      auto res = p.on_page(*url, r.body, kTenant);
      for (auto& rec : res.records) out.push_back(std::move(rec));
      url = res.next_url;
    }
    EXPECT_FALSE(p.in_window());
    return out;
  }

  static std::multiset<std::string> keys(const std::vector<RawRecord>& recs, const char* id_field = "id") {
    std::multiset<std::string> out;
    for (const auto& r : recs) out.insert(json::parse(std::string_view(r.json))[id_field].get<std::string>());
    return out;
  }

  std::string token_;
};

WindowOptions opts() {
  WindowOptions o;
  o.lookback = 30 * 60 * kSecond;
  o.safety_lag = 0;
  o.initial_lookback = 2 * 3600 * kSecond;
  o.max_window = 4 * 3600 * kSecond;
  return o;
}

TEST_F(PullAgainstEmulator, AuditsExactlyOnceAcrossPagesFaultsRestartAndLateRecord) {
  StreamSpec spec("directoryAudits", StreamType::directory_audits, base_);
  spec.page_size = 5;
  StreamPoller p(spec, opts());
  p.restore(std::nullopt, std::nullopt);
  // A 429 with fractional Retry-After and a 503 in the middle of the paging.
  server_->add_fault(httpd::Fault::with_status("/v1.0/auditLogs", 429, 1, {{"Retry-After", "0.3"}}, "{}"));
  Micros now = to_micros(std::chrono::system_clock::now());
  auto first = read_window(p, now);
  EXPECT_EQ(first.size(), emu_->record_count("directoryAudits"));
  auto k = keys(first);
  EXPECT_EQ(std::set<std::string>(k.begin(), k.end()).size(), k.size()) << "duplicates delivered";

  // Restart from the persisted checkpoint; a late record lands inside the lookback window.
  auto cp = decode_checkpoint(encode_checkpoint({{spec.name, p.completed()}}));
  StreamPoller q(spec, opts());
  q.restore(cp[spec.name], std::nullopt);
  auto late = json::parse(test::http_fetch("POST", base_ + "/_emulator/late", R"({"collection":"directoryAudits","age_seconds":120})",
                                           {}, pki_->ca_pem()).body);
  server_->add_fault(httpd::Fault::with_status("/v1.0/auditLogs", 503, 1, {{"Retry-After", "0"}}, "{}"));
  auto second = read_window(q, now + 5 * kSecond);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(json::parse(std::string_view(second[0].json))["id"], late["id"]);

  // Retry-After compliance from the emulator's own clock: the retry came >= 0.3 s after the 429.
  auto stats = emu_->stats()["endpoints"]["graph.directoryAudits"];
  auto statuses = stats["statuses"];
  auto times = stats["times_ms"];
  for (std::size_t i = 0; i + 1 < statuses.size(); ++i) {
    if (statuses[i] == 429) {
      EXPECT_GE(times[i + 1].get<std::int64_t>() - times[i].get<std::int64_t>(), 300);
    }
  }
  EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 429), 1);
  EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 503), 1);
}

TEST_F(PullAgainstEmulator, SignInsEveryEventTypeOnceAndActivityPerSubscription) {
  std::size_t total = 0;
  for (const char* type : {"interactiveUser", "nonInteractiveUser", "servicePrincipal", "managedIdentity"}) {
    StreamSpec spec(std::string("signIns.") + type, StreamType::sign_ins, base_, type, true);
    spec.page_size = 4;
    StreamPoller p(spec, opts());
    p.restore(std::nullopt, std::nullopt);
    auto recs = read_window(p, to_micros(std::chrono::system_clock::now()));
    EXPECT_FALSE(recs.empty()) << type;
    for (const auto& r : recs) EXPECT_EQ(json::parse(std::string_view(r.json))["signInEventTypes"][0], type);
    total += recs.size();
  }
  EXPECT_EQ(total, emu_->record_count("signIns"));

  StreamSpec act(kSub, StreamType::activity_log, base_);
  act.scope = std::string("/subscriptions/") + kSub;
  StreamPoller a(act, opts());
  a.restore(std::nullopt, std::nullopt);
  auto events = read_window(a, to_micros(std::chrono::system_clock::now()));
  EXPECT_EQ(events.size(), emu_->record_count("activity"));
  for (const auto& e : events) EXPECT_EQ(e.kind_hint, SourceKind::azure_activity);

  StreamSpec pim("pim", StreamType::pim_assignment_requests, base_);
  StreamPoller p(pim, opts());
  p.restore(std::nullopt, std::nullopt);
  EXPECT_EQ(read_window(p, to_micros(std::chrono::system_clock::now())).size(), emu_->record_count("roleAssignmentScheduleRequests"));
  EXPECT_TRUE(read_window(p, to_micros(std::chrono::system_clock::now())).empty());  // nothing changed: nothing again
}

// PIM request collections are read whole on every poll, and Graph / ARM keep requests for longer
// than the stream's retention: a request created 40 days ago is delivered once, not again on every
// poll after its dedupe key aged out of the retention.
TEST_F(PullAgainstEmulator, PimRequestOlderThanTheRetentionIsDeliveredOnce) {
  for (const auto& [collection, type] : {std::pair{"roleAssignmentScheduleRequests", StreamType::pim_assignment_requests},
                                         std::pair{"armRoleAssignmentScheduleRequests", StreamType::arm_pim_requests}}) {
    auto old = test::http_fetch("POST", base_ + "/_emulator/late",
                                json{{"collection", collection}, {"age_seconds", 40 * 86400}}.dump(), {}, pki_->ca_pem());
    ASSERT_EQ(old.status, 200) << old.body;
    const std::string old_id = json::parse(old.body)["id"];
    StreamSpec spec(collection, type, base_);  // ARM: no scope, every request the emulator holds
    StreamPoller p(spec, opts());
    p.restore(std::nullopt, std::nullopt);
    const Micros now = to_micros(std::chrono::system_clock::now());
    auto first = read_window(p, now);
    EXPECT_EQ(std::count_if(first.begin(), first.end(), [&](const RawRecord& r) { return json::parse(std::string_view(r.json))["id"] == old_id; }), 1)
        << collection;
    // The next poll, and one after a restart from the checkpoint, list the same collection: nothing is new.
    EXPECT_TRUE(read_window(p, now + 60 * kSecond).empty()) << collection;
    StreamPoller q(spec, opts());
    q.restore(decode_checkpoint(encode_checkpoint({{spec.name, p.completed()}}))[spec.name], std::nullopt);
    EXPECT_TRUE(read_window(q, now + 120 * kSecond).empty()) << collection;
  }
}

}  // namespace
}  // namespace siem::sources
