// Throughput of the Kafka sink against librdkafka's mock cluster (3 brokers on 127.0.0.1): one
// send() per iteration = produce a batch and wait for every delivery report (acks=all,
// idempotent), as the sink runner drives it. Events are ~1.5 KB ECS documents.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <memory>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "connector/config/config_node.h"
#include "sinks/kafka/kafka_sink.h"

namespace {

using namespace siem;

std::vector<EventPtr> make_events(std::size_t n) {
  std::vector<EventPtr> v;
  v.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    auto ev = std::make_shared<MappedEvent>();
    ev->kind = SourceKind::graph_directory_audit;
    ev->source_name = "entra-audit";
    ev->set_id(fmt::format("Directory_{:032d}", i));
    ev->set_tenant_id("11111111-2222-3333-4444-555555555555");
    ev->tier = static_cast<int>(i % 3) - 1;
    ev->ecs = fmt::format(
        R"({{"@timestamp":"2026-11-01T10:00:{:02d}.000Z","event":{{"id":"{}","action":"Add member to role","kind":"event","category":["iam"],"type":["change","group"],"outcome":"success"}},"user":{{"name":"admin{}@contoso.example","id":"{:032x}"}},"azure":{{"auditlogs":{{"properties":{{"target_resources":{{"0":{{"display_name":"Global Administrator","id":"62e90394-69f5-4237-9190-012177145e10","modified_properties":{{"0":{{"display_name":"Role.DisplayName","new_value":"Global Administrator"}}}}}}}}}}}},"privileged_access":{{"tier":0,"roles":["Global Administrator"]}}}},"cloud":{{"provider":"azure","account":{{"id":"11111111-2222-3333-4444-555555555555"}}}},"source":{{"ip":"203.0.113.{}"}},"message":"{}"}})",
        i % 60, ev->id(), i, i, i % 250, std::string(700, 'm'));
    v.push_back(std::move(ev));
  }
  return v;
}

struct Fixture {
  rd_kafka_t* rk = nullptr;
  rd_kafka_mock_cluster_t* mc = nullptr;
  Diagnostics diags;
  std::shared_ptr<ConfigDocument> doc;
  std::unique_ptr<KafkaSink> sink;

  explicit Fixture(const std::string& compression) {
    spdlog::set_level(spdlog::level::warn);
    char err[256];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);  // the mock's handle has no brokers
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    mc = rd_kafka_mock_cluster_new(rk, 3);
    rd_kafka_mock_set_apiversion(mc, 3, 0, 4);
    rd_kafka_mock_topic_create(mc, "bench", 3, 3);
    doc = ConfigDocument::load_string(
        fmt::format("brokers: \"{}\"\ntopic: bench\ncompression: {}\nproperties:\n  log_level: 3\n",
                    rd_kafka_mock_cluster_bootstraps(mc), compression),
        "bench.yaml", diags);
    sink = std::make_unique<KafkaSink>(read_kafka_sink_settings(doc->root(), "bench", OutputFormat::ecs));
    sink->start();
  }
  ~Fixture() {
    sink->stop();
    sink.reset();
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
  }
};

void run(benchmark::State& state, const std::string& compression) {
  Fixture f(compression);
  const auto events = make_events(static_cast<std::size_t>(state.range(0)));
  std::size_t bytes = 0;
  for (const auto& e : events) bytes += e->ecs.size();
  for (auto _ : state) {
    const auto r = f.sink->send(events);
    if (r.status != SendStatus::ok) {
      state.SkipWithError(r.error.c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes));
}

void BM_KafkaSinkSend_zstd(benchmark::State& state) { run(state, "zstd"); }
void BM_KafkaSinkSend_none(benchmark::State& state) { run(state, "none"); }
void BM_KafkaSinkSend_gzip(benchmark::State& state) { run(state, "gzip"); }

BENCHMARK(BM_KafkaSinkSend_zstd)->Arg(100)->Arg(500)->Arg(2000)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_KafkaSinkSend_none)->Arg(500)->Arg(2000)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_KafkaSinkSend_gzip)->Arg(500)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
