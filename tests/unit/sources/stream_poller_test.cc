// The pull engine's page state machine (StreamPoller, stream_poller.cc): checkpoints only at a
// window's end, half-open windows, late records inside the lookback, restarts, dedupe keys per
// stream type, oldest-first hand-over, and hostile pages (loops, page caps, too-deep records).
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

json audit(const std::string& id, const char* t) { return {{"id", id}, {"activityDateTime", t}}; }

TEST(Poller, CheckpointOnlyOnLastPageAndHalfOpenWindow) {
  const WindowOptions o = lookback_options(10 * kMin);
  auto p = fresh_poller({"directoryAudits", StreamType::directory_audits, "https://g"}, o);
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
  EXPECT_EQ(json::parse(std::string_view(r.records[0].json))["id"], "late");
  EXPECT_EQ(json::parse(std::string_view(r.records[1].json))["id"], "new");
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
  EXPECT_EQ(json::parse(std::string_view(r2.records[0].json))["status"], "Provisioned");
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
  const json typed = json::parse(std::string_view(r.records[0].json));
  EXPECT_EQ(typed.value("@odata.type", ""), "#microsoft.graph.unifiedRoleEligibilityScheduleRequest");
  EXPECT_EQ(typed["id"], "r1");
  // A type the server did send is kept; assignment requests are left as they came.
  json annotated = item;
  annotated["id"] = "r2";
  annotated["@odata.type"] = "#microsoft.graph.somethingElse";
  auto r2 = elig.on_page(*elig.begin(now + kMin), page({annotated}), "t");
  ASSERT_EQ(r2.records.size(), 1u);
  EXPECT_EQ(json::parse(std::string_view(r2.records[0].json))["@odata.type"], "#microsoft.graph.somethingElse");
  StreamPoller assign({"pim", StreamType::pim_assignment_requests, "https://g"}, o);
  assign.restore(std::nullopt, std::nullopt);
  auto a = assign.on_page(*assign.begin(now), page({item}), "t");
  ASSERT_EQ(a.records.size(), 1u);
  EXPECT_FALSE(json::parse(std::string_view(a.records[0].json)).contains("@odata.type"));
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
  const WindowOptions o = lookback_options(10 * kMin);
  auto p = fresh_poller({"directoryAudits", StreamType::directory_audits, "https://g"}, o);
  auto url = p.begin(T("2024-01-01T01:00:00Z"));
  ASSERT_TRUE(url);
  // Graph lists newest first; equal times keep their page order.
  auto r = p.on_page(*url, page({audit("c", "2024-01-01T00:58:00Z"), audit("b2", "2024-01-01T00:55:00Z"),
                                 audit("b1", "2024-01-01T00:55:00Z"), audit("a", "2024-01-01T00:51:00Z")}), "t");
  ASSERT_EQ(r.records.size(), 4u);
  std::vector<std::string> ids;
  for (const auto& rec : r.records) ids.push_back(json::parse(std::string_view(rec.json))["id"].get<std::string>());
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
