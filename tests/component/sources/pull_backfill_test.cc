// A three-hour backfill with `lookback: 2h` (and the default `max_window: 1h`): the real
// `siem-connector run --once` against the Graph/ARM emulator over HTTPS on 127.0.0.1. Before the
// window scheduler was fixed this made 182 requests and delivered 282 of 610 records: each window
// started at checkpoint_end - lookback and ended one second later. Now each stream makes a handful
// of window requests (counted on the emulator side, next pages apart) and every record reaches
// the file sink exactly once (by id). Also: a checkpoint from the future is clamped in `run --once`.
#include "connector/state/state_store.h"
#include "tests/component/sources/pull_fixture.h"

namespace siem::pulltest {
namespace {

constexpr int kPerStream = 200;
constexpr int kPageSize = 50;

// A copy of `tmpl` as record `i` of `kPerStream`, spread over the last three hours.
json spread(const json& tmpl, const std::string& collection, int i, std::int64_t now_us) {
  const std::int64_t span = (3 * 3600 - 120) * std::int64_t{1'000'000};
  const std::int64_t t =
      now_us - 3 * 3600 * std::int64_t{1'000'000} + 60'000'000 + span * i / kPerStream + 1234 * i;
  json r = tmpl;
  const std::string id = collection + "-backfill-" + std::to_string(i);
  if (collection == "activity") {
    r["eventDataId"] = id;
    r["id"] = "/subscriptions/" + std::string(kSub) +
              "/providers/Microsoft.Insights/eventtypes/management/values/" + id;
    r["eventTimestamp"] = emulator::format_time(t);
  } else {
    r["id"] = id;
    r[collection == "signIns" ? "createdDateTime" : "activityDateTime"] = emulator::format_time(t);
  }
  if (collection == "signIns") {
    r.erase("signInEventTypes");  // interactive: the v1.0 stream graph_sign_ins reads by default
    r["isInteractive"] = true;
  }
  return r;
}

// The first seeded record of `collection` matching `pred`: a realistic record to copy.
json template_of(const std::string& collection, const std::function<bool(const json&)>& pred) {
  for (const auto& [c, r] : emulator::seed_records(std::chrono::system_clock::now(), kTenant, {kSub}))
    if (c == collection && pred(r)) return r;
  ADD_FAILURE() << "no seeded " << collection << " record";
  return json::object();
}

TEST_F(PullRunOnce, ThreeHourBackfillWithTwoHourLookbackTakesAHandfulOfRequestsPerStream) {
  seed_ = false;
  lookback_ = "2h";
  window_keys_ = "    initial_lookback: 3h\n";  // max_window stays at its default, 1h
  start_emulator();
  const auto now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  const std::map<std::string, json> templates = {
      {"directoryAudits", template_of("directoryAudits", [](const json&) { return true; })},
      {"signIns", template_of("signIns", [](const json& r) { return r.value("isInteractive", false); })},
      {"activity", template_of("activity", [](const json&) { return true; })},
  };
  for (const auto& [collection, tmpl] : templates)
    for (int i = 0; i < kPerStream; ++i) emu_->add_record(collection, spread(tmpl, collection, i, now_us));
  const std::string common = "page_size: " + std::to_string(kPageSize) + "\nrequests_per_10s: 1000";
  write_config(
      source("audit", "graph_directory_audits", common) + source("signins", "graph_sign_ins", common) +
      source("activity", "azure_activity", common + "\nsubscriptions: [" + kSub + "]\npim_requests: false"));

  auto r = run();
  ASSERT_EQ(r.status, 0) << r.err;
  const auto expected = emulator_ids({"directoryAudits", "signIns", "activity"});
  ASSERT_EQ(expected.size(), 3u * kPerStream);
  const auto got = delivered(0);
  for (const auto& id : expected) EXPECT_EQ(got.count(id) ? got.at(id) : 0, 1) << "record " << id;
  EXPECT_EQ(got.size(), expected.size());

  // Windows: 1h chunks from now - 3h (two), the chunk that reaches now (one), and at most one more
  // when the clock moved past the end of the last chunk while reading it; then paging: each record
  // is returned by at most two windows (its chunk, and the lookback re-read once caught up).
  constexpr int kMaxWindows = 3 + 1;
  constexpr int kMaxRequests = kMaxWindows + (2 * kPerStream + kPageSize - 1) / kPageSize + kMaxWindows;
  for (const char* endpoint : {"graph.directoryAudits", "graph.signIns", "arm.activity"}) {
    const auto stats = endpoint_stats(endpoint);
    int windows = 0;
    for (const auto& target : stats["targets"])
      if (target.get<std::string>().find("skiptoken") == std::string::npos) ++windows;
    std::printf("%s: %d windows, %d requests for %d records over 3 h (page size %d)\n", endpoint, windows,
                stats["count"].get<int>(), kPerStream, kPageSize);
    EXPECT_GE(windows, 3) << endpoint;
    EXPECT_LE(windows, kMaxWindows) << endpoint;
    EXPECT_LE(stats["count"].get<int>(), kMaxRequests) << endpoint;
  }
}

// A checkpoint end years ahead (an edited state file, a clock that went back): one error line
// naming the stream, and the stream reads its lookback again in the same `run --once`, saving a
// checkpoint that is no longer in the future.
TEST_F(PullRunOnce, CheckpointFromTheFutureIsClampedAndTheStreamReadsAgain) {
  seed_ = false;
  start_emulator();
  const auto now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  json recent = template_of("directoryAudits", [](const json&) { return true; });
  recent["id"] = "recent-audit";
  recent["activityDateTime"] = emulator::format_time(now_us - 5 * 60 * std::int64_t{1'000'000});
  emu_->add_record("directoryAudits", recent);
  write_config(source("audit", "graph_directory_audits", "requests_per_10s: 1000"));
  {
    StateStore state(dir_ / "state");
    state.put(StateStore::checkpoint_key("audit"),
              R"({"v":1,"streams":{"directoryAudits":{"end":"2031-01-01T00:00:00Z","seen":[]}}})");
  }
  auto r = run();
  ASSERT_EQ(r.status, 0) << r.err;
  const auto errors = error_lines(r.err);
  ASSERT_EQ(errors.size(), 1u) << r.err;
  EXPECT_NE(errors[0].find("source audit: stream directoryAudits: checkpoint end 2031-01-01T00:00:00Z is "),
            std::string::npos)
      << errors[0];
  EXPECT_EQ(delivered(0), (std::map<std::string, int>{{"recent-audit", 1}}));
  StateStore state(dir_ / "state");
  const auto saved = state.get(StateStore::checkpoint_key("audit"));
  ASSERT_TRUE(saved);
  const auto end = json::parse(*saved)["streams"]["directoryAudits"]["end"].get<std::string>();
  EXPECT_LE(*emulator::parse_time_us(end), now_us + 60 * std::int64_t{1'000'000}) << *saved;
}

}  // namespace
}  // namespace siem::pulltest
