// The mapping hot path: one Mapper::map() call per record = JSON parse (simdjson) + kind detection +
// id / time / tenant extraction + privileged-access enrichment (all pa.* rules) + ECS or CEF
// encoding, exactly what the pipeline's mapping thread does per event. One benchmark per source
// kind (the real samples of tests/data) and one for the realistic mix, in ECS and in CEF, with the
// kinds interleaved record by record (map/mix: the worst case for the CPU's caches) and in runs
// of one kind as sources hand them over (map/mix_in_source_runs); the mix also in raw (parse +
// detect + enrich only, for sinks that forward the record as received) and a parse-only floor; and in ECS and CEF with a new MappedEvent per record, as the pipeline
// maps them (fresh_event: output buffers start empty every time). items/s is events per second on
// one core; bytes/s counts input bytes, and the out_bytes/s counter the encoded output.
//
// Run: build/bench/mapping/mapping_bench [--benchmark_filter=mix] [--benchmark_min_time=2]
// SIEM_BENCH_ITERATIONS=N runs each benchmark exactly N iterations (once): with N = 2000, one pass
// over the mix, for instruction counts under callgrind that do not depend on timing.
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <simdjson.h>

#include "bench/mapping/record_corpus.h"
#include "connector/config/config_node.h"
#include "connector/enrichment/mapping_stage.h"
#include "connector/mapping/mapper.h"

namespace {

using siem::FormatSet;
using siem::OutputFormat;
using siem::RawRecord;
using siem::SourceKind;

// Enough records that the mix repeats its proportions many times, few enough to stay in cache
// like the pipeline's in-flight batch.
constexpr std::size_t kMixRecords = 2000;
// Records of one kind in a row in the pipeline: a source hands the mapping stage a whole page
// (a Graph page holds up to 1000 records, and the Graph sources ask for 1000) or one Event Hubs batch,
// whose envelopes each carry one diagnostic category. 25 is well below either.
constexpr std::size_t kSourceRun = 25;

std::vector<RawRecord> raw_records(const std::vector<const siem::bench::CorpusRecord*>& records) {
  std::vector<RawRecord> out;
  out.reserve(records.size());
  for (const auto* r : records) {
    RawRecord raw;
    raw.json = r->json;
    raw.origin = r->origin;
    out.push_back(std::move(raw));
  }
  return out;
}

// A mapper as `siem-connector map` builds it: shipped mappings, default enrichment, no state store.
struct MapperHolder {
  siem::Diagnostics diags;
  std::shared_ptr<siem::ConfigDocument> doc;
  std::unique_ptr<siem::Mapper> mapper;
  MapperHolder() {
    doc = siem::ConfigDocument::load_string("{}", "<bench>", diags);
    auto root = doc->root();
    mapper = siem::make_mapping_stage(root, nullptr);
  }
};

// `fresh`: a new MappedEvent per record, as the pipeline does (its buffers start empty every time),
// instead of one reused event whose strings keep their capacity.
void map_records(benchmark::State& state, const std::vector<RawRecord>& records, OutputFormat format,
                 bool fresh = false) {
  MapperHolder holder;
  if (holder.diags.has_errors() || !holder.mapper) {
    state.SkipWithError(("mapping files: " + holder.diags.format()).c_str());
    return;
  }
  const FormatSet formats = siem::format_bit(format);
  siem::MappedEvent ev;
  std::size_t i = 0;
  std::int64_t in_bytes = 0, out_bytes = 0;
  for (auto _ : state) {
    const RawRecord& rec = records[i];
    if (++i == records.size()) i = 0;
    if (fresh) ev = siem::MappedEvent{};
    if (auto err = holder.mapper->map(rec, std::nullopt, formats, ev)) {
      state.SkipWithError((rec.origin + ": " + *err).c_str());
      break;
    }
    benchmark::DoNotOptimize(ev.payload(format).data());
    in_bytes += static_cast<std::int64_t>(rec.json.size());
    out_bytes += static_cast<std::int64_t>(ev.payload(format).size());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(in_bytes);
  state.counters["out_bytes/s"] = benchmark::Counter(static_cast<double>(out_bytes), benchmark::Counter::kIsRate,
                                                     benchmark::Counter::kIs1024);
  state.counters["records"] = static_cast<double>(records.size());
}

// The floor: simdjson DOM parse of the same records, nothing else.
void parse_only(benchmark::State& state, const std::vector<RawRecord>& records) {
  simdjson::dom::parser parser;
  std::size_t i = 0;
  std::int64_t in_bytes = 0;
  for (auto _ : state) {
    const RawRecord& rec = records[i];
    if (++i == records.size()) i = 0;
    simdjson::dom::element root;
    if (parser.parse(rec.json.data(), rec.json.size(), !rec.json.padded()).get(root) != simdjson::SUCCESS) {
      state.SkipWithError((rec.origin + ": invalid JSON").c_str());
      break;
    }
    benchmark::DoNotOptimize(root);
    in_bytes += static_cast<std::int64_t>(rec.json.size());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(in_bytes);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

  const char* fixed = std::getenv("SIEM_BENCH_ITERATIONS");
  const auto iterations = fixed ? std::strtoll(fixed, nullptr, 10) : 0;
  auto add = [iterations](benchmark::internal::Benchmark* b) {
    if (iterations > 0) b->Iterations(iterations);
  };

  static siem::bench::Corpus corpus;
  try {
    corpus = siem::bench::Corpus::load(SIEM_TEST_DATA_DIR);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mapping_bench: %s\n", e.what());
    return 1;
  }
  // Kept alive for the benchmarks' lifetime (they hold references).
  static std::deque<std::vector<RawRecord>> sets;  // a deque: adding a set keeps the others in place
  for (auto kind : siem::all_source_kinds()) {
    auto records = corpus.of_kind(kind);
    if (records.empty()) continue;
    sets.push_back(raw_records(records));
    const auto& set = sets.back();
    for (auto format : {OutputFormat::ecs, OutputFormat::cef, OutputFormat::ocsf}) {
      const std::string name = "map/" + std::string(siem::to_string(kind)) + "/" + std::string(siem::to_string(format));
      add(benchmark::RegisterBenchmark(name.c_str(), [&set, format](benchmark::State& s) { map_records(s, set, format); }));
    }
  }
  sets.push_back(raw_records(corpus.mix(kMixRecords)));
  const auto& mix = sets.back();
  for (auto format : {OutputFormat::ecs, OutputFormat::cef, OutputFormat::ocsf, OutputFormat::raw}) {
    const std::string name = "map/mix/" + std::string(siem::to_string(format));
    add(benchmark::RegisterBenchmark(name.c_str(), [&mix, format](benchmark::State& s) { map_records(s, mix, format); }));
  }
  for (auto format : {OutputFormat::ecs, OutputFormat::cef}) {
    const std::string name = "map/mix/" + std::string(siem::to_string(format)) + "/fresh_event";
    add(benchmark::RegisterBenchmark(name.c_str(), [&mix, format](benchmark::State& s) { map_records(s, mix, format, true); }));
  }
  add(benchmark::RegisterBenchmark("parse_only/mix", [&mix](benchmark::State& s) { parse_only(s, mix); }));
  // The same mix as the pipeline's mapping thread meets it: kinds in runs of kSourceRun records.
  sets.push_back(raw_records(corpus.mix(kMixRecords, kSourceRun)));
  const auto& batched = sets.back();
  for (auto format : {OutputFormat::ecs, OutputFormat::cef, OutputFormat::ocsf, OutputFormat::raw}) {
    const std::string name = "map/mix_in_source_runs/" + std::string(siem::to_string(format));
    add(benchmark::RegisterBenchmark(name.c_str(), [&batched, format](benchmark::State& s) { map_records(s, batched, format); }));
  }

  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
