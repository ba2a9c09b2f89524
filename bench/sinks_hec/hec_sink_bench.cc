// Splunk HEC sink throughput: one iteration is one SplunkHecSink::send() of a batch of ~1.4 KB ECS
// documents to the HEC emulator over HTTPS on 127.0.0.1 (test CA), returning when the emulator
// answered (and, with ack, when every ackId is true), as the sink runner drives it.
// Args: events per send, gzip (0/1), ack (0/1).
#include <benchmark/benchmark.h>

#include "sinks/splunk_hec/splunk_hec_sink.h"
#include "tests/support/loopback_server.h"
#include "tests/support/test_pki.h"
#include "tools/hec_emulator/hec_emulator.h"

using namespace siem;
using namespace std::chrono_literals;

namespace {

std::vector<EventPtr> make_events(std::size_t n) {
  std::vector<EventPtr> v;
  const std::string filler(1200, 'x');
  for (std::size_t i = 0; i < n; ++i) {
    auto e = std::make_shared<MappedEvent>();
    e->set_id("evt-" + std::to_string(i));
    e->kind = SourceKind::graph_directory_audit;
    e->source_name = "entra-audit";
    e->set_tenant_id("8f9c1f6e-0000-4000-8000-000000000001");
    e->time_ms = 1772619330123 + static_cast<std::int64_t>(i);
    e->ecs = R"({"@timestamp":"2026-03-04T10:15:30.123Z","event":{"id":")" + std::string(e->id()) +
             R"(","action":"Add member to role","category":["iam"]},"message":")" + filler + R"("})";
    v.push_back(std::move(e));
  }
  return v;
}

void BM_HecSend(benchmark::State& state) {
  const auto batch_size = static_cast<std::size_t>(state.range(0));
  test::TestPki pki;
  auto server = test::make_tls_server(pki);
  hec::HecOptions o;
  o.ack_enabled = state.range(2) != 0;
  hec::HecEmulator hec(o, *server);
  server->start();

  HecSinkSettings s;
  s.name = "bench";
  s.base_url = server->base_url();
  s.url = s.base_url + "/services/collector/event";
  s.token = Secret(o.tokens.front());
  s.host = "bench-host";
  s.gzip = state.range(1) != 0;
  s.ack = o.ack_enabled;
  s.ack_poll_interval = 1ms;
  s.http.ca_file = pki.ca_pem();
  s.http.use_env_proxy = false;
  SplunkHecSink sink(s);
  sink.start();
  auto events = make_events(batch_size);
  std::size_t bytes = 0;
  for (const auto& e : events) bytes += e->ecs.size();

  for (auto _ : state) {
    auto r = sink.send(events);
    if (r.status != SendStatus::ok) state.SkipWithError(r.error.c_str());
    state.PauseTiming();
    hec.reset();  // keep the emulator's memory flat
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * batch_size));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes));
}

}  // namespace

BENCHMARK(BM_HecSend)
    ->ArgNames({"events", "gzip", "ack"})
    ->Args({100, 1, 0})
    ->Args({500, 1, 0})
    ->Args({2000, 1, 0})
    ->Args({500, 0, 0})
    ->Args({500, 1, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

BENCHMARK_MAIN();
