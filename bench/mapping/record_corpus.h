// The records the mapping benchmarks and the load tool feed the connector: every record of the real
// payload samples in tests/data (Graph, ARM and Event Hubs shapes, split the way the connector
// splits them), grouped by the kind the connector detects, and a "realistic mix" of them weighted
// like a production Entra ID / Azure tenant (sign-ins dominate, see realistic_weights()).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "connector/core/event.h"

namespace siem::bench {

struct CorpusRecord {
  SourceKind kind = SourceKind::unknown;
  std::string json;  // one line (insignificant whitespace removed; keys, order and values as received)
  std::string id;    // the id the connector maps for it (ECS event.id)
  std::string origin;  // "file:line" in tests/data
};

// Share of each kind in the realistic mix, in events per 100.
struct MixWeight {
  SourceKind kind;
  unsigned weight;
};
const std::vector<MixWeight>& realistic_weights();

class Corpus {
 public:
  // Reads every record-bearing sample (*.json, *.ndjson) of `data_dir`; files that are not
  // Entra / Azure records (token responses, throttling bodies) are skipped. Throws
  // std::runtime_error naming the file when a sample cannot be read or a record does not map.
  static Corpus load(const std::filesystem::path& data_dir);

  const std::vector<CorpusRecord>& records() const noexcept { return records_; }
  std::vector<const CorpusRecord*> of_kind(SourceKind kind) const;

  // `n` records interleaved by realistic_weights() (smooth weighted round robin: every prefix
  // holds the kinds in proportion), cycling through the samples of each kind. Deterministic.
  // `run` > 1: the round robin picks a kind per run of `run` consecutive records, the way the
  // pipeline maps them (a source hands over a page or an Event Hubs batch of one kind at a time);
  // run = 1 interleaves kind by kind, the worst case for the CPU's caches.
  std::vector<const CorpusRecord*> mix(std::size_t n, std::size_t run = 1) const;

 private:
  std::vector<CorpusRecord> records_;
};

// The record's text with its id made unique for sequence number `seq`: every JSON string equal
// to the id gets its last (up to 12) hex-safe characters replaced by `seq` in hex, so the text
// stays valid JSON of the same length and the mapped event.id differs per record.
std::string with_unique_id(const CorpusRecord& record, std::uint64_t seq);

}  // namespace siem::bench
