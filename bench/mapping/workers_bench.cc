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
//
// Counters per iteration (averages): worker_cpu_ms, the workers' thread CPU; other_cpu_ms, the
// rest of the process's CPU during run() (source, sink runner, commit and control threads);
// turn_wait_ms / outcome_wait_ms, wall time the workers spent waiting for an ordered turn / for
// a chunk's outcomes to come back from the hand-off, and waits, how often they slept for either;
// handoff_ms, wall time in the hand-off (a full sink queue blocks it: the sink runner is behind).
// At the end: items_per_second of 2 workers against 1 per format (medians with repetitions).
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <spdlog/spdlog.h>

#if SIEM_BENCH_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

#include "bench/mapping/record_corpus.h"
#include "connector/config/config_node.h"
#include "connector/core/pipeline.h"
#include "connector/enrichment/mapping_processor.h"
#include "connector/state/state_store.h"

namespace {

using namespace siem;

constexpr std::size_t kBatch = 500;

// The records made before the timed part are freed by the sink runner while the workers run. On
// the connector's jemalloc their pages would go back to the system (dirty_decay_ms, madvise on the
// sink runner's thread: ~40 % of its CPU, 6 ms per 40 000 CEF events, competing with the workers
// for the CPUs) because no thread allocates from their arena again during the run: a source
// making its records while the run goes on reuses them instead. So they come from an arena of
// their own that keeps its pages (and serves the next iteration's records); the workers' and the
// sink's allocations stay on the connector's settings.
class RecordArena {
 public:
  RecordArena() {
#if SIEM_BENCH_JEMALLOC
    std::size_t size = sizeof(index_);
    if (mallctl("arenas.create", &index_, &size, nullptr, 0) != 0) return;
    ssize_t never = -1;
    const std::string key = "arena." + std::to_string(index_) + ".dirty_decay_ms";
    ok_ = mallctl(key.c_str(), nullptr, nullptr, &never, sizeof(never)) == 0;
#endif
  }
  // Allocations of this thread come from the arena while `use` lives.
  class Use {
   public:
    explicit Use(const RecordArena& a) {
#if SIEM_BENCH_JEMALLOC
      std::size_t size = sizeof(previous_);
      if (a.ok_) on_ = mallctl("thread.arena", &previous_, &size, const_cast<unsigned*>(&a.index_), sizeof(unsigned)) == 0;
#else
      (void)a;
#endif
    }
    ~Use() {
#if SIEM_BENCH_JEMALLOC
      if (on_) mallctl("thread.arena", nullptr, nullptr, &previous_, sizeof(previous_));
#endif
    }
    Use(const Use&) = delete;
    Use& operator=(const Use&) = delete;

   private:
    unsigned previous_ = 0;
    bool on_ = false;
  };

 private:
  unsigned index_ = 0;
  bool ok_ = false;
};

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

double process_cpu_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

void run_workers(benchmark::State& state, const std::vector<const bench::CorpusRecord*>& mix, OutputFormat format,
                 std::size_t workers, std::size_t records) {
  const auto dir = std::filesystem::temp_directory_path() / ("siem-workers-bench-" + std::to_string(::getpid()));
  Pipeline::WorkerTotals totals;
  double other_cpu_s = 0;
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
    {
      static const RecordArena arena;
      const RecordArena::Use use(arena);
      sources.push_back(SourceSlot{"mix", std::make_unique<MixSource>(mix, records)});
    }
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
    const double cpu_before = process_cpu_seconds();
    const int status = p.run(std::stop_token{});
    const double cpu = process_cpu_seconds() - cpu_before;
    state.PauseTiming();
    const auto t = p.worker_totals();
    other_cpu_s += cpu - t.cpu_s;
    totals.cpu_s += t.cpu_s;
    totals.turn_wait_s += t.turn_wait_s;
    totals.outcomes_wait_s += t.outcomes_wait_s;
    totals.handoff_s += t.handoff_s;
    totals.turn_slept += t.turn_slept;
    totals.outcomes_waits += t.outcomes_waits;
    if (status != kExitOk) state.SkipWithError(("pipeline exit status " + std::to_string(status)).c_str());
    if (last == std::chrono::steady_clock::time_point{}) state.SkipWithError("not every record was mapped");
    state.SetIterationTime(std::chrono::duration<double>(last - start).count());
    state.ResumeTiming();
  }
  std::filesystem::remove_all(dir);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * records));
  const auto per_iteration = [](double v) { return benchmark::Counter(v, benchmark::Counter::kAvgIterations); };
  state.counters["worker_cpu_ms"] = per_iteration(totals.cpu_s * 1e3);
  state.counters["other_cpu_ms"] = per_iteration(other_cpu_s * 1e3);
  state.counters["turn_wait_ms"] = per_iteration(totals.turn_wait_s * 1e3);
  state.counters["outcome_wait_ms"] = per_iteration(totals.outcomes_wait_s * 1e3);
  state.counters["handoff_ms"] = per_iteration(totals.handoff_s * 1e3);
  state.counters["waits"] = per_iteration(static_cast<double>(totals.turn_slept + totals.outcomes_waits));
}

// The console report, and at the end the ratio the target is about: items_per_second of
// workers/<format>/2 against workers/<format>/1 (the medians when there are repetitions).
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  // Colours only on a terminal, as the default reporter.
  RatioReporter() : ConsoleReporter(::isatty(STDOUT_FILENO) ? OO_Defaults : OO_Tabular) {}
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const auto& r : runs) {
      if (r.error_occurred || (r.run_type == Run::RT_Aggregate && r.aggregate_name != "median")) continue;
      const auto it = r.counters.find("items_per_second");
      if (it == r.counters.end()) continue;
      // Without repetitions the single run's figure is taken; with them, the median replaces it.
      rates_[r.run_name.function_name] = it->second.value;
    }
  }
  void Finalize() override {
    ConsoleReporter::Finalize();
    for (const char* format : {"ecs", "cef"}) {
      const auto one = rates_.find(std::string("workers/") + format + "/1");
      const auto two = rates_.find(std::string("workers/") + format + "/2");
      if (one == rates_.end() || two == rates_.end() || one->second <= 0) continue;
      std::printf("%s: 2 workers %.1fk/s against 1 worker %.1fk/s = %.2fx\n", format, two->second / 1e3,
                  one->second / 1e3, two->second / one->second);
    }
  }

 private:
  std::map<std::string, double> rates_;
};

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
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
