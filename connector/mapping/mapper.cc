#include "connector/mapping/mapper.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cassert>
#include <chrono>
#include <map>
#include <memory>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "connector/mapping/encoder.h"
#include "connector/mapping/kind_detect.h"
#include "connector/mapping/mapping_rules.h"
#include "connector/record/encoding.h"
#include "connector/mapping/record_decoder.h"
#include "connector/record/json_access.h"
#include "connector/record/record_attributes.h"
#include "connector/record/shipped_files.h"
#include "connector/record/time_parse.h"

namespace siem {

namespace {

using mapping::Value;

// What a scratch's decoder keeps between records: typical records (2-3 KB) parse in far less, so
// it is reused; the buffers of a larger one are freed once it is mapped.
constexpr std::size_t kKeptDecoderBytes = 256 * 1024;

// One record in flight: everything the three phases carry from one to the next, and the buffers
// they reuse for the next record of the same scratch.
struct RecordScratch final : Mapper::Scratch {
  explicit RecordScratch(std::size_t path_slots, std::unique_ptr<Enricher::Prepared> prepared_in)
      : prepared(std::move(prepared_in)) {
    cache.entries.resize(path_slots);
  }
  MapperStats stats;  // counted while preparing, added to the mapper's in input order
  mapping::RecordDecoder decoder{stats};
  mapping::DecodedRecord decoded;
  mapping::PathCache cache;
  std::vector<std::string> extra_tags;
  // The event's texts while it is mapped (buffers reused across records): finish() packs them
  // into the event in one allocation (MappedEvent::texts).
  std::string id, tenant_id, subscription_id, action;
  const mapping::KindMapping* m = nullptr;
  std::int64_t now_ms = 0;
  std::int64_t last_now_ms = INT64_MIN;  // $now of the previous record, and its text
  std::string now_text;
  std::string time_text;  // the current record's time, formatted (a buffer reused across records)
  bool ok = false;        // prepare() succeeded
  std::unique_ptr<Enricher::Prepared> prepared;  // null without enrichment
  EnrichmentResult pa;
};

class MapperImpl final : public Mapper {
 public:
  MapperImpl(mapping::MappingSet set, std::unique_ptr<Enricher> enricher, std::string host)
      : set_(std::move(set)), enricher_(std::move(enricher)), host_(std::move(host)),
        encoders_(mapping::make_encoders(set_, host_)) {
    auto action_rule = [](const mapping::KindMapping& m) -> int {
      for (std::size_t i = 0; i < m.ecs.size(); ++i)
        if (m.ecs[i].target == "event.action") return static_cast<int>(i);
      return -1;
    };
    action_rule_[SourceKind::unknown] = action_rule(set_.for_kind(SourceKind::unknown));
    for (auto k : all_source_kinds()) action_rule_[k] = action_rule(set_.for_kind(k));
    // The enrichment's own record paths, resolved with the kind's rules' paths (one pass over the
    // record), or on their own when no rules are run (a raw-only pipeline).
    if (enricher_)
      for (auto k : all_source_kinds()) {
        auto& own = enricher_paths_[static_cast<std::size_t>(k)];
        for (const auto& text : enricher_->record_paths(k)) {
          const int slot = set_.add_path(k, text);
          own.slots.push_back(slot);
          own.alone.add(json::Path(text), slot);
        }
        own.alone.finish();
      }
    set_.finish_paths();  // after add_path(), before any record
    own_ = make_scratch();  // after add_path(): sized for every slot
  }

  std::optional<std::string> map(const RawRecord& record, std::optional<SourceKind> forced, FormatSet formats,
                                 MappedEvent& out) override {
    auto result = prepare(*own_, record, forced, formats, out);
    enrich(*own_, record, out);
    if (!result) {
      finish(*own_, record, formats, out);
      if (out.raw.empty()) out.raw = record.json;  // the caller keeps its record: a copy (or a shared view)
    }
    return result;
  }

  std::unique_ptr<Scratch> make_scratch() const override {
    return std::make_unique<RecordScratch>(set_.path_slots(), enricher_ ? enricher_->make_prepared() : nullptr);
  }

  // Decode the record, detect its kind, its identity and time, and read what the enrichment needs
  // from it: nothing here reads or changes state that other records change.
  std::optional<std::string> prepare(Scratch& base, const RawRecord& record, std::optional<SourceKind> forced,
                                     FormatSet formats, MappedEvent& out) const override {
    auto& s = static_cast<RecordScratch&>(base);
    s.decoder.trim(kKeptDecoderBytes);  // the scratch's previous record is done
    s.ok = false;
    s.extra_tags.clear();
    s.decoded = mapping::DecodedRecord{};
    auto& extra_tags = s.extra_tags;
    auto& decoded = s.decoded;
    if (auto error = s.decoder.decode(record.json, !forced, extra_tags, decoded)) return error;
    const simdjson::dom::element root = decoded.root;
    const json::Fields* root_fields = decoded.fields;
    bool ambiguous = decoded.ambiguous;
    SourceKind kind = SourceKind::unknown;
    if (forced) kind = *forced;
    else if (decoded.shape_kind) kind = *decoded.shape_kind;
    else if (!ambiguous) kind = detect_kind(*root_fields, ambiguous);
    if (kind == SourceKind::unknown && !forced && !ambiguous && record.kind_hint != SourceKind::unknown)
      kind = record.kind_hint;
    if (ambiguous && !forced) {
      // Two kinds' fields (or a Type that its columns contradict): mapped as unknown and tagged,
      // never as one of them at a guess.
      ++s.stats.kind_ambiguous;
      extra_tags.emplace_back("kind_ambiguous");
    }
    if (kind == SourceKind::unknown) {
      ++s.stats.schema_unknown;
      extra_tags.emplace_back("schema_unknown");
    }
    const auto& m = set_.for_kind(kind);
    s.m = &m;
    auto& cache = s.cache;
    // ECS / CEF / OCSF read most of the kind's paths: resolve them all in one pass over the record. A
    // raw-only pipeline reads a handful (id, time, tenant, action): look those up on demand.
    // OCSF's own paths only when an OCSF event is wanted: ECS and CEF cost what they did; CEF
    // alone resolves only the paths CEF reads (with the enrichment's: MappingSet::add_path).
    const auto& enricher_paths = enricher_paths_[static_cast<std::size_t>(kind)];
    if (formats & (format_bit(OutputFormat::ecs) | format_bit(OutputFormat::cef) | format_bit(OutputFormat::ocsf))) {
      cache.resolve_for(m, root, formats, root_fields);
    } else {
      cache.next_record(root_fields);
      if (!enricher_paths.slots.empty()) cache.resolve_also(enricher_paths.alone, root);
    }
    // The scalar text at p written into `into` (whose buffer is reused); false when it is missing or
    // not a scalar (then `into` is left as it was).
    auto text_into = [&](const json::Path& p, std::string& into) {
      auto e = cache.find(p, root);
      return e && json::scalar_text(*e, into);
    };

    out.kind = kind;
    s.id.clear();
    for (const auto& p : m.id_paths)
      if (text_into(p, s.id) && !s.id.empty()) break;
    if (s.id.empty()) {
      // No id in the record: a stable content hash, so replays still de-duplicate.
      fmt::format_to(std::back_inserter(s.id), "siem-{:016x}", encoding::fnv1a_64(record.json));
    }
    std::optional<std::int64_t> time;
    std::string_view time_text;  // the last string parsed in place, and what it gave (for the enrichment)
    std::optional<std::int64_t> time_text_ms;
    for (const auto& p : m.time_paths) {
      auto e = cache.find(p, root);
      if (!e) continue;
      if (e->is_string()) {  // parsed in place, not copied
        time_text = e->get_string().value_unsafe();
        time = time_text_ms = parse_time_ms(time_text);
      } else {
        std::string t;
        if (!json::scalar_text(*e, t)) continue;
        time = parse_time_ms(t);
      }
      if (time) break;
    }
    s.now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch()).count();
    if (!time) {
      extra_tags.emplace_back("timestamp_missing");
      time = s.now_ms;
    }
    out.time_ms = *time;
    s.tenant_id.clear();
    for (const auto& p : m.tenant_paths)
      if (text_into(p, s.tenant_id) && !s.tenant_id.empty()) break;
    if (s.tenant_id.empty()) s.tenant_id = record.tenant_hint;
    s.subscription_id.clear();
    for (const auto& p : m.subscription_paths)
      if (text_into(p, s.subscription_id) && !s.subscription_id.empty()) break;
    if (s.prepared) {
      assert(cache.generation != 0);  // 0 would read slots of earlier (freed) records as this one's
      const RecordPaths paths{cache.entries.data(), enricher_paths.slots.data(), enricher_paths.slots.size(),
                              time_text, time_text_ms, cache.generation};
      enricher_->prepare(*s.prepared, kind, root, root_fields, s.tenant_id, &paths);
      if (!s.prepared->truncated.empty()) {  // the detections read the first entries of a list only
        ++s.stats.enrichment_truncated;
        extra_tags.emplace_back("enrichment_truncated");
        if (s.prepared->truncated_first)  // once per list: the record, where to find it
          spdlog::warn("enrichment: record {} has more {} entries than the detections read ({}{}): they read the "
                       "first ones, and the event is tagged enrichment_truncated (logged once per list; "
                       "siem_detection_events_tagged counts them)",
                       record.origin.empty() ? std::string_view("(no origin)") : std::string_view(record.origin),
                       s.prepared->truncated, s.prepared->truncated_bound,
                       s.prepared->truncated == "modifiedProperties" ? " over all targets" : "");
      }
    }
    s.ok = true;
    return std::nullopt;
  }

  // In input order: the enrichment's rules against its learned state, and what the record teaches
  // it; the end of a roster snapshot; the counters. Only what needs the input order: the
  // enrichment's result is built in finish() (Enricher::complete()), which runs concurrently.
  void enrich(Scratch& base, const RawRecord& record, MappedEvent&) override {
    auto& s = static_cast<RecordScratch&>(base);
    stats_ += s.stats;
    s.stats = MapperStats{};
    if (s.ok) {
      if (s.prepared) enricher_->ordered(*s.prepared);
      ++stats_.mapped;
    }
    // The last record of a complete roster snapshot, mapped or not: the snapshot is complete.
    if (const auto end = record.attributes.get(attr::snapshot_end); end && enricher_)
      enricher_->roster_snapshot_complete(*end == attr::snapshot_eligibilities,
                                          record.attributes.get(attr::snapshot_read_ms).value_or(0), record.tenant_hint);
  }

  // The effective severity and each requested output format's encoder.
  void finish(Scratch& scratch, const RawRecord& record, FormatSet formats, MappedEvent& out) const override {
    auto& s = static_cast<RecordScratch&>(scratch);
    if (!s.ok) return;
    const auto& m = *s.m;
    const simdjson::dom::element root = s.decoded.root;
    if (s.prepared) enricher_->complete(*s.prepared, s.pa);
    const EnrichmentResult& pa = s.pa;
    mapping::EvalContext ctx;
    ctx.cache = &s.cache;
    ctx.record = root;
    ctx.kind = out.kind;
    ctx.time_ms = out.time_ms;
    ctx.now_ms = s.now_ms;
    ctx.id = &s.id;
    ctx.tenant = &s.tenant_id;
    ctx.enrichment = &pa;
    ctx.host = &host_;
    ctx.extra_tags = &s.extra_tags;
    ctx.raw = &record.json;
    format_time_ms(out.time_ms, s.time_text);  // into the scratch's buffer: no allocation per event
    if (s.now_ms != s.last_now_ms) {  // the clock moves on every millisecond, not every record
      s.last_now_ms = s.now_ms;
      format_time_ms(s.now_ms, s.now_text);
    }
    ctx.time_text = &s.time_text;
    ctx.now_text = &s.now_text;

    // The record's own text is left to the caller, who moves it in once the record is no longer
    // read (the pipeline's hand-off) or copies it (map()): not a ~2 KB copy per event here.
    if (s.decoded.repaired_raw) out.raw = std::move(*s.decoded.repaired_raw);
    else out.raw.clear();
    s.action.clear();
    std::string_view action;
    if (const int a = action_rule_.at(m.kind); a >= 0) {
      const auto& rule = m.ecs[static_cast<std::size_t>(a)];
      std::string_view text;  // a plain string rule (most are): no Value, no copy
      const auto found = rule.plain ? rule.string_view(ctx, text) : std::nullopt;
      if (!found) action = s.action = rule.evaluate(ctx).text();
      else if (*found) action = text;  // valid until the next record (the record's text or the rule's)
    }
    // The effective severity: the mapping's base severity for the kind, raised by detections.
    int base_severity = 0;
    if (std::optional<std::int64_t> constant; m.cef_severity.integer_constant(ctx, constant)) {
      if (constant) base_severity = static_cast<int>(*constant);
    } else if (const Value base = m.cef_severity.evaluate(ctx); base.kind == Value::Kind::integer) {
      base_severity = static_cast<int>(base.i);
    }
    out.severity = std::clamp(std::max(pa.severity, base_severity), 0, 10);
    ctx.severity = out.severity;
    const mapping::MappedRecord mapped{m, ctx};
    for (const auto& encoder : encoders_) {
      std::string& text = mapping::encoded_output(out, encoder->format());
      text.clear();
      if (formats & format_bit(encoder->format())) encoder->encode(mapped, text);
    }
    out.single_line = static_cast<FormatSet>(formats & mapping::kSingleLineFormats);
    // The event's texts and tags in one allocation (the encoders read the tags from the result and
    // the engine's from extra_tags); the rest of the result is freed here rather than in the next
    // enrich().
    out.texts.assign({record.origin, s.id, s.tenant_id, s.subscription_id, action}, s.pa.tags, s.extra_tags);
    out.tier = s.pa.tier;
    s.pa = EnrichmentResult{};
    s.decoder.trim(kKeptDecoderBytes);
  }

  MapperStats stats() const override { return stats_; }
  void save_state() override {
    if (enricher_) enricher_->save();
  }

 private:
  mapping::MappingSet set_;
  std::map<SourceKind, int> action_rule_;  // index of the event.action rule per kind
  std::unique_ptr<Enricher> enricher_;
  // Per kind: the slots of the enricher's record_paths() (added to the kind's rules' paths), and
  // the same paths alone.
  struct EnricherPaths {
    std::vector<int> slots;
    json::PathSet alone;
  };
  std::array<EnricherPaths, static_cast<std::size_t>(kLastSourceKind) + 1> enricher_paths_;
  std::string host_;
  std::vector<std::unique_ptr<mapping::Encoder>> encoders_;  // after set_ and host_, built from them
  MapperStats stats_;
  std::unique_ptr<Scratch> own_;  // map()'s
};

std::string local_host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "localhost";
  return buf;
}

}  // namespace

const config::Section& Mapper::config_keys() {
  using config::Type;
  static const config::Section s{"mappings", "mappings", {}, {
      {"dir", Type::path, "shipped mappings", "directory of mapping files (`common.yaml` + one per record kind). If unset: `$SIEM_MAPPINGS_DIR`, then `../share/siem-connector/mappings` next to the binary, then the source tree"},
      {"overrides", Type::list, "[]", "extra mapping files (paths) applied after the shipped ones"},
  }};
  return s;
}

std::unique_ptr<Mapper> Mapper::create(const ConfigNode& mappings, const EnricherFactory& make_enricher) {
  Diagnostics& diags = mappings.diagnostics();
  std::optional<std::filesystem::path> dir;
  std::vector<std::string> overrides;
  if (mappings.valid()) {
    dir = mappings.file_path("dir");
    for (const auto& o : mappings.string_list("overrides")) {
      std::filesystem::path p(o);
      if (p.is_relative()) p = (mappings.base_dir() / p).lexically_normal();  // "local.yaml", not "././local.yaml"
      std::error_code ec;
      if (!std::filesystem::is_regular_file(p, ec)) {
        mappings.error_at("overrides", fmt::format("mapping file {} does not exist", p.string()));
        continue;  // reported once, here (not again as unreadable)
      }
      overrides.push_back(p.string());
    }
  }
  const auto base = find_mappings_dir(dir);
  std::vector<std::string> files = shipped_mapping_files(base);
  if (files.empty()) {
    Location l;
    l.file = (base / "common.yaml").string();
    diags.error(l, "mappings", "the shipped mapping files were not found (set mappings.dir or SIEM_MAPPINGS_DIR)");
  }
  files.insert(files.end(), overrides.begin(), overrides.end());
  auto set = mapping::MappingSet::load(files, diags);
  auto enricher = make_enricher();
  return std::make_unique<MapperImpl>(std::move(set), std::move(enricher), local_host_name());
}

const std::vector<std::string>& mapping_engine_tags() {
  static const std::vector<std::string> tags{"schema_unknown", "kind_ambiguous", "json_repaired", "timestamp_missing",
                                             "enrichment_truncated"};
  return tags;
}

}  // namespace siem
