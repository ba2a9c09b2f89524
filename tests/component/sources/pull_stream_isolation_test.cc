// One stream of a pull source that the service refuses for good (a subscription the app may not
// read, a collection without its permission or licence) must not stall the source's other streams:
// the real binary, run continuously (not --once) against the emulator over HTTPS.
#include <signal.h>

#include <algorithm>
#include <numeric>

#include "connector/state/state_store.h"
#include "tests/component/sources/pull_fixture.h"
#include "tests/support/connector_process.h"
#include "tests/support/test_http.h"
#include "tests/support/wait.h"

namespace siem::pulltest {
namespace {

constexpr const char* kForbiddenSub = "44444444-4444-4444-4444-444444444444";
const std::string kForbiddenBody =
    R"({"error":{"code":"AuthorizationFailed","message":"The client does not have authorization to perform action 'Microsoft.Insights/eventtypes/values/read' over scope '/subscriptions/)" +
    std::string(kForbiddenSub) + R"('."}})";

// Arrival times (ms, emulator clock) of the Activity Log requests of one subscription.
std::vector<std::int64_t> activity_requests(const json& stats, const std::string& sub) {
  std::vector<std::int64_t> at;
  for (std::size_t i = 0; i < stats["targets"].size(); ++i)
    if (stats["targets"][i].get<std::string>().find(sub) != std::string::npos) at.push_back(stats["received_ms"][i].get<std::int64_t>());
  return at;
}

class PullStreamIsolation : public PullRunOnce {
 protected:
  // `run -c config.yaml` in the background; stdout/stderr to files in the test's directory.
  pid_t start_connector() {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    const std::string out = (dir_ / "stdout").string(), err = (dir_ / "stderr").string();
    posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::vector<std::string> all{kBinary, "run", "-c", (dir_ / "config.yaml").string()};
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = -1;
    if (posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ) != 0) pid = -1;
    posix_spawn_file_actions_destroy(&fa);
    return pid;
  }
  // SIGTERM, then SIGKILL if it has not exited within `grace`.
  static void stop_connector(pid_t pid, std::chrono::seconds grace) {
    kill(pid, SIGTERM);
    int status = 0;
    const bool exited = test::wait_until([&] { return waitpid(pid, &status, WNOHANG) == pid; }, grace, std::chrono::milliseconds(20));
    if (!exited) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
    }
  }
  // Runs the connector until every activity record of the emulator was delivered (60 s at most),
  // then stops it; whether they all were.
  bool run_until_every_activity_record_is_delivered() {
    const auto expected = emulator_ids({"activity"});
    EXPECT_FALSE(expected.empty());
    const pid_t pid = start_connector();
    EXPECT_GT(pid, 0);
    if (pid <= 0) return false;
    const bool all_read = test::wait_until(
        [&] {
          const auto got = delivered(0);
          return std::all_of(expected.begin(), expected.end(), [&](const std::string& id) { return got.count(id) > 0; });
        },
        std::chrono::seconds(60), std::chrono::milliseconds(100));
    stop_connector(pid, std::chrono::seconds(20));
    return all_read && !expected.empty();
  }
};

TEST_F(PullStreamIsolation, ASubscriptionRefusedForGoodDoesNotStallTheOtherSubscriptions) {
  start_emulator();
  // The refused subscription is listed first: it is the first stream read.
  write_config(source("activity", "azure_activity",
                      std::string("requests_per_10s: 1000\nsubscriptions: [") + kForbiddenSub + ", " + kSub + "]"));
  server_->add_fault(httpd::Fault::with_status(std::string("/subscriptions/") + kForbiddenSub + "/", 403, 1'000'000, {}, kForbiddenBody));
  const bool all_read = run_until_every_activity_record_is_delivered();
  const std::string err = slurp(dir_ / "stderr");
  EXPECT_TRUE(all_read) << "the readable subscription's events were not delivered while the other one is refused\n" << err;
  // The refused stream is reported, naming its subscription and the service's error code.
  EXPECT_NE(err.find("AuthorizationFailed"), std::string::npos) << err;
  EXPECT_NE(err.find(kForbiddenSub), std::string::npos) << err;
}

// Every stream refused while the source has read nothing: one refusal goes to the pipeline (the
// source is not ready), and the other refused streams are logged too, each named.
TEST_F(PullStreamIsolation, EveryRefusedStreamIsLoggedWhenNoneCanBeRead) {
  constexpr const char* kOtherSub = "55555555-5555-5555-5555-555555555555";
  start_emulator();
  write_config(source("activity", "azure_activity",
                      std::string("requests_per_10s: 1000\nsubscriptions: [") + kForbiddenSub + ", " + kOtherSub + "]"));
  server_->add_fault(httpd::Fault::with_status("/subscriptions/", 403, 1'000'000, {}, kForbiddenBody));
  const pid_t pid = start_connector();
  ASSERT_GT(pid, 0);
  auto named = [&](const std::string& sub) {
    for (const auto& line : error_lines(slurp(dir_ / "stderr")))
      if (line.find("stream " + sub) != std::string::npos) return true;
    return false;
  };
  const bool both = test::wait_until([&] { return named(kForbiddenSub) && named(kOtherSub); }, std::chrono::seconds(30),
                                     std::chrono::milliseconds(100));
  stop_connector(pid, std::chrono::seconds(20));
  EXPECT_TRUE(both) << slurp(dir_ / "stderr");
}

// A stream whose windows keep failing after their retries (an endpoint that answers 503 to every
// request) is read again, but only after the other streams had their turn.
TEST_F(PullStreamIsolation, ASubscriptionFailingEveryWindowDoesNotStarveTheOtherSubscriptions) {
  start_emulator();
  write_config(source("activity", "azure_activity",
                      std::string("requests_per_10s: 1000\nsubscriptions: [") + kForbiddenSub + ", " + kSub + "]"));
  server_->add_fault(httpd::Fault::with_status(std::string("/subscriptions/") + kForbiddenSub + "/", 503, 1'000'000,
                                               {{"Retry-After", "0"}}, R"({"error":{"code":"ServerBusy","message":"busy"}})"));
  const bool all_read = run_until_every_activity_record_is_delivered();
  EXPECT_TRUE(all_read) << "the healthy subscription's events were not delivered while the other one fails\n" << slurp(dir_ / "stderr");
}

// A refused stream waits on its own backoff (its interval doubled per refusal: 1, 2, 4, 8, 16 s
// ...) while the healthy subscription keeps its poll_interval (1 s) cadence, and the refusal is
// logged once per refused request (not on every idle poll), with the count. Held by structure,
// not by wall-clock gaps: the healthy subscription is polled about once a second of the refused
// one's wait, so about 16 times between its fifth and sixth refusal. Were a refusal handed to the
// pipeline on idle polls (its backoff, 5 s at least, stops every stream), that would be 4 or fewer.
TEST_F(PullStreamIsolation, AHealthySubscriptionKeepsItsPollCadenceWhileAnotherIsRefused) {
  start_emulator();
  write_config(source("activity", "azure_activity",
                      std::string("requests_per_10s: 1000\nsubscriptions: [") + kForbiddenSub + ", " + kSub + "]"));
  server_->add_fault(httpd::Fault::with_status(std::string("/subscriptions/") + kForbiddenSub + "/", 403, 1'000'000, {}, kForbiddenBody));
  const pid_t pid = start_connector();
  ASSERT_GT(pid, 0);
  // groups[i]: the healthy subscription's polls between the refused subscription's i-th and
  // (i+1)-th request (the last group: after the latest one).
  auto per_refusal = [&] {
    const json stats = endpoint_stats("arm.activity");
    auto refused = activity_requests(stats, kForbiddenSub);
    std::sort(refused.begin(), refused.end());
    std::vector<std::size_t> groups(refused.size(), 0);
    for (const auto t : activity_requests(stats, kSub)) {
      const auto after = std::upper_bound(refused.begin(), refused.end(), t);
      if (after != refused.begin()) ++groups[static_cast<std::size_t>(after - refused.begin()) - 1];
    }
    return groups;
  };
  constexpr std::size_t kRefusals = 6;  // the fifth wait (16 s) complete
  const bool refused = test::wait_until([&] { return per_refusal().size() >= kRefusals; }, std::chrono::seconds(120),
                                        std::chrono::milliseconds(100));
  stop_connector(pid, std::chrono::seconds(20));
  const std::string err = slurp(dir_ / "stderr");
  const auto groups = per_refusal();
  std::string shape;
  for (const auto n : groups) shape += std::to_string(n) + " ";
  ASSERT_TRUE(refused) << "healthy polls per refusal: " << shape << "\n" << err;
  EXPECT_GE(groups[kRefusals - 2], 8u) << "healthy polls per refusal: " << shape << "\n" << err;
  // One error line per refused request (its Activity Log and its ARM PIM requests streams), the
  // repeats with their count (besides the one at shutdown naming the streams still refused).
  const auto refusals = activity_requests(endpoint_stats("arm.activity"), kForbiddenSub).size() +
                        activity_requests(endpoint_stats("arm.roleAssignmentScheduleRequests"), kForbiddenSub).size();
  std::size_t lines = 0;
  for (const auto& line : error_lines(err))
    lines += line.find(kForbiddenSub) != std::string::npos && line.find("not read since") == std::string::npos ? 1 : 0;
  EXPECT_GE(lines, 1u) << err;
  EXPECT_LE(lines, refusals) << err;
  EXPECT_NE(err.find("refused 2 time(s) in a row"), std::string::npos) << err;
}

// `run --once` with a refused stream: every other stream is read and delivered and its checkpoint
// advances; the run then ends with exit status 2 (a source failed), naming the refused stream and
// the service's answer.
TEST_F(PullStreamIsolation, RunOnceReadsEveryOtherStreamThenFailsNamingTheRefusedOne) {
  start_emulator();
  write_config(source("activity", "azure_activity",
                      std::string("requests_per_10s: 1000\nsubscriptions: [") + kForbiddenSub + ", " + kSub + "]"));
  server_->add_fault(httpd::Fault::with_status(std::string("/subscriptions/") + kForbiddenSub + "/", 403, 1'000'000, {}, kForbiddenBody));
  const auto expected = emulator_ids({"activity"});
  ASSERT_FALSE(expected.empty());
  const auto r = run(std::chrono::seconds(120));
  EXPECT_EQ(r.status, 2) << r.err;
  const auto got = delivered(0);
  for (const auto& id : expected) EXPECT_TRUE(got.count(id)) << "not delivered: " << id << "\n" << r.err;
  // One error line for the run, naming the refused subscription with the service's answer.
  std::vector<std::string> naming;
  for (const auto& line : error_lines(r.err))
    if (line.find("source activity") != std::string::npos) naming.push_back(line);
  ASSERT_EQ(naming.size(), 1u) << r.err;
  EXPECT_NE(naming[0].find(kForbiddenSub), std::string::npos) << naming[0];
  EXPECT_NE(naming[0].find("HTTP 403"), std::string::npos) << naming[0];
  EXPECT_NE(naming[0].find("AuthorizationFailed"), std::string::npos) << naming[0];
  // The healthy stream's checkpoint advanced; the refused one has none (read from its start next time).
  StateStore state(dir_ / "state");
  const auto cp = state.get(StateStore::checkpoint_key("activity"));
  ASSERT_TRUE(cp) << r.err;
  const auto streams = json::parse(*cp).at("streams");
  EXPECT_TRUE(streams.contains(kSub) && streams[kSub].contains("end")) << *cp;
  EXPECT_FALSE(streams.contains(kForbiddenSub)) << *cp;
}


// A continuous run in which the service refuses one subscription after the other one read: the
// refusal shows per stream on /metrics (siem_source_stream_refused 1 for the refused streams, 0
// for the readable one) and in /readyz's detail (the source stays ready: it reads its other
// streams), and at SIGTERM the run ends as `run --once` would: exit status 2, an error line and
// the summary (`FAILED`) naming the refused stream with the service's answer.
TEST_F(PullStreamIsolation, ContinuousRunShowsARefusedStreamPerStreamAndExitsTwoAtSigterm) {
  start_emulator();
  write_config(source("activity", "azure_activity",
                      std::string("requests_per_10s: 1000\nsubscriptions: [") + kSub + ", " + kForbiddenSub + "]"));
  std::ofstream(dir_ / "config.yaml", std::ios::app) << "observability: {listen: \"127.0.0.1:0\"}\n";
  server_->add_fault(httpd::Fault::with_status(std::string("/subscriptions/") + kForbiddenSub + "/", 403, 1'000'000, {}, kForbiddenBody));
  const auto expected = emulator_ids({"activity"});
  ASSERT_FALSE(expected.empty());
  const pid_t pid = start_connector();
  ASSERT_GT(pid, 0);
  int port = 0;
  const bool listening = test::wait_until([&] { return (port = test::port_in_log(slurp(dir_ / "stderr"))) != 0; },
                                          std::chrono::seconds(20), std::chrono::milliseconds(20));
  auto get = [&](const std::string& path) {
    return test::http_fetch("GET", "http://127.0.0.1:" + std::to_string(port) + path).body;
  };
  auto sample = [](const std::string& stream, int v) {
    return "siem_source_stream_refused{source=\"activity\",stream=\"" + stream + "\"} " + std::to_string(v) + "\n";
  };
  std::string metrics;
  const bool shown = listening && test::wait_until(
      [&] {
        const auto got = delivered(0);
        if (!std::all_of(expected.begin(), expected.end(), [&](const std::string& id) { return got.count(id) > 0; }))
          return false;
        metrics = get("/metrics");
        return metrics.find(sample(kForbiddenSub, 1)) != std::string::npos;
      },
      std::chrono::seconds(60), std::chrono::milliseconds(100));
  const std::string ready = listening ? get("/readyz") : "";
  kill(pid, SIGTERM);
  int status = -1;
  if (!test::wait_until([&] { return waitpid(pid, &status, WNOHANG) == pid; }, std::chrono::seconds(30),
                        std::chrono::milliseconds(20))) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
  const std::string err = slurp(dir_ / "stderr") + slurp(dir_ / "stdout");
  ASSERT_TRUE(shown) << metrics << "\n" << err;
  EXPECT_NE(metrics.find(sample("pim." + std::string(kForbiddenSub), 1)), std::string::npos) << metrics;
  EXPECT_NE(metrics.find(sample(kSub, 0)), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("siem_source_stream_refusals_total{source=\"activity\",stream=\"" + std::string(kForbiddenSub) + "\"} "),
            std::string::npos) << metrics;
  // /readyz (no authentication) names the stream, the status and the service's error code, never
  // the answer's text (it names the client and the scope); the logs keep it.
  EXPECT_NE(ready.find("source activity: degraded: refused by the service, not read: stream " + std::string(kForbiddenSub) +
                       ": HTTP 403 AuthorizationFailed; stream pim." + std::string(kForbiddenSub) +
                       ": HTTP 403 AuthorizationFailed\n"),
            std::string::npos) << ready;
  EXPECT_EQ(ready.find("does not have authorization"), std::string::npos) << ready;
  EXPECT_EQ(ready.find("/subscriptions/"), std::string::npos) << ready;
  ASSERT_TRUE(WIFEXITED(status)) << err;
  EXPECT_EQ(WEXITSTATUS(status), 2) << err;
  bool error_line = false;
  for (const auto& line : error_lines(err))
    error_line |= line.find("source activity: refused by the service") != std::string::npos &&
                  line.find(kForbiddenSub) != std::string::npos && line.find("AuthorizationFailed") != std::string::npos;
  EXPECT_TRUE(error_line) << err;
  const auto summary = err.find("summary:");
  ASSERT_NE(summary, std::string::npos) << err;
  const auto line_end = err.find('\n', err.find("    activity ", summary));
  EXPECT_NE(err.substr(summary, line_end - summary).find("FAILED"), std::string::npos) << err.substr(summary);
  EXPECT_NE(err.find("refused by the service, not read: stream " + std::string(kForbiddenSub), summary), std::string::npos)
      << err.substr(summary);
}


// Seconds since the epoch of an ISO 8601 UTC time ("2026-12-07T17:26:28..."), to the second.
std::int64_t epoch_seconds(const std::string& iso) {
  std::tm tm{};
  if (iso.size() < 19 || !strptime(iso.substr(0, 19).c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) return -1;
  return static_cast<std::int64_t>(timegm(&tm));
}

// `run --once` backfilling several windows (a 4 h first-run lookback, 1 h windows): one
// subscription reads two windows, then the service refuses it (the subscription was removed mid-run:
// ARM's 404 SubscriptionNotFound). Having completed windows earlier does not make the refused
// stream done: the run exits 2 naming it, the other subscription's events are delivered and
// checkpointed, and the refused one's checkpoint is not past what it read (its events, in the last
// hour, are read by the next run).
TEST_F(PullStreamIsolation, RunOnceFailsWhenAStreamIsRefusedAfterCompletingAWindow) {
  constexpr const char* kRemovedSub = "55555555-5555-5555-5555-555555555555";
  subscriptions_ = {kSub, kRemovedSub};
  window_keys_ = "    initial_lookback: 4h\n";
  start_emulator();
  write_config(source("activity", "azure_activity",
                      std::string("requests_per_10s: 1000\nsubscriptions: [") + kRemovedSub + ", " + kSub + "]"));
  auto fault = httpd::Fault::with_status(
      std::string("/subscriptions/") + kRemovedSub + "/providers/Microsoft.Insights/eventtypes/management/values", 404, 1'000'000,
      {}, std::string(R"({"error":{"code":"SubscriptionNotFound","message":"The subscription ')") + kRemovedSub + "' could not be found.\"}}");
  fault.after = 2;  // its first two windows are read
  server_->add_fault(fault);
  std::set<std::string> healthy, removed;
  std::int64_t oldest_removed = INT64_MAX;
  for (const auto& r : emu_->records("activity")) {
    const bool of_removed = r.value("subscriptionId", "") == kRemovedSub;
    (of_removed ? removed : healthy).insert(record_id(r));
    if (of_removed) oldest_removed = std::min(oldest_removed, epoch_seconds(r.value("eventTimestamp", "")));
  }
  ASSERT_FALSE(healthy.empty());
  ASSERT_FALSE(removed.empty());
  const auto started = std::chrono::system_clock::now();
  const auto r = run(std::chrono::seconds(120));
  EXPECT_EQ(r.status, 2) << "the run ended as if every stream had been read\n" << r.err;
  // The refused subscription read its two windows, then was refused.
  const auto requests = activity_requests(endpoint_stats("arm.activity"), kRemovedSub);
  ASSERT_GE(requests.size(), 3u) << r.err;
  const auto got = delivered(0);
  for (const auto& id : healthy) EXPECT_TRUE(got.count(id)) << "not delivered: " << id << "\n" << r.err;
  for (const auto& id : removed) EXPECT_FALSE(got.count(id)) << "delivered, though its window was refused: " << id;
  std::vector<std::string> naming;
  for (const auto& line : error_lines(r.err))
    if (line.find("source activity") != std::string::npos) naming.push_back(line);
  ASSERT_EQ(naming.size(), 1u) << r.err;
  EXPECT_NE(naming[0].find(kRemovedSub), std::string::npos) << naming[0];
  EXPECT_NE(naming[0].find("SubscriptionNotFound"), std::string::npos) << naming[0];
  StateStore state(dir_ / "state");
  const auto cp = state.get(StateStore::checkpoint_key("activity"));
  ASSERT_TRUE(cp) << r.err;
  const auto streams = json::parse(*cp).at("streams");
  ASSERT_TRUE(streams.contains(kSub) && streams[kSub].contains("end")) << *cp;
  const std::int64_t start_s = std::chrono::duration_cast<std::chrono::seconds>(started.time_since_epoch()).count();
  EXPECT_GE(epoch_seconds(streams[kSub]["end"].get<std::string>()), start_s - 60) << "the healthy stream was not read up to now: " << *cp;
  // The refused stream's checkpoint ends where its two read windows did (about 2 h ago): before its
  // first unread event.
  ASSERT_TRUE(streams.contains(kRemovedSub) && streams[kRemovedSub].contains("end")) << *cp;
  const std::int64_t end = epoch_seconds(streams[kRemovedSub]["end"].get<std::string>());
  EXPECT_LE(end, start_s - 2 * 3600 + 60) << *cp;
  EXPECT_LT(end, oldest_removed) << *cp;
}


// Shutdown while a token request waits to be retried: the managed identity endpoint (IMDS)
// answers 503 with a long Retry-After, the provider's retry schedule (2, 4, 8, 16 s: 30 s in all)
// is under way, and SIGTERM ends the wait at once, not at the end of the schedule.
using PullShutdown = PullStreamIsolation;

TEST_F(PullShutdown, SigtermEndsAManagedIdentityRetryWaitPromptly) {
  start_emulator();
  std::string src = source("audit", "graph_directory_audits", "requests_per_10s: 1000");
  const auto auth_at = src.find("    auth:\n");
  const auto tls_at = src.find("    tls:");
  ASSERT_NE(auth_at, std::string::npos);
  ASSERT_NE(tls_at, std::string::npos);
  ASSERT_LT(auth_at, tls_at);
  src.replace(auth_at, tls_at - auth_at, "    auth: {method: managed_identity, endpoint: " + url_ + "/metadata/identity/oauth2/token}\n");
  write_config(src);
  server_->add_fault(httpd::Fault::with_status("/metadata/identity/", 503, 1'000'000, {{"Retry-After", "60"}},
                                               R"({"error":"temporarily_unavailable","error_description":"busy"})"));
  const pid_t pid = start_connector();
  ASSERT_GT(pid, 0);
  // Three requests: the provider now waits 8 s before the fourth, and 16 s after that.
  const bool asked = test::wait_until([&] { return endpoint_stats("imds")["count"].get<int>() >= 3; }, std::chrono::seconds(30),
                                      std::chrono::milliseconds(20));
  const auto t0 = std::chrono::steady_clock::now();
  kill(pid, SIGTERM);
  int status = 0;
  const bool exited = test::wait_until([&] { return waitpid(pid, &status, WNOHANG) == pid; }, std::chrono::seconds(40),
                                       std::chrono::milliseconds(20));
  const auto took = std::chrono::steady_clock::now() - t0;
  if (!exited) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
  const std::string err = slurp(dir_ / "stderr");
  ASSERT_TRUE(asked) << err;
  ASSERT_TRUE(exited) << err;
  EXPECT_LT(took, std::chrono::seconds(5)) << "SIGTERM waited for the token retry schedule\n" << err;
  EXPECT_TRUE(WIFEXITED(status)) << err;
  EXPECT_LT(endpoint_stats("imds")["count"].get<int>(), 5) << "no token request after the shutdown began";
}


// A live reload that restarts the pipeline (a pipeline setting changed) builds its sources anew: a
// stream the service refused stays refused in the new pipeline until it reads again, as a platform
// team expects of a reload that keeps the source, also through two reloads in a row. After the
// reloads the service answers that subscription 503 (the stream neither reads nor is refused again), and /metrics
// (siem_source_stream_refused 1, its refusals counter not back to 0) and /readyz still name it.
// Once the service answers it, the stream reads and the refusal clears everywhere.
TEST_F(PullStreamIsolation, ARefusedStreamStaysRefusedAcrossAPipelineRestartUntilItReads) {
  subscriptions_ = {kSub, kForbiddenSub};  // both exist: the refused one reads once the service lets it
  start_emulator();
  const std::string src = source("activity", "azure_activity",
                                 std::string("requests_per_10s: 1000\nsubscriptions: [") + kSub + ", " + kForbiddenSub + "]");
  const std::string observability = "observability: {listen: \"127.0.0.1:0\"}\n";
  write_config(src);
  std::ofstream(dir_ / "config.yaml", std::ios::app) << observability;
  const std::string forbidden = std::string("/subscriptions/") + kForbiddenSub + "/";
  server_->add_fault(httpd::Fault::with_status(forbidden, 403, 1'000'000, {}, kForbiddenBody));
  const pid_t pid = start_connector();
  ASSERT_GT(pid, 0);
  struct Stop {
    pid_t pid;
    ~Stop() { stop_connector(pid, std::chrono::seconds(30)); }
  } stop{pid};
  int port = 0;
  ASSERT_TRUE(test::wait_until([&] { return (port = test::port_in_log(slurp(dir_ / "stderr"))) != 0; },
                               std::chrono::seconds(20), std::chrono::milliseconds(20)))
      << slurp(dir_ / "stderr");
  auto get = [&](const std::string& path) {
    return test::http_fetch("GET", "http://127.0.0.1:" + std::to_string(port) + path).body;
  };
  // The value of a sample of the stream, -1 when absent.
  auto value = [](const std::string& metrics, const std::string& family) {
    const std::string sample = family + "{source=\"activity\",stream=\"" + kForbiddenSub + "\"} ";
    const auto at = metrics.find(sample);
    return at == std::string::npos ? -1.0 : std::strtod(metrics.c_str() + at + sample.size(), nullptr);
  };
  const std::string degraded = "source activity: degraded: refused by the service, not read: stream " +
                               std::string(kForbiddenSub) + ": HTTP 403 AuthorizationFailed";
  std::string metrics;
  // Polls /metrics (kept in `metrics`) until the stream's refused gauge reads `want`.
  auto refused_becomes = [&](double want, std::chrono::seconds limit) {
    return test::wait_until(
        [&] {
          metrics = get("/metrics");
          return value(metrics, "siem_source_stream_refused") == want;
        },
        limit, std::chrono::milliseconds(100));
  };
  ASSERT_TRUE(refused_becomes(1.0, std::chrono::seconds(60))) << metrics << slurp(dir_ / "stderr");
  const double refusals = value(metrics, "siem_source_stream_refusals_total");
  EXPECT_GE(refusals, 1.0) << metrics;

  // The 503s the service answered the refused subscription.
  auto unavailable = [&] {
    const auto stats = endpoint_stats("arm.activity");
    int n = 0;
    for (std::size_t i = 0; i < stats["targets"].size(); ++i)
      n += stats["statuses"][i].get<int>() == 503 && stats["targets"][i].get<std::string>().find(kForbiddenSub) != std::string::npos;
    return n;
  };
  server_->clear_faults();
  server_->add_fault(httpd::Fault::with_status(forbidden, 503, 1'000'000, {{"Retry-After", "0"}},
                                               R"({"error":{"code":"ServerBusy","message":"busy"}})"));
  // Two reloads in a row, the second as soon as the first restarted the pipeline (its new source may
  // not have started and registered the stream yet): the refusal survives both.
  auto restarts = [&] {
    const std::string log = slurp(dir_ / "stderr");
    int n = 0;
    for (auto at = log.find("pipeline: starting with the reloaded configuration"); at != std::string::npos;
         at = log.find("pipeline: starting with the reloaded configuration", at + 1))
      ++n;
    return n;
  };
  for (const int drain_s : {3, 4}) {
    const int before_reload = restarts();
    write_config(src);
    std::ofstream(dir_ / "config.yaml", std::ios::app)
        << observability << "pipeline: {drain_timeout: " << drain_s << "s}\n";
    kill(pid, SIGHUP);
    ASSERT_TRUE(test::wait_until([&] { return restarts() > before_reload; }, std::chrono::seconds(60),
                                 std::chrono::milliseconds(5)))
        << slurp(dir_ / "stderr");
  }
  // The new pipeline asked the subscription and got an answer that neither reads nor refuses.
  const int before = unavailable();
  ASSERT_TRUE(test::wait_until([&] { return unavailable() > before; }, std::chrono::seconds(60),
                               std::chrono::milliseconds(50)))
      << slurp(dir_ / "stderr");
  metrics = get("/metrics");
  EXPECT_EQ(value(metrics, "siem_source_stream_refused"), 1.0) << "the refusal was lost in the reload\n" << metrics;
  EXPECT_GE(value(metrics, "siem_source_stream_refusals_total"), refusals) << metrics;
  EXPECT_NE(get("/readyz").find(degraded), std::string::npos) << get("/readyz");

  // The service answers the subscription again: the stream reads, and is no longer refused.
  server_->clear_faults();
  EXPECT_TRUE(refused_becomes(0.0, std::chrono::seconds(90))) << metrics << slurp(dir_ / "stderr");
  EXPECT_EQ(get("/readyz").find("degraded"), std::string::npos) << get("/readyz");
}

}  // namespace
}  // namespace siem::pulltest
