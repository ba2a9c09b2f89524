// Shared pieces of the pipeline end-to-end tests: the real `siem-connector` binary over a file
// source (audit records with known ids) into real peers (rsyslogd, the HEC emulator, Kafka's mock
// cluster), the run summary parsed per sink.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tests/component/syslog/rsyslog_harness.h"
#include "tests/support/audit_record.h"
#include "tests/support/connector_process.h"
#include "tests/support/loopback_server.h"
#include "tests/support/test_pki.h"
#include "tests/support/wait.h"
#include "tools/hec_emulator/hec_emulator.h"

namespace siem::e2e {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using siem::testing::Rsyslog;
using siem::test::slurp;
using Connector = siem::test::ConnectorProcess;

inline const std::string kToken = "00000000-0000-0000-0000-00000000cafe";

// Polls `done` every 50 ms for at most `timeout`.
inline bool eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  return siem::test::wait_until(done, timeout, 50ms);
}

inline std::string record_id(int i) { return "Directory_fault_" + std::to_string(i); }

inline std::string record(int i) { return siem::test::directory_audit(record_id(i)).dump(); }

inline std::set<std::string> ids(int from, int to) {
  std::set<std::string> out;
  for (int i = from; i < to; ++i) out.insert(record_id(i));
  return out;
}

struct SinkSummary {
  std::uint64_t sent = 0, acked = 0, retried = 0, failed = 0;
  bool found = false;
};

// The per-sink line of the run summary printed on stderr at exit.
inline SinkSummary summary_of(const std::string& err, const std::string& sink) {
  const std::regex line("\\n\\s+" + sink + "\\s+sent\\s+(\\d+)\\s+acked\\s+(\\d+)\\s+retried\\s+(\\d+)\\s+failed\\s+(\\d+)"
                        "\\s+dead-lettered\\s+\\d+\\s+bytes\\s+\\d+\\s+latency\\s+[0-9.]+ ms/batch");
  std::smatch m;
  SinkSummary s;
  if (!std::regex_search(err, m, line)) return s;
  s.found = true;
  s.sent = std::stoull(m[1]);
  s.acked = std::stoull(m[2]);
  s.retried = std::stoull(m[3]);
  s.failed = std::stoull(m[4]);
  return s;
}

inline std::size_t count_lines_with(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    if (l.find(needle) != std::string::npos) ++n;
  return n;
}

class E2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::path(SIEM_BINARY_DIR) / "pipeline-e2e" / fmt::format("{}-{}-{}", info->test_suite_name(), info->name(), ::getpid());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }

  // A file source over in.ndjson (polled every 100 ms) into the given sink entries, mapped by four
  // workers (more than a small machine's cores: the delivery promises hold whatever the number);
  // dead letters go to `dead_letter` (default: dead-letter.ndjson in the test directory).
  fs::path write_config(const std::string& sink_yaml, const std::string& drain_timeout = "60s",
                        const std::string& dead_letter = {}, const std::string& name = "config.yaml") {
    const auto cfg = dir_ / name;
    std::ofstream(cfg) << fmt::format(
        "state_dir: {0}/state\n"
        "dead_letter: {{path: {3}}}\n"
        "pipeline: {{workers: 4, drain_timeout: {2}, checkpoint_interval: 100ms}}\n"
        "sources:\n"
        "  - {{name: audit, type: file, path: {0}/in.ndjson, poll_interval: 100ms}}\n"
        "sinks:\n"
        "{1}",
        dir_.string(), sink_yaml, drain_timeout, dead_letter.empty() ? (dir_ / "dead-letter.ndjson").string() : dead_letter);
    std::ofstream(dir_ / "in.ndjson", std::ios::app).flush();
    return cfg;
  }
  void append(int from, int to) {
    std::ofstream out(dir_ / "in.ndjson", std::ios::app);
    for (int i = from; i < to; ++i) out << record(i) << "\n";
  }
  void expect_no_dead_letters() {
    const auto p = dir_ / "dead-letter.ndjson";
    EXPECT_TRUE(!fs::exists(p) || fs::file_size(p) == 0) << slurp(p);
  }

  fs::path dir_;
};

inline std::set<std::string> syslog_ids(const Rsyslog& rs, std::size_t* total = nullptr) {
  std::set<std::string> out;
  const auto lines = rs.lines();
  for (const auto& l : lines) {
    const auto p = siem::testing::parse5424(l);
    if (!p) {
      ADD_FAILURE() << "not RFC 5424: " << l;
      continue;
    }
    const auto body = nlohmann::json::parse(p->body);  // ECS JSON or the test fails
    EXPECT_EQ(body["event"]["id"], p->sd.at("id"));
    out.insert(p->sd.at("id"));
  }
  if (total) *total = lines.size();
  return out;
}

inline std::string syslog_sink(std::uint16_t port, const siem::test::TestPki& pki) {
  return fmt::format(
      "  - name: syslog-out\n    type: syslog\n    format: ecs\n    host: localhost\n    port: {}\n"
      "    protocol: tls\n    rfc: 5424\n    framing: octet_counting\n    tls: {{ca_file: {}}}\n"
      "    retry: {{initial_backoff: 100ms, max_backoff: 500ms}}\n",
      port, pki.ca_pem());
}

struct Hec {
  siem::test::TestPki pki;
  std::unique_ptr<siem::test::LoopbackServer> server;
  std::unique_ptr<siem::hec::HecEmulator> hec;
  explicit Hec(bool wrong_name_cert = false, siem::hec::HecOptions options = {})
      : server(siem::test::make_tls_server(pki, wrong_name_cert)) {
    hec = std::make_unique<siem::hec::HecEmulator>(std::move(options), *server);
    server->start();
  }
  // The server stops (joining its connection threads) before the emulator they call is destroyed.
  ~Hec() { server->stop(); }
  Hec(const Hec&) = delete;
  Hec& operator=(const Hec&) = delete;
  std::set<std::string> ids(std::size_t* total = nullptr) const {
    std::set<std::string> out;
    const auto events = hec->events();
    for (const auto& e : events) out.insert(e.envelope["event"]["event"]["id"].get<std::string>());
    if (total) *total = events.size();
    return out;
  }
  // `extra`: more keys of the sink entry, each line indented by four spaces.
  std::string sink(const std::string& token = kToken, const std::string& extra = {}) const {
    return fmt::format(
        "  - name: hec-out\n    type: splunk_hec\n    format: ecs\n    url: {}\n    token: {}\n"
        "    tls: {{ca_file: {}}}\n    batch: {{max_events: 50}}\n"
        "    retry: {{initial_backoff: 100ms, max_backoff: 500ms}}\n{}",
        server->base_url(), token, pki.ca_pem(), extra);
  }
};

}  // namespace siem::e2e
