// The I/O-free pull engine: URL/filter building, window arithmetic, dedupe window, checkpoint
// encoding, and the page state machine (half-open windows, nextLink, restart, late records).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include "connector/sources/graph/pull_engine.h"

namespace siem::sources {
namespace {

using nlohmann::json;
constexpr Micros kMin = 60 * kSecond;

Micros T(const char* iso) { return parse_time(iso).value(); }

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

json audit(const std::string& id, const char* t) { return {{"id", id}, {"activityDateTime", t}}; }

std::string page(std::vector<json> items, const std::string& next = {}) {
  json p = {{"value", items}};
  if (!next.empty()) p["@odata.nextLink"] = next;
  return p.dump();
}

TEST(Poller, CheckpointOnlyOnLastPageAndHalfOpenWindow) {
  WindowOptions o;
  o.lookback = 10 * kMin;
  o.safety_lag = 0;
  o.initial_lookback = 10 * kMin;
  StreamPoller p({"directoryAudits", StreamType::directory_audits, "https://g"}, o);
  p.restore(std::nullopt, std::nullopt);
  Micros now = T("2024-01-01T01:00:00Z");
  auto url = p.begin(now);
  ASSERT_TRUE(url);
  EXPECT_EQ(p.window().start, T("2024-01-01T00:50:00Z"));
  auto r1 = p.on_page(*url, page({audit("a", "2024-01-01T00:55:00Z"), audit("b", "2024-01-01T00:56:00Z")}, "https://g/next1"), "t");
  EXPECT_EQ(r1.records.size(), 2u);
  ASSERT_TRUE(r1.next_url);
  EXPECT_FALSE(p.completed().end);  // no checkpoint mid-window
  // A record exactly at the end belongs to the next window; a duplicate on the next page is dropped.
  auto r2 = p.on_page("https://g/next1", page({audit("b", "2024-01-01T00:56:00Z"), audit("edge", "2024-01-01T01:00:00Z"),
                                               audit("c", "2024-01-01T00:57:00Z")}), "t");
  EXPECT_EQ(r2.records.size(), 1u);
  EXPECT_EQ(r2.duplicates, 1u);
  EXPECT_EQ(r2.outside, 1u);
  EXPECT_FALSE(r2.next_url);
  EXPECT_EQ(p.completed().end, now);
  EXPECT_EQ(p.completed().seen.size(), 3u);
  EXPECT_EQ(r2.records[0].kind_hint, SourceKind::graph_directory_audit);
  EXPECT_EQ(r2.records[0].tenant_hint, "t");
  EXPECT_EQ(r2.records[0].origin, "https://g/next1#3");
}

TEST(Poller, LateRecordInsideLookbackIsDeliveredOnceAndNothingElseRepeats) {
  WindowOptions o;
  o.lookback = 10 * kMin;
  o.safety_lag = 0;
  StreamPoller p({"directoryAudits", StreamType::directory_audits, "https://g"}, o);
  p.restore(std::nullopt, T("2024-01-01T00:00:00Z"));
  auto u = p.begin(T("2024-01-01T00:10:00Z"));
  p.on_page(*u, page({audit("a", "2024-01-01T00:05:00Z"), audit("b", "2024-01-01T00:09:00Z")}), "t");
  // Restart from the persisted checkpoint (as after a crash) and poll again with a late record.
  StreamPoller q({"directoryAudits", StreamType::directory_audits, "https://g"}, o);
  q.restore(p.completed(), std::nullopt);
  auto u2 = q.begin(T("2024-01-01T00:20:00Z"));
  ASSERT_TRUE(u2);
  EXPECT_EQ(q.window().start, T("2024-01-01T00:00:00Z"));
  auto r = q.on_page(*u2, page({audit("b", "2024-01-01T00:09:00Z"), audit("late", "2024-01-01T00:07:00Z"),
                                audit("new", "2024-01-01T00:15:00Z")}), "t");
  ASSERT_EQ(r.records.size(), 2u);
  EXPECT_EQ(json::parse(r.records[0].json)["id"], "late");
  EXPECT_EQ(json::parse(r.records[1].json)["id"], "new");
  // The dedupe window keeps only what the next window can return.
  for (const auto& [key, t] : q.completed().seen) EXPECT_GE(t, q.completed().end.value() - o.lookback) << key;
}

TEST(Poller, RestartedWindowDoesNotRedeliverEarlierPages) {
  WindowOptions o;
  o.safety_lag = 0;
  StreamPoller p({"s", StreamType::sign_ins, "https://g"}, o);
  p.restore(std::nullopt, T("2024-01-01T00:00:00Z"));
  auto u = p.begin(T("2024-01-01T00:30:00Z"));
  json s1 = {{"id", "x"}, {"createdDateTime", "2024-01-01T00:01:00Z"}};
  json s1b = {{"id", "x"}, {"createdDateTime", "2024-01-01T00:01:05Z"}};  // same id, another row
  auto r1 = p.on_page(*u, page({s1, s1b}, "https://g/n"), "t");
  EXPECT_EQ(r1.records.size(), 2u);
  p.restart_window();  // the nextLink failed after retries
  EXPECT_FALSE(p.completed().end);
  auto u2 = p.begin(T("2024-01-01T00:30:10Z"));
  EXPECT_EQ(p.window().start, T("2024-01-01T00:00:00Z"));
  auto r2 = p.on_page(*u2, page({s1, s1b, {{"id", "y"}, {"createdDateTime", "2024-01-01T00:02:00Z"}}}), "t");
  ASSERT_EQ(r2.records.size(), 1u);
  EXPECT_EQ(r2.duplicates, 2u);
}

TEST(Poller, AFullDedupeWindowIsAWarning) {
  WindowOptions o;
  o.lookback = 10 * kMin;
  o.safety_lag = 0;
  StreamPoller p({"directoryAudits", StreamType::directory_audits, "https://g"}, o, 2);
  p.set_log_name("source audit: stream directoryAudits");
  p.restore(std::nullopt, T("2024-01-01T00:00:00Z"));
  auto sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(16);
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", sink));
  const Micros now = T("2024-01-01T00:20:00Z");
  // Three records inside the lookback (they will be re-read) and room for two keys.
  p.on_page(*p.begin(now), page({audit("a", "2024-01-01T00:15:00Z"), audit("b", "2024-01-01T00:16:00Z"),
                                 audit("c", "2024-01-01T00:17:00Z")}), "t");
  auto full = sink->last_formatted();
  // A window whose keys fit says nothing.
  p.on_page(*p.begin(now + kMin), page({audit("c", "2024-01-01T00:17:00Z")}), "t");
  auto later = sink->last_formatted();
  spdlog::set_default_logger(previous);
  ASSERT_EQ(full.size(), 1u);
  EXPECT_NE(full[0].find("[warning] source audit: stream directoryAudits: the dedupe window is full (2 keys, dedupe_max): 1 "
                         "key(s) were forgotten"),
            std::string::npos) << full[0];
  EXPECT_EQ(later.size(), 1u);
}

TEST(Poller, PimRequestsDedupeOnIdAndStatus) {
  WindowOptions o;
  StreamPoller p({"pim", StreamType::pim_assignment_requests, "https://g"}, o);
  p.restore(std::nullopt, std::nullopt);
  Micros now = T("2024-01-02T00:00:00Z");
  json pending = {{"id", "r1"}, {"status", "PendingApproval"}, {"createdDateTime", "2024-01-01T23:00:00Z"}};
  auto r1 = p.on_page(*p.begin(now), page({pending}), "t");
  EXPECT_EQ(r1.records.size(), 1u);
  json granted = pending;
  granted["status"] = "Provisioned";
  auto r2 = p.on_page(*p.begin(now + kMin), page({pending, granted}), "t");
  ASSERT_EQ(r2.records.size(), 1u);
  EXPECT_EQ(json::parse(r2.records[0].json)["status"], "Provisioned");
  EXPECT_EQ(r2.records[0].kind_hint, SourceKind::graph_pim_request);
}

TEST(Poller, EligibilityRequestsAreNamedAsSuchForEnrichment) {
  // An eligibility request list item looks like an assignment request; only the stream knows.
  WindowOptions o;
  Micros now = T("2024-01-02T00:00:00Z");
  json item = {{"id", "r1"}, {"status", "Provisioned"}, {"action", "adminAssign"}, {"createdDateTime", "2024-01-01T23:00:00Z"}};
  StreamPoller elig({"pimEligibility", StreamType::pim_eligibility_requests, "https://g"}, o);
  elig.restore(std::nullopt, std::nullopt);
  auto r = elig.on_page(*elig.begin(now), page({item}), "t");
  ASSERT_EQ(r.records.size(), 1u);
  const json typed = json::parse(r.records[0].json);
  EXPECT_EQ(typed.value("@odata.type", ""), "#microsoft.graph.unifiedRoleEligibilityScheduleRequest");
  EXPECT_EQ(typed["id"], "r1");
  // A type the server did send is kept; assignment requests are left as they came.
  json annotated = item;
  annotated["id"] = "r2";
  annotated["@odata.type"] = "#microsoft.graph.somethingElse";
  auto r2 = elig.on_page(*elig.begin(now + kMin), page({annotated}), "t");
  ASSERT_EQ(r2.records.size(), 1u);
  EXPECT_EQ(json::parse(r2.records[0].json)["@odata.type"], "#microsoft.graph.somethingElse");
  StreamPoller assign({"pim", StreamType::pim_assignment_requests, "https://g"}, o);
  assign.restore(std::nullopt, std::nullopt);
  auto a = assign.on_page(*assign.begin(now), page({item}), "t");
  ASSERT_EQ(a.records.size(), 1u);
  EXPECT_FALSE(json::parse(a.records[0].json).contains("@odata.type"));
}

TEST(Poller, ActivityDedupesOnEventDataIdAndRejectsNonLists) {
  WindowOptions o;
  o.safety_lag = 0;
  StreamSpec s{"sub", StreamType::activity_log, "https://arm"};
  s.scope = "/subscriptions/x";
  StreamPoller p(s, o);
  p.restore(std::nullopt, T("2024-01-01T00:00:00Z"));
  auto u = p.begin(T("2024-01-01T00:30:00Z"));
  json e1 = {{"eventDataId", "e1"}, {"id", "/subscriptions/x/events/e1"}, {"eventTimestamp", "2024-01-01T00:01:00Z"}};
  json e2 = {{"eventDataId", "e2"}, {"id", "/subscriptions/x/events/e1"}, {"eventTimestamp", "2024-01-01T00:01:00Z"}};
  json arm_page = {{"value", {e1, e2, e1}}};
  auto r = p.on_page(*u, arm_page.dump(), "t");
  EXPECT_EQ(r.records.size(), 2u);
  EXPECT_THROW(p.on_page(*u, R"({"error":{"code":"x"}})", "t"), std::runtime_error);
}

}  // namespace
}  // namespace siem::sources

namespace siem::sources {
namespace {

TEST(Poller, PageIsHandedOverOldestFirst) {
  WindowOptions o;
  o.lookback = 10 * kMin;
  o.safety_lag = 0;
  o.initial_lookback = 10 * kMin;
  StreamPoller p({"directoryAudits", StreamType::directory_audits, "https://g"}, o);
  p.restore(std::nullopt, std::nullopt);
  auto url = p.begin(T("2024-01-01T01:00:00Z"));
  ASSERT_TRUE(url);
  // Graph lists newest first; equal times keep their page order.
  auto r = p.on_page(*url, page({audit("c", "2024-01-01T00:58:00Z"), audit("b2", "2024-01-01T00:55:00Z"),
                                 audit("b1", "2024-01-01T00:55:00Z"), audit("a", "2024-01-01T00:51:00Z")}), "t");
  ASSERT_EQ(r.records.size(), 4u);
  std::vector<std::string> ids;
  for (const auto& rec : r.records) ids.push_back(json::parse(rec.json)["id"].get<std::string>());
  EXPECT_EQ(ids, (std::vector<std::string>{"a", "b2", "b1", "c"}));
  EXPECT_EQ(r.records[0].origin, "https://g/v1.0/auditLogs/directoryAudits#4");  // origin still names the page position
}

}  // namespace
}  // namespace siem::sources

// ------------------------------------------------------------------ hostile pages
namespace siem::sources {
namespace {

std::string deep_record(std::size_t depth) {
  return R"({"id":"deep","activityDateTime":"2024-01-01T00:55:00Z","x":)" + std::string(depth, '[') + std::string(depth, ']') + "}";
}

TEST(PageReader, KeepsEachRecordsTextAsInThePage) {
  const std::string body = R"({ "@odata.context":"c", "value" : [ {"z":1, "a" : "x\"]}"} , {"b":[1,{"c":null}]} ],
                              "@odata.nextLink":"https://g/n?$skiptoken=a%20b" })";
  const Page p = split_page(body);
  ASSERT_EQ(p.records.size(), 2u);
  EXPECT_EQ(p.records[0].text, R"({"z":1, "a" : "x\"]}"})");
  EXPECT_EQ(p.records[1].text, R"({"b":[1,{"c":null}]})");
  EXPECT_TRUE(p.records[0].error.empty());
  EXPECT_EQ(p.next_link.value_or(""), "https://g/n?$skiptoken=a%20b");
  EXPECT_FALSE(split_page(R"({"value":[],"nextLink":null})").next_link);
  EXPECT_EQ(split_page(R"({"value":[],"@odata.deltaLink":"https://g/d"})").delta_link.value_or(""), "https://g/d");
}

TEST(PageReader, TooDeepAndTooLargeRecordsComeBackWithTheirReasonUnparsed) {
  PageLimits limits;
  limits.max_record_bytes = 300'000;
  const std::string deep = deep_record(100'000);
  const std::string big = R"({"id":"big","f":")" + std::string(400'000, 'a') + "\"}";
  const std::string body = R"({"value":[{"id":"ok"},)" + deep + "," + big + "]}";
  const Page p = split_page(body, limits);
  ASSERT_EQ(p.records.size(), 3u);
  EXPECT_TRUE(p.records[0].error.empty());
  EXPECT_EQ(p.records[1].text, deep);
  EXPECT_EQ(p.records[1].error, "record nested 100001 levels deep (limit 512)");
  EXPECT_EQ(p.records[2].error, "record of 400019 bytes exceeds max_record_bytes (300000 bytes)");
  // 512 levels are fine, 513 are not.
  EXPECT_TRUE(split_page(R"({"value":[)" + std::string(511, '[') + "{}" + std::string(511, ']') + "]}").records[0].error.empty());
  EXPECT_FALSE(split_page(R"({"value":[)" + std::string(512, '[') + "{}" + std::string(512, ']') + "]}").records[0].error.empty());
}

TEST(PageReader, RefusesWhatIsNotAListPage) {
  for (const std::string& bad : {std::string("[]"), std::string(R"({"error":{"code":"x"}})"), std::string(R"({"value":{}})"),
                                 std::string(R"({"value":[{"a":1}])"), std::string(R"({"value":[{"a":"1}]})"),
                                 std::string(R"({"value":[] } trailing)"), std::string(R"({"value":[],"value":[]})"),
                                 std::string(R"({"value":[],"@odata.nextLink":42})"), std::string(R"({"value":[1 2]})"),
                                 std::string(R"({"value":[],"x":)") + std::string(600, '[') + std::string(600, ']') + "}", std::string()})
    EXPECT_THROW(split_page(bad), PageError) << bad.substr(0, 80);
}

StreamPoller audit_poller(PagingLimits limits = {}) {
  WindowOptions o;
  o.safety_lag = 0;
  StreamPoller p({"directoryAudits", StreamType::directory_audits, "https://g"}, o, 1000, limits);
  p.restore(std::nullopt, T("2024-01-01T00:00:00Z"));
  return p;
}

TEST(Poller, SelfLinkingPageFailsTheWindow) {
  auto p = audit_poller();
  auto url = p.begin(T("2024-01-01T01:00:00Z"));
  try {
    p.on_page(*url, page({audit("a", "2024-01-01T00:55:00Z")}, *url), "t");
    FAIL();
  } catch (const WindowError& e) {
    EXPECT_NE(std::string(e.what()).find("repeats a URL already read in this window"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(p.completed().end);
}

TEST(Poller, TwoPageCycleFailsTheWindowAndANewWindowStartsClean) {
  auto p = audit_poller();
  auto url = p.begin(T("2024-01-01T01:00:00Z"));
  auto r1 = p.on_page(*url, page({audit("a", "2024-01-01T00:55:00Z")}, "https://g/b"), "t");
  ASSERT_EQ(r1.next_url.value_or(""), "https://g/b");
  EXPECT_THROW(p.on_page("https://g/b", page({}, *url), "t"), WindowError);
  p.restart_window();
  url = p.begin(T("2024-01-01T01:00:00Z"));
  EXPECT_EQ(p.on_page(*url, page({}, "https://g/b"), "t").next_url.value_or(""), "https://g/b");
  EXPECT_EQ(p.pages(), 1u);
}

TEST(Poller, PageCapFailsAWindowThatKeepsOfferingPages) {
  PagingLimits limits;
  limits.max_pages = 3;
  auto p = audit_poller(limits);
  std::string url = *p.begin(T("2024-01-01T01:00:00Z"));
  for (int i = 1; i < 3; ++i) url = *p.on_page(url, page({}, "https://g/p" + std::to_string(i)), "t").next_url;
  try {
    p.on_page(url, page({}, "https://g/p3"), "t");
    FAIL();
  } catch (const WindowError& e) {
    EXPECT_NE(std::string(e.what()).find("max_pages_per_window 3"), std::string::npos) << e.what();
  }
  // The last page of a window may be page max_pages.
  auto q = audit_poller(limits);
  url = *q.begin(T("2024-01-01T01:00:00Z"));
  for (int i = 1; i < 3; ++i) url = *q.on_page(url, page({}, "https://g/p" + std::to_string(i)), "t").next_url;
  EXPECT_FALSE(q.on_page(url, page({}), "t").next_url);
  EXPECT_TRUE(q.completed().end);
}

TEST(Poller, DeepRecordIsHandedOnForTheDeadLetterFileWithItsReason) {
  auto p = audit_poller();
  auto url = p.begin(T("2024-01-01T01:00:00Z"));
  const std::string deep = deep_record(100'000);
  auto r = p.on_page(*url, R"({"value":[)" + deep + R"(,{"id":"ok","activityDateTime":"2024-01-01T00:50:00Z"}]})", "t");
  ASSERT_EQ(r.records.size(), 2u);
  EXPECT_EQ(r.records[0].json, R"({"id":"ok","activityDateTime":"2024-01-01T00:50:00Z"})");
  EXPECT_TRUE(r.records[0].read_error.empty());
  EXPECT_EQ(r.records[1].json, deep);
  EXPECT_EQ(r.records[1].read_error, "record nested 100001 levels deep (limit 512)");
  EXPECT_EQ(r.records[1].origin, "https://g/v1.0/auditLogs/directoryAudits#1");
}

TEST(Poller, EligibilityTypeIsAddedToTheOriginalText) {
  WindowOptions o;
  StreamPoller elig({"pimEligibility", StreamType::pim_eligibility_requests, "https://g"}, o);
  elig.restore(std::nullopt, std::nullopt);
  auto r = elig.on_page(*elig.begin(T("2024-01-02T00:00:00Z")), R"({"value":[ { "id" : "r1", "status":"Provisioned"} ]})", "t");
  ASSERT_EQ(r.records.size(), 1u);
  EXPECT_EQ(r.records[0].json, R"({"@odata.type":"#microsoft.graph.unifiedRoleEligibilityScheduleRequest", "id" : "r1", "status":"Provisioned"})");
}

}  // namespace
}  // namespace siem::sources
