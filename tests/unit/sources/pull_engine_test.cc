// The I/O-free pull engine: URL/filter building, window arithmetic, dedupe window and checkpoint
// encoding. The page state machine's tests: stream_poller_test.cc.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include "connector/sources/graph/pull_engine.h"
#include "tests/unit/sources/engine_test_support.h"

namespace siem::sources {
namespace {

using nlohmann::json;
using namespace engine_test;

TEST(Time, ParsesGraphPrecisionAndOffsetsAndFormatsBack) {
  EXPECT_EQ(T("1970-01-01T00:00:01Z"), kSecond);
  EXPECT_EQ(T("2024-01-01T00:00:00.1234567Z") - T("2024-01-01T00:00:00Z"), 123456);
  EXPECT_EQ(T("2024-01-01T02:00:00+02:00"), T("2024-01-01T00:00:00Z"));
  EXPECT_EQ(format_time(T("2024-02-29T23:59:59Z")), "2024-02-29T23:59:59Z");
  EXPECT_EQ(format_time(T("2024-01-01T00:00:00.5Z")), "2024-01-01T00:00:00.5000000Z");
  EXPECT_FALSE(parse_time("2024-13-01T00:00:00Z"));
  EXPECT_FALSE(parse_time("yesterday"));
  EXPECT_FALSE(parse_time("2024-01-01T00:00:00 PST"));
}

// The engine reads times with the shared RFC 3339 reader: a time without a zone is UTC, nothing
// before 1970 is a time, and a checkpoint's 7-digit end comes back to the microsecond.
TEST(Time, GraphTimesWithoutZoneAreUtcAndCheckpointEndsRoundTrip) {
  EXPECT_EQ(T("2024-01-01T00:00:00.25"), T("2024-01-01T00:00:00.25Z"));
  EXPECT_FALSE(parse_time("1969-12-31T23:59:59Z"));
  for (const char* text : {"2026-11-20T10:00:00.0000010Z", "2026-11-20T10:00:00.9999990Z", "2026-11-20T10:00:00Z"})
    EXPECT_EQ(format_time(T(text)), text);
  StreamCheckpoint cp;
  cp.end = T("2026-11-20T10:00:00.1234560Z");
  cp.settled = *cp.end - 1;
  const auto back = decode_checkpoint(encode_checkpoint({{"s", cp}}));
  EXPECT_EQ(back.at("s").end, cp.end);
  EXPECT_EQ(back.at("s").settled, cp.settled);
}

TEST(Urls, GraphAuditsUseDollarParamsAndHalfOpenFilter) {
  StreamSpec s{"directoryAudits", StreamType::directory_audits, "https://graph.microsoft.com"};
  s.page_size = 500;
  auto url = build_url(s, T("2024-01-01T00:00:00Z"), T("2024-01-01T00:05:00Z"));
  EXPECT_EQ(url,
            "https://graph.microsoft.com/v1.0/auditLogs/directoryAudits?$filter=activityDateTime%20ge%202024-01-01T00:00:00Z"
            "%20and%20activityDateTime%20lt%202024-01-01T00:05:00Z&$top=500");
  EXPECT_EQ(url.find("&top="), std::string::npos);
  EXPECT_EQ(url.find("?top="), std::string::npos);
}

TEST(Urls, SignInsV1VersusBetaEventTypes) {
  StreamSpec v1{"signIns.interactiveUser", StreamType::sign_ins, "https://graph.microsoft.us"};
  auto u1 = build_url(v1, T("2024-01-01T00:00:00Z"), T("2024-01-01T00:05:00Z"));
  EXPECT_EQ(u1.rfind("https://graph.microsoft.us/v1.0/auditLogs/signIns?$filter=createdDateTime%20ge%20", 0), 0u) << u1;
  EXPECT_NE(u1.find("createdDateTime%20le%202024-01-01T00:05:00Z"), std::string::npos);
  EXPECT_EQ(u1.find("signInEventTypes"), std::string::npos);
  EXPECT_NE(u1.find("&$top=1000"), std::string::npos);

  StreamSpec beta{"signIns.servicePrincipal", StreamType::sign_ins, "https://graph.microsoft.com", "servicePrincipal", true};
  auto u2 = build_url(beta, T("2024-01-01T00:00:00Z"), T("2024-01-01T00:05:00Z"));
  EXPECT_EQ(u2.rfind("https://graph.microsoft.com/beta/auditLogs/signIns?", 0), 0u);
  EXPECT_NE(u2.find("signInEventTypes%2Fany%28t:%20t%20eq%20%27servicePrincipal%27%29"), std::string::npos) << u2;
}

TEST(Urls, ArmActivityQuotesTimestampsAndCarriesApiVersion) {
  StreamSpec s{"sub", StreamType::activity_log, "https://management.azure.com"};
  s.scope = "/subscriptions/abc";
  auto url = build_url(s, T("2024-01-01T00:00:00Z"), T("2024-01-01T00:05:00Z"));
  EXPECT_EQ(url,
            "https://management.azure.com/subscriptions/abc/providers/Microsoft.Insights/eventtypes/management/values"
            "?api-version=2015-04-01&$filter=eventTimestamp%20ge%20%272024-01-01T00:00:00Z%27%20and%20eventTimestamp%20le%20"
            "%272024-01-01T00:05:00Z%27");
  EXPECT_TRUE(s.arm());
  StreamSpec pim{"pim", StreamType::pim_assignment_requests, "https://graph.microsoft.com"};
  EXPECT_EQ(build_url(pim, 0, 0), "https://graph.microsoft.com/v1.0/roleManagement/directory/roleAssignmentScheduleRequests?$top=1000");
}

TEST(Clouds, RootsPerNationalCloud) {
  EXPECT_EQ(cloud_roots("global")->graph, "https://graph.microsoft.com");
  EXPECT_EQ(cloud_roots("usgov")->login, "https://login.microsoftonline.us");
  EXPECT_EQ(cloud_roots("usgov_dod")->graph, "https://dod-graph.microsoft.us");
  EXPECT_EQ(cloud_roots("china")->arm, "https://management.chinacloudapi.cn");
  EXPECT_FALSE(cloud_roots("mars"));
  EXPECT_FALSE(cloud_has_beta_sign_ins("china"));
  EXPECT_TRUE(cloud_has_beta_sign_ins("global"));
}

StreamCheckpoint at(std::optional<Micros> end, std::optional<Micros> settled = std::nullopt) {
  StreamCheckpoint cp;
  cp.end = end;
  cp.settled = settled;
  return cp;
}

TEST(Windows, OverlapLagChunkingAndRetention) {
  WindowOptions o;
  o.lookback = 30 * kMin;
  o.safety_lag = 2 * kMin;
  o.max_window = 60 * kMin;
  Micros now = T("2024-06-01T12:00:30Z");
  // First run, no start_at: the initial lookback before now - lag.
  auto w0 = next_window(at(std::nullopt), std::nullopt, now, o);
  ASSERT_TRUE(w0);
  EXPECT_EQ(w0->end, T("2024-06-01T11:58:30Z"));
  EXPECT_EQ(w0->start, w0->end - o.initial_lookback);
  EXPECT_EQ(w0->settled, T("2024-06-01T11:30:30Z"));  // now - lookback: later records may still arrive
  // Steady state, checkpoint without a settled point (written before it existed): re-read the
  // lookback before the checkpoint, up to now - lag.
  auto w1 = next_window(at(T("2024-06-01T11:50:00Z")), std::nullopt, now, o);
  EXPECT_EQ(w1->start, T("2024-06-01T11:20:00Z"));
  EXPECT_EQ(w1->end, T("2024-06-01T11:58:30Z"));
  EXPECT_EQ(w1->settled, T("2024-06-01T11:30:30Z"));
  // With a settled point: re-read from there.
  auto w2 = next_window(at(T("2024-06-01T11:57:00Z"), T("2024-06-01T11:29:00Z")), std::nullopt, now, o);
  EXPECT_EQ(w2->start, T("2024-06-01T11:29:00Z"));
  EXPECT_EQ(w2->end, T("2024-06-01T11:58:30Z"));
  // Nothing new when the checkpoint is already at now - lag.
  EXPECT_FALSE(next_window(at(T("2024-06-01T11:58:30Z")), std::nullopt, now, o));
  // start_at beyond retention is clamped into it.
  auto old = next_window(at(std::nullopt), T("2023-01-01T00:00:00Z"), now, o);
  EXPECT_GE(old->start, now - o.retention);
  EXPECT_EQ(old->end, old->start + o.max_window);
  // A checkpoint older than retention resumes at the retention floor, not below it.
  auto stale = next_window(at(T("2023-01-01T00:00:00Z")), std::nullopt, now, o);
  EXPECT_EQ(stale->start, old->start);
}

// The case of issue 18: lookback 2h with the default 1h max_window advanced one second per
// request. Each chunk now moves the checkpoint by max_window and re-reads nothing while catching up;
// the chunk that reaches now - lag re-reads from the settled point once.
TEST(Windows, BackfillWithLookbackLongerThanMaxWindowMovesAWindowPerRequest) {
  WindowOptions o;
  o.lookback = 120 * kMin;
  o.safety_lag = 0;
  o.max_window = 60 * kMin;
  const Micros now = T("2024-06-01T12:00:00Z");
  StreamCheckpoint cp;
  std::vector<Window> windows;
  for (int i = 0; i < 10; ++i) {
    auto w = next_window(cp, T("2024-06-01T09:00:00Z"), now, o);
    if (!w) break;
    windows.push_back(*w);
    cp.end = w->end;
    cp.settled = w->settled;
  }
  ASSERT_EQ(windows.size(), 3u);
  EXPECT_EQ(windows[0].start, T("2024-06-01T09:00:00Z"));
  EXPECT_EQ(windows[0].end, T("2024-06-01T10:00:00Z"));
  EXPECT_EQ(windows[0].settled, T("2024-06-01T10:00:00Z"));  // read more than lookback after it ended
  EXPECT_EQ(windows[1].start, T("2024-06-01T10:00:00Z"));
  EXPECT_EQ(windows[1].end, T("2024-06-01T11:00:00Z"));
  EXPECT_EQ(windows[1].settled, T("2024-06-01T10:00:00Z"));  // now - lookback: may still change
  EXPECT_EQ(windows[2].start, T("2024-06-01T10:00:00Z"));    // reaches now: re-read from settled
  EXPECT_EQ(windows[2].end, now);
  EXPECT_EQ(windows[2].settled, T("2024-06-01T10:00:00Z"));
  // A max_window far smaller than the lookback still moves max_window per request.
  o.max_window = kMin;
  auto small = next_window(at(T("2024-06-01T11:00:00Z"), T("2024-06-01T10:00:00Z")), std::nullopt, now, o);
  EXPECT_EQ(small->start, T("2024-06-01T11:00:00Z"));
  EXPECT_EQ(small->end, T("2024-06-01T11:01:00Z"));
  EXPECT_EQ(small->settled, T("2024-06-01T10:00:00Z"));  // [settled, end) not re-read yet: it waits
}

TEST(Windows, CheckpointFromTheFutureIsClampedToNow) {
  WindowOptions o;
  o.lookback = 30 * kMin;
  const Micros now = T("2024-06-01T12:00:00.5Z");
  // Within the tolerance (a small clock step back): left alone, the stream waits.
  auto near = at(now + 10 * kMin, now - 20 * kMin);
  EXPECT_FALSE(clamp_future_checkpoint(near, now, o));
  EXPECT_EQ(near.end, now + 10 * kMin);
  auto far = at(T("2030-01-01T00:00:00Z"));
  auto msg = clamp_future_checkpoint(far, now, o);
  ASSERT_TRUE(msg);
  // Where a stream caught up now resumes: the lookback before now - safety_lag (2 min).
  EXPECT_EQ(far.end, T("2024-06-01T11:28:00Z"));
  EXPECT_EQ(far.settled, T("2024-06-01T11:28:00Z"));
  EXPECT_NE(msg->find("checkpoint end 2030-01-01T00:00:00Z is "), std::string::npos) << *msg;
  EXPECT_NE(msg->find("Clamped to now: the stream reads again from 2024-06-01T11:28:00Z"), std::string::npos) << *msg;
  // A settled point that was already earlier is kept.
  auto kept = at(now + 11 * kMin, T("2024-06-01T10:00:00Z"));
  ASSERT_TRUE(clamp_future_checkpoint(kept, now, o));
  EXPECT_EQ(kept.settled, T("2024-06-01T10:00:00Z"));
  StreamCheckpoint none;  // collections have no end
  EXPECT_FALSE(clamp_future_checkpoint(none, now, o));
}

TEST(Windows, PollerClampsAFutureCheckpointAndLogsAnError) {
  WindowOptions o;
  o.lookback = 30 * kMin;
  o.safety_lag = 0;
  StreamPoller p({"directoryAudits", StreamType::directory_audits, "https://g"}, o);
  p.set_log_name("source audit: stream directoryAudits");
  p.restore(at(T("2031-05-05T00:00:00Z")), std::nullopt);
  auto sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(16);
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", sink));
  const Micros now = T("2024-06-01T12:00:00Z");
  auto url = p.begin(now);
  auto lines = sink->last_formatted();
  spdlog::set_default_logger(previous);
  // Without the clamp the stream would wait until 2031; with it, it reads its lookback at once.
  ASSERT_TRUE(url);
  EXPECT_EQ(p.window().start, now - o.lookback);
  EXPECT_EQ(p.window().end, now);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("[error] source audit: stream directoryAudits: checkpoint end 2031-05-05T00:00:00Z"),
            std::string::npos) << lines[0];
}

TEST(Windows, StallWatchWarnsOncePerQuietSpell) {
  EXPECT_EQ(stall_threshold(60 * kSecond), 5 * kMin);   // 3 polls of 1 min, but at least 5 min
  EXPECT_EQ(stall_threshold(10 * kMin), 30 * kMin);     // 3 polls
  StallWatch w(stall_threshold(60 * kSecond), 0);
  EXPECT_FALSE(w.due(5 * kMin));
  EXPECT_EQ(w.due(5 * kMin + 1), 5 * kMin + 1);
  EXPECT_FALSE(w.due(50 * kMin));  // once
  w.on_read(60 * kMin);
  EXPECT_FALSE(w.due(64 * kMin));
  EXPECT_TRUE(w.due(66 * kMin));
}

TEST(Windows, StallMessageNamesTheStreamAndACheckpointAheadOfTheClock) {
  WindowOptions o;
  o.safety_lag = 2 * kMin;
  const Micros now = T("2024-06-01T12:00:00Z");
  StreamSpec s{"directoryAudits", StreamType::directory_audits, "https://g"};
  EXPECT_EQ(stall_message(s, at(now - 10 * kMin), 7 * kMin, 5 * kMin, now, o),
            "stream directoryAudits has read nothing for 7 min (warned after 5 min without a page)");
  EXPECT_EQ(stall_message(s, at(now + 5 * kMin), 7 * kMin, 5 * kMin, now, o),
            "stream directoryAudits has read nothing for 7 min (warned after 5 min without a page): its checkpoint end "
            "2024-06-01T12:05:00Z is not before now - safety_lag (2024-06-01T11:58:00Z), the clock went back?");
}

TEST(Dedupe, BoundedByTimeAndSize) {
  DedupeWindow d(3);
  EXPECT_TRUE(d.insert("a", 10));
  EXPECT_FALSE(d.insert("a", 10));
  EXPECT_TRUE(d.insert("b", 20));
  EXPECT_TRUE(d.insert("c", 30));
  EXPECT_TRUE(d.insert("d", 40));  // evicts the oldest insert
  EXPECT_EQ(d.size(), 3u);
  EXPECT_FALSE(d.contains("a"));
  d.prune_before(30);
  EXPECT_EQ(d.size(), 2u);
  EXPECT_FALSE(d.contains("b"));
  EXPECT_TRUE(d.contains("c"));
}

TEST(Checkpoint, RoundTripAndErrors) {
  std::map<std::string, StreamCheckpoint> m;
  m["signIns.interactiveUser"] = {T("2024-01-01T00:05:00Z"), {{"id1|2024-01-01T00:01:00Z", T("2024-01-01T00:01:00Z")}},
                                   T("2024-01-01T00:00:30Z")};
  m["pim"] = {std::nullopt, {}, std::nullopt};
  auto text = encode_checkpoint(m);
  auto back = decode_checkpoint(text);
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back["signIns.interactiveUser"].end, m["signIns.interactiveUser"].end);
  EXPECT_EQ(back["signIns.interactiveUser"].seen, m["signIns.interactiveUser"].seen);
  EXPECT_EQ(back["signIns.interactiveUser"].settled, T("2024-01-01T00:00:30Z"));
  EXPECT_FALSE(back["pim"].end);
  EXPECT_FALSE(back["pim"].settled);
  EXPECT_FALSE(json::parse(text)["streams"]["pim"].contains("settled")) << text;
  EXPECT_THROW(decode_checkpoint(R"({"v":1,"streams":{"x":{"end":"2024-01-01T00:00:00Z","settled":7}}})"), std::invalid_argument);
  EXPECT_THROW(decode_checkpoint("[]"), std::invalid_argument);
  EXPECT_THROW(decode_checkpoint(R"({"v":2,"streams":{}})"), std::invalid_argument);
  EXPECT_THROW(decode_checkpoint(R"({"v":1,"streams":{"x":{"end":"soon"}}})"), std::invalid_argument);
  EXPECT_THROW(decode_checkpoint(R"({"v":1,"streams":{"x":{"seen":[["k"]]}}})"), std::invalid_argument);
}

}  // namespace
}  // namespace siem::sources
