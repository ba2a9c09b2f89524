#include "connector/mapping/mapper.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <iterator>
#include <map>
#include <memory>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "connector/enrichment/enricher.h"
#include "connector/mapping/encoding.h"
#include "connector/mapping/json_access.h"
#include "connector/mapping/kind_detect.h"
#include "connector/mapping/mapping_rules.h"
#include "connector/mapping/record_shape.h"
#include "connector/mapping/shipped_files.h"
#include "connector/mapping/time_parse.h"

namespace siem {

namespace {

using mapping::Value;

// Bounded repair of the invalid JSON Azure and hand-edited files really produce: raw control
// characters inside strings, and trailing commas before a closing bracket.
std::optional<std::string> repair_json(std::string_view in) {
  std::string out;
  out.reserve(in.size() + 16);
  bool in_string = false;
  bool changed = false;
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (in_string) {
      if (c == '\\' && i + 1 < in.size()) {
        out += c;
        out += in[++i];
        continue;
      }
      if (c == '"') in_string = false;
      if (static_cast<unsigned char>(c) < 0x20) {
        changed = true;
        out += c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : " ";
        continue;
      }
      out += c;
      continue;
    }
    if (c == '"') in_string = true;
    if (c == ',') {
      std::size_t j = i + 1;
      while (j < in.size() && (in[j] == ' ' || in[j] == '\n' || in[j] == '\r' || in[j] == '\t')) ++j;
      if (j < in.size() && (in[j] == '}' || in[j] == ']')) {
        changed = true;
        continue;
      }
    }
    out += c;
  }
  if (!changed) return std::nullopt;
  return out;
}

// A top-level `properties` holding a JSON object as a string (some Azure diagnostic exports send
// it so): the record rebuilt with the object in its place. nullopt when the string is not a JSON
// object (then it stays a string). `props` is that member of `root`, a string.
std::optional<std::string> decode_string_properties(simdjson::dom::element root, simdjson::dom::element props) {
  const std::string_view inner = props.get_string().value_unsafe();
  const auto first = inner.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos || inner[first] != '{') return std::nullopt;
  thread_local simdjson::dom::parser inner_parser;
  simdjson::dom::element decoded;
  if (inner_parser.parse(inner).get(decoded) != simdjson::SUCCESS || !decoded.is_object()) return std::nullopt;
  std::string out;
  out.reserve(inner.size() * 2);
  out += '{';
  const simdjson::dom::object fields = root.get_object().value_unsafe();
  for (const auto field : fields) {
    if (out.size() > 1) out += ',';
    encoding::append_json_string(out, field.key);
    out += ':';
    out += simdjson::minify(json::iequals(field.key, "properties") && field.value.is_string() ? decoded : field.value);
  }
  out += '}';
  return out;
}

// CEF extension limits (implementation standard rev. 25). externalId is pinned to the whole id.
std::size_t cef_max_length(std::string_view key) {
  if (key == "act" || key == "outcome") return 63;
  if (key == "app") return 31;
  if (key == "dvchost") return 100;
  if (key == "deviceExternalId") return 255;
  if (key == "externalId") return 4096;
  return 1023;
}

// The ECS document of one source kind as a flat list of steps, run in order: the target tree
// walked once when the mappings load (pre-order), so writing an event is one pass over a
// contiguous array with no recursion. A realistic mix rotates through the kinds, and a compact
// plan per kind is what stays in the CPU's cache from one event of a kind to the next.
struct EcsProgram {
  struct Step {
    enum Op : std::uint8_t {
      field,     // a rule's member: "key":value, dropped when the rule has no value
      constant,  // a run of members that never depend on the record, encoded once
      open,      // "key":{ -- dropped with its close when nothing inside was written
      close,
    };
    Op op = field;
    std::int32_t slot = -1;              // field with a single record path: its PathCache slot
    std::uint32_t text_at = 0, text_size = 0;  // in `text`, starting with the separating comma
    std::uint32_t rule = 0;              // field: index in KindMapping::ecs
    const json::Path* path = nullptr;    // field: Rule::single_path
  };
  std::vector<Step> steps;
  // Every key prefix and constant run, each stored once with its leading comma (",\"key\":");
  // the first member of an object skips that comma.
  std::string text;
  std::size_t max_depth = 0;

  EcsProgram(const std::vector<mapping::Rule>& rules, const std::string& host) {
    // The target tree: "a.b.c" is member c of object b of object a.
    struct Node {
      std::string key;
      std::vector<std::size_t> children;
      int rule = -1;
      bool constant = false;
      std::string text;  // constant: the whole member ("key":value)
    };
    std::vector<Node> nodes(1);  // nodes[0] is the root
    for (std::size_t r = 0; r < rules.size(); ++r) {
      std::size_t cur = 0;
      std::string_view t = rules[r].target;
      std::size_t start = 0;
      while (start <= t.size()) {
        auto dot = t.find('.', start);
        if (dot == std::string_view::npos) dot = t.size();
        const std::string seg(t.substr(start, dot - start));
        std::size_t next = SIZE_MAX;
        for (auto c : nodes[cur].children)
          if (nodes[c].key == seg) next = c;
        if (next == SIZE_MAX) {
          nodes.push_back(Node{seg, {}, -1, false, {}});
          next = nodes.size() - 1;
          nodes[cur].children.push_back(next);
        }
        cur = next;
        start = dot + 1;
      }
      nodes[cur].rule = static_cast<int>(r);
    }
    auto prefix = [](const Node& n) {
      std::string p;
      encoding::append_json_string(p, n.key);
      p += ':';
      if (n.rule < 0) p += '{';
      return p;
    };
    // Children are created after their parent: deciding from the last node back sees every
    // child's answer before its parent's.
    for (std::size_t i = nodes.size(); i-- > 1;) {
      auto& n = nodes[i];
      if (n.rule >= 0) {
        std::string value;
        if (rules[static_cast<std::size_t>(n.rule)].constant_json(host, value)) {
          n.constant = true;
          n.text = prefix(n) + value;
        }
        continue;
      }
      n.constant = !n.children.empty() &&
                   std::all_of(n.children.begin(), n.children.end(), [&](std::size_t c) { return nodes[c].constant; });
      if (n.constant) {
        n.text = prefix(n);
        for (std::size_t k = 0; k < n.children.size(); ++k) {
          if (k > 0) n.text += ',';
          n.text += nodes[n.children[k]].text;
        }
        n.text += '}';
      }
    }
    auto add_text = [this](Step& step, std::string_view body) {
      step.text_at = static_cast<std::uint32_t>(text.size());
      text += ',';
      text += body;
      step.text_size = static_cast<std::uint32_t>(text.size() - step.text_at);
    };
    // Pre-order emission; consecutive constant members become one step.
    auto emit = [&](auto& self, std::size_t index, std::size_t depth) -> void {
      max_depth = std::max(max_depth, depth);
      std::string run;
      auto flush = [&] {
        if (run.empty()) return;
        Step step;
        step.op = Step::constant;
        add_text(step, run);
        steps.push_back(step);
        run.clear();
      };
      for (auto c : nodes[index].children) {
        const auto& child = nodes[c];
        if (child.constant) {
          if (!run.empty()) run += ',';
          run += child.text;
          continue;
        }
        flush();
        Step step;
        add_text(step, prefix(child));
        if (child.rule >= 0) {
          const auto& rule = rules[static_cast<std::size_t>(child.rule)];
          step.op = Step::field;
          step.rule = static_cast<std::uint32_t>(child.rule);
          step.path = rule.single_path;
          step.slot = rule.single_path ? rule.single_path->slot : -1;
          steps.push_back(step);
        } else {
          step.op = Step::open;
          steps.push_back(step);
          self(self, c, depth + 1);
          Step end;
          end.op = Step::close;
          steps.push_back(end);
        }
      }
      flush();
    };
    emit(emit, 0, 0);
  }
};

class MapperImpl final : public Mapper {
 public:
  MapperImpl(mapping::MappingSet set, std::unique_ptr<Enricher> enricher, std::string host)
      : set_(std::move(set)), enricher_(std::move(enricher)), host_(std::move(host)) {
    plans_.emplace(SourceKind::unknown, EcsProgram(set_.for_kind(SourceKind::unknown).ecs, host_));
    for (auto k : all_source_kinds()) plans_.emplace(k, EcsProgram(set_.for_kind(k).ecs, host_));
    cache_.entries.resize(set_.path_slots());
    auto action_rule = [](const mapping::KindMapping& m) -> int {
      for (std::size_t i = 0; i < m.ecs.size(); ++i)
        if (m.ecs[i].target == "event.action") return static_cast<int>(i);
      return -1;
    };
    action_rule_[SourceKind::unknown] = action_rule(set_.for_kind(SourceKind::unknown));
    for (auto k : all_source_kinds()) action_rule_[k] = action_rule(set_.for_kind(k));
  }

  std::optional<std::string> map(const RawRecord& record, std::optional<SourceKind> forced, FormatSet formats,
                                 MappedEvent& out) override {
    auto result = map_record(record, forced, formats, out);
    // The last record of a complete roster snapshot, mapped or not: the snapshot is complete.
    if (record.snapshot_end != RawRecord::SnapshotEnd::none && enricher_)
      enricher_->roster_snapshot_complete(record.snapshot_end == RawRecord::SnapshotEnd::eligibilities,
                                          record.snapshot_read_ms, record.tenant_hint);
    return result;
  }

 private:
  std::optional<std::string> map_record(const RawRecord& record, std::optional<SourceKind> forced, FormatSet formats,
                                        MappedEvent& out) {
    simdjson::dom::element root;
    std::vector<std::string> extra_tags;
    auto err = parser_.parse(record.json).get(root);
    std::string repaired;
    // The `raw` output of a record that was not valid JSON is its repaired text: raw is embedded
    // as JSON (HEC's "event", Kafka and file consumers), so it must parse.
    std::optional<std::string> repaired_raw;
    if (err != simdjson::SUCCESS) {
      if (auto fixed = repair_json(record.json)) {
        repaired = std::move(*fixed);
        if (parser_.parse(repaired).get(root) == simdjson::SUCCESS) {
          ++stats_.repaired_json;
          extra_tags.emplace_back("json_repaired");
          err = simdjson::SUCCESS;
          repaired_raw = repaired;
        }
      }
      if (err != simdjson::SUCCESS) {
        ++stats_.failed;
        return fmt::format("invalid JSON: {}", simdjson::error_message(err));
      }
    }
    if (!root.is_object()) {
      ++stats_.failed;
      return std::string("invalid record: expected a JSON object");
    }
    // The record's index, built once for kind detection and reused by the enrichment.
    const json::Fields* root_fields = nullptr;
    if (!forced) {
      root_fields_.assign(root);
      root_fields = &root_fields_;
    }
    const auto props = root_fields ? root_fields->get("properties") : json::child(root, "properties");
    if (props && props->is_string()) {
      if (auto decoded = decode_string_properties(root, *props)) {
        // `properties` sent as a JSON document in a string (some diagnostic exports do): the
        // record is mapped as if it had been an object. `repaired` holds the text from here on.
        repaired = std::move(*decoded);
        if (parser_.parse(repaired).get(root) != simdjson::SUCCESS) {
          ++stats_.failed;
          return std::string("invalid record: cannot re-read it with its decoded 'properties'");
        }
        if (root_fields) root_fields_.assign(root);
        ++stats_.decoded_properties;
      }
    }
    std::optional<SourceKind> shape_kind;
    bool ambiguous = false;
    if (auto error = rewrite_log_analytics(root, root_fields != nullptr, repaired, shape_kind, ambiguous)) return error;
    SourceKind kind = SourceKind::unknown;
    if (forced) kind = *forced;
    else if (shape_kind) kind = *shape_kind;
    else if (!ambiguous) kind = detect_kind(*root_fields, ambiguous);
    if (kind == SourceKind::unknown && !forced && !ambiguous && record.kind_hint != SourceKind::unknown)
      kind = record.kind_hint;
    if (ambiguous && !forced) {
      // Two kinds' fields (or a Type that its columns contradict): mapped as unknown and tagged,
      // never as one of them at a guess.
      ++stats_.kind_ambiguous;
      extra_tags.emplace_back("kind_ambiguous");
    }
    if (kind == SourceKind::unknown) {
      ++stats_.schema_unknown;
      extra_tags.emplace_back("schema_unknown");
    }
    const auto& m = set_.for_kind(kind);
    // ECS / CEF read most of the kind's paths: resolve them all in one pass over the record. A
    // raw-only pipeline reads a handful (id, time, tenant, action): look those up on demand.
    if (formats & (format_bit(OutputFormat::ecs) | format_bit(OutputFormat::cef))) cache_.resolve(m, root);
    else cache_.next_record();
    // The scalar text at p written into `into` (whose buffer is reused); false when it is missing or
    // not a scalar (then `into` is left as it was).
    auto text_into = [&](const json::Path& p, std::string& into) {
      auto e = cache_.find(p, root);
      return e && json::scalar_text(*e, into);
    };

    out.kind = kind;
    out.id.clear();
    for (const auto& p : m.id_paths)
      if (text_into(p, out.id) && !out.id.empty()) break;
    if (out.id.empty()) {
      // No id in the record: a stable content hash, so replays still de-duplicate.
      std::uint64_t h = 1469598103934665603ull;
      for (unsigned char c : record.json) h = (h ^ c) * 1099511628211ull;
      out.id = fmt::format("siem-{:016x}", h);
    }
    std::optional<std::int64_t> time;
    for (const auto& p : m.time_paths) {
      auto e = cache_.find(p, root);
      if (!e) continue;
      if (e->is_string()) {  // parsed in place, not copied
        time = parse_time_ms(e->get_string().value_unsafe());
      } else {
        std::string t;
        if (!json::scalar_text(*e, t)) continue;
        time = parse_time_ms(t);
      }
      if (time) break;
    }
    const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch()).count();
    if (!time) {
      extra_tags.emplace_back("timestamp_missing");
      time = now_ms;
    }
    out.time_ms = *time;
    out.tenant_id.clear();
    for (const auto& p : m.tenant_paths)
      if (text_into(p, out.tenant_id) && !out.tenant_id.empty()) break;
    if (out.tenant_id.empty()) out.tenant_id = record.tenant_hint;
    out.subscription_id.clear();
    for (const auto& p : m.subscription_paths)
      if (text_into(p, out.subscription_id) && !out.subscription_id.empty()) break;

    EnrichmentResult pa;
    if (enricher_) pa = enricher_->enrich(kind, root, root_fields, out.tenant_id);
    out.tags = pa.tags;
    out.tags.insert(out.tags.end(), extra_tags.begin(), extra_tags.end());
    out.tier = pa.tier;
    out.severity = pa.severity;

    mapping::EvalContext ctx;
    ctx.cache = &cache_;
    ctx.record = root;
    ctx.kind = kind;
    ctx.time_ms = out.time_ms;
    ctx.now_ms = now_ms;
    ctx.id = &out.id;
    ctx.tenant = &out.tenant_id;
    ctx.enrichment = &pa;
    ctx.host = &host_;
    ctx.extra_tags = &extra_tags;
    ctx.raw = &record.json;
    format_time_ms(out.time_ms, time_text_);  // into the mapper's buffer: no allocation per event
    if (now_ms != now_ms_) {  // the clock moves on every millisecond, not every record
      now_ms_ = now_ms;
      format_time_ms(now_ms, now_text_);
    }
    ctx.time_text = &time_text_;
    ctx.now_text = &now_text_;

    if (repaired_raw) out.raw = std::move(*repaired_raw);
    else out.raw = record.json;
    out.ecs.clear();
    out.cef.clear();
    out.action.clear();
    if (const int a = action_rule_.at(m.kind); a >= 0) {
      const auto& rule = m.ecs[static_cast<std::size_t>(a)];
      std::string_view text;  // a plain string rule (most are): no Value, no copy
      const auto found = rule.plain ? rule.string_view(ctx, text) : std::nullopt;
      if (!found) out.action = rule.evaluate(ctx).text();
      else if (*found) out.action.assign(text);
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
    if (formats & format_bit(OutputFormat::ecs)) write_ecs(plans_.at(m.kind), m, ctx, out.ecs);
    if (formats & format_bit(OutputFormat::cef)) write_cef(m, ctx, out.severity, out.cef);
    ++stats_.mapped;
    return std::nullopt;
  }

  // A Log Analytics row (record_shape.h) is rewritten into the Event Hubs shape of the same record,
  // which the mappings and the enrichment read; the original text stays the raw record. `root`
  // (and the record index, when `indexed`) then describe the rewritten record, held in `repaired`;
  // `kind` is its kind. `ambiguous`: a row whose Type its columns contradict. Returns the reason a
  // rewritten row cannot be read back (then it is dead-lettered).
  std::optional<std::string> rewrite_log_analytics(simdjson::dom::element& root, bool indexed, std::string& repaired,
                                                   std::optional<SourceKind>& kind, bool& ambiguous) {
    if (!indexed) root_fields_.assign(root);  // forced kind: the shape still decides the paths
    // Every Log Analytics row has TimeGenerated, no other shape does: one lookup for the others.
    if (!root_fields_.has("TimeGenerated")) return std::nullopt;
    ShapeResult shape = normalize_log_analytics(root_fields_, root);
    ambiguous = shape.conflicting;
    if (shape.rewritten.empty()) return std::nullopt;
    repaired = std::move(shape.rewritten);
    if (parser_.parse(repaired).get(root) != simdjson::SUCCESS) {
      ++stats_.failed;
      return std::string("invalid record: cannot re-read the Log Analytics row in its Event Hubs shape");
    }
    if (indexed) root_fields_.assign(root);
    kind = shape.kind;
    ++stats_.log_analytics_rows;
    return std::nullopt;
  }

 public:
  MapperStats stats() const override { return stats_; }
  void save_state() override {
    if (enricher_) enricher_->save();
  }

 private:
  // One ECS member from a rule: "key":value after a comma unless it is its object's first;
  // nothing when the rule has no value. true: written.
  static bool write_field(const EcsProgram::Step& step, std::string_view prefix, const mapping::KindMapping& m,
                          const mapping::EvalContext& ctx, std::string& out) {
    if (const json::Path* p = step.path) {  // {from: path}: most members
      const auto e = step.slot >= 0 && ctx.cache ? ctx.cache->find(step.slot, *p, ctx.record) : p->first(ctx.record);
      if (!e) return false;
      if (e->is_string()) {
        const std::string_view text = e->get_string().value_unsafe();
        if (text.empty()) return false;
        out += prefix;
        encoding::append_json_string(out, text);
        return true;
      }
    }
    const std::size_t mark = out.size();
    out += prefix;
    const auto& rule = m.ecs[step.rule];
    if (rule.direct) {
      if (const auto written = rule.append_json(ctx, out)) {
        if (!*written) out.resize(mark);
        return *written;
      }
    }
    Value v = rule.evaluate(ctx);
    if (v.empty()) {
      out.resize(mark);
      return false;
    }
    mapping::append_value_json(out, v);
    return true;
  }

  static void write_ecs(const EcsProgram& plan, const mapping::KindMapping& m, const mapping::EvalContext& ctx,
                        std::string& out) {
    out.reserve(2048);
    out += '{';
    // One level per open object: where its key began (to drop it if it stays empty) and whether
    // it was its parent's first member.
    struct Level {
      std::size_t mark;
      bool first;
    };
    Level fixed[16];
    std::unique_ptr<Level[]> deep;
    Level* levels = fixed;
    if (plan.max_depth > std::size(fixed)) levels = (deep = std::make_unique<Level[]>(plan.max_depth)).get();
    std::size_t depth = 0;
    bool first = true;  // nothing written yet in the current object
    const char* text = plan.text.data();
    // A step's text without its leading comma for an object's first member.
    auto prefix = [&](const EcsProgram::Step& step) {
      return std::string_view(text + step.text_at + first, step.text_size - first);
    };
    for (const auto& step : plan.steps) {
      switch (step.op) {
        case EcsProgram::Step::field:
          if (write_field(step, prefix(step), m, ctx, out)) first = false;
          break;
        case EcsProgram::Step::constant:
          out += prefix(step);
          first = false;
          break;
        case EcsProgram::Step::open:
          levels[depth++] = Level{out.size(), first};
          out += prefix(step);
          first = true;
          break;
        case EcsProgram::Step::close: {
          const Level& level = levels[--depth];
          if (first) {  // nothing inside: drop the key
            out.resize(level.mark);
            first = level.first;
          } else {
            out += '}';
            first = false;
          }
          break;
        }
      }
    }
    out += '}';
  }

  static void append_cef_header_field(const mapping::Rule& r, const mapping::EvalContext& ctx, std::size_t max_length,
                                      std::string& out) {
    if (r.plain) {  // a string straight from the record / context (vendor, product...): no Value, no copy
      std::string_view text;
      if (const auto found = r.string_view(ctx, text); found && text.size() <= max_length) {
        if (*found) encoding::append_cef_header(out, text);
        return;
      }
    }
    std::string v = r.evaluate(ctx).text();
    encoding::truncate_utf8(v, max_length);
    encoding::append_cef_header(out, v);
  }

  static void write_cef(const mapping::KindMapping& m, const mapping::EvalContext& ctx, int severity, std::string& out) {
    out.reserve(1024);
    out += "CEF:0|";
    for (const auto* r : {&m.cef_vendor, &m.cef_product, &m.cef_version, &m.cef_class_id, &m.cef_name}) {
      append_cef_header_field(*r, ctx, r == &m.cef_name ? 512 : r == &m.cef_class_id ? 1023 : 63, out);
      out += '|';
    }
    out += std::to_string(std::clamp(severity, 0, 10));
    out += '|';
    bool first = true;
    std::string truncated;
    std::string cs5_value;
    auto append_pair = [&](const mapping::Rule& r, std::string_view text) {
      if (!r.label.empty()) {
        if (!first) out += ' ';
        out += r.target;
        out += "Label=";
        encoding::append_cef_extension_value(out, r.label);
        first = false;
      }
      if (!first) out += ' ';
      out += r.target;
      out += '=';
      encoding::append_cef_extension_value(out, text);
      first = false;
    };
    for (const auto& r : m.cef_extension) {
      if (r.plain) {  // a string straight from the record / context: no Value, no copy
        std::string_view text;
        if (const auto found = r.string_view(ctx, text)) {
          if (!*found) continue;
          if (text.size() <= cef_max_length(r.target)) {
            append_pair(r, text);
            continue;
          }
        }
      }
      Value v = r.evaluate(ctx);
      if (v.empty()) continue;
      std::string text = v.text();
      if (encoding::truncate_utf8(text, cef_max_length(r.target))) {
        if (!truncated.empty()) truncated += ',';
        truncated += r.target;
      }
      append_pair(r, text);
    }
    if (!truncated.empty()) {
      out += first ? "" : " ";
      out += "cs5Label=truncatedKeys cs5=";
      encoding::append_cef_extension_value(out, truncated);
    }
  }

  mapping::MappingSet set_;
  std::map<SourceKind, EcsProgram> plans_;
  std::map<SourceKind, int> action_rule_;  // index of the event.action rule per kind
  mapping::PathCache cache_;
  std::int64_t now_ms_ = INT64_MIN;  // $now of the previous record, and its text
  std::string now_text_;
  json::Fields root_fields_;  // the current record's index (its storage reused across records)
  std::string time_text_;  // the current record's time, formatted (a buffer reused across records)
  std::unique_ptr<Enricher> enricher_;
  std::string host_;
  simdjson::dom::parser parser_;
  MapperStats stats_;
};

std::string local_host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "localhost";
  return buf;
}

}  // namespace

std::unique_ptr<Mapper> Mapper::create(const ConfigNode& mappings, const ConfigNode& enrichment, StateStore* state) {
  Diagnostics& diags = mappings.diagnostics();
  std::optional<std::filesystem::path> dir;
  std::vector<std::string> overrides;
  if (mappings.valid()) {
    dir = mappings.file_path("dir");
    for (const auto& o : mappings.string_list("overrides")) {
      std::filesystem::path p(o);
      if (p.is_relative()) p = mappings.base_dir() / p;
      std::error_code ec;
      if (!std::filesystem::is_regular_file(p, ec)) mappings.error_at("overrides", fmt::format("mapping file {} does not exist", p.string()));
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
  auto enricher = Enricher::create(enrichment, state);
  return std::make_unique<MapperImpl>(std::move(set), std::move(enricher), local_host_name());
}

}  // namespace siem
