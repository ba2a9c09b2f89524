// The observability endpoint of the real `siem-connector run` against the Graph emulator (HTTPS on
// 127.0.0.1, test CA made at test time):
//   * /readyz answers 503 naming the source while the first token request is held back by the
//     emulator, and 200 once the source has read;
//   * /metrics scraped while a backfill runs parses with the Prometheus reference parser (text
//     and OpenMetrics), its counters move and the source's lag falls;
//   * a sink whose peer stops mid-run (the HEC emulator), or never answered (nothing listens on its
//     port), is named by /readyz and shows as disconnected, retrying and holding events in the
//     sink families;
//   * a disk buffer whose writes fail counts them in siem_sink_buffer_io_errors_total.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdio>
#include <optional>

#include "tests/component/sources/pull_fixture.h"
#include "tests/support/connector_process.h"
#include "tests/support/wait.h"
#include "tools/hec_emulator/hec_emulator.h"

namespace siem::pulltest {
namespace {

struct Scrape {
  json types;
  json samples;
  // The value of the sample `name` whose labels include `labels`; nullopt when absent.
  std::optional<double> value(const std::string& name,
                              const std::map<std::string, std::string>& labels = {}) const {
    for (const auto& s : samples) {
      if (s["name"] != name) continue;
      bool match = true;
      for (const auto& [k, v] : labels) match = match && s["labels"].value(k, "") == v;
      if (match) return s["value"].get<double>();
    }
    return std::nullopt;
  }
};

// A port on 127.0.0.1 that nothing listens on (bound, then closed).
int closed_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

class Observability : public PullRunOnce {
 protected:
  void TearDown() override {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status = 0;
      bool exited = false;
      for (int i = 0; i < 1500 && !exited; ++i) {  // at most 30 s for the drain
        exited = waitpid(pid_, &status, WNOHANG) == pid_;
        if (!exited) std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      if (!exited) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
      }
      EXPECT_TRUE(exited) << "no exit within 30 s of SIGTERM";
    }
    PullRunOnce::TearDown();
  }

  void write_config(const std::string& sources, const std::string& extra_sinks = {}) const {
    std::ofstream(dir_ / "config.yaml")
        << "state_dir: " << (dir_ / "state").string() << "\n"
        << "observability: {listen: \"127.0.0.1:0\"}\n"
        << "pipeline: {drain_timeout: 2s}\n"
        << "sources:\n"
        << sources
        << "sinks:\n  - {name: out, type: file, format: ecs, path: " << (dir_ / "out.ndjson").string()
        << "}\n"
        << extra_sinks;
  }

  // Starts `run` (no --once) and waits for the endpoint's port in its log.
  void launch() {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    const std::string out = (dir_ / "stdout").string(), err = (dir_ / "stderr").string();
    posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::vector<std::string> args{kBinary, "run", "-c", (dir_ / "config.yaml").string()};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ASSERT_EQ(posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    for (int i = 0; i < 1000 && port_ == 0; ++i) {  // at most 20 s
      const std::string log = slurp(dir_ / "stderr");
      port_ = test::port_in_log(log);
      int status = 0;
      ASSERT_NE(waitpid(pid_, &status, WNOHANG), pid_) << "exited early: " << log;
      if (port_ == 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ASSERT_NE(port_, 0) << slurp(dir_ / "stderr");
  }

  // `siem-connector probe` (the container HEALTHCHECK) against this endpoint: its exit status.
  int probe(const std::string& path) const {
    fs::create_directories(dir_ / "probe");
    return run_binary({"probe", "--address", "127.0.0.1:" + std::to_string(port_), "--path", path},
                      dir_ / "probe", std::chrono::seconds(30))
        .status;
  }

  test::TestResponse get(const std::string& path, const httpd::Headers& headers = {}) const {
    return test::http_fetch("GET", "http://127.0.0.1:" + std::to_string(port_) + path, {}, headers);
  }

  // /metrics parsed by the reference parser of the format asked for.
  Scrape scrape(bool openmetrics = false) const {
    httpd::Headers h;
    if (openmetrics) h.emplace_back("Accept", "application/openmetrics-text; version=1.0.0");
    const auto r = get("/metrics", h);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.header("Content-Type")
                  .rfind(openmetrics ? "application/openmetrics-text" : "text/plain; version=0.0.4", 0),
              0u);
    const auto text = dir_ / "scrape.txt", parsed = dir_ / "scrape.json";
    std::ofstream(text, std::ios::binary) << r.body;
    const std::string cmd = std::string(SIEM_SYSTEM_PYTHON) + " " + SIEM_PARSE_EXPOSITION + " " +
                            (openmetrics ? "openmetrics" : "prometheus") + " < " + text.string() + " > " +
                            parsed.string();
    const int rc = std::system(cmd.c_str());
    EXPECT_EQ(rc, 0) << "the reference parser refused the scrape:\n" << r.body;
    if (rc != 0) return {};
    const auto doc = json::parse(slurp(parsed));
    return Scrape{doc["types"], doc["samples"]};
  }

  // `config`: the source entry, named `name` (default: a directory audits source "audit").
  void expect_never_ready(const std::function<int()>& failures, std::string config = {}, const std::string& name = "audit");

  pid_t pid_ = -1;
  int port_ = 0;
};

// A source that cannot read never turns ready: /readyz stays 503 naming it and siem_source_ready
// stays 0 while its error is reported again and again (continuous run). poll_interval is longer
// than the pipeline's first backoffs (5 s, 10 s), so a failing stream put aside until its next
// interval would leave polls that find nothing due (which must not count as reading).
void Observability::expect_never_ready(const std::function<int()>& failures, std::string config, const std::string& name) {
  if (config.empty()) config = source("audit", "graph_directory_audits", "requests_per_10s: 1000");
  const auto interval_at = config.find("poll_interval: 1s");
  ASSERT_NE(interval_at, std::string::npos) << config;
  config.replace(interval_at, 17, "poll_interval: 60s");
  write_config(config);
  launch();
  constexpr int kFailures = 3;  // each after the previous one's backoff
  const bool failed = test::wait_until([&] { return failures() >= kFailures || get("/readyz").status == 200; },
                                       std::chrono::seconds(90), std::chrono::milliseconds(100));
  ASSERT_TRUE(failed) << slurp(dir_ / "stderr");
  const auto ready = get("/readyz");
  EXPECT_EQ(ready.status, 503) << ready.body << slurp(dir_ / "stderr");
  EXPECT_NE(ready.body.find("source " + name + ": not ready"), std::string::npos) << ready.body;
  EXPECT_EQ(scrape().value("siem_source_ready", {{"source", name}}), 0.0);
}

// No token (a wrong client secret): failures are token requests.
TEST_F(Observability, SourceWithAWrongSecretNeverTurnsReady) {
  start_emulator();
  setenv("SIEM_PULL_TEST_SECRET", "not-the-registered-secret", 1);
  expect_never_ready([&] { return endpoint_stats("token")["count"].get<int>(); });
  EXPECT_NE(slurp(dir_ / "stderr").find("invalid_client"), std::string::npos);
}

// The service refuses the source's only stream (403, the permission missing): failures are the
// error lines naming it, which go on while the stream waits for its next turn.
TEST_F(Observability, SourceWhoseOnlyStreamIsRefusedNeverTurnsReady) {
  start_emulator();
  server_->add_fault(httpd::Fault::with_status("/v1.0/auditLogs/directoryAudits", 403, 1'000'000, {},
                                               R"({"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges to complete the operation."}})"));
  expect_never_ready([&] {
    const std::string err = slurp(dir_ / "stderr");
    int n = 0;
    for (auto at = err.find("Authorization_RequestDenied"); at != std::string::npos; at = err.find("Authorization_RequestDenied", at + 1)) ++n;
    return n;
  });
}

// No stream of the source can be read in its first polls: one subscription is refused (403), the
// other answers 503 until its retries run out, window after window. A poll whose window failed
// read nothing: the source never turns ready.
TEST_F(Observability, SourceWhoseStreamsAreRefusedOrFailingNeverTurnsReady) {
  constexpr const char* kForbiddenSub = "44444444-4444-4444-4444-444444444444";
  start_emulator();
  server_->add_fault(httpd::Fault::with_status(std::string("/subscriptions/") + kForbiddenSub + "/", 403, 1'000'000, {},
                                               R"({"error":{"code":"AuthorizationFailed","message":"The client does not have authorization."}})"));
  server_->add_fault(httpd::Fault::with_status(std::string("/subscriptions/") + kSub + "/", 503, 1'000'000, {{"Retry-After", "0"}},
                                               R"({"error":{"code":"ServerBusy","message":"busy"}})"));
  // Failures: the error lines of three windows given up in a row (each after its retries), each
  // followed by the pipeline's backoff.
  expect_never_ready(
      [&] {
        int n = 0;
        for (const auto& line : error_lines(slurp(dir_ / "stderr"))) n += line.find("windows in a row") != std::string::npos ? 1 : 0;
        return n;
      },
      source("activity", "azure_activity", std::string("requests_per_10s: 1000\nsubscriptions: [") + kForbiddenSub + ", " + kSub + "]"),
      "activity");
  EXPECT_NE(slurp(dir_ / "stderr").find("AuthorizationFailed"), std::string::npos);
}

TEST_F(Observability, ReadyAfterFirstTokenMetricsMoveAndLagFalls) {
  start_emulator();
  // The first token request is held for 4 s: the source cannot have read before it is answered.
  server_->add_fault(
      httpd::Fault::slow(std::string("/") + kTenant + "/oauth2", std::chrono::milliseconds(4000)));
  // Every page a little slow, so the 18-window backfill is seen in progress.
  server_->add_fault(httpd::Fault::slow("/v1.0/auditLogs", std::chrono::milliseconds(150), 200));
  window_keys_ = "    initial_lookback: 6h\n    max_window: 20m\n";
  write_config(source("audit", "graph_directory_audits", "page_size: 5\nrequests_per_10s: 1000"));
  launch();

  // The sinks start next to the sources; on a loaded machine the first answer may still find the
  // file sink starting. Ask again (bounded, well inside the 4 s the token is held back) until it is.
  auto before = get("/readyz");
  for (int i = 0; i < 40 && before.body.find("sink out: ok") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    before = get("/readyz");
  }
  EXPECT_EQ(before.status, 503) << before.body;
  EXPECT_NE(before.body.find("source audit: not ready"), std::string::npos) << before.body;
  EXPECT_NE(before.body.find("sink out: ok"), std::string::npos) << before.body;
  EXPECT_EQ(get("/healthz").status, 200);
  EXPECT_EQ(probe("/readyz"), 1);
  EXPECT_EQ(endpoint_stats("token")["count"].get<int>(), 0)
      << "the token was answered before /readyz was asked";

  std::vector<double> lags, records;
  bool ready = false;
  Scrape last;
  for (int i = 0; i < 600; ++i) {  // at most 600 scrapes (each bounded by the client's timeouts)
    last = scrape();
    if (HasFailure()) return;
    records.push_back(last.value("siem_source_records_total", {{"source", "audit"}}).value_or(-1));
    if (auto lag = last.value("siem_source_lag_seconds", {{"source", "audit"}})) lags.push_back(*lag);
    ready = ready || get("/readyz").status == 200;
    if (ready && !lags.empty() && lags.back() < 120) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(ready) << slurp(dir_ / "stderr");
  EXPECT_EQ(probe("/readyz"), 0);
  EXPECT_EQ(probe("/healthz"), 0);
  ASSERT_GE(lags.size(), 2u);
  EXPECT_GT(lags.front(), 600) << "the backfill was not seen in progress";
  EXPECT_LT(lags.back(), 120);
  EXPECT_LT(lags.back(), lags.front());
  EXPECT_LT(records.front(), records.back()) << "records counter did not move between scrapes";
  EXPECT_GT(last.value("siem_source_pages_total", {{"source", "audit"}}).value_or(0), 18);
  EXPECT_GT(last.value("siem_source_last_window_timestamp_seconds", {{"source", "audit"}}).value_or(0),
            1.6e9);
  EXPECT_EQ(last.value("siem_source_ready", {{"source", "audit"}}), 1.0);
  EXPECT_EQ(last.value("siem_sink_connected", {{"sink", "out"}}), 1.0);
  // Every record read reaches the sink and is acknowledged, and each delivery is in the histogram.
  const auto read = last.value("siem_source_records_total", {{"source", "audit"}}).value_or(0);
  EXPECT_GT(read, 0);
  for (int i = 0; i < 250 && last.value("siem_sink_events_acked_total", {{"sink", "out"}}) != read; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    last = scrape();
  }
  EXPECT_EQ(last.value("siem_sink_events_acked_total", {{"sink", "out"}}), read);
  const auto count = last.value("siem_sink_send_duration_seconds_count", {{"sink", "out"}}).value_or(0);
  EXPECT_GT(count, 0);
  EXPECT_EQ(last.value("siem_sink_send_duration_seconds_bucket", {{"sink", "out"}, {"le", "+Inf"}}), count);
  EXPECT_EQ(last.value("siem_mapping_events_total", {{"kind", "graph_directory_audit"}}), read);
  EXPECT_GT(last.value("process_resident_memory_bytes").value_or(0), 0);
  EXPECT_GT(last.value("process_open_fds").value_or(0), 0);
  EXPECT_EQ(last.value("siem_build_info", {{"version", SIEM_VERSION}}), 1.0);
  EXPECT_EQ(last.types["siem_sink_send_duration_seconds"], "histogram");

  // The same counters in OpenMetrics, when asked for.
  const auto om = scrape(/*openmetrics=*/true);
  EXPECT_EQ(om.types["siem_source_records"], "counter");
  EXPECT_EQ(om.value("siem_source_records_total", {{"source", "audit"}}), read);

  // Only GET on the known paths.
  EXPECT_EQ(get("/nope").status, 404);
  EXPECT_EQ(test::http_fetch("POST", "http://127.0.0.1:" + std::to_string(port_) + "/metrics", "x").status,
            405);
}

// The HEC emulator serves the `hec` sink until it is stopped mid-run; the next records then stay
// with that sink: /readyz turns 503 naming it, and its metrics show it disconnected and retrying.
TEST_F(Observability, SinkStoppedMidRunShowsInReadyzAndSinkMetrics) {
  start_emulator();
  auto hec_server = test::make_tls_server(*pki_);
  auto hec = std::make_unique<hec::HecEmulator>(hec::HecOptions{}, *hec_server);
  hec_server->start();
  const std::string sink = "  - name: hec\n    type: splunk_hec\n    format: ecs\n    url: " + hec_server->base_url() +
                           "\n    token: ${SIEM_TEST_HEC_TOKEN}\n    tls: {ca_file: " + pki_->ca_pem() + "}\n" +
                           "    batch: {timeout: 50ms}\n    retry: {initial_backoff: 100ms, max_backoff: 500ms}\n";
  setenv("SIEM_TEST_HEC_TOKEN", hec::HecOptions{}.tokens.front().c_str(), 1);
  write_config(source("audit", "graph_directory_audits", "requests_per_10s: 1000"), sink);
  launch();

  Scrape s;
  int status = 0;
  for (int i = 0; i < 1000 && !HasFailure(); ++i) {  // until everything read so far reached hec
    status = get("/readyz").status;
    s = scrape();
    const auto read = s.value("siem_source_records_total", {{"source", "audit"}}).value_or(0);
    if (status == 200 && read > 0 && s.value("siem_sink_events_acked_total", {{"sink", "hec"}}) == read) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(status, 200) << get("/readyz").body;
  EXPECT_EQ(s.value("siem_sink_connected", {{"sink", "hec"}}), 1.0);
  const auto read_before = s.value("siem_source_records_total", {{"source", "audit"}}).value_or(0);

  // The server first: its connection threads call into the emulator while the connector sends.
  hec_server.reset();
  hec.reset();
  auto rec = emu_->records("directoryAudits").front();
  rec["id"] = "after-hec-stopped";
  rec["activityDateTime"] = emulator::format_time(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch()).count() -
      5'000'000);
  emu_->add_record("directoryAudits", rec);

  test::TestResponse ready;
  // Until the new record is held by hec and its failed delivery shows in every figure asserted
  // below (the sink's thread sets them one after the other, between this test's requests).
  for (int i = 0; i < 1000 && !HasFailure(); ++i) {
    ready = get("/readyz");
    s = scrape();
    if (ready.status == 503 && s.value("siem_sink_events_in_flight", {{"sink", "hec"}}) > 0 &&
        s.value("siem_sink_connected", {{"sink", "hec"}}) == 0.0 &&
        s.value("siem_sink_retries_total", {{"sink", "hec"}}).value_or(0) > 0 &&
        s.value("siem_source_records_total", {{"source", "audit"}}).value_or(0) > read_before)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(ready.status, 503) << ready.body;
  EXPECT_NE(ready.body.find("sink hec: not ready"), std::string::npos) << ready.body;
  EXPECT_NE(ready.body.find("sink out: ok"), std::string::npos) << ready.body;
  EXPECT_GT(s.value("siem_source_records_total", {{"source", "audit"}}).value_or(0), read_before);
  EXPECT_EQ(s.value("siem_sink_connected", {{"sink", "hec"}}), 0.0);
  EXPECT_GT(s.value("siem_sink_retries_total", {{"sink", "hec"}}).value_or(0), 0);
  EXPECT_GT(s.value("siem_sink_events_in_flight", {{"sink", "hec"}}).value_or(0), 0);
  EXPECT_EQ(s.value("siem_sink_events_acked_total", {{"sink", "hec"}}), read_before);
  EXPECT_EQ(probe("/readyz"), 1);
}

// A sink whose peer never answered (nothing listens on its port) is not ready from the start.
TEST_F(Observability, UnreachableSinkShowsInReadyzAndSinkMetrics) {
  start_emulator();
  const std::string hec =
      "  - name: hec\n    type: splunk_hec\n    format: ecs\n    url: https://127.0.0.1:" +
      std::to_string(closed_port()) + "\n    token: 00000000-0000-0000-0000-000000000000\n" +
      "    tls: {ca_file: " + pki_->ca_pem() + "}\n" +
      "    retry: {initial_backoff: 100ms, max_backoff: 500ms}\n";
  write_config(source("audit", "graph_directory_audits", "requests_per_10s: 1000"), hec);
  launch();

  test::TestResponse ready;
  Scrape s;
  // At most 1000 rounds: until the source has read, hec holds events and the file sink has
  // acknowledged everything read so far (it writes on its own thread, so that can come later).
  for (int i = 0; i < 1000; ++i) {
    ready = get("/readyz");
    s = scrape();
    if (HasFailure()) return;
    const auto read = s.value("siem_source_records_total", {{"source", "audit"}}).value_or(0);
    if (ready.body.find("source audit: ok") != std::string::npos &&
        s.value("siem_sink_events_in_flight", {{"sink", "hec"}}) > 0 &&
        s.value("siem_sink_retries_total", {{"sink", "hec"}}) > 0 && read > 0 &&
        s.value("siem_sink_events_acked_total", {{"sink", "out"}}) == read)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(ready.status, 503) << ready.body;
  EXPECT_NE(ready.body.find("source audit: ok"), std::string::npos) << ready.body;
  EXPECT_NE(ready.body.find("sink hec: not ready"), std::string::npos) << ready.body;
  EXPECT_NE(ready.body.find("sink out: ok"), std::string::npos) << ready.body;
  EXPECT_EQ(probe("/readyz"), 1);
  EXPECT_EQ(probe("/healthz"), 0);
  EXPECT_EQ(s.value("siem_sink_connected", {{"sink", "hec"}}), 0.0);
  EXPECT_EQ(s.value("siem_sink_connected", {{"sink", "out"}}), 1.0);
  // Its deliveries are retried and the events held (in flight), none acknowledged; the file sink got them.
  EXPECT_GT(s.value("siem_sink_retries_total", {{"sink", "hec"}}).value_or(0), 0);
  EXPECT_EQ(s.value("siem_sink_events_acked_total", {{"sink", "hec"}}), 0.0);
  EXPECT_GT(s.value("siem_sink_events_in_flight", {{"sink", "hec"}}).value_or(0), 0);
  EXPECT_EQ(s.value("siem_sink_events_acked_total", {{"sink", "out"}}),
            s.value("siem_source_records_total", {{"source", "audit"}}));
}

// A disk buffer whose writes fail: its first segment cannot be created (a directory already has
// its name, EEXIST), so every append fails and is retried. The failures are counted on /metrics
// (both formats, parsed by the reference parser); once the name is free the events are delivered
// and the counter keeps what it counted.
TEST_F(Observability, DiskBufferIoErrorsAreCounted) {
  std::ofstream(dir_ / "in.ndjson").flush();
  write_config("  - {name: audit-file, type: file, path: " + (dir_ / "in.ndjson").string() + ", poll_interval: 100ms}\n",
               "  - {name: spooled, type: file, format: raw, path: " + (dir_ / "spooled.ndjson").string() +
                   ", buffer: {type: disk, max_size: 1MiB}, retry: {initial_backoff: 100ms, max_backoff: 500ms}}\n");
  launch();
  // The buffer was opened before the endpoint started: its first segment name is taken now.
  const fs::path blocker = dir_ / "state" / "buffers" / "spooled" / "00000000000000000001.seg";
  ASSERT_TRUE(fs::create_directory(blocker)) << blocker;
  {
    std::ofstream in(dir_ / "in.ndjson");
    for (int i = 0; i < 5; ++i)
      in << R"({"id":"io-)" << i << R"(","category":"RoleManagement","activityDisplayName":"Add member to role",)"
         << R"("activityDateTime":"2026-03-04T10:15:30Z","loggedByService":"Core Directory","result":"success"})" << "\n";
  }
  Scrape s;
  for (int i = 0; i < 500 && !HasFailure(); ++i) {  // at most about 10 s
    s = scrape();
    if (s.value("siem_sink_buffer_io_errors_total", {{"sink", "spooled"}}).value_or(0) >= 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_GE(s.value("siem_sink_buffer_io_errors_total", {{"sink", "spooled"}}).value_or(0), 2) << get("/metrics").body;
  EXPECT_EQ(s.types.value("siem_sink_buffer_io_errors", ""), "counter") << s.types.dump();
  EXPECT_FALSE(s.value("siem_sink_buffer_io_errors_total", {{"sink", "out"}})) << "a sink without a disk buffer";
  const auto om = scrape(/*openmetrics=*/true);
  EXPECT_GE(om.value("siem_sink_buffer_io_errors_total", {{"sink", "spooled"}}).value_or(0), 2);
  EXPECT_NE(slurp(dir_ / "stderr").find("cannot create " + blocker.string()), std::string::npos) << slurp(dir_ / "stderr");

  fs::remove(blocker);
  bool delivered = false;
  for (int i = 0; i < 500 && !delivered; ++i) {  // at most about 10 s
    const auto text = slurp(dir_ / "spooled.ndjson");
    delivered = std::count(text.begin(), text.end(), '\n') == 5;
    if (!delivered) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(delivered) << slurp(dir_ / "stderr");
  const auto counted = s.value("siem_sink_buffer_io_errors_total", {{"sink", "spooled"}}).value_or(0);
  EXPECT_GE(scrape().value("siem_sink_buffer_io_errors_total", {{"sink", "spooled"}}).value_or(0), counted);
}

}  // namespace
}  // namespace siem::pulltest
