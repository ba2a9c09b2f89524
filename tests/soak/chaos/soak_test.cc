// Chaos soak: the real `siem-connector` binary under a storm of faults at once, checked by reading
// what every peer actually received.
//
// Sources: a file source (NDJSON appended to while the connector runs) and a Graph directory-audits
// source against the Graph emulator served in-process over HTTPS (paging, injected 429 with
// Retry-After and 503, records arriving late inside the lookback). Sinks, every one getting every
// record: Splunk HEC (the HEC emulator, indexer acks on, random 503 bursts, stalled responses and
// slow acks, a dead phase), syslog TCP into a real rsyslogd (stopped and restarted), Kafka
// (librdkafka's mock cluster: a broker down, all brokers down, partition leader changes).
// The connector is SIGKILLed at random moments and restarted, and once stopped with SIGTERM while
// it drains. An independent checker then reads rsyslog's output file, the HEC emulator's store and
// the topic (kcat) and reports per sink delivered/expected, duplicates and every missing id.
// Resources of the connector are sampled every second from /proc: RSS under a ceiling (also while
// a sink is dead), open file descriptors back to their start count after reconnect storms, no
// thread growth.
//
// Parameters (environment; defaults are the short form that runs in CI, scripts/soak.sh --long
// sets the release form): SIEM_SOAK_SEED, SIEM_SOAK_FILE_RECORDS, SIEM_SOAK_GRAPH_RECORDS,
// SIEM_SOAK_WRITE_SECONDS, SIEM_SOAK_KILLS, SIEM_SOAK_DEAD_SECONDS, SIEM_SOAK_RSS_CEILING_MB,
// SIEM_SOAK_DRAIN_SECONDS (bound of the final catch-up), SIEM_SOAK_HEC_BUFFER_MB (max_size of HEC's
// disk buffer). docs/testing.md describes the soak and keeps its figures.
#include <gtest/gtest.h>

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tests/component/kafka/kafka_test_support.h"
#include "tests/soak/chaos/soak_checks.h"
#include "tests/component/syslog/rsyslog_harness.h"
#include "tests/support/connector_process.h"
#include "tests/support/loopback_server.h"
#include "tests/support/test_http.h"
#include "tests/support/test_pki.h"
#include "tools/emulator/emulator.h"
#include "tools/hec_emulator/hec_emulator.h"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;
using siem::test::ConnectorProcess;
using siem::test::eventually;
using siem::test::proc_stats;
using siem::test::slurp;
using siem::testing::MockKafkaCluster;
using siem::testing::Rsyslog;
using Clock = std::chrono::steady_clock;

constexpr const char* kTenant = "44444444-4444-4444-4444-444444444444";
constexpr const char* kClient = "55555555-5555-5555-5555-555555555555";
constexpr const char* kSecret = "soak-client-secret";
constexpr const char* kHecToken = "00000000-0000-0000-0000-00000000cafe";
constexpr const char* kTopic = "siem.soak";
constexpr int kKafkaPartitions = 3;

long env_long(const char* name, long fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtol(v, nullptr, 10) : fallback;
}

// ---- the connector's configuration --------------------------------------------------------------

// Queue and batch sizes of the soak's configuration. Small on purpose: they bound the in-flight
// window, hence the duplicates a crash may cause and the memory a dead sink may hold.
constexpr int kQueueEvents = 500;
constexpr int kSinkBufferEvents = 500;
constexpr int kBatchEvents = 100;
constexpr int kGraphPageSize = 100;

// ---- DISK BUFFER: the `buffer:` entry of every sink ------------------------------------------------
// Enabling the per-sink disk buffer (issue 18) for the soak is this one line, e.g.
//   return "{type: disk, max_size: 256MiB, when_full: block, max_events: 500, max_bytes: 8MiB}";
// With a disk buffer the dead-sink phase also requires the other sinks to keep receiving.
std::uint64_t hec_buffer_max_bytes() { return static_cast<std::uint64_t>(env_long("SIEM_SOAK_HEC_BUFFER_MB", 256)) << 20; }
std::string sink_buffer_yaml(const std::string& sink) {
  // HEC, the sink the soak kills for a whole phase, spools to disk: its outage must not hold back
  // the other sinks, and its buffer must survive every SIGKILL. max_size must hold the whole
  // outage (about 1.7 KiB per soak event on disk; the long form's 10 minutes took 56 MiB).
  if (sink == "hec-out")
    return fmt::format("{{type: disk, max_size: {}MiB, when_full: block, max_events: 500, max_bytes: 8MiB}}",
                       hec_buffer_max_bytes() >> 20);
  return "{max_events: 500, max_bytes: 8MiB}";
}
bool disk_buffered(const std::string& sink) { return sink_buffer_yaml(sink).find("type: disk") != std::string::npos; }

const std::vector<std::string> kSinks = {"hec-out", "syslog-out", "kafka-out"};

// A directory audit with a unique id. `when` is its activity time (Graph: the filter field).
json audit_record(const std::string& id, const std::string& when) {
  return {{"id", id},
          {"category", "RoleManagement"},
          {"correlationId", "0d8f6a1e-0000-4000-8000-000000000000"},
          {"activityDisplayName", "Add member to role"},
          {"activityDateTime", when},
          {"loggedByService", "Core Directory"},
          {"operationType", "Assign"},
          {"result", "success"},
          {"initiatedBy", {{"user", {{"userPrincipalName", "soak@contoso.example"}}}}},
          {"targetResources", json::array()}};
}

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Sum of the high watermarks of the topic (kcat -Q): how many messages the cluster holds,
// duplicates included. Cheap progress figure between checks; the checker reads every message.
// -1 when the cluster does not answer within 10 s.
std::int64_t kafka_high_watermarks(const std::string& bootstraps) {
  std::string cmd = "timeout -k 2 10 kcat -Q -b '" + bootstraps + "' -X log_level=0";
  for (int p = 0; p < kKafkaPartitions; ++p) cmd += fmt::format(" -t {}:{}:-1", kTopic, p);
  int status = 0;
  const std::string out = siem::testing::run_command(cmd + " 2>/dev/null", &status);
  if (status != 0) return -1;
  std::int64_t sum = 0;
  int found = 0;
  std::istringstream in(out);
  for (std::string l; std::getline(in, l);) {
    const auto at = l.find(" offset ");
    if (at == std::string::npos) continue;
    sum += std::stoll(l.substr(at + 8));
    ++found;
  }
  return found == kKafkaPartitions ? sum : -1;
}

// ---- the disk buffer's segments (layout in connector/buffer/disk_buffer.h) -----------------------
struct SegmentRecord {
  std::uint64_t offset = 0;
  std::string payload;
};

// The complete records of a segment file, walked by their length fields.
std::vector<SegmentRecord> segment_records(const fs::path& seg) {
  const std::string bytes = slurp(seg);
  std::vector<SegmentRecord> out;
  std::uint64_t off = 8;  // "SIEMBUF" + version
  for (int i = 0; i < 10'000'000 && off + 16 <= bytes.size(); ++i) {
    std::uint64_t len = 0;
    for (int b = 3; b >= 0; --b) len = (len << 8) | static_cast<unsigned char>(bytes[off + static_cast<std::uint64_t>(b)]);
    if (off + 16 + len > bytes.size()) break;
    out.push_back({off, bytes.substr(off + 16, len)});
    off += 16 + len;
  }
  return out;
}

// The newest segment of a sink's disk buffer (none: empty path).
fs::path newest_segment(const fs::path& buffer_dir) {
  fs::path newest;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(buffer_dir, ec))
    if (e.path().extension() == ".seg" && (newest.empty() || e.path().filename() > newest.filename())) newest = e.path();
  return newest;
}

// The soak's record ids named in a buffered event.
std::set<std::string> ids_in(const std::string& payload) {
  std::set<std::string> out;
  for (const std::string prefix : {"soak-file-", "soak-graph-"})
    for (auto p = payload.find(prefix); p != std::string::npos; p = payload.find(prefix, p + 1))
      out.insert(payload.substr(p, prefix.size() + 6));
  return out;
}

struct SinkReport {
  std::size_t received = 0;                 // messages, duplicates included
  std::map<std::string, int> counts;        // id -> times received
  std::vector<std::string> unexpected;      // ids (or lines) that were never written
  std::vector<std::string> missing;         // expected, neither delivered nor dead-lettered
  std::size_t dead_lettered = 0;
  std::size_t duplicates = 0;               // received - distinct
  int max_copies = 0;                       // most copies of one id
};

// Figures of the connector processes, sampled every second.
struct ResourceFigures {
  std::uint64_t peak_rss_kb = 0;
  std::uint64_t peak_rss_dead_phase_kb = 0;
  std::size_t peak_fds = 0, peak_threads = 0;
  std::size_t samples = 0;
  std::vector<std::pair<double, double>> dead_phase_rss;  // (seconds into the phase, KiB), every second
};

class Soak : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::exists(siem::test::connector_binary())) << siem::test::connector_binary();
    seed_ = static_cast<std::uint64_t>(env_long("SIEM_SOAK_SEED", static_cast<long>(std::random_device{}() & 0x7fffffff)));
    rng_.seed(seed_);
    file_records_ = static_cast<int>(env_long("SIEM_SOAK_FILE_RECORDS", 2000));
    graph_records_ = static_cast<int>(env_long("SIEM_SOAK_GRAPH_RECORDS", 1000));
    write_seconds_ = static_cast<int>(env_long("SIEM_SOAK_WRITE_SECONDS", 45));
    kills_ = static_cast<int>(env_long("SIEM_SOAK_KILLS", 3));
    dead_seconds_ = static_cast<int>(env_long("SIEM_SOAK_DEAD_SECONDS", 8));
    rss_ceiling_kb_ = static_cast<std::uint64_t>(env_long("SIEM_SOAK_RSS_CEILING_MB", 128)) * 1024;
    drain_seconds_ = static_cast<int>(env_long("SIEM_SOAK_DRAIN_SECONDS", 90));
    std::cout << fmt::format("[soak] seed {} (replay: SIEM_SOAK_SEED={}); {} file + {} graph records over {} s, {} SIGKILLs, "
                             "dead sink {} s, RSS ceiling {} MiB",
                             seed_, seed_, file_records_, graph_records_, write_seconds_, kills_, dead_seconds_,
                             rss_ceiling_kb_ / 1024)
              << std::endl;
    dir_ = fs::path(SIEM_BINARY_DIR) / "soak" / fmt::format("run-{}-{}", seed_, ::getpid());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    stop_sampler();
    stop_writers();
    connector_.reset();
    if (!HasFailure()) fs::remove_all(dir_);
    else std::cout << "[soak] kept " << dir_ << " (config, connector stderr, rsyslog output)" << std::endl;
  }

  // ---- peers --------------------------------------------------------------------------------------
  void start_peers() {
    pki_ = std::make_unique<siem::test::TestPki>();
    graph_server_ = siem::test::make_tls_server(*pki_);
    siem::emulator::Options eo;
    siem::emulator::AppRegistration app;
    app.tenant_id = kTenant;
    app.client_id = kClient;
    app.client_secret = kSecret;
    eo.apps = {app};
    eo.seed = false;
    graph_ = std::make_unique<siem::emulator::Emulator>(eo, *graph_server_);
    graph_server_->start();

    hec_server_ = siem::test::make_tls_server(*pki_);
    siem::hec::HecOptions ho;
    ho.ack_enabled = true;
    hec_ = std::make_unique<siem::hec::HecEmulator>(ho, *hec_server_);
    hec_server_->start();

    rsyslog_ = std::make_unique<Rsyslog>(dir_ / "rsyslog", *pki_);
    rsyslog_->start();

    kafka_ = std::make_unique<MockKafkaCluster>(3);
    kafka_->create_topic(kTopic, kKafkaPartitions, 3);
  }

  fs::path write_config() const {
    const std::string url = graph_server_->base_url();
    const auto cfg = dir_ / "config.yaml";
    std::ofstream out(cfg);
    if (observability_) out << "observability: {listen: \"127.0.0.1:0\"}\n";
    out << fmt::format(
        "state_dir: {dir}/state\n"
        "dead_letter: {{path: {dir}/dead-letter.ndjson}}\n"
        "pipeline: {{queue_events: {queue}, queue_bytes: 16MiB, drain_timeout: 20s, checkpoint_interval: 500ms}}\n"
        "sources:\n"
        "  - {{name: soak-file, type: file, path: {dir}/in.ndjson, poll_interval: 200ms}}\n"
        "  - name: soak-graph\n"
        "    type: graph_directory_audits\n"
        "    tenant_id: {tenant}\n"
        "    cloud: custom\n"
        "    endpoints: {{login: {url}, graph: {url}, arm: {url}}}\n"
        "    auth: {{method: client_secret, client_id: {client}, client_secret: {secret}}}\n"
        "    tls: {{ca_file: {ca}}}\n"
        "    poll_interval: 1s\n"
        "    lookback: 2m\n"
        "    safety_lag: 0s\n"
        "    initial_lookback: 10m\n"
        "    page_size: {page}\n"
        "    connect_timeout: 5s\n"
        "    request_timeout: 10s\n"
        "sinks:\n",
        fmt::arg("dir", dir_.string()), fmt::arg("queue", kQueueEvents), fmt::arg("tenant", kTenant), fmt::arg("url", url),
        fmt::arg("client", kClient), fmt::arg("secret", kSecret), fmt::arg("ca", pki_->ca_pem()),
        fmt::arg("page", kGraphPageSize));
    const std::string common = fmt::format(
        "    format: ecs\n    batch: {{max_events: {}, timeout: 100ms}}\n"
        "    retry: {{initial_backoff: 100ms, max_backoff: 1s}}\n",
        kBatchEvents);
    out << "  - name: hec-out\n    type: splunk_hec\n" << common
        << "    buffer: " << hec_buffer_yaml_ << "\n"
        << fmt::format("    url: {}\n    token: {}\n    tls: {{ca_file: {}}}\n    ack: true\n    ack_poll_interval: 200ms\n"
                       "    ack_timeout: 20s\n    request_timeout: 10s\n",
                       hec_server_->base_url(), kHecToken, pki_->ca_pem());
    out << "  - name: syslog-out\n    type: syslog\n" << common
        << "    buffer: " << sink_buffer_yaml("syslog-out") << "\n"
        << fmt::format("    host: 127.0.0.1\n    port: {}\n    protocol: tcp\n    rfc: 5424\n    framing: octet_counting\n"
                       "    confirm_wait: 100ms\n",
                       rsyslog_->tcp_port);
    out << "  - name: kafka-out\n    type: kafka\n" << common
        << "    buffer: " << sink_buffer_yaml("kafka-out") << "\n"
        << fmt::format("    brokers: \"{}\"\n    topic: {}\n    metadata_timeout: 5s\n    delivery_timeout: 15s\n"
                       "    properties: {{log_level: 0, socket.timeout.ms: 10000}}\n",
                       kafka_->bootstraps(), kTopic);
    return cfg;
  }

  // ---- load ---------------------------------------------------------------------------------------
  static std::string file_id(int i) { return fmt::format("soak-file-{:06d}", i); }
  static std::string graph_id(int i) { return fmt::format("soak-graph-{:06d}", i); }

  // Appends the file records and adds the Graph records (10 % of them late: activity time up to a
  // minute in the past, inside the 2 min lookback) at a steady rate over write_seconds_.
  void start_writers() {
    std::ofstream(dir_ / "in.ndjson", std::ios::app).flush();
    writer_ = std::thread([this] {
      std::mt19937_64 rng(seed_ ^ 0x5eedULL);
      const int ticks = std::max(1, write_seconds_ * 10);  // every 100 ms
      int f = 0, g = 0;
      const auto t0 = Clock::now();
      for (int t = 1; t <= ticks && !stop_writers_; ++t) {
        const int f_to = static_cast<int>(static_cast<long>(file_records_) * t / ticks);
        const int g_to = static_cast<int>(static_cast<long>(graph_records_) * t / ticks);
        {
          std::ofstream out(dir_ / "in.ndjson", std::ios::app);
          for (; f < f_to; ++f) out << audit_record(file_id(f), "2026-03-04T10:15:30Z").dump() << "\n";
        }
        for (; g < g_to; ++g) {
          const std::int64_t late_us = rng() % 10 == 0 ? static_cast<std::int64_t>(5 + rng() % 55) * 1'000'000 : 0;
          graph_->add_record("directoryAudits", audit_record(graph_id(g), siem::emulator::format_time(now_us() - late_us)));
        }
        files_written_ = f;
        graph_written_ = g;
        std::this_thread::sleep_until(t0 + t * 100ms);
      }
      writers_done_ = true;
    });
  }
  void stop_writers() {
    stop_writers_ = true;
    if (writer_.joinable()) writer_.join();
  }
  std::size_t written() const { return static_cast<std::size_t>(files_written_.load() + graph_written_.load()); }

  // ---- the connector ------------------------------------------------------------------------------
  void start_connector() {
    connector_ = std::make_unique<ConnectorProcess>(dir_, std::vector<std::string>{"run", "-c", config_.string()},
                                                    /*append_logs=*/true);
    ASSERT_TRUE(connector_->started());
    pid_ = connector_->pid();
    ++starts_;
  }
  std::string err_tail() const {
    const auto err = slurp(dir_ / "stderr");
    return err.size() > 6000 ? err.substr(err.size() - 6000) : err;
  }

  void start_sampler() {
    sampler_ = std::thread([this] {
      // Bounded: at most 4 hours of 1 s samples.
      for (int i = 0; i < 4 * 3600 && !stop_sampler_; ++i) {
        const auto s = proc_stats(pid_.load());
        if (s.rss_kb > 0) {
          std::lock_guard lock(figures_mu_);
          ++figures_.samples;
          figures_.peak_rss_kb = std::max(figures_.peak_rss_kb, s.rss_kb);
          if (dead_phase_) {
            figures_.peak_rss_dead_phase_kb = std::max(figures_.peak_rss_dead_phase_kb, s.rss_kb);
            figures_.dead_phase_rss.emplace_back(std::chrono::duration<double>(Clock::now() - dead_started_.load()).count(),
                                                 static_cast<double>(s.rss_kb));
          }
          figures_.peak_fds = std::max(figures_.peak_fds, s.fds);
          figures_.peak_threads = std::max(figures_.peak_threads, s.threads);
          if (s.rss_kb > rss_ceiling_kb_) rss_over_ceiling_ = true;
        }
        for (int k = 0; k < 10 && !stop_sampler_; ++k) std::this_thread::sleep_for(100ms);
      }
    });
  }
  void stop_sampler() {
    stop_sampler_ = true;
    if (sampler_.joinable()) sampler_.join();
  }

  // ---- /metrics (with observability_) --------------------------------------------------------------
  // The port the connector serves /metrics on, from its log (0 until it says so).
  int metrics_port() const {
    const std::string marker = "/readyz on 127.0.0.1:";
    const auto err = slurp(dir_ / "stderr");
    const auto at = err.rfind(marker);
    return at == std::string::npos ? 0 : std::atoi(err.c_str() + at + marker.size());
  }
  // The value of the sample of `family` whose labels include `label` (e.g. source="soak-file").
  std::optional<double> metric(const std::string& family, const std::string& label) const {
    const int port = metrics_port();
    if (port == 0) return std::nullopt;
    const auto r = siem::test::http_fetch("GET", fmt::format("http://127.0.0.1:{}/metrics", port));
    std::istringstream in(r.body);
    for (std::string l; std::getline(in, l);)
      if (l.rfind(family + "{", 0) == 0 && l.find(label) != std::string::npos) return std::strtod(l.c_str() + l.rfind(' ') + 1, nullptr);
    return std::nullopt;
  }

  // ---- progress (cheap) ---------------------------------------------------------------------------
  std::size_t hec_count() const { return hec_->event_count(); }
  std::size_t syslog_count() const { return rsyslog_->lines().size(); }
  std::int64_t kafka_count() const { return kafka_high_watermarks(kafka_->bootstraps()); }

  // Waits (bounded) until every sink holds at least `n` messages.
  bool all_sinks_reach(std::size_t n, std::chrono::seconds timeout) {
    return eventually(
        [&] {
          return hec_count() + torn_ids_.size() >= n && syslog_count() >= n && kafka_count() >= static_cast<std::int64_t>(n);
        },
        timeout, 250ms);
  }

  // ---- random faults ------------------------------------------------------------------------------
  int uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }

  void note(const std::string& what) {
    std::cout << fmt::format("[soak] t+{:.1f}s {}",
                             std::chrono::duration<double>(Clock::now() - t0_).count(), what)
              << std::endl;
  }

  // One random peer fault, chosen by the seeded generator.
  void random_fault() {
    ++faults_;
    switch (uniform(0, 8)) {
      case 0: {
        const int n = uniform(2, 8);
        hec_->fail_busy(n);
        note(fmt::format("hec: next {} requests 503 busy", n));
        break;
      }
      case 1: {
        const int ms = uniform(500, 2500);
        hec_server_->add_fault(siem::httpd::Fault::slow("/services/collector/event", std::chrono::milliseconds(ms), uniform(1, 3)));
        note(fmt::format("hec: requests stall {} ms", ms));
        break;
      }
      case 2:
        hec_->set_slow_acks(std::chrono::milliseconds(uniform(500, 2000)), uniform(1, 3));
        note("hec: slow acks");
        break;
      case 3: {
        const int n = uniform(1, 3);
        graph_->add_fault({{"path_prefix", "/v1.0/auditLogs"}, {"count", n}, {"status", 429}, {"retry_after", "1"}});
        note(fmt::format("graph: {} x 429 Retry-After 1", n));
        break;
      }
      case 4: {
        const int n = uniform(1, 3);
        graph_->add_fault({{"path_prefix", "/v1.0/auditLogs"}, {"count", n}, {"status", 503}});
        note(fmt::format("graph: {} x 503", n));
        break;
      }
      case 5:
        rsyslog_->stop();
        note("rsyslog stopped");
        std::this_thread::sleep_for(std::chrono::milliseconds(uniform(300, 1500)));
        rsyslog_->start();
        ++rsyslog_restarts_;
        note("rsyslog restarted");
        break;
      case 6: {
        const int b = uniform(1, 3);
        rd_kafka_mock_broker_set_down(kafka_->get(), b);
        note(fmt::format("kafka: broker {} down", b));
        std::this_thread::sleep_for(std::chrono::milliseconds(uniform(500, 2000)));
        rd_kafka_mock_broker_set_up(kafka_->get(), b);
        ++kafka_outages_;
        note(fmt::format("kafka: broker {} up", b));
        break;
      }
      case 7: {
        const int p = uniform(0, kKafkaPartitions - 1), b = uniform(1, 3);
        rd_kafka_mock_partition_set_leader(kafka_->get(), kTopic, p, b);
        ++leader_changes_;
        note(fmt::format("kafka: partition {} leader -> broker {}", p, b));
        break;
      }
      default:
        hec_->drop_after_store(1);
        note("hec: next response lost after store");
        break;
    }
  }

  // ---- the torn buffer tail -----------------------------------------------------------------------
  // With HEC dead and events arriving in its disk buffer, the connector is SIGKILLed and the last
  // record of the buffer's newest segment is cut in half, then the connector restarts with HEC back.
  // Appends are fsynced before they are acknowledged, so that record may already be behind its
  // source's checkpoint: the documented promise (docs/configuration.md, disk buffer) is one error
  // line naming the segment file, the offset and the count of events skipped, no crash, and every
  // other record delivered. The torn record itself is delivered only when its source reads it again.
  void kill_and_tear_hec_buffer() {
    const fs::path buf = dir_ / "state" / "buffers" / "hec-out";
    hec_->fail_busy(1'000'000'000);
    ++faults_;
    std::this_thread::sleep_for(1s);  // a request already past the fault hook may still store
    const auto hec_dead_at = hec_count();
    const auto seg0 = newest_segment(buf);
    const std::size_t n0 = seg0.empty() ? 0 : segment_records(seg0).size();
    // A few events appended while HEC is dead: in no delivered batch, so past the buffer's cursor.
    ASSERT_TRUE(eventually(
        [&] {
          const auto seg = newest_segment(buf);
          return !seg.empty() && (seg != seg0 || segment_records(seg).size() >= n0 + 3);
        },
        30s, 200ms))
        << "nothing reached the HEC disk buffer while HEC was dead\n" << err_tail();
    connector_->signal(SIGKILL);
    EXPECT_EQ(connector_->wait(10s), 128 + SIGKILL);
    ++sigkills_;
    EXPECT_EQ(hec_count(), hec_dead_at) << "the dead HEC stored events";
    const auto seg = newest_segment(buf);
    const auto recs = segment_records(seg);
    ASSERT_FALSE(recs.empty()) << seg;
    const auto& last = recs.back();
    torn_ids_ = ids_in(last.payload);
    ASSERT_EQ(torn_ids_.size(), 1u) << last.payload.substr(0, 400);
    fs::resize_file(seg, last.offset + 16 + last.payload.size() / 2);
    note(fmt::format("connector SIGKILLed ({} of {}) with HEC dead; tore the tail of {} at offset {} (the record of {})",
                     sigkills_, kills_, seg.filename().string(), last.offset, *torn_ids_.begin()));
    hec_->fail_busy(0);
    const std::size_t err_before = slurp(dir_ / "stderr").size();
    start_connector();
    if (HasFatalFailure()) return;
    const std::string line = fmt::format("segment {}: a truncated record ({} byte(s) announced) at offset {}",
                                         seg.string(), last.payload.size(), last.offset);
    EXPECT_TRUE(eventually(
        [&] {
          const auto err = slurp(dir_ / "stderr").substr(err_before);
          const auto at = err.find(line);
          return at != std::string::npos && err.find("holding 1 event(s) not delivered to this sink", at) != std::string::npos;
        },
        30s, 200ms))
        << "no log line '" << line << " ... holding 1 event(s)'\n" << err_tail();
    EXPECT_TRUE(connector_->running()) << err_tail();
  }
  // The ids an expected record may be missing from `sink` for: the torn record, in the HEC sink.
  bool may_be_torn(const std::string& sink, const std::string& id) const {
    return sink == "hec-out" && torn_ids_.count(id) > 0;
  }

  // ---- order per source at HEC ------------------------------------------------------------------
  // The records HEC received for the first time from position `from` on, in order per source: the
  // file source's order is its ids' (one appending writer); the Graph source's is the order in
  // which the pipeline handled them, as syslog (one TCP connection, fed by the same processing
  // thread) received them first.
  siem::soak::OrderReport hec_order(const std::map<std::string, std::vector<std::string>>& received, std::size_t from) const {
    std::map<std::string, long> syslog_rank;
    for (const auto& id : received.at("syslog-out")) syslog_rank.emplace(id, static_cast<long>(syslog_rank.size()));
    return siem::soak::check_order_per_source(
        received.at("hec-out"), from,
        [](const std::string& id) -> std::string {
          if (id.rfind("soak-file-", 0) == 0) return "soak-file";
          if (id.rfind("soak-graph-", 0) == 0) return "soak-graph";
          return {};
        },
        [&](const std::string& id) -> std::optional<long> {
          if (id.rfind("soak-file-", 0) == 0) return std::strtol(id.c_str() + 10, nullptr, 10);
          const auto it = syslog_rank.find(id);
          return it == syslog_rank.end() ? std::nullopt : std::optional<long>(it->second);
        });
  }
  void print_order(const char* what, const siem::soak::OrderReport& o) const {
    std::cout << fmt::format("[soak] hec-out order {}: {} file and {} graph records first delivered, {} out of order\n", what,
                             o.checked.count("soak-file") ? o.checked.at("soak-file") : 0,
                             o.checked.count("soak-graph") ? o.checked.at("soak-graph") : 0, o.violation_count);
    for (const auto& v : o.violations) std::cout << "[soak]   out of order: " << v << "\n";
  }

  // ---- the checker --------------------------------------------------------------------------------
  std::set<std::string> expected_ids() const {
    std::set<std::string> out;
    for (int i = 0; i < files_written_; ++i) out.insert(file_id(i));
    for (int i = 0; i < graph_written_; ++i) out.insert(graph_id(i));
    return out;
  }

  // Dead letters: stage "read"/"map" count for every sink, "sink:<name>" for that sink.
  std::map<std::string, std::set<std::string>> dead_letters() const {
    std::map<std::string, std::set<std::string>> out;
    std::ifstream in(dir_ / "dead-letter.ndjson");
    for (std::string l; std::getline(in, l);) {
      const auto j = json::parse(l, nullptr, false);
      if (j.is_discarded()) continue;
      const auto rec = json::parse(j.value("record", ""), nullptr, false);
      const std::string id = rec.is_object() ? rec.value("id", "") : "";
      const std::string stage = j.value("stage", "");
      if (stage.rfind("sink:", 0) == 0) out[stage.substr(5)].insert(id);
      else
        for (const auto& s : kSinks) out[s].insert(id);
    }
    return out;
  }

  // Sink -> the ids each peer received, in the order it received them.
  std::map<std::string, std::vector<std::string>> received_ids() const {
    std::map<std::string, std::vector<std::string>> received;
    for (const auto& e : hec_->events()) {
      const auto& ev = e.envelope["event"];
      received["hec-out"].push_back(ev.is_object() && ev.contains("event") ? ev["event"].value("id", "") : std::string());
    }
    for (const auto& l : rsyslog_->lines()) {
      const auto p = siem::testing::parse5424(l);
      received["syslog-out"].push_back(p && p->sd.count("id") ? p->sd.at("id") : "unparsable: " + l.substr(0, 80));
    }
    for (const auto& r : siem::testing::kcat_consume(kafka_->bootstraps(), kTopic, 120)) {
      const auto doc = json::parse(r.payload, nullptr, false);
      received["kafka-out"].push_back(doc.is_object() && doc.contains("event") ? doc["event"].value("id", "")
                                                                               : "unparsable: " + r.payload.substr(0, 80));
    }
    return received;
  }

  std::map<std::string, SinkReport> check() const { return check(received_ids()); }
  std::map<std::string, SinkReport> check(const std::map<std::string, std::vector<std::string>>& received_by_sink) const {
    auto received = received_by_sink;
    const auto expected = expected_ids();
    const auto dead = dead_letters();
    std::map<std::string, SinkReport> out;
    for (const auto& sink : kSinks) {
      SinkReport r;
      for (const auto& id : received[sink]) {
        ++r.received;
        if (expected.count(id)) ++r.counts[id];
        else r.unexpected.push_back(id);
      }
      const auto d = dead.count(sink) ? dead.at(sink) : std::set<std::string>{};
      r.dead_lettered = d.size();
      for (const auto& id : expected)
        if (!r.counts.count(id) && !d.count(id)) r.missing.push_back(id);
      r.duplicates = r.received - r.unexpected.size() - r.counts.size();
      for (const auto& [id, n] : r.counts) r.max_copies = std::max(r.max_copies, n);
      out[sink] = std::move(r);
    }
    return out;
  }

  // Every expected id has reached every sink (or its dead-letter file).
  bool complete() const {
    const auto n = written();
    if (hec_count() + torn_ids_.size() < n || syslog_count() < n) return false;
    const auto k = kafka_count();
    if (k < static_cast<std::int64_t>(n)) return false;
    for (const auto& [sink, r] : check())
      for (const auto& id : r.missing)
        if (!may_be_torn(sink, id)) return false;
    return true;
  }

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

TEST_F(Soak, ChaosLosesNothing) {
  start_peers();
  if (HasFatalFailure()) return;
  config_ = write_config();
  t0_ = Clock::now();
  start_writers();
  start_sampler();
  start_connector();
  if (HasFatalFailure()) return;
  ASSERT_TRUE(all_sinks_reach(1, 60s)) << "nothing delivered to some sink\n" << err_tail();

  // ---- phase 1: SIGKILL at random moments, peer faults in between -------------------------------
  for (int k = 0; k < kills_; ++k) {
    const auto until = Clock::now() + std::chrono::milliseconds(uniform(2000, 6000));
    for (int f = 0; f < 20 && Clock::now() < until; ++f) {
      if (uniform(0, 1) == 0) random_fault();
      std::this_thread::sleep_for(std::chrono::milliseconds(uniform(200, 1000)));
    }
    ASSERT_TRUE(connector_->running()) << "the connector exited on its own\n" << err_tail();
    if (k == 0 && disk_buffered("hec-out")) {  // the first kill tears HEC's buffer tail
      kill_and_tear_hec_buffer();
      if (HasFatalFailure()) return;
      continue;
    }
    connector_->signal(SIGKILL);
    EXPECT_EQ(connector_->wait(10s), 128 + SIGKILL);
    ++sigkills_;
    note(fmt::format("connector SIGKILLed ({} of {}), {} records written so far", sigkills_, kills_, written()));
    start_connector();
    if (HasFatalFailure()) return;
  }

  // ---- phase 2: SIGTERM while draining --------------------------------------------------------------
  // HEC refuses everything for 2 s, so a backlog builds up behind it; then its next requests stall
  // and acks are slow, and SIGTERM arrives: the connector must deliver the backlog within
  // drain_timeout (20 s) or give up on it (exit 2, read again at the next start), never hang.
  hec_->fail_busy(1'000'000'000);
  std::this_thread::sleep_for(std::chrono::milliseconds(uniform(2000, 3000)));
  hec_->fail_busy(0);
  // SIGTERM only comes once HEC took events again, so that the slow requests below are a drain in
  // progress. Two things can hold events back after the restarts above: the drain does not wait for
  // a sink whose last delivery failed (docs/architecture.md, "Shutdown"), and the file source waits
  // at start-up for the Graph source to catch up (start-up order; no longer once that one is in
  // error backoff, e.g. from 503s, but a 429 Retry-After is throttling, not an error), at most
  // PipelineOptions::state_warmup_max (120 s); the bound covers both.
  const auto hec_recovering = hec_count();
  ASSERT_TRUE(eventually([&] { return hec_count() > hec_recovering; }, 130s, 50ms))
      << "HEC received nothing after it stopped refusing\n" << err_tail();
  hec_server_->add_fault(siem::httpd::Fault::slow("/services/collector/event", 1500ms, 2));
  hec_->set_slow_acks(1000ms, 2);
  faults_ += 2;
  std::this_thread::sleep_for(300ms);
  ASSERT_TRUE(connector_->running()) << err_tail();
  const auto hec_at_term = hec_count();
  const auto term_at = Clock::now();
  connector_->signal(SIGTERM);
  const int term_status = connector_->wait(40s);
  const double term_seconds = std::chrono::duration<double>(Clock::now() - term_at).count();
  ++sigterms_;
  note(fmt::format("connector SIGTERMed mid-drain: exit {} after {:.1f} s, HEC received {} event(s) during the drain",
                   term_status, term_seconds, hec_count() - hec_at_term));
  EXPECT_TRUE(term_status == 0 || term_status == 2) << "SIGTERM: exit " << term_status << "\n" << err_tail();
  EXPECT_LT(term_seconds, 35.0) << "the drain overran drain_timeout";
  // Whether HEC still had events in flight at SIGTERM depends on timing (the disk buffer may hold
  // the rest for the next start, which is also correct): the run says which it was, and the
  // checks that matter hold either way (exit 0 or 2 within drain_timeout above; every record
  // delivered at the end).
  if (hec_count() == hec_at_term) note("SIGTERM found nothing in flight to HEC this time (the drain had nothing to wait for)");
  hec_->set_slow_acks(0ms, 0);
  start_connector();
  if (HasFatalFailure()) return;

  // ---- phase 3: one process through a dead sink and reconnect storms: RSS, fds, threads -----------
  // Steady state first: this process delivers to every sink (its connections are all open).
  const auto h0 = hec_count(), s0 = syslog_count();
  const auto k0 = kafka_count();
  ASSERT_TRUE(eventually([&] { return (hec_count() > h0 && syslog_count() > s0 && kafka_count() > k0) || writers_done_; },
                         60s, 250ms))
      << err_tail();
  siem::test::ProcStats baseline;
  for (int i = 0; i < 5; ++i) {  // start counts: the largest of five samples in steady state
    const auto s = proc_stats(pid_.load());
    baseline.fds = std::max(baseline.fds, s.fds);
    baseline.threads = std::max(baseline.threads, s.threads);
    std::this_thread::sleep_for(400ms);
  }
  ASSERT_GT(baseline.fds, 0u) << err_tail();
  note(fmt::format("baseline: {} fds, {} threads", baseline.fds, baseline.threads));

  // The HEC sink is dead (every request refused) for dead_seconds_ under the steady load. Sampled
  // every second: the segment bytes of HEC's disk buffer, and (by the sampler) the connector's RSS;
  // every minute (a quarter of a phase shorter than two minutes) the other sinks' counts.
  const fs::path hec_buffer = dir_ / "state" / "buffers" / "hec-out";
  dead_started_ = Clock::now();
  dead_phase_ = true;
  hec_->fail_busy(1'000'000'000);
  ++faults_;
  note(fmt::format("hec: dead for {} s", dead_seconds_));
  const auto dead_until = Clock::now() + std::chrono::seconds(dead_seconds_);
  std::this_thread::sleep_for(1s);  // a request already past the fault hook may still store
  const auto hec_before = hec_count();
  hec_dead_from_ = hec_before;
  const auto syslog_before = syslog_count();
  const auto kafka_before = kafka_count();
  const int check_every = dead_seconds_ >= 120 ? 60 : std::max(1, dead_seconds_ / 4);
  struct Mark {
    double seconds;  // since the sampling started
    std::size_t syslog;
    std::int64_t kafka;
    std::uint64_t buffer;
  };
  const auto sampled_from = Clock::now();
  const auto since = [&] { return std::chrono::duration<double>(Clock::now() - sampled_from).count(); };
  const auto mark = [&] { return Mark{since(), syslog_count(), kafka_count(), siem::soak::segment_bytes(hec_buffer)}; };
  std::vector<Mark> marks{{0.0, syslog_before, kafka_before, siem::soak::segment_bytes(hec_buffer)}};
  buffer_first_ = buffer_peak_ = marks.front().buffer;
  for (int i = 1; i <= 2 * dead_seconds_ + 2 && Clock::now() < dead_until; ++i) {
    std::this_thread::sleep_until(std::min(dead_until, sampled_from + i * 1s));
    buffer_peak_ = std::max(buffer_peak_, siem::soak::segment_bytes(hec_buffer));
    if (i % check_every == 0) marks.push_back(mark());
  }
  // The rest of the phase is an interval of its own when it is at least half a one long.
  if (since() - marks.back().seconds >= check_every / 2.0) marks.push_back(mark());
  buffer_last_ = siem::soak::segment_bytes(hec_buffer);
  buffer_peak_ = std::max(buffer_peak_, buffer_last_);
  EXPECT_EQ(hec_count(), hec_before) << "the dead HEC stored events";
  std::string per_interval;
  bool every_interval_rose = true, buffer_grew = true;
  for (std::size_t m = 1; m < marks.size(); ++m) {
    per_interval += fmt::format("\n[soak]   {:.0f}-{:.0f} s: syslog +{}, kafka +{}, hec buffer {:.1f} MiB",
                                marks[m - 1].seconds, marks[m].seconds, marks[m].syslog - marks[m - 1].syslog,
                                marks[m].kafka - marks[m - 1].kafka, marks[m].buffer / 1048576.0);
    every_interval_rose = every_interval_rose && marks[m].syslog > marks[m - 1].syslog && marks[m].kafka > marks[m - 1].kafka;
    buffer_grew = buffer_grew && marks[m].buffer > marks[m - 1].buffer;
  }
  note(fmt::format("during the dead phase, every {} s:{}", check_every, per_interval));
  if (disk_buffered("hec-out")) {
    if (dead_seconds_ >= 120) {
      // The long form: the other sinks received in every minute of the outage, and the buffer grew.
      EXPECT_TRUE(every_interval_rose) << "syslog or kafka stalled in some minute of HEC's outage:" << per_interval;
      EXPECT_TRUE(buffer_grew) << "HEC's disk buffer did not grow in some minute of its outage:" << per_interval;
    }
    // The other sinks keep receiving while the dead one buffers, and its buffer grows. HEC stays
    // dead until they have (bounded), for a phase too short to show it by itself: a connector
    // restarted just before it starts its file source once the Graph source caught up.
    EXPECT_TRUE(eventually(
        [&] {
          buffer_last_ = siem::soak::segment_bytes(hec_buffer);
          buffer_peak_ = std::max(buffer_peak_, buffer_last_);
          return syslog_count() > syslog_before && kafka_count() > kafka_before && buffer_last_ > buffer_first_;
        },
        90s, 250ms))
        << "syslog or kafka stalled behind the dead HEC sink, or its buffer did not grow: syslog +"
        << syslog_count() - syslog_before << ", kafka +" << kafka_count() - kafka_before << ", buffer " << buffer_first_
        << " -> " << buffer_last_ << " byte(s)";
    EXPECT_LE(buffer_peak_, hec_buffer_max_bytes()) << "HEC's disk buffer went over its max_size";
    EXPECT_EQ(hec_count(), hec_before) << "the dead HEC stored events";
  }
  note(fmt::format("during the dead phase: syslog +{}, kafka +{}", syslog_count() - syslog_before,
                   kafka_count() - kafka_before));
  hec_->fail_busy(0);
  dead_phase_ = false;
  note("hec: back");

  // Reconnect storm: every peer connection broken, several times.
  for (int round = 0; round < 3; ++round) {
    rsyslog_->stop();
    std::this_thread::sleep_for(300ms);
    rsyslog_->start();
    ++rsyslog_restarts_;
    hec_->drop_connections(3);
    for (int b = 1; b <= 3; ++b) rd_kafka_mock_broker_set_down(kafka_->get(), b);
    std::this_thread::sleep_for(1500ms);
    for (int b = 1; b <= 3; ++b) rd_kafka_mock_broker_set_up(kafka_->get(), b);
    ++kafka_outages_;
    // (No leader moves here: the producer keeps connections to the leaders it needs, so moving
    // them would change the fd count for a reason other than a leak. Phase 1 moves leaders.)
    faults_ += 3;
    note(fmt::format("reconnect storm round {}: rsyslog restarted, 3 HEC connections dropped, all brokers down 1.5 s",
                     round + 1));
    std::this_thread::sleep_for(std::chrono::milliseconds(uniform(500, 1500)));
  }
  // Recovered: everything written by now arrives, then fds and threads return to their start counts.
  // (Not fatal when it fails: the checker below still reports what each peer lacks.)
  const std::size_t target = written();
  const bool caught_up = all_sinks_reach(target, std::chrono::seconds(drain_seconds_));
  EXPECT_TRUE(caught_up) << "after the storms: hec " << hec_count() << " syslog " << syslog_count() << " kafka "
                         << kafka_count() << " of " << target << "\n"
                         << err_tail();
  ASSERT_TRUE(connector_->running()) << err_tail();
  siem::test::ProcStats after;
  // librdkafka may come back from "all brokers down" holding a connection to one broker more than
  // before (a bootstrap connection next to the leaders'), seen once under a loaded CI run. A leak
  // per reconnect grows by at least 9 over the three rounds (3 HEC drops, 1 rsyslog restart and
  // 1 Kafka outage each), far above this slack.
  constexpr std::size_t kFdSlack = 2;
  if (caught_up) {
    const bool fds_back = eventually(
        [&] {
          after = proc_stats(pid_.load());
          return after.fds <= baseline.fds + kFdSlack && after.threads <= baseline.threads;
        },
        30s, 500ms);
    note(fmt::format("after the storms: {} fds, {} threads", after.fds, after.threads));
    EXPECT_TRUE(fds_back) << "fds " << baseline.fds << " -> " << after.fds << ", threads " << baseline.threads << " -> "
                          << after.threads << "\n"
                          << "ls -l /proc/" << pid_.load() << "/fd:\n"
                          << siem::testing::run_command("ls -l /proc/" + std::to_string(pid_.load()) + "/fd 2>&1");
  }

  // ---- phase 4: the rest of the load, then everything must be there -----------------------------
  ASSERT_TRUE(eventually([&] { return writers_done_.load(); }, std::chrono::seconds(write_seconds_ + 60), 250ms));
  // (Once a catch-up failed, records are known to be missing: a short final wait is enough.)
  const bool done = eventually([&] { return complete(); }, std::chrono::seconds(caught_up ? drain_seconds_ : 15), 2000ms);
  connector_->signal(SIGTERM);
  const int final_status = connector_->wait(40s);
  ++sigterms_;
  stop_sampler();
  EXPECT_TRUE(done) << "not everything arrived within " << drain_seconds_ << " s";
  EXPECT_EQ(final_status, 0) << err_tail();

  // ---- the checker's report -----------------------------------------------------------------------
  const auto received = received_ids();
  const auto report = check(received);
  const std::size_t expected = written();
  // Documented bound (docs/testing.md): a restart re-sends at most the in-flight window, a peer fault
  // at most the batches in flight when it struck.
  // One poll batch per source is queued as a single entry whatever its size: a Graph page, and for
  // the file source one read of 4 MiB (FileSourceOptions::read_chunk) worth of records.
  const std::size_t file_read_records = (4u << 20) / (audit_record(file_id(0), "2026-03-04T10:15:30Z").dump().size() + 1) + 1;
  const std::size_t window = kQueueEvents + kSinkBufferEvents + 2 * kBatchEvents + kGraphPageSize + file_read_records;
  const std::size_t restarts = static_cast<std::size_t>(sigkills_ + sigterms_);
  const std::size_t peer_faults = static_cast<std::size_t>(faults_);
  const std::size_t dup_bound = restarts * window + peer_faults * kBatchEvents;
  // And per record: each restart and each peer fault may send it once more, nothing else may.
  const int copies_bound = 1 + static_cast<int>(restarts + peer_faults);
  std::cout << "[soak] ---------------------------------------------------------------- figures\n"
            << fmt::format("[soak] seed {}  records {} ({} file, {} graph)  connector starts {}  SIGKILL {}  SIGTERM {}  "
                           "peer faults {} (rsyslog restarts {}, kafka outages {}, leader changes {})\n",
                           seed_, expected, files_written_.load(), graph_written_.load(), starts_, sigkills_, sigterms_,
                           faults_, rsyslog_restarts_, kafka_outages_, leader_changes_);
  for (const auto& sink : kSinks) {
    const auto& r = report.at(sink);
    std::cout << fmt::format("[soak] {:<11} delivered {}/{}  duplicates {} (bound {}), at most {} copies of one record "
                             "(bound {})  dead-lettered {}  missing {}  unexpected {}\n",
                             sink, r.counts.size(), expected, r.duplicates, dup_bound, r.max_copies, copies_bound,
                             r.dead_lettered, r.missing.size(), r.unexpected.size());
    for (const auto& id : r.missing)
      std::cout << "[soak]   missing " << sink << " " << id << (may_be_torn(sink, id) ? " (the torn record)" : "") << "\n";
    for (std::size_t i = 0; i < r.unexpected.size() && i < 20; ++i)
      std::cout << "[soak]   unexpected " << sink << " " << r.unexpected[i] << "\n";
  }
  for (const auto& id : torn_ids_)
    std::cout << fmt::format("[soak] torn HEC buffer tail: {} {}\n", id,
                             report.at("hec-out").counts.count(id) ? "delivered (its source read it again)"
                                                                   : "lost after its checkpoint, reported in the log");
  {
    std::lock_guard lock(figures_mu_);
    std::cout << fmt::format("[soak] RSS peak {:.1f} MiB (dead-sink phase {:.1f} MiB, ceiling {} MiB) over {} samples\n",
                             figures_.peak_rss_kb / 1024.0, figures_.peak_rss_dead_phase_kb / 1024.0,
                             rss_ceiling_kb_ / 1024, figures_.samples)
              << fmt::format("[soak] fds start {} after storms {} peak {}; threads start {} after storms {} peak {}\n",
                             baseline.fds, after.fds, figures_.peak_fds, baseline.threads, after.threads,
                             figures_.peak_threads)
              << fmt::format("[soak] wall time {:.0f} s", std::chrono::duration<double>(Clock::now() - t0_).count())
              << std::endl;
    EXPECT_FALSE(rss_over_ceiling_.load()) << "RSS went over the ceiling";
    EXPECT_GT(figures_.peak_rss_dead_phase_kb, 0u) << "no RSS sample during the dead-sink phase";
    // Flat RSS while HEC is dead: the events go to its disk buffer, not to memory. The trend over
    // the phase (least squares over the 1 s samples) must not add up to more than 12 MiB; a buffer
    // held in memory would grow by the buffer's size (56 MiB in the long form).
    const auto& rss = figures_.dead_phase_rss;
    const double slope = siem::soak::slope_kib_per_minute(rss);
    const double minutes = rss.empty() ? 0.0 : (rss.back().first - rss.front().first) / 60.0;
    double low = 0, high = 0;
    for (std::size_t i = 0; i < rss.size(); ++i) {
      low = i == 0 ? rss[i].second : std::min(low, rss[i].second);
      high = std::max(high, rss[i].second);
    }
    std::cout << fmt::format("[soak] RSS while HEC was dead: {} samples over {:.1f} min, min {:.1f} MiB, max {:.1f} MiB, "
                             "slope {:+.1f} KiB/min ({:+.2f} MiB over the phase)\n",
                             rss.size(), minutes, low / 1024.0, high / 1024.0, slope, slope * minutes / 1024.0)
              << fmt::format("[soak] hec-out disk buffer while HEC was dead: {:.1f} MiB -> {:.1f} MiB, peak {:.1f} MiB "
                             "(max_size {} MiB)",
                             buffer_first_ / 1048576.0, buffer_last_ / 1048576.0, buffer_peak_ / 1048576.0,
                             hec_buffer_max_bytes() >> 20)
              << std::endl;
    if (dead_seconds_ >= 120) {
      EXPECT_LT(slope * minutes, 12.0 * 1024) << "RSS grew while HEC was dead";
    }
  }
  // When HEC came back it got the backlog of its outage and everything after it in order per source.
  const auto order = hec_order(received, hec_dead_from_);
  print_order("from the outage on", order);
  EXPECT_EQ(order.violation_count, 0u) << "HEC received records of a source out of order";
  EXPECT_GT(order.checked.count("soak-file") ? order.checked.at("soak-file") : 0, 0u) << "no order was checked";
  EXPECT_GE(sigkills_, std::min(kills_, 3));
  EXPECT_GE(rsyslog_restarts_, 1);
  for (const auto& sink : kSinks) {
    const auto& r = report.at(sink);
    std::size_t torn_lost = 0;
    for (const auto& id : r.missing) {
      EXPECT_TRUE(may_be_torn(sink, id)) << sink << ": " << id << " neither delivered nor dead-lettered";
      torn_lost += may_be_torn(sink, id) ? 1 : 0;
    }
    EXPECT_TRUE(r.unexpected.empty()) << sink << ": " << r.unexpected.size() << " message(s) that were never written";
    EXPECT_EQ(r.counts.size() + r.dead_lettered + torn_lost, expected) << sink;
    EXPECT_LE(r.duplicates, dup_bound) << sink << ": duplicates beyond the documented bound";
    EXPECT_LE(r.max_copies, copies_bound) << sink << ": a record was sent more often than restarts and faults explain";
    EXPECT_EQ(r.dead_lettered, 0u) << sink << ": valid records were dead-lettered\n" << slurp(dir_ / "dead-letter.ndjson").substr(0, 4000);
  }
}

// The variant with a disk buffer too small for the outage, `when_full: block`: HEC dies, its buffer
// fills up to max_size and stays within it, the sources stop reading (their read counters on
// /metrics stand still while records wait in the input), and once HEC is back every record reaches
// every sink, HEC's in order per source. No SIGKILLs or other faults here.
TEST_F(Soak, DiskBufferFullBlocksTheSourcesAndLosesNothing) {
  constexpr std::uint64_t kMaxSize = 256 << 10;
  hec_buffer_yaml_ = "{type: disk, max_size: 256KiB, when_full: block, max_events: 100, max_bytes: 8MiB}";
  observability_ = true;
  file_records_ = 1800;
  graph_records_ = 450;
  write_seconds_ = 45;
  note(fmt::format("variant: {} file + {} graph records over {} s, HEC on {}, no SIGKILLs", file_records_, graph_records_,
                   write_seconds_, hec_buffer_yaml_));
  start_peers();
  if (HasFatalFailure()) return;
  config_ = write_config();
  t0_ = Clock::now();
  start_writers();
  start_sampler();
  start_connector();
  if (HasFatalFailure()) return;
  ASSERT_TRUE(all_sinks_reach(1, 60s)) << "nothing delivered to some sink\n" << err_tail();

  hec_->fail_busy(1'000'000'000);
  note("hec: dead until the sources stopped");
  const fs::path hec_buffer = dir_ / "state" / "buffers" / "hec-out";
  std::uint64_t buffer_peak = 0;
  // The sources stopped: their read counters stand still for 4 s while records wait unread.
  std::optional<double> file_read, graph_read;
  int still = 0;
  const bool stopped = eventually(
      [&] {
        buffer_peak = std::max(buffer_peak, siem::soak::segment_bytes(hec_buffer));
        const auto f = metric("siem_source_records_total", "source=\"soak-file\"");
        const auto g = metric("siem_source_records_total", "source=\"soak-graph\"");
        still = f && g && f == file_read && g == graph_read ? still + 1 : 0;
        file_read = f;
        graph_read = g;
        return still >= 4 && f && *f < static_cast<double>(files_written_.load());
      },
      90s, 1000ms);
  const auto buffer_metric = metric("siem_sink_buffer_bytes", "sink=\"hec-out\"");
  buffer_peak = std::max(buffer_peak, siem::soak::segment_bytes(hec_buffer));
  note(fmt::format("sources stopped: {}; file read {} of {} written, graph read {}; hec buffer {} byte(s) on disk, "
                   "{} on /metrics (max_size {})",
                   stopped, file_read.value_or(-1), files_written_.load(), graph_read.value_or(-1), buffer_peak,
                   buffer_metric.value_or(-1), kMaxSize));
  EXPECT_TRUE(stopped) << "the sources did not stop with HEC's disk buffer full\n" << err_tail();
  EXPECT_LE(buffer_peak, kMaxSize) << "the disk buffer went over its max_size";
  EXPECT_GT(buffer_peak, kMaxSize / 2) << "the disk buffer did not fill up";
  EXPECT_LE(buffer_metric.value_or(0), static_cast<double>(kMaxSize));
  hec_->fail_busy(0);
  note("hec: back");

  ASSERT_TRUE(eventually([&] { return writers_done_.load(); }, std::chrono::seconds(write_seconds_ + 60), 250ms));
  const bool done = eventually([&] { return complete(); }, std::chrono::seconds(drain_seconds_), 1000ms);
  connector_->signal(SIGTERM);
  const int final_status = connector_->wait(40s);
  stop_sampler();
  EXPECT_TRUE(done) << "not everything arrived within " << drain_seconds_ << " s\n" << err_tail();
  EXPECT_EQ(final_status, 0) << err_tail();

  const auto received = received_ids();
  const auto report = check(received);
  const std::size_t expected = written();
  std::cout << "[soak] ---------------------------------------------------------------- figures (disk buffer full)\n";
  for (const auto& sink : kSinks) {
    const auto& r = report.at(sink);
    std::cout << fmt::format("[soak] {:<11} delivered {}/{}  duplicates {}  dead-lettered {}  missing {}  unexpected {}\n",
                             sink, r.counts.size(), expected, r.duplicates, r.dead_lettered, r.missing.size(),
                             r.unexpected.size());
    for (std::size_t i = 0; i < r.missing.size() && i < 20; ++i) std::cout << "[soak]   missing " << sink << " " << r.missing[i] << "\n";
    EXPECT_TRUE(r.missing.empty()) << sink << ": " << r.missing.size() << " record(s) lost";
    EXPECT_TRUE(r.unexpected.empty()) << sink;
    EXPECT_EQ(r.counts.size(), expected) << sink;
    EXPECT_EQ(r.dead_lettered, 0u) << sink;
  }
  const auto order = hec_order(received, 0);
  print_order("over the whole run", order);
  EXPECT_EQ(order.violation_count, 0u) << "HEC received records of a source out of order";
  {
    std::lock_guard lock(figures_mu_);
    std::cout << fmt::format("[soak] hec buffer peak {} byte(s) of max_size {}; RSS peak {:.1f} MiB; wall time {:.0f} s",
                             buffer_peak, kMaxSize, figures_.peak_rss_kb / 1024.0,
                             std::chrono::duration<double>(Clock::now() - t0_).count())
              << std::endl;
    EXPECT_FALSE(rss_over_ceiling_.load()) << "RSS went over the ceiling";
  }
}

}  // namespace
