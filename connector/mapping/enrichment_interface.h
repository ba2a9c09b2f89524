// The enrichment the mapper is given: the interface it calls for every record and the result
// it reads (the $pa.* variables, tags, tier and severity). Declared on the mapping side so the
// mapping engine does not depend on the enrichment rules; connector/enrichment implements it and
// connector/enrichment/mapping_stage.h puts the two together.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "connector/core/event.h"
#include "connector/record/json_access.h"

namespace siem {

struct Detection {
  std::string name;    // e.g. "pa.pim.activation"
  int severity = 0;    // 0-10
  std::string reason;  // one short sentence for azure.privileged_access.detections
};

struct EnrichmentResult {
  std::vector<Detection> detections;  // fired rules, highest severity first
  std::vector<std::string> tags;      // detection names plus pa.role.tier0 / pa.role.tier1
  int tier = -1;                      // highest tier touched (0-2), -1 when none
  std::vector<std::string> roles;     // role display names involved
  std::vector<std::string> role_ids;  // role template / definition ids involved
  int severity = 0;                   // max over detections (0 when none)
  double risk_score = 0;              // 0-100, derived from severity
};

// The values of an enricher's own record paths (Enricher::record_paths() of the record's kind) for
// one record, resolved by the mapper in the same pass over the record as its rules' paths.
struct RecordPaths {
  const json::PathSet::Result* results = nullptr;  // the mapper's per-record results, by slot
  const int* slots = nullptr;                       // the slot of each path, in record_paths() order
  std::size_t count = 0;                            // == record_paths(kind).size()
  // A record string the mapper read as a time (in place: its bytes in the record's document) and
  // what parse_time_ms() gave for it, so that the same string is not parsed twice. Empty: none.
  std::string_view time_text;
  std::optional<std::int64_t> time_ms;
  // The path cache's generation for this record (PathSet::Result::generation): a slot not resolved
  // for this record reads as missing, never as an earlier record's element. 0: not checked, only
  // for results that all belong to this record (no stamping pass: a reused cache's untouched slots
  // may hold elements of freed documents); the mapper passes its nonzero generation (asserted).
  std::uint64_t generation = 0;
  // What json::Path(record_paths(kind)[i]).first(record) gives: the first match, nullopt when the
  // path is missing or null. i < count.
  std::optional<simdjson::dom::element> value(std::size_t i) const {
    const auto& r = results[static_cast<std::size_t>(slots[i])];
    if (!r.found || (generation != 0 && r.generation != generation)) return std::nullopt;
    return r.value;
  }
};

// What the mapper calls for every record (the privileged-access enrichment in
// connector/enrichment implements it; the mapper only knows this interface).
class Enricher {
 public:
  virtual ~Enricher() = default;

  // Evaluates every rule on one record (the whole record as received: for Event Hubs shapes the
  // envelope with its `properties`). Learns roster changes from role events. Called from one
  // mapping thread at a time.
  // `record_fields`, when given, is the index (json::Fields) of `record` the caller already built.
  // `tenant`: the record's tenant, when known (the roster keeps each principal's).
  virtual EnrichmentResult enrich(SourceKind kind, simdjson::dom::element record,
                                  const json::Fields* record_fields = nullptr, std::string_view tenant = {}) = 0;

  // The same in two phases, for several mapping workers: prepare() reads the record into a
  // Prepared of the caller's (any thread, at the same time as other records' prepare(): it reads
  // the record and the enrichment's fixed settings only); apply() evaluates the rules against the
  // learned state and learns from the record, in input order, one record at a time. The record
  // (its document) stays valid from prepare() to apply(). enrich() is prepare() then apply().
  // The defaults keep the record for apply() to enrich(): correct, with all the work ordered.
  class Prepared {
   public:
    virtual ~Prepared() = default;
    SourceKind kind = SourceKind::unknown;
    simdjson::dom::element record;
    const json::Fields* fields = nullptr;
    std::string_view tenant;
    // A list of the record prepare() read only its first entries of (the enrichment's bounds, e.g.
    // "targetResources"), or empty: the mapper tags the event enrichment_truncated, and logs the
    // first such record of each list (truncated_first) with its origin and `truncated_bound`.
    std::string_view truncated;
    std::size_t truncated_bound = 0;
    bool truncated_first = false;
    EnrichmentResult result;  // the default ordered() leaves apply()'s result here for complete()
  };
  virtual std::unique_ptr<Prepared> make_prepared() const { return std::make_unique<Prepared>(); }
  // The dotted paths (none fanning out) prepare() reads of `kind`'s records when the caller gives
  // their values (`paths`): the mapper resolves them with its rules' paths, in one pass over the
  // record. Asked once per kind when the mapper is built.
  virtual std::vector<std::string> record_paths(SourceKind /*kind*/) const { return {}; }
  // `paths`: the values of record_paths(kind) for this record, or null (prepare() then reads the
  // record itself).
  virtual void prepare(Prepared& p, SourceKind kind, simdjson::dom::element record, const json::Fields* record_fields,
                       std::string_view tenant, const RecordPaths* /*paths*/ = nullptr) const {
    p.kind = kind;
    p.record = record;
    p.fields = record_fields;
    p.tenant = tenant;
  }
  virtual EnrichmentResult apply(Prepared& p) { return enrich(p.kind, p.record, p.fields, p.tenant); }
  // apply() in two parts, for the mapping workers: ordered() is the part that needs the input
  // order (the rules against the learned state, what the record teaches it), one record at a time;
  // complete() builds the result from what ordered() left in `p` (any thread, at the same time as
  // other records' phases), once per ordered(). The defaults run apply() in ordered().
  virtual void ordered(Prepared& p) { p.result = apply(p); }
  virtual void complete(Prepared& p, EnrichmentResult& out) const {
    out = std::move(p.result);
    p.result = EnrichmentResult{};
  }

  // A complete role roster snapshot (every schedule instance of one kind, read from Graph from
  // `read_ms` on) has been enriched: holds of that kind it did not list end at `read_ms`, unless an
  // event granted them since. Called in stream order, after the snapshot's last record. The
  // snapshot is of `tenant`'s roles: other tenants' principals are left alone.
  virtual void roster_snapshot_complete(bool eligibilities, std::int64_t read_ms, std::string_view tenant = {}) = 0;

  // Persists the learned roster to the state store (no-op without one).
  virtual void save() = 0;
};

}  // namespace siem
