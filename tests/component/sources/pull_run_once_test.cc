// The pull sources end to end: the real `siem-connector run --once` binary against the Graph/ARM
// emulator over HTTPS on 127.0.0.1 (test CA made at test time), file sink in raw format, asserting
// by record id (Graph `id`, Activity Log `eventDataId`):
//   * every record of every source type exactly once across pages, a 429 with Retry-After and a
//     503; a second run delivers nothing; late records inside the lookback window (one with a time
//     equal to the newest sign-in already delivered, the case the widely used add-on loses) are
//     delivered by the third run and nothing else is repeated;
//   * Retry-After on 429 and 503, as seconds and as an HTTP-date, measured on the emulator's clock;
//   * a usgov sign-in query (v1.0, no beta event-type filter) works;
//   * graph_pim (the roster) catches up before the other sources read, so privileged users'
//     sign-ins are tagged on a first run;
//   * wrong secret, expired secret, wrong tenant, TLS name mismatch and untrusted CA: one error
//     naming the source and the cause, non-zero exit, and a handful of requests (no busy loop);
// The reports budget is pull_rate_test.cc (label heavy).
// The engine-level behaviour (window arithmetic, dedupe across restarts) is covered without the
// binary by pull_engine_emulator_test.cc.
#include <algorithm>
#include <map>

#include "connector/state/state_store.h"
#include "tests/component/sources/pull_fixture.h"

namespace siem::pulltest {

// Interactive sign-ins (the stream graph_sign_ins reads by default) made while the user held a role
// that `grants` (principal id -> time the role started) names.
static std::set<std::string> sign_ins_while_holding(const std::vector<json>& sign_ins, const std::map<std::string, std::string>& grants) {
  std::set<std::string> out;
  for (const auto& r : sign_ins) {
    if (!r.value("isInteractive", false)) continue;
    const auto held = grants.find(r.value("userId", ""));
    if (held != grants.end() && r.value("createdDateTime", "") >= held->second) out.insert(r.value("id", ""));
  }
  return out;
}

// Runs `sign-ins` (first in the config) with `roster_source` while the roster source's endpoints
// under `slow_prefix` answer slowly, and checks every sign-in of `expected` is tagged privileged.
void PullRunOnce::expect_sign_ins_tagged_after_roster_source(const std::string& roster_source,
                                                             const std::string& slow_prefix,
                                                             const std::set<std::string>& expected) {
  ASSERT_FALSE(expected.empty());
  httpd::Fault slow;
  slow.path_prefix = slow_prefix;
  slow.count = 20;
  slow.delay = std::chrono::milliseconds(400);
  server_->add_fault(slow);
  std::ofstream(dir_ / "config.yaml") << "state_dir: " << (dir_ / "state").string() << "\n"
                                      << "dead_letter: {path: " << (dir_ / "dead-letter.ndjson").string() << "}\n"
                                      << "sources:\n" << source("sign-ins", "graph_sign_ins", "requests_per_10s: 1000")
                                      << roster_source << "sinks:\n  - {name: out, type: file, format: ecs, path: "
                                      << (dir_ / "out.ndjson").string() << "}\n";
  auto r = run();
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("source sign-ins: waiting for the sources that feed the privileged-role roster"), std::string::npos)
      << r.err;
  std::set<std::string> tagged;
  std::map<std::string, std::string> delivered_docs;
  std::ifstream in(dir_ / "out.ndjson");
  std::string line;
  while (std::getline(in, line)) {
    const auto doc = json::parse(line);
    const auto id = doc["event"]["id"].get<std::string>();
    delivered_docs[id] = line;
    for (const auto& t : doc.value("tags", json::array()))
      if (t == "pa.signin.privileged") tagged.insert(id);
  }
  for (const auto& id : expected)
    EXPECT_EQ(tagged.count(id), 1u) << "sign-in not tagged privileged: " << id << " " << delivered_docs[id];
}

namespace {

TEST_F(PullRunOnce, EveryRecordOnceAcrossPagesThrottlingRunsAndLateRecords) {
  start_emulator();
  const std::string common = "page_size: 7\nrequests_per_10s: 1000";
  write_config(source("audit", "graph_directory_audits", common) +
               source("signins", "graph_sign_ins", common + "\nevent_types: [interactiveUser, nonInteractiveUser, servicePrincipal, managedIdentity]") +
               source("pim", "graph_pim", common + "\nroster: false") +
               source("activity", "azure_activity", common + "\nsubscriptions: [" + kSub + "]"));
  // Throttling and an outage mid-paging: the second audit page gets a 429 with a fractional
  // Retry-After, a sign-in page a 503.
  server_->add_fault(httpd::Fault::with_status("/v1.0/auditLogs/directoryAudits", 429, 1, {{"Retry-After", "1.2"}},
                                               R"({"error":{"code":"TooManyRequests","message":"Please retry again later."}})"));
  server_->add_fault(httpd::Fault::with_status("/beta/auditLogs/signIns", 503, 1, {{"Retry-After", "1"}}, "{}"));

  auto r1 = run();
  ASSERT_EQ(r1.status, 0) << r1.err;
  std::size_t lines1 = 0;
  auto first = delivered(0, &lines1);
  const auto expected = emulator_ids({"directoryAudits", "signIns", "roleAssignmentScheduleRequests", "roleEligibilityScheduleRequests",
                                      "activity", "armRoleAssignmentScheduleRequests"});
  ASSERT_GT(expected.size(), 90u);
  EXPECT_EQ(first.size(), expected.size());
  for (const auto& id : expected) EXPECT_EQ(first.count(id) ? first[id] : 0, 1) << "record " << id;
  for (const auto& [id, n] : first) EXPECT_TRUE(expected.count(id)) << "unexpected record " << id;
  // Paging really happened (several pages per stream) and both faults were served and retried.
  auto audits = endpoint_stats("graph.directoryAudits");
  EXPECT_GE(audits["count"].get<int>(), 7);
  auto statuses = audits["statuses"];
  EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 429), 1);
  auto signins = endpoint_stats("graph.signIns")["statuses"];
  EXPECT_EQ(std::count(signins.begin(), signins.end(), 503), 1);
  // Retry-After honoured: the request after the 429 arrived at least 1.2 s later.
  for (std::size_t i = 0; i + 1 < statuses.size(); ++i)
    if (statuses[i] == 429) {
      EXPECT_GE(audits["received_ms"][i + 1].get<std::int64_t>() - audits["received_ms"][i].get<std::int64_t>(), 1200);
    }

  // Nothing new: the second run re-reads the lookback window of every time-ordered stream (in a
  // later second than the first run's window end) and delivers nothing.
  emu_->reset_stats();
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  auto r2 = run();
  ASSERT_EQ(r2.status, 0) << r2.err;
  EXPECT_GE(endpoint_stats("graph.directoryAudits")["count"].get<int>(), 1);
  EXPECT_GE(endpoint_stats("graph.signIns")["count"].get<int>(), 4);
  EXPECT_GE(endpoint_stats("arm.activity")["count"].get<int>(), 1);
  std::size_t lines2 = 0;
  EXPECT_TRUE(delivered(lines1, &lines2).empty());
  EXPECT_EQ(lines2, lines1);

  // Late records appear inside the lookback window: an audit and an activity event 10 minutes
  // old, and two interactive sign-ins stamped with the newest sign-in time already delivered and
  // one second before it (checkpointing "newest seen" and querying after it would lose both).
  std::set<std::string> late;
  for (const char* c : {"directoryAudits", "activity"}) {
    auto res = test::http_fetch("POST", url_ + "/_emulator/late",
                                json{{"collection", c}, {"age_seconds", 600}}.dump(), {}, pki_->ca_pem());
    ASSERT_EQ(res.status, 200) << res.body;
    late.insert(json::parse(res.body)["id"].get<std::string>());
  }
  std::string newest;
  json newest_rec;
  for (const auto& s : emu_->records("signIns"))
    if (s["signInEventTypes"][0] == "interactiveUser" && s["createdDateTime"].get<std::string>() > newest) {
      newest = s["createdDateTime"].get<std::string>();
      newest_rec = s;
    }
  ASSERT_FALSE(newest.empty());
  for (int back : {0, 1}) {
    json rec = newest_rec;
    rec["id"] = "late-signin-" + std::to_string(back);
    rec["createdDateTime"] = emulator::format_time(*emulator::parse_time_us(newest) - back * 1'000'000LL);
    emu_->add_record("signIns", rec);
    late.insert(rec["id"].get<std::string>());
  }
  // Windows end on whole seconds and a stream reads again only once now - safety_lag has moved
  // past its checkpoint; make sure this run is not in the same second as the last one.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  auto r3 = run();
  ASSERT_EQ(r3.status, 0) << r3.err;
  auto third = delivered(lines2);
  EXPECT_EQ(third.size(), late.size());
  for (const auto& id : late) EXPECT_EQ(third.count(id) ? third[id] : 0, 1) << "late record " << id;
  for (const auto& [id, n] : third) EXPECT_TRUE(late.count(id)) << "repeated " << id;
}

TEST_F(PullRunOnce, SovereignCloudSignInsUseTheV1Query) {
  start_emulator();
  // cloud: usgov with the roots pointed at the emulator: v1.0, interactive sign-ins only.
  write_config(source("gov-signins", "graph_sign_ins", "page_size: 50", kTenant, "usgov"));
  auto r = run();
  ASSERT_EQ(r.status, 0) << r.err;
  std::set<std::string> expected;
  for (const auto& s : emu_->records("signIns"))
    if (s["signInEventTypes"][0] == "interactiveUser") expected.insert(s["id"].get<std::string>());
  auto got = delivered(0);
  ASSERT_FALSE(expected.empty());
  EXPECT_EQ(got.size(), expected.size());
  for (const auto& id : expected) EXPECT_EQ(got.count(id) ? got[id] : 0, 1) << id;
  auto targets = endpoint_stats("graph.signIns")["targets"];
  ASSERT_FALSE(targets.empty());
  for (const auto& t : targets) {
    const std::string target = t.get<std::string>();
    EXPECT_EQ(target.rfind("/v1.0/auditLogs/signIns?", 0), 0u) << target;
    EXPECT_EQ(target.find("signInEventTypes"), std::string::npos) << target;
  }
  // And a beta event type is refused by validate for that cloud, naming the key.
  write_config(source("gov-signins", "graph_sign_ins", "event_types: [interactiveUser, servicePrincipal]", kTenant, "usgov"));
  auto v = run_binary({"validate", "-c", (dir_ / "config.yaml").string()}, dir_, std::chrono::seconds(30));
  EXPECT_NE(v.status, 0);
  EXPECT_NE(v.err.find("event_types"), std::string::npos) << v.err;
  EXPECT_NE(v.err.find("usgov"), std::string::npos) << v.err;
}

struct FailureCase {
  const char* name;
  std::function<void(emulator::AppRegistration&)> app;  // how the emulator's app registration differs
  const char* tenant;
  bool wrong_name_cert;
  bool other_ca;
  std::vector<const char*> cause;  // every one must appear in the error line
};

// Roster snapshots are state, not activity: by default they feed the enrichment roster and are
// acknowledged without reaching the sinks (so every hourly refresh does not repeat them in the
// SIEM); `roster_events: true` delivers them too.
TEST_F(PullRunOnce, RosterSnapshotsFeedEnrichmentOnlyUnlessAskedFor) {
  start_emulator();
  const auto roster = emulator_ids({"roleAssignmentScheduleInstances", "roleEligibilityScheduleInstances"});
  ASSERT_FALSE(roster.empty());
  write_config(source("pim", "graph_pim", "requests_per_10s: 1000"));
  auto r1 = run();
  ASSERT_EQ(r1.status, 0) << r1.err;
  std::size_t lines = 0;
  auto first = delivered(0, &lines);
  for (const auto& id : roster) EXPECT_EQ(first.count(id), 0u) << "roster record delivered: " << id;
  EXPECT_FALSE(first.empty());  // the schedule requests are delivered
  EXPECT_NE(r1.err.find("roster-only " + std::to_string(roster.size())), std::string::npos) << r1.err;
  EXPECT_GE(endpoint_stats("graph.roleAssignmentScheduleInstances")["count"].get<int>(), 1);

  std::filesystem::remove_all(dir_ / "state");
  std::filesystem::remove(dir_ / "out.ndjson");
  write_config(source("pim", "graph_pim", "requests_per_10s: 1000\nroster_events: true"));
  auto r2 = run();
  ASSERT_EQ(r2.status, 0) << r2.err;
  auto second = delivered(0);
  for (const auto& id : roster) EXPECT_EQ(second.count(id), 1u) << "roster record missing: " << id;
}

// `roster: false` with `roster_events: true` (both documented keys of graph_pim) validates: the
// second one has no effect then, but it is not an unknown key.
TEST_F(PullRunOnce, ValidateAcceptsRosterEventsWithTheRosterOff) {
  start_emulator();
  write_config(source("pim", "graph_pim", "roster: false\nroster_events: true"));
  auto r = run_binary({"validate", "-c", (dir_ / "config.yaml").string()}, dir_, std::chrono::seconds(30));
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err.find("unknown key"), std::string::npos) << r.err;
}

// A complete roster snapshot ends the role holds it no longer lists: a principal the saved roster
// says holds Global Administrator (learned before, removed since without an event the connector
// saw) no longer does after graph_pim has read the snapshots, while the principals the snapshots
// list still do. The roster the run saves shows both.
TEST_F(PullRunOnce, RosterSnapshotsEndRolesTheyNoLongerList) {
  start_emulator();
  std::set<std::string> listed;
  for (const auto& r : emu_->records("roleAssignmentScheduleInstances")) listed.insert(r.value("principalId", ""));
  ASSERT_FALSE(listed.empty());
  const std::string kGa = "62e90394-69f5-4237-9190-012177145e10";
  {
    StateStore state(dir_ / "state");
    state.put("roster", json{{"version", 2},
                             {"principals",
                              {{{"keys", {"stale-principal-0001"}},
                                {"holds", {{kGa, {{"tier", 0}, {"active_until", nullptr}, {"eligible_until", 0},
                                                  {"active_granted_ms", 1}, {"eligible_granted_ms", 0}}}}},
                                {"updated_ms", 1}}}}}
                            .dump());
  }
  write_config(source("pim", "graph_pim", "requests_per_10s: 1000"));
  const auto started_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch()).count();
  auto r = run();
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("role roster snapshot (assignments) no longer lists"), std::string::npos) << r.err;
  StateStore state(dir_ / "state");
  const auto saved = state.get("roster");
  ASSERT_TRUE(saved);
  std::map<std::string, json> holds_by_key;
  const auto doc = json::parse(*saved);
  for (const auto& p : doc.at("principals"))
    for (const auto& k : p.at("keys")) holds_by_key[k.get<std::string>()] = p.at("holds");
  ASSERT_TRUE(holds_by_key.count("stale-principal-0001")) << *saved;
  const auto& stale = holds_by_key["stale-principal-0001"].at(kGa);
  ASSERT_TRUE(stale.at("active_until").is_number()) << stale.dump();  // ended ...
  EXPECT_GE(stale.at("active_until").get<std::int64_t>(), started_ms);  // ... when the snapshot was read
  for (const auto& id : listed) {
    ASSERT_TRUE(holds_by_key.count(id)) << "listed principal missing from the roster: " << id;
    bool running = false;
    for (const auto& [role, h] : holds_by_key[id].items())
      running = running || h.at("active_until").is_null() ||
                h.at("active_until").get<std::int64_t>() > started_ms;
    EXPECT_TRUE(running) << "listed principal's roles ended: " << id << " " << holds_by_key[id].dump();
  }
}

// At start-up the sources that teach the enrichment who is privileged catch up before the others
// read, so a sign-in by a user the roster names is tagged even when the sign-ins source comes
// first in the config and the roster's endpoints are slow. graph_pim: PIM requests and the role
// roster snapshots.
TEST_F(PullRunOnce, RosterSourcesCatchUpBeforeTheOthersRead) {
  start_emulator();
  std::map<std::string, std::string> active_since;  // principal -> start of its earliest active role
  for (const auto& r : emu_->records("roleAssignmentScheduleInstances")) {
    const auto start = r.value("startDateTime", "");
    auto [it, added] = active_since.emplace(r.value("principalId", ""), start);
    if (!added) it->second = std::min(it->second, start);
  }
  expect_sign_ins_tagged_after_roster_source(source("pim", "graph_pim", "requests_per_10s: 1000"), "/v1.0/roleManagement",
                                             sign_ins_while_holding(emu_->records("signIns"), active_since));
}

// graph_directory_audits teaches the roster too: a role assigned directly (outside PIM, so only the
// directory audit tells) counts for the assignee's later sign-ins on the very first run.
TEST_F(PullRunOnce, DirectoryAuditsTeachTheRosterBeforeSignInsAreRead) {
  start_emulator();
  std::map<std::string, std::string> assigned_at;  // target user -> time of "Add member to role"
  for (const auto& a : emu_->records("directoryAudits")) {
    if (a.value("activityDisplayName", "") != "Add member to role") continue;
    for (const auto& t : a.value("targetResources", json::array()))
      if (t.value("type", "") == "User") assigned_at.emplace(t.value("id", ""), a.value("activityDateTime", ""));
  }
  expect_sign_ins_tagged_after_roster_source(
      source("audit", "graph_directory_audits", "requests_per_10s: 1000"), "/v1.0/auditLogs/directoryAudits",
      sign_ins_while_holding(emu_->records("signIns"), assigned_at));
}

// A Graph outage that outlasts the retries: `run --once` does not retry the window forever; after
// three abandoned windows it ends with one error naming the source and the status, exit non-zero,
// and nothing is checkpointed past what was delivered.
TEST_F(PullRunOnce, PersistentOutageEndsRunOnceWithAnError) {
  start_emulator();
  write_config(source("entra-audit", "graph_directory_audits", "page_size: 7\nrequests_per_10s: 1000"));
  server_->add_fault(httpd::Fault::with_status("/v1.0/auditLogs/directoryAudits", 503, 1000, {{"Retry-After", "0.05"}}, "{}"));
  const auto started = std::chrono::steady_clock::now();
  auto r = run(std::chrono::seconds(120));
  // 18 requests 50 ms apart (Retry-After) plus start-up: seconds. Backing off instead of honouring
  // Retry-After would take about a minute and a half.
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(30)) << r.err;
  EXPECT_NE(r.status, 0) << r.err;
  EXPECT_NE(r.status, -1) << "the run did not end by itself: " << r.err;
  auto errors = error_lines(r.err);
  std::vector<std::string> naming;
  for (const auto& line : errors)
    if (line.find("entra-audit") != std::string::npos) naming.push_back(line);
  ASSERT_EQ(naming.size(), 1u) << r.err;
  EXPECT_NE(naming[0].find("503"), std::string::npos) << naming[0];
  // Three windows of six attempts each, then the source gave up: bounded, not a busy loop.
  EXPECT_EQ(endpoint_stats("graph.directoryAudits")["count"].get<int>(), 18);
  EXPECT_TRUE(delivered(0).empty());
}

// An HTTP-date (RFC 9110 IMF-fixdate) for `t`, which must be a whole second.
static std::string http_date(std::chrono::system_clock::time_point t) {
  const std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  static const char* const kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char* const kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday], tm.tm_mday, kMonths[tm.tm_mon],
                tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

// Retry-After on 429 and on 503, as delta-seconds and as an HTTP-date, measured on the connector's
// own requests as the emulator received them (its clock): the retry of the refused request arrives
// no earlier than the header allows. Without the header the first retry waits at most 2 s (full
// jitter), so each wait below is one only Retry-After explains.
TEST_F(PullRunOnce, RetryAfterOn429And503AsSecondsAndHttpDateIsHonoured) {
  start_emulator();
  // No roster source, so none waits for another: the audit and activity sources' first requests
  // come well before the HTTP-date. (Sign-ins share the reports budget with the audits, which a
  // Retry-After pauses: their refusal comes after the date, so theirs is measured relatively.)
  const std::string common = "page_size: 50\nrequests_per_10s: 1000";
  write_config(source("audit", "graph_directory_audits", common) +
               source("signins", "graph_sign_ins", common + "\nevent_types: [interactiveUser]") +
               source("activity", "azure_activity", common + "\nsubscriptions: [" + kSub + "]"));
  using namespace std::chrono;
  const auto not_before = time_point_cast<seconds>(system_clock::now()) + seconds(6);
  const auto not_before_ms = duration_cast<milliseconds>(not_before.time_since_epoch()).count();
  const std::string date = http_date(not_before);
  const std::string busy = R"({"error":{"code":"TooManyRequests","message":"Please retry again later."}})";
  server_->add_fault(httpd::Fault::with_status("/v1.0/auditLogs/directoryAudits", 503, 1, {{"Retry-After", date}}, "{}"));
  server_->add_fault(httpd::Fault::with_status("/subscriptions/", 429, 1, {{"Retry-After", date}}, busy));
  server_->add_fault(httpd::Fault::with_status("/v1.0/auditLogs/signIns", 503, 1, {{"Retry-After", "4"}}, "{}"));
  auto r = run(std::chrono::seconds(90));
  ASSERT_EQ(r.status, 0) << r.err;
  // The first refusal with `status` and the next request's arrival times (ms since the epoch).
  auto refused_and_retry = [&](const std::string& endpoint, int status) -> std::pair<std::int64_t, std::int64_t> {
    const auto st = endpoint_stats(endpoint);
    const auto& statuses = st["statuses"];
    for (std::size_t i = 0; i + 1 < statuses.size(); ++i)
      if (statuses[i] == status) return {st["received_ms"][i].get<std::int64_t>(), st["received_ms"][i + 1].get<std::int64_t>()};
    ADD_FAILURE() << endpoint << ": no " << status << " followed by a retry: " << st.dump();
    return {0, 0};
  };
  for (const auto& [endpoint, status] : {std::pair<std::string, int>{"graph.directoryAudits", 503}, {"arm.activity", 429}}) {
    const auto [refused, retry] = refused_and_retry(endpoint, status);
    EXPECT_LT(refused, not_before_ms - 2500) << endpoint << ": the refusal came too late to tell a Retry-After wait from a backoff";
    EXPECT_GE(retry, not_before_ms) << endpoint << " " << status << " with Retry-After: " << date;
    EXPECT_LT(retry, not_before_ms + 5000) << endpoint;
  }
  const auto [refused, retry] = refused_and_retry("graph.signIns", 503);
  EXPECT_GE(retry - refused, 4000) << "503 with Retry-After: 4";
  EXPECT_LT(retry - refused, 9000);
  const auto got = delivered(0);
  for (const auto& id : emulator_ids({"directoryAudits"})) EXPECT_EQ(got.count(id), 1u) << id;
}

void PrintTo(const FailureCase& c, std::ostream* os) { *os << c.name; }

class PullFailures : public PullRunOnce, public ::testing::WithParamInterface<FailureCase> {};

TEST_P(PullFailures, OneClearErrorNamingSourceAndCauseWithoutBusyRetry) {
  const FailureCase& c = GetParam();
  auto a = app();
  if (c.app) c.app(a);
  start_emulator(a, 0, c.wrong_name_cert);
  write_config(source("entra-audit", "graph_directory_audits", "", c.tenant, "custom", c.other_ca ? pki_->other_ca_pem() : ""));
  const auto started = std::chrono::steady_clock::now();
  auto r = run(std::chrono::seconds(60));
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_NE(r.status, 0) << r.err;
  EXPECT_NE(r.status, -1) << "the run did not end by itself: " << r.err;
  EXPECT_LT(took, std::chrono::seconds(30)) << r.err;
  auto errors = error_lines(r.err);
  std::vector<std::string> naming;
  for (const auto& line : errors)
    if (line.find("entra-audit") != std::string::npos) naming.push_back(line);
  ASSERT_EQ(naming.size(), 1u) << r.err;
  std::printf("%s: %s\n", c.name, naming[0].c_str());  // what an operator sees, in the test log
  for (const char* cause : c.cause) EXPECT_NE(naming[0].find(cause), std::string::npos) << "missing '" << cause << "' in: " << naming[0];
  EXPECT_EQ(r.err.find(kSecret), std::string::npos) << "secret logged";
  // No busy loop: the token endpoint (or the TLS listener) saw only a handful of attempts, and
  // Graph was never called without a token.
  EXPECT_LE(endpoint_stats("token")["count"].get<int>(), 2);
  EXPECT_EQ(endpoint_stats("graph.directoryAudits")["count"].get<int>(), 0);
  EXPECT_LE(server_->connections_accepted(), 3u);
}

INSTANTIATE_TEST_SUITE_P(
    Causes, PullFailures,
    ::testing::Values(
        FailureCase{"WrongSecret", [](emulator::AppRegistration& a) { a.client_secret = "another-secret"; }, kTenant, false, false,
                    {"AADSTS7000215"}},
        FailureCase{"ExpiredSecret", [](emulator::AppRegistration& a) { a.secret_expired = true; }, kTenant, false, false,
                    {"AADSTS7000222", "expired"}},
        FailureCase{"WrongTenant", nullptr, "99999999-9999-9999-9999-999999999999", false, false, {"AADSTS90002", "tenant"}},
        FailureCase{"TlsNameMismatch", nullptr, kTenant, true, false, {"certificate"}},
        FailureCase{"UntrustedCa", nullptr, kTenant, false, true, {"certificate"}}),
    [](const ::testing::TestParamInfo<FailureCase>& param_info) { return std::string(param_info.param.name); });

}  // namespace
}  // namespace siem::pulltest
