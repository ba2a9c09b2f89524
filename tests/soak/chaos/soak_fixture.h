// The chaos soak's fixture: the peers (the Graph emulator, the HEC emulator, a real rsyslogd,
// librdkafka's mock cluster), the connector's configuration, the writers of the load, the
// connector process and its resource sampler, the random peer faults, the torn buffer tail, and the
// independent checker that reads what every peer received. The scenarios are soak_chaos_test.cc
// and soak_disk_full_test.cc; the file comment of soak_chaos_test.cc describes the soak.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "tests/component/kafka/kafka_test_support.h"
#include "tests/component/syslog/rsyslog_harness.h"
#include "tests/soak/chaos/soak_checks.h"
#include "tests/soak/chaos/soak_support.h"
#include "tests/support/connector_process.h"
#include "tests/support/loopback_server.h"
#include "tests/support/test_pki.h"
#include "tools/emulator/emulator.h"
#include "tools/hec_emulator/hec_emulator.h"

namespace siem::soak {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using siem::test::ConnectorProcess;
using siem::test::slurp;
using siem::testing::MockKafkaCluster;
using siem::testing::Rsyslog;
using Clock = std::chrono::steady_clock;

class Soak : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // ---- peers --------------------------------------------------------------------------------------
  void start_peers();

  fs::path write_config() const;

  // ---- load ---------------------------------------------------------------------------------------
  static std::string file_id(int i) { return fmt::format("soak-file-{:06d}", i); }
  static std::string graph_id(int i) { return fmt::format("soak-graph-{:06d}", i); }

  // Appends the file records and adds the Graph records (10 % of them late: activity time up to a
  // minute in the past, inside the 2 min lookback) at a steady rate over write_seconds_.
  void start_writers();
  void stop_writers() {
    stop_writers_ = true;
    if (writer_.joinable()) writer_.join();
  }
  std::size_t written() const { return static_cast<std::size_t>(files_written_.load() + graph_written_.load()); }

  // ---- the connector ------------------------------------------------------------------------------
  void start_connector();
  // The start of every scenario: the peers, the configuration, the writers, the sampler and the
  // connector (check HasFatalFailure() after it).
  void start_run();
  std::string err_tail() const {
    const auto err = slurp(dir_ / "stderr");
    return err.size() > 6000 ? err.substr(err.size() - 6000) : err;
  }

  void start_sampler();
  void stop_sampler() {
    stop_sampler_ = true;
    if (sampler_.joinable()) sampler_.join();
  }

  // ---- /metrics (with observability_) --------------------------------------------------------------
  // The port the connector serves /metrics on, from its log (0 until it says so).
  int metrics_port() const;
  // The value of the sample of `family` whose labels include `label` (e.g. source="soak-file").
  std::optional<double> metric(const std::string& family, const std::string& label) const;

  // ---- progress (cheap) ---------------------------------------------------------------------------
  std::size_t hec_count() const { return hec_->event_count(); }
  std::size_t syslog_count() const { return rsyslog_->lines().size(); }
  std::int64_t kafka_count() const { return kafka_high_watermarks(kafka_->bootstraps()); }

  // Waits (bounded) until every sink holds at least `n` messages.
  bool all_sinks_reach(std::size_t n, std::chrono::seconds timeout);

  // ---- random faults ------------------------------------------------------------------------------
  int uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }

  void note(const std::string& what) {
    std::cout << fmt::format("[soak] t+{:.1f}s {}",
                             std::chrono::duration<double>(Clock::now() - t0_).count(), what)
              << std::endl;
  }

  // One random peer fault, chosen by the seeded generator.
  void random_fault();

  // ---- the torn buffer tail -----------------------------------------------------------------------
  // With HEC dead and events arriving in its disk buffer, the connector is SIGKILLed and the last
  // record of the buffer's newest segment is cut in half, then the connector restarts with HEC back.
  // Appends are fsynced before they are acknowledged, so that record may already be behind its
  // source's checkpoint: the documented promise (docs/configuration.md, disk buffer) is one error
  // line naming the segment file, the offset and the count of events skipped, no crash, and every
  // other record delivered. The torn record itself is delivered only when its source reads it again.
  void kill_and_tear_hec_buffer();
  // The ids an expected record may be missing from `sink` for: the torn record, in the HEC sink.
  bool may_be_torn(const std::string& sink, const std::string& id) const {
    return sink == "hec-out" && torn_ids_.count(id) > 0;
  }

  // ---- order per source at HEC ------------------------------------------------------------------
  // The records HEC received for the first time from position `from` on, in order per source: the
  // file source's order is its ids' (one appending writer); the Graph source's is the order in
  // which the pipeline handled them, as syslog (one TCP connection, fed by the same processing
  // thread) received them first.
  siem::soak::OrderReport hec_order(const std::map<std::string, std::vector<std::string>>& received, std::size_t from) const;
  void print_order(const char* what, const siem::soak::OrderReport& o) const;

  // ---- the checker --------------------------------------------------------------------------------
  std::set<std::string> expected_ids() const;

  // Dead letters: stage "read"/"map" count for every sink, "sink:<name>" for that sink.
  std::map<std::string, std::set<std::string>> dead_letters() const;

  // Sink -> the ids each peer received, in the order it received them.
  std::map<std::string, std::vector<std::string>> received_ids() const;

  std::map<std::string, SinkReport> check() const { return check(received_ids()); }
  std::map<std::string, SinkReport> check(const std::map<std::string, std::vector<std::string>>& received_by_sink) const;

  // Every expected id has reached every sink (or its dead-letter file).
  bool complete() const;

  std::uint64_t seed_ = 0;
  std::mt19937_64 rng_;
  int file_records_ = 0, graph_records_ = 0, write_seconds_ = 0, kills_ = 0, dead_seconds_ = 0, drain_seconds_ = 0;
  std::uint64_t rss_ceiling_kb_ = 0;
  fs::path dir_, config_;
  Clock::time_point t0_ = Clock::now();

  std::unique_ptr<siem::test::TestPki> pki_;
  std::unique_ptr<siem::test::LoopbackServer> graph_server_, hec_server_;
  std::unique_ptr<siem::emulator::Emulator> graph_;
  std::unique_ptr<siem::hec::HecEmulator> hec_;
  std::unique_ptr<Rsyslog> rsyslog_;
  std::unique_ptr<MockKafkaCluster> kafka_;

  std::thread writer_;
  std::atomic<bool> stop_writers_{false}, writers_done_{false};
  std::atomic<int> files_written_{0}, graph_written_{0};

  std::unique_ptr<ConnectorProcess> connector_;
  std::atomic<pid_t> pid_{0};
  int starts_ = 0, sigkills_ = 0, sigterms_ = 0;
  int faults_ = 0, rsyslog_restarts_ = 0, kafka_outages_ = 0, leader_changes_ = 0;

  std::set<std::string> torn_ids_;  // the record cut in half in HEC's disk buffer

  std::thread sampler_;
  std::atomic<bool> stop_sampler_{false}, dead_phase_{false}, rss_over_ceiling_{false};
  std::atomic<Clock::time_point> dead_started_{Clock::now()};
  std::size_t hec_dead_from_ = 0;  // HEC's event count when it died
  std::uint64_t buffer_first_ = 0, buffer_last_ = 0, buffer_peak_ = 0;  // HEC's disk buffer in the dead phase
  std::string hec_buffer_yaml_ = sink_buffer_yaml("hec-out");  // the variant below makes it small
  bool observability_ = false;                                 // /metrics on 127.0.0.1 (the variant)
  std::mutex figures_mu_;
  ResourceFigures figures_;
};

}  // namespace siem::soak
