// The mapping stage: one raw record in, one MappedEvent out (ECS JSON, CEF line, identity, time,
// enrichment). Compiled once from the YAML mapping files; never re-parses YAML per event.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "connector/config/config_node.h"
#include "connector/core/event.h"
#include "connector/mapping/enrichment_interface.h"

namespace siem {

struct MapperStats {
  std::uint64_t mapped = 0;
  std::uint64_t failed = 0;           // dead-lettered
  std::uint64_t repaired_json = 0;    // invalid JSON that was repaired
  std::uint64_t schema_unknown = 0;   // routed to the generic mapping
  std::uint64_t decoded_properties = 0;  // `properties` sent as a JSON string, decoded
  std::uint64_t log_analytics_rows = 0;  // Log Analytics rows rewritten into the Event Hubs shape
  std::uint64_t kind_ambiguous = 0;      // records with the fields of two kinds (mapped as unknown)
  std::uint64_t enrichment_truncated = 0;  // records the enrichment read a bounded list of only in part

  MapperStats& operator+=(const MapperStats& o) noexcept {
    mapped += o.mapped;
    failed += o.failed;
    repaired_json += o.repaired_json;
    schema_unknown += o.schema_unknown;
    decoded_properties += o.decoded_properties;
    log_analytics_rows += o.log_analytics_rows;
    kind_ambiguous += o.kind_ambiguous;
    enrichment_truncated += o.enrichment_truncated;
    return *this;
  }
};

class Mapper {
 public:
  virtual ~Mapper() = default;

  // `mappings` is the config section of that name (may be invalid: shipped defaults apply).
  // Errors (a bad mapping file, with file:line) go to its diagnostics; check has_errors() before
  // use. `make_enricher` is called once, after the mapping files are loaded (their errors come
  // first); it may return null (no enrichment). The app, the commands, tests and benchmarks build
  // the stage with make_mapping_stage() (connector/enrichment/mapping_stage.h).
  using EnricherFactory = std::function<std::unique_ptr<Enricher>()>;
  static std::unique_ptr<Mapper> create(const ConfigNode& mappings, const EnricherFactory& make_enricher);
  static const config::Section& config_keys();  // the table of `mappings:` (mapper.cc)

  // Maps one record, producing the formats in `formats` (raw is always kept: out.raw is a copy of
  // the record's text, or its repaired text). Returns nullopt on
  // success, or the reason the record cannot be mapped (it then goes to the dead-letter file /
  // is reported as "FILE:LINE: reason"). `forced` overrides kind detection. Not thread-safe: one
  // thread at a time (several workers use the phases below).
  virtual std::optional<std::string> map(const RawRecord& record, std::optional<SourceKind> forced,
                                         FormatSet formats, MappedEvent& out) = 0;

  // The same split in three phases, for several mapping workers (`pipeline.workers`). A Scratch
  // carries one record through them and holds the buffers the phases reuse (the parsed document,
  // its path cache); each worker makes its own. prepare() and finish() may run on several threads
  // at once, each with its own Scratch: they read only the compiled rules. enrich() runs in input
  // order, one record at a time: the enrichment's state (the roster) is read and changed there
  // only. map() is the three in a row on the mapper's own scratch.
  class Scratch {
   public:
    virtual ~Scratch() = default;
  };
  virtual std::unique_ptr<Scratch> make_scratch() const = 0;
  // Decoding, kind, identity, time, and the enrichment's reading of the record. Returns the reason
  // the record cannot be mapped, like map().
  virtual std::optional<std::string> prepare(Scratch& scratch, const RawRecord& record,
                                             std::optional<SourceKind> forced, FormatSet formats,
                                             MappedEvent& out) const = 0;
  // In input order, for every record prepare() returned from (also when it failed: a roster
  // snapshot's last record ends the snapshot either way).
  virtual void enrich(Scratch& scratch, const RawRecord& record, MappedEvent& out) = 0;
  // The event's tags, tier and severity, and the encoders; nothing when prepare() failed (its tags
  // and tier are set here, not in enrich(): what enrich() does is in input order, one record at a
  // time, so it does only what needs that order). out.raw is set only to a repaired
  // text (a record that was not valid JSON) and is otherwise left empty: the caller moves
  // record.json into it once nothing reads the record any more (the pipeline's hand-off does,
  // after the later processors and the dead-letter decision); map() copies it.
  virtual void finish(Scratch& scratch, const RawRecord& record, FormatSet formats, MappedEvent& out) const = 0;
  // A live reload: true when a replacement waits to be put in place; apply_pending_swap() puts it
  // there, called with no record between prepare() and finish() (scratches made before it are
  // made again by the mapper that takes them).
  virtual bool swap_pending() const { return false; }
  virtual void apply_pending_swap() {}

  virtual MapperStats stats() const = 0;
  // Persists learned state (the roster) — called periodically and at shutdown.
  virtual void save_state() = 0;
};

// The tags the mapping engine itself puts on events, besides the enrichment's (docs/mapping.md,
// `$tags`): schema_unknown, kind_ambiguous (mapper.cc), json_repaired (record_decoder.cc),
// timestamp_missing, enrichment_truncated (mapper.cc). `validate` checks route tag patterns against them.
const std::vector<std::string>& mapping_engine_tags();

}  // namespace siem
