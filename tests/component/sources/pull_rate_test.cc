// The identity-and-access reports budget end to end (slow by nature: it has to wait out a 10 s
// window): `siem-connector run --once` against the emulator enforcing the same budget. No 10 s
// window of the emulator's request log (arrival times) holds more requests than
// `requests_per_10s`, the emulator never has to throttle, and Retry-After is honoured.
#include "tests/component/sources/pull_fixture.h"

namespace siem::pulltest {
namespace {

TEST_F(PullRunOnce, ReportsBudgetIsNeverExceededAndRetryAfterIsHonoured) {
  // The emulator enforces 4 report requests per 10 s per tenant (429 beyond); the connector is
  // configured for the same budget, shared by the audit and sign-in sources of the tenant, and
  // needs more than 4 requests, so the limiter must hold requests back across a window.
  start_emulator(app(), 4);
  window_keys_ = "    initial_lookback: 1h\n    max_window: 2h\n";  // one window per stream: 4 + 2 pages and a retry
  const std::string common = "page_size: 12\nrequests_per_10s: 4";
  write_config(source("audit", "graph_directory_audits", common) + source("signins", "graph_sign_ins", common));
  // One forced 429 with Retry-After: 2 on sign-ins.
  server_->add_fault(httpd::Fault::with_status("/v1.0/auditLogs/signIns", 429, 1, {{"Retry-After", "2"}},
                                               R"({"error":{"code":"TooManyRequests","message":"Please retry again later."}})"));
  auto r = run(std::chrono::seconds(120));
  ASSERT_EQ(r.status, 0) << r.err;
  const auto signins = emu_->records("signIns");
  const auto interactive = std::count_if(signins.begin(), signins.end(), [](const json& s) { return s["signInEventTypes"][0] == "interactiveUser"; });
  EXPECT_EQ(delivered(0).size(), emu_->records("directoryAudits").size() + static_cast<std::size_t>(interactive));
  std::vector<std::int64_t> times;
  std::vector<int> codes;
  for (const char* ep : {"graph.directoryAudits", "graph.signIns"}) {
    auto s = endpoint_stats(ep);
    for (std::size_t i = 0; i < s["received_ms"].size(); ++i) {
      times.push_back(s["received_ms"][i].get<std::int64_t>());
      codes.push_back(s["statuses"][i].get<int>());
    }
  }
  std::sort(times.begin(), times.end());
  ASSERT_GT(times.size(), 4u) << "the budget was never exercised";
  for (std::size_t i = 0; i < times.size(); ++i) {
    auto in_window = std::count_if(times.begin(), times.end(), [&](std::int64_t t) { return t >= times[i] && t < times[i] + 10'000; });
    EXPECT_LE(in_window, 4) << "more than 4 report requests within 10 s starting at request " << i;
  }
  // The only 429 is the injected one: the emulator's own budget was never hit.
  EXPECT_EQ(std::count(codes.begin(), codes.end(), 429), 1);
  auto s = endpoint_stats("graph.signIns");
  for (std::size_t i = 0; i + 1 < s["statuses"].size(); ++i)
    if (s["statuses"][i] == 429) {
      EXPECT_GE(s["received_ms"][i + 1].get<std::int64_t>() - s["received_ms"][i].get<std::int64_t>(), 2000);
    }
}

}  // namespace
}  // namespace siem::pulltest
