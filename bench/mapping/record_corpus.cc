#include "bench/mapping/record_corpus.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>
#include <simdjson.h>

#include "connector/config/config_node.h"
#include "connector/core/record_reader.h"
#include "connector/enrichment/mapping_stage.h"
#include "connector/mapping/mapper.h"

namespace siem::bench {

const std::vector<MixWeight>& realistic_weights() {
  // A production tenant: sign-ins are the bulk (non-interactive and service-principal sign-ins
  // outnumber everything else), then the Activity Log, then directory audits; PIM is rare. Half
  // arrives through Graph polling, half through Event Hubs diagnostic settings.
  static const std::vector<MixWeight> w = {
      {SourceKind::graph_sign_in, 32},         {SourceKind::eventhub_sign_in, 32},
      {SourceKind::azure_activity, 7},         {SourceKind::eventhub_activity, 8},
      {SourceKind::graph_directory_audit, 8},  {SourceKind::eventhub_audit, 8},
      {SourceKind::graph_pim_request, 2},      {SourceKind::arm_pim_request, 1},
      {SourceKind::graph_pim_instance, 2},
  };
  return w;
}

namespace {

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error(fmt::format("{}: cannot read", p.string()));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool is_sample(const std::filesystem::path& p) {
  const auto name = p.filename().string();
  if (p.extension() != ".json" && p.extension() != ".ndjson") return false;
  // Samples of the HTTP / auth layers, not records.
  for (std::string_view skip : {"token-", "imds-", "certificate-", "graph-throttling"})
    if (name.rfind(skip, 0) == 0) return false;
  // The Log Analytics rows and their counterparts are not part of the realistic mix (measured
  // without them; a mix with them would not compare with the earlier figures).
  if (name.rfind("loganalytics-", 0) == 0) return false;
  return true;
}

}  // namespace

Corpus Corpus::load(const std::filesystem::path& data_dir) {
  Diagnostics diags;
  auto doc = ConfigDocument::load_string("{}", "<bench>", diags);
  auto root = doc->root();
  auto mapper = make_mapping_stage(root, nullptr);
  if (diags.has_errors() || !mapper) throw std::runtime_error("mapping files: " + diags.format());

  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(data_dir))
    if (entry.is_regular_file() && is_sample(entry.path())) files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  if (files.empty()) throw std::runtime_error(fmt::format("{}: no record samples", data_dir.string()));

  Corpus corpus;
  for (const auto& file : files) {
    const std::string text = read_file(file);
    std::string problem;
    RecordReader::split(
        text,
        [&](const RecordSlice& slice) {
          CorpusRecord r;
          r.origin = fmt::format("{}:{}", file.filename().string(), slice.line);
          r.json.resize(slice.json.size());
          std::size_t len = 0;
          if (simdjson::minify(slice.json.data(), slice.json.size(), r.json.data(), len) != simdjson::SUCCESS) {
            problem = fmt::format("{}: not minifiable JSON", r.origin);
            return;
          }
          r.json.resize(len);
          RawRecord raw;
          raw.json = r.json;
          raw.origin = r.origin;
          MappedEvent ev;
          if (auto err = mapper->map(raw, std::nullopt, format_bit(OutputFormat::raw), ev)) {
            problem = fmt::format("{}: {}", r.origin, *err);
            return;
          }
          r.kind = ev.kind;
          r.id = ev.id();
          corpus.records_.push_back(std::move(r));
        },
        [&](const ReadError& e) { problem = fmt::format("{}:{}: {}", file.filename().string(), e.line, e.reason); });
    if (!problem.empty()) throw std::runtime_error(problem);
  }
  return corpus;
}

std::vector<const CorpusRecord*> Corpus::of_kind(SourceKind kind) const {
  std::vector<const CorpusRecord*> out;
  for (const auto& r : records_)
    if (r.kind == kind) out.push_back(&r);
  return out;
}

std::vector<const CorpusRecord*> Corpus::mix(std::size_t n, std::size_t run) const {
  struct Lane {
    std::vector<const CorpusRecord*> records;
    long weight = 0;
    long current = 0;
    std::size_t next = 0;
  };
  std::vector<Lane> lanes;
  long total = 0;
  for (const auto& w : realistic_weights()) {
    Lane lane;
    lane.records = of_kind(w.kind);
    if (lane.records.empty()) continue;  // a kind without samples: the others share its weight
    lane.weight = static_cast<long>(w.weight);
    total += lane.weight;
    lanes.push_back(std::move(lane));
  }
  std::vector<const CorpusRecord*> out;
  if (lanes.empty()) return out;
  out.reserve(n);
  run = std::max<std::size_t>(run, 1);
  while (out.size() < n) {
    Lane* best = nullptr;
    for (auto& lane : lanes) {
      lane.current += lane.weight;
      if (!best || lane.current > best->current) best = &lane;
    }
    best->current -= total;
    for (std::size_t k = 0; k < run && out.size() < n; ++k) {
      out.push_back(best->records[best->next]);
      best->next = (best->next + 1) % best->records.size();
    }
  }
  return out;
}

std::string with_unique_id(const CorpusRecord& record, std::uint64_t seq) {
  std::string out = record.json;
  if (record.id.empty()) return out;
  const std::string quoted = "\"" + record.id + "\"";
  const std::size_t width = std::min<std::size_t>(12, record.id.size());
  std::string suffix = fmt::format("{:012x}", seq & 0xffff'ffff'ffffull);
  suffix.erase(0, suffix.size() - width);
  for (std::size_t at = out.find(quoted); at != std::string::npos; at = out.find(quoted, at + quoted.size()))
    out.replace(at + 1 + record.id.size() - width, width, suffix);
  return out;
}

}  // namespace siem::bench
