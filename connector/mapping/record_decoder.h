// Record decoding, the first step of mapping: a raw record's text parsed into the document the
// rules read. Invalid JSON Azure and hand-edited files really produce is repaired (bounded), a
// `properties` sent as a JSON string is decoded into its object, and a Log Analytics row is
// rewritten into the Event Hubs shape of the same record (record_shape.h).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <simdjson.h>

#include "connector/core/event.h"
#include "connector/mapping/mapper.h"
#include "connector/record/json_access.h"

namespace siem::mapping {

struct DecodedRecord {
  simdjson::dom::element root;  // the document (an object), valid until the next decode()
  // The record's index, built when kind detection needs it (no forced kind), reused by the
  // enrichment; null otherwise.
  const json::Fields* fields = nullptr;
  // The `raw` output of a record that was not valid JSON: its repaired text (raw is embedded as
  // JSON by HEC, Kafka and file consumers, so it must parse). nullopt: the record's own text.
  std::optional<std::string> repaired_raw;
  std::optional<SourceKind> shape_kind;  // a Log Analytics row: the kind its Type names
  bool ambiguous = false;                // a Log Analytics row whose Type its columns contradict
};

class RecordDecoder {
 public:
  // Counts repaired, decoded, rewritten and failed records into `stats`.
  explicit RecordDecoder(MapperStats& stats) : stats_(stats) {}

  // Decodes `json` into `out`; `indexed`: build the record's index (out.fields). Engine tags
  // (json_repaired) are appended to `tags`. Returns the reason a record cannot be read (it is then
  // dead-lettered), or nullopt. The text is parsed where it is when kRecordParseSlack bytes are
  // readable after it (RecordText::padded()), else from a padded copy.
  std::optional<std::string> decode(const RecordText& json, bool indexed, std::vector<std::string>& tags,
                                    DecodedRecord& out);

  // Frees the buffers a large record grew past `max_bytes` (the next record allocates what it
  // needs): a mapper keeps a decoder per record in flight, and an occasional large record must not
  // leave each of them holding its size. Invalidates the last decoded document.
  void trim(std::size_t max_bytes) {
    if (parser_.capacity() > max_bytes) parser_ = simdjson::dom::parser{};
    if (rewritten_.capacity() > max_bytes) std::string().swap(rewritten_);
  }

 private:
  std::optional<std::string> rewrite_log_analytics(simdjson::dom::element& root, bool indexed,
                                                   std::optional<SourceKind>& kind, bool& ambiguous);

  simdjson::dom::parser parser_;
  json::Fields fields_;    // the current record's index (its storage reused across records)
  std::string rewritten_;  // the text the current document was parsed from, when not the record's
  MapperStats& stats_;
};

}  // namespace siem::mapping
