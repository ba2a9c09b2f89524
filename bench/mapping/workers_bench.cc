// The mapping stage on `pipeline.workers` threads: the real Pipeline (its workers, chunks and turns,
// core/pipeline_workers.cc) with the mapping processor (full mapping and enrichment) between an
// in-memory source and a sink that takes every batch at once, so what is measured is the mapping
// stage and its scheduling. The realistic mix (bench/mapping/record_corpus.h) in source runs of 25
// records, handed over in batches of 500 made before the timed part. workers/<format>/<N>: N
// workers; the time (and items/s) is wall-clock from the start of Pipeline::run() until the last
// record left the mapping stage for the sink (LastRecordClock); CPU is the process's CPU time (all
// threads) for the whole run, shutdown included.
//
// Run (quiet machine, for the wall-clock ratio of 2 to 1 workers):
//   build/bench/mapping/workers_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
// SIEM_BENCH_RECORDS=N records per iteration (default 100000); SIEM_BENCH_ITERATIONS=N iterations;
// SIEM_BENCH_LOG=debug also prints each worker's chunks, CPU time and how it got its turns.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <spdlog/spdlog.h>

#include "bench/mapping/record_corpus.h"
#include "connector/config/config_node.h"
#include "connector/core/pipeline.h"
#include "connector/enrichment/mapping_processor.h"
#include "connector/state/state_store.h"

namespace {

using namespace siem;

constexpr std::size_t kBatch = 500;

// `total` records cycled from `mix`, in batches of kBatch. The batches are made (the records
// copied: a source's records are its own) when the source is built, outside the timed part, so
// that poll() only hands them over: the source thread takes next to no CPU from the workers, and
// what is timed is the mapping stage (reading and splitting input is the end-to-end benchmarks'
// business, bench/load and bench/race).
class MixSource : public Source {
 public:
  MixSource(const std::vector<const bench::CorpusRecord*>& mix, std::size_t total) {
    for (std::size_t sent = 0; sent < total;) {
      SourceBatch b;
      const std::size_t n = std::min(kBatch, total - sent);
      b.records.reserve(n);
      for (std::size_t i = 0; i < n; ++i, ++sent) {
        RawRecord r;
        r.json = mix[sent % mix.size()]->json;
        b.records.push_back(std::move(r));
      }
      b.checkpoint = std::to_string(sent);
      b.caught_up = sent >= total;
      batches_.push_back(std::move(b));
    }
  }
  void start(const std::optional<std::string>&) override {}
  SourceBatch poll(std::stop_token) override {
    if (next_ == batches_.size()) {
      SourceBatch done;
      done.caught_up = true;
      return done;
    }
    return std::move(batches_[next_++]);
  }

 private:
  std::vector<SourceBatch> batches_;
  std::size_t next_ = 0;
};

class NullSink : public Sink {
 public:
  void start() override {}
  SendResult send(std::span<const EventPtr> batch) override {
    for (const auto& e : batch) benchmark::DoNotOptimize(e->ecs.data());
    return SendResult::success();
  }
};

// After the mapping processor, in the hand-off (input order, one record at a time): notes when
// the last of `expected` records left the mapping stage for the sink's queue. The time measured
// ends there, not when the run ends: the drain after it polls every 20 ms, and a sink batch short
// of its size waits up to its batch timeout (200 ms), noise as large as the 2-worker run itself.
class LastRecordClock : public Processor {
 public:
  LastRecordClock(std::size_t expected, std::chrono::steady_clock::time_point& last)
      : expected_(expected), last_(last) {}
  std::string_view name() const override { return "last-record-clock"; }
  Verdict process(const RawRecord&, const ProcessContext&, MappedEvent&, std::string&) override {
    if (++seen_ == expected_) last_ = std::chrono::steady_clock::now();
    return Verdict::deliver;
  }

 private:
  std::size_t expected_;
  std::size_t seen_ = 0;
  std::chrono::steady_clock::time_point& last_;
};

void run_workers(benchmark::State& state, const std::vector<const bench::CorpusRecord*>& mix, OutputFormat format,
                 std::size_t workers, std::size_t records) {
  const auto dir = std::filesystem::temp_directory_path() / ("siem-workers-bench-" + std::to_string(::getpid()));
  for (auto _ : state) {
    state.PauseTiming();
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    Diagnostics diags;
    auto doc = ConfigDocument::load_string("{}", "<bench>", diags);
    auto mapping = make_mapping_processor(doc->root(), nullptr);
    if (diags.has_errors()) {
      state.SkipWithError(diags.format().c_str());
      break;
    }
    StateStore store(dir / "state");
    DeadLetterWriter dead(dir / "dead.ndjson");
    std::vector<SourceSlot> sources;
    sources.push_back(SourceSlot{"mix", std::make_unique<MixSource>(mix, records)});
    std::vector<SinkSlot> sinks;
    SinkSlot sink;
    sink.name = "null";
    sink.sink = std::make_unique<NullSink>();
    sink.format = format;
    sinks.push_back(std::move(sink));
    std::vector<std::unique_ptr<Processor>> chain;
    chain.push_back(std::move(mapping));
    std::chrono::steady_clock::time_point last{};
    chain.push_back(std::make_unique<LastRecordClock>(records, last));
    PipelineOptions o;
    o.once = true;
    o.workers = workers;
    Pipeline p(o, std::move(sources), std::move(sinks), std::move(chain), store, dead);
    state.ResumeTiming();
    const auto start = std::chrono::steady_clock::now();
    const int status = p.run(std::stop_token{});
    state.PauseTiming();
    if (status != kExitOk) state.SkipWithError(("pipeline exit status " + std::to_string(status)).c_str());
    if (last == std::chrono::steady_clock::time_point{}) state.SkipWithError("not every record was mapped");
    state.SetIterationTime(std::chrono::duration<double>(last - start).count());
    state.ResumeTiming();
  }
  std::filesystem::remove_all(dir);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * records));
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  // SIEM_BENCH_LOG=debug: the pipeline's debug lines too (each worker's chunks and turn waits).
  const char* log = std::getenv("SIEM_BENCH_LOG");
  spdlog::set_level(log ? spdlog::level::from_str(log) : spdlog::level::warn);
  const char* fixed = std::getenv("SIEM_BENCH_ITERATIONS");
  const auto iterations = fixed ? std::strtoll(fixed, nullptr, 10) : 0;
  const char* n = std::getenv("SIEM_BENCH_RECORDS");
  const std::size_t records = n ? static_cast<std::size_t>(std::strtoull(n, nullptr, 10)) : 100'000;

  static bench::Corpus corpus;
  try {
    corpus = bench::Corpus::load(SIEM_TEST_DATA_DIR);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "workers_bench: %s\n", e.what());
    return 1;
  }
  static const auto mix = corpus.mix(2000, 25);
  for (auto format : {OutputFormat::ecs, OutputFormat::cef}) {
    for (std::size_t workers : {1, 2}) {
      const std::string name = "workers/" + std::string(to_string(format)) + "/" + std::to_string(workers);
      auto* b = benchmark::RegisterBenchmark(name.c_str(), [format, workers, records](benchmark::State& s) {
        run_workers(s, mix, format, workers, records);
      });
      b->UseManualTime()->MeasureProcessCPUTime()->Unit(benchmark::kMillisecond);
      if (iterations > 0) b->Iterations(iterations);
    }
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
