#include "tests/soak/chaos/soak_fixture.h"

#include <signal.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tests/support/test_http.h"

namespace siem::soak {

using nlohmann::json;
using siem::test::eventually;
using siem::test::proc_stats;

void Soak::SetUp() {
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

void Soak::TearDown() {
  stop_sampler();
  stop_writers();
  connector_.reset();
  if (!HasFailure()) fs::remove_all(dir_);
  else std::cout << "[soak] kept " << dir_ << " (config, connector stderr, rsyslog output)" << std::endl;
}

// ---- peers --------------------------------------------------------------------------------------

void Soak::start_peers() {
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

fs::path Soak::write_config() const {
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

void Soak::start_writers() {
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

// ---- the connector ------------------------------------------------------------------------------

void Soak::start_connector() {
  connector_ = std::make_unique<ConnectorProcess>(dir_, std::vector<std::string>{"run", "-c", config_.string()},
                                                  /*append_logs=*/true);
  ASSERT_TRUE(connector_->started());
  pid_ = connector_->pid();
  ++starts_;
}

void Soak::start_run() {
  start_peers();
  if (HasFatalFailure()) return;
  config_ = write_config();
  t0_ = Clock::now();
  start_writers();
  start_sampler();
  start_connector();
}

void Soak::start_sampler() {
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

// ---- /metrics (with observability_) --------------------------------------------------------------

int Soak::metrics_port() const {
  const std::string marker = "/readyz on 127.0.0.1:";
  const auto err = slurp(dir_ / "stderr");
  const auto at = err.rfind(marker);
  return at == std::string::npos ? 0 : std::atoi(err.c_str() + at + marker.size());
}

std::optional<double> Soak::metric(const std::string& family, const std::string& label) const {
  const int port = metrics_port();
  if (port == 0) return std::nullopt;
  const auto r = siem::test::http_fetch("GET", fmt::format("http://127.0.0.1:{}/metrics", port));
  std::istringstream in(r.body);
  for (std::string l; std::getline(in, l);)
    if (l.rfind(family + "{", 0) == 0 && l.find(label) != std::string::npos) return std::strtod(l.c_str() + l.rfind(' ') + 1, nullptr);
  return std::nullopt;
}

// ---- progress (cheap) ---------------------------------------------------------------------------

bool Soak::all_sinks_reach(std::size_t n, std::chrono::seconds timeout) {
  return eventually(
      [&] {
        return hec_count() + torn_ids_.size() >= n && syslog_count() >= n && kafka_count() >= static_cast<std::int64_t>(n);
      },
      timeout, 250ms);
}

// ---- random faults ------------------------------------------------------------------------------

void Soak::random_fault() {
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

void Soak::kill_and_tear_hec_buffer() {
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

// ---- order per source at HEC ------------------------------------------------------------------

siem::soak::OrderReport Soak::hec_order(const std::map<std::string, std::vector<std::string>>& received, std::size_t from) const {
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

void Soak::print_order(const char* what, const siem::soak::OrderReport& o) const {
  std::cout << fmt::format("[soak] hec-out order {}: {} file and {} graph records first delivered, {} out of order\n", what,
                           o.checked.count("soak-file") ? o.checked.at("soak-file") : 0,
                           o.checked.count("soak-graph") ? o.checked.at("soak-graph") : 0, o.violation_count);
  for (const auto& v : o.violations) std::cout << "[soak]   out of order: " << v << "\n";
}

// ---- the checker --------------------------------------------------------------------------------

std::set<std::string> Soak::expected_ids() const {
  std::set<std::string> out;
  for (int i = 0; i < files_written_; ++i) out.insert(file_id(i));
  for (int i = 0; i < graph_written_; ++i) out.insert(graph_id(i));
  return out;
}

std::map<std::string, std::set<std::string>> Soak::dead_letters() const {
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

std::map<std::string, std::vector<std::string>> Soak::received_ids() const {
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

std::map<std::string, SinkReport> Soak::check(const std::map<std::string, std::vector<std::string>>& received_by_sink) const {
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

bool Soak::complete() const {
  const auto n = written();
  if (hec_count() + torn_ids_.size() < n || syslog_count() < n) return false;
  const auto k = kafka_count();
  if (k < static_cast<std::int64_t>(n)) return false;
  for (const auto& [sink, r] : check())
    for (const auto& id : r.missing)
      if (!may_be_torn(sink, id)) return false;
  return true;
}

}  // namespace siem::soak
