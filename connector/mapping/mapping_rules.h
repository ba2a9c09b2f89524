// Compiled mapping rules. The YAML under mappings/ (one file per record kind plus common.yaml, and
// operator override files merged over them) is compiled once into expression trees; mapping an
// event only walks them. See docs/mapping.md for the rule language.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <simdjson.h>
#include <yaml-cpp/yaml.h>

#include "connector/config/config_node.h"
#include "connector/core/event.h"
#include "connector/mapping/enrichment_interface.h"
#include "connector/record/json_access.h"

namespace siem::mapping {

// A computed value: nothing, a string, a number, a boolean, a list of strings, or JSON text.
struct Value {
  enum class Kind : std::uint8_t { none, string, integer, real, boolean, list, json } kind = Kind::none;
  std::string s;                  // string, or JSON text for Kind::json
  std::int64_t i = 0;
  double d = 0;
  bool b = false;
  std::vector<std::string> list;

  bool empty() const noexcept;
  std::string text() const;       // lists joined with ','
};

struct KindMapping;

// Per-record results of the rules' path lookups. Every path a kind's rules use is resolved in one
// pass over the record when the record starts (resolve()); a path outside that set is looked up
// on first use and memoised like the others.
struct PathCache {
  std::vector<json::PathSet::Result> entries;  // by Path::slot
  // Bumped once per record; 64 bits so that it never wraps (a wrapped counter would make a slot
  // stamped 2^32 records ago read as this record's). Never 0 (RecordPaths: 0 is "not checked").
  std::uint64_t generation = 1;
  // The current record's index (json::Fields of its root), when there is one: a path looked up on
  // demand takes its first key through it rather than a scan of the record's fields.
  const json::Fields* root_fields = nullptr;
  // The sets resolved for the current record (PathSet::resolve_touched: no stamping pass): a slot
  // one of them covers() that this record's generation does not stamp is missing, not looked up.
  static constexpr std::size_t kMaxSets = 4;
  std::array<const json::PathSet*, kMaxSets> sets{};
  std::size_t set_count = 0;
  // Starts a record whose paths are looked up on demand (`fields`: its index, or null).
  void next_record(const json::Fields* fields = nullptr) {
    ++generation;
    root_fields = fields;
    set_count = 0;
  }
  // Starts a record of kind `m`: resolves all of m's paths against `record` (with_ocsf: and the
  // paths only its OCSF rules use). `fields`: the record's index, or null.
  void resolve(const KindMapping& m, simdjson::dom::element record, bool with_ocsf = false,
               const json::Fields* fields = nullptr);
  // The same for the formats a pipeline wants (bits of OutputFormat): CEF alone resolves only
  // m.cef_paths (a path outside the resolved set is looked up on first use, as always).
  void resolve_for(const KindMapping& m, simdjson::dom::element record, FormatSet formats,
                   const json::Fields* fields = nullptr);
  // Resolves `set`'s paths too against the current record (its generation), e.g. what another
  // reader asked for when the kind's rules are not resolved up front.
  void resolve_also(const json::PathSet& set, simdjson::dom::element record);
  // The first match of `p` in `record` (the record of the current generation).
  std::optional<simdjson::dom::element> find(const json::Path& p, simdjson::dom::element record) {
    return find(p.slot, p, record);
  }
  // The same with p's slot already at hand (p itself is read only when the slot is not resolved).
  std::optional<simdjson::dom::element> find(int slot, const json::Path& p, simdjson::dom::element record) {
    // Inline for the common case: a path resolved when the record started.
    if (slot >= 0 && static_cast<std::size_t>(slot) < entries.size()) {
      const auto& e = entries[static_cast<std::size_t>(slot)];
      if (e.generation == generation) {
        if (!e.found) return std::nullopt;
        return e.value;
      }
      // Not reached by the walk of the record's first set, which resolved it: missing.
      if (set_count != 0 && sets[0]->covers(slot)) return std::nullopt;
    }
    return find_slow(p, record);
  }
  std::optional<simdjson::dom::element> find_slow(const json::Path& p, simdjson::dom::element record);
};

// Everything an expression can see besides the record.
struct EvalContext {
  PathCache* cache = nullptr;
  simdjson::dom::element record;
  SourceKind kind = SourceKind::unknown;
  std::int64_t time_ms = 0;
  std::int64_t now_ms = 0;
  const std::string* id = nullptr;
  const std::string* tenant = nullptr;
  const EnrichmentResult* enrichment = nullptr;
  const std::string* host = nullptr;
  const std::vector<std::string>* extra_tags = nullptr;  // engine tags (schema_unknown, json_repaired)
  const RecordText* raw = nullptr;  // the record's original text ($record)
  const std::string* time_text = nullptr;  // $time / $now formatted once per record (optional)
  const std::string* now_text = nullptr;
  int severity = 0;  // effective severity: max(mapping base severity, detections)
  // OCSF: the event's class and activity ($ocsf.*), set by the OCSF encoder; -1 when not known.
  std::int32_t ocsf_class_uid = -1, ocsf_activity_id = -1;
};

// A value as JSON: strings quoted, lists as arrays of strings, Kind::json as is, none as null.
void append_value_json(std::string& out, const Value& v);

class Expr;
using ExprPtr = std::shared_ptr<const Expr>;
class CursorOut;  // json_out.h: the document writer's output

// One ECS target or CEF key: alternatives tried in order; the first non-empty value wins.
struct Rule {
  // What the writers read for every event first (one cache line), the rest after.
  // Every alternative copies from record paths as they are (no lookup, default, multiply, and a
  // type of none / ip / json / elastic / snake), or is a constant or a $variable without a type:
  // append_json() can write it straight into the document.
  bool plain = false;
  // Every alternative is plain, or one of the common computed shapes append_json() also writes
  // without a Value: a type of int (with multiply) / float / bool / list / upn_user / upn_domain /
  // timestamp over record paths, a `map` (with default, type lower), `all`, or a template.
  bool direct = false;
  // The record path of a rule that copies one path's value as it is ({from: a.b}: one plain
  // alternative, no condition, no type): the ECS writer looks it up itself and writes a string
  // straight away, or nothing (not even the key) when it is missing. Null otherwise.
  const json::Path* single_path = nullptr;
  std::vector<ExprPtr> alternatives;
  std::string target;
  std::string label;  // CEF csN/cnN label
  Location where;

  Value evaluate(const EvalContext& ctx) const;
  // For direct (and plain) rules: appends the value as JSON exactly as evaluate() + JSON encoding
  // would, without building a Value. true: written; false: no value (nothing appended); nullopt: a
  // case it leaves to evaluate() (a double, a non-string under `ip`, a number under `list`...),
  // nothing appended.
  std::optional<bool> append_json(const EvalContext& ctx, std::string& out) const;
  // The same, escaped and written in place through the document writer's cursor (json_out.h).
  std::optional<bool> append_json(const EvalContext& ctx, CursorOut& out) const;
  // For direct (and plain) rules: appends the value's text exactly as evaluate().text() gives it
  // (the CEF encoder's form), under the same answers as append_json(): true written, false no
  // value (evaluate() empty, nothing appended), nullopt left to evaluate() (nothing appended).
  std::optional<bool> append_text(const EvalContext& ctx, std::string& out) const;
  // For plain rules whose value is a string (a record string, a string constant, $id, $tenant,
  // $host, $time): that string without a copy, as evaluate().text() would give it (valid while
  // the record and the context live). true: `text` set; false: no value; nullopt: anything else,
  // left to evaluate().
  std::optional<bool> string_view(const EvalContext& ctx, std::string_view& text) const;
  // For rules whose value never depends on the record or the event (the first alternative is a
  // non-empty constant without conditions, $version, or $host given the mapper's `host`): appends
  // that value as JSON exactly as append_json() / evaluate() would write it, and returns true.
  // false: the value depends on the record; nothing appended.
  bool constant_json(const std::string& host, std::string& out) const;
  // For rules whose alternatives are all integer constants (with conditions: a CEF severity): the
  // value evaluate() gives (nullopt: none applies), and true. false: another shape, left to evaluate().
  bool integer_constant(const EvalContext& ctx, std::optional<std::int64_t>& value) const;
};

struct KindMapping {
  SourceKind kind = SourceKind::unknown;
  std::vector<json::Path> id_paths, time_paths, tenant_paths, subscription_paths;
  std::vector<Rule> ecs;          // in output order
  // CEF
  Rule cef_vendor, cef_product, cef_version, cef_class_id, cef_name, cef_severity;
  std::vector<Rule> cef_extension;
  // OCSF attribute (dotted; a numeric segment is an array element) -> rule, in output order.
  std::vector<Rule> ocsf;
  // Every cacheable path the rules above (and the id/time/tenant/subscription paths) use, but for
  // those only the OCSF rules use: ocsf_paths. cef_paths: the id/time/tenant/subscription paths,
  // the CEF rules' and the event.action rule's (the mapper reads it for every event), which is all
  // a pipeline that wants CEF alone reads.
  json::PathSet paths, ocsf_paths, cef_paths;
};

// Loads and compiles a set of mapping files. Errors (with file:line:column) go to `diags`.
class MappingSet {
 public:
  // `files`: shipped files first (common.yaml, then each kind), overrides after.
  static MappingSet load(const std::vector<std::string>& files, Diagnostics& diags);
  const KindMapping& for_kind(SourceKind kind) const;
  // Number of distinct paths the rules use (the size a PathCache needs).
  std::size_t path_slots() const noexcept { return path_slots_; }
  // Adds the dotted path `text` (not fanning out: std::invalid_argument) to the paths resolved
  // with `kind`'s rules when a record of that kind starts, for another reader of the record (the
  // enrichment's facts, Enricher::record_paths()). Returns its slot: the rules' slot for the same
  // text, else a new one (path_slots() grows: make PathCaches after the last call). Call
  // finish_paths() after the last one, before any record is resolved.
  int add_path(SourceKind kind, const std::string& text);
  // Builds the guesses of every kind's path sets (json::PathSet::finish()) once they are complete.
  void finish_paths();

 private:
  std::map<SourceKind, KindMapping> kinds_;
  KindMapping fallback_;
  std::size_t path_slots_ = 0;
  std::map<std::string, int, std::less<>> slots_;  // path text -> slot, for add_path()
};

}  // namespace siem::mapping
