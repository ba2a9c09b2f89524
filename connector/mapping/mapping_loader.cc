// MappingSet: loads the shipped mapping files and the operator's overrides, merges them per record
// kind (common.yaml under every kind) and compiles each kind's rules (rule_compiler.cc).
#include <algorithm>
#include <set>
#include <stdexcept>

#include <fmt/format.h>

#include "connector/mapping/expression.h"
#include "connector/mapping/mapping_rules.h"
#include "connector/mapping/rule_compiler.h"

namespace siem::mapping {

namespace {

// Rules by target, in first-definition order; later definitions replace in place, null deletes.
struct OrderedRules {
  std::vector<std::pair<std::string, std::optional<Rule>>> items;
  void set(const std::string& target, std::optional<Rule> rule) {
    for (auto& [t, r] : items) {
      if (t == target) {
        r = std::move(rule);
        return;
      }
    }
    items.emplace_back(target, std::move(rule));
  }
  std::vector<Rule> compiled() const {
    std::vector<Rule> out;
    for (const auto& [t, r] : items)
      if (r) out.push_back(*r);
    return out;
  }
};

struct KindDraft {
  std::vector<json::Path> id_paths, time_paths, tenant_paths, subscription_paths;
  OrderedRules ecs, cef_header, cef_ext, ocsf;
};

// Every slotted path of a kind's rules into m.paths, each once; the paths only the OCSF rules use
// into m.ocsf_paths (resolved only when an OCSF event is wanted); and those a pipeline that wants
// CEF alone reads into m.cef_paths.
void collect_paths(KindMapping& m) {
  std::set<int> seen;
  json::PathSet* into = &m.paths;
  auto add = [&](const json::Path& p) {
    if (p.slot >= 0 && !p.fans_out() && seen.insert(p.slot).second) into->add(p, p.slot);
  };
  auto add_rule = [&](const Rule& r) {
    for (const auto& e : r.alternatives) {
      for (const auto& c : e->when)
        if (c.virt.empty()) add(c.path);
      if (e->src == Expr::Src::from || e->src == Expr::Src::all)
        for (const auto& p : e->paths) add(p);
      for (const auto& part : e->parts)
        if (part.path) add(*part.path);
    }
  };
  auto add_identity = [&] {
    for (const auto* paths : {&m.id_paths, &m.time_paths, &m.tenant_paths, &m.subscription_paths})
      for (const auto& p : *paths) add(p);
  };
  auto add_cef = [&] {
    for (const auto* r : {&m.cef_vendor, &m.cef_product, &m.cef_version, &m.cef_class_id, &m.cef_name, &m.cef_severity})
      add_rule(*r);
    for (const auto& r : m.cef_extension) add_rule(r);
  };
  add_identity();
  for (const auto& r : m.ecs) add_rule(r);
  add_cef();
  into = &m.ocsf_paths;
  for (const auto& r : m.ocsf) add_rule(r);
  seen.clear();
  into = &m.cef_paths;
  add_identity();
  add_cef();
  for (const auto& r : m.ecs)
    if (r.target == "event.action") add_rule(r);
}

// The kind's path sets are complete: their guesses are built once (PathSet::finish()).
void finish_kind_paths(KindMapping& m) {
  m.paths.finish();
  m.ocsf_paths.finish();
  m.cef_paths.finish();
}
}  // namespace

MappingSet MappingSet::load(const std::vector<std::string>& files, Diagnostics& diags) {
  MappingSet set;
  KindDraft common;
  std::map<SourceKind, KindDraft> drafts;
  static const std::vector<std::string> top_keys = {"kind", "id", "time", "tenant", "subscription", "ecs", "cef", "ocsf", "description"};
  static const std::vector<std::string> cef_keys = {"vendor", "product", "version", "class_id", "name", "severity", "extension"};

  std::map<std::string, int, std::less<>> slots;
  for (const auto& file : files) {
    Compiler c{diags, file, &slots};
    yaml::Node root;
    try {
      root = yaml::load_file(file);
    } catch (const yaml::FileError& e) {
      Location l;
      l.file = file;
      diags.error(l, "", "cannot read mapping file: " + e.reason);
      continue;
    } catch (const YAML::Exception& e) {
      Location l;
      l.file = file;
      l.line = e.mark.line + 1;
      l.column = e.mark.column + 1;
      diags.error(l, "", "YAML syntax error: " + e.msg);
      continue;
    }
    if (!root.IsMap()) {
      c.error(root, "", "a mapping file is a YAML mapping with 'kind', 'ecs' and 'cef'");
      continue;
    }
    for (const auto& [key, value] : root.entries()) {
      const auto& k = key.Scalar();
      if (std::find(top_keys.begin(), top_keys.end(), k) == top_keys.end()) {
        std::string msg = fmt::format("unknown key '{}'", k);
        if (auto s = did_you_mean(k, top_keys)) msg += fmt::format(" (did you mean '{}'?)", *s);
        c.error(key, "", msg);
      }
    }
    if (!root["kind"]) {
      c.error(root, "", "missing 'kind' (a record kind such as graph_sign_in, or 'common')");
      continue;
    }
    const std::string kind_name = root["kind"].Scalar();
    KindDraft* draft = nullptr;
    if (kind_name == "common") {
      draft = &common;
    } else if (auto k = source_kind_from_string(kind_name)) {
      draft = &drafts[*k];
    } else {
      std::vector<std::string> names{"common", "unknown"};
      for (auto k2 : all_source_kinds()) names.emplace_back(to_string(k2));
      std::string msg = fmt::format("unknown kind '{}'", kind_name);
      if (auto s = did_you_mean(kind_name, names)) msg += fmt::format(" (did you mean '{}'?)", *s);
      c.error(root["kind"], "kind", msg);
      continue;
    }
    auto paths = [&](const char* key, std::vector<json::Path>& out) {
      if (auto n = root[key]) {
        out.clear();
        if (n.IsSequence())
          for (const auto& x : n.elements()) out.push_back(c.make_path(x.Scalar()));
        else if (n.IsScalar())
          out.push_back(c.make_path(n.Scalar()));
        else
          c.error(n, key, "expected a path or a list of paths");
      }
    };
    paths("id", draft->id_paths);
    paths("time", draft->time_paths);
    paths("tenant", draft->tenant_paths);
    paths("subscription", draft->subscription_paths);
    // ecs: and ocsf: are documents of dotted targets -> rules.
    auto document = [&](const char* key, const char* what, OrderedRules& into) {
      auto doc = root[key];
      if (!doc) return;
      if (!doc.IsMap()) {
        c.error(doc, key, fmt::format("expected a mapping of {} -> rule", what));
        return;
      }
      for (const auto& [name, rule] : doc.entries()) {
        const std::string& target = name.Scalar();
        const std::string path = std::string(key) + "." + target;
        if (rule.IsNull()) {
          into.set(target, std::nullopt);
          continue;
        }
        if (auto r = c.parse_rule(target, rule, path)) into.set(target, std::move(*r));
      }
    };
    document("ecs", "ECS field", draft->ecs);
    document("ocsf", "OCSF attribute", draft->ocsf);
    if (auto cef = root["cef"]) {
      if (!cef.IsMap()) {
        c.error(cef, "cef", "expected a mapping with vendor, product, version, class_id, name, severity, extension");
      } else {
        for (const auto& [cef_key, cef_value] : cef.entries()) {
          const std::string& k = cef_key.Scalar();
          if (std::find(cef_keys.begin(), cef_keys.end(), k) == cef_keys.end()) {
            std::string msg = fmt::format("unknown CEF key '{}'", k);
            if (auto s = did_you_mean(k, cef_keys)) msg += fmt::format(" (did you mean '{}'?)", *s);
            c.error(cef_key, "cef", msg);
            continue;
          }
          if (k == "extension") {
            if (!cef_value.IsMap()) {
              c.error(cef_value, "cef.extension", "expected a mapping of CEF key -> rule");
              continue;
            }
            for (const auto& [ext_key, ext_rule] : cef_value.entries()) {
              const std::string& key = ext_key.Scalar();
              // The key is written verbatim into the line: anything but a CEF key word would end
              // the previous value or start a bogus key.
              if (key.empty() || !std::all_of(key.begin(), key.end(), [](char ch) {
                    return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_';
                  })) {
                c.error(ext_key, "cef.extension",
                        fmt::format("CEF extension key '{}' must be letters, digits or '_'", key));
                continue;
              }
              // formats.md §1.3: truncated keys are listed in cs5 (cs5Label=truncatedKeys); a rule of
              // its own would give an event two cs5 keys as soon as a value is cut.
              if (key == "cs5" || key == "cs5Label") {
                c.error(ext_key, "cef.extension",
                        "CEF key 'cs5' is written by the engine (cs5Label=truncatedKeys); use another key, e.g. flexString1");
                continue;
              }
              if (ext_rule.IsNull()) {
                draft->cef_ext.set(key, std::nullopt);
                continue;
              }
              if (auto r = c.parse_rule(key, ext_rule, "cef.extension." + key)) draft->cef_ext.set(key, std::move(*r));
            }
            continue;
          }
          // Header fields: a plain scalar is a constant here (vendor: Microsoft).
          const yaml::Node& spec = cef_value;
          std::optional<Rule> r;
          if (spec.IsScalar() && (spec.Scalar().empty() || spec.Scalar()[0] != '$')) {
            Rule rule;
            rule.target = k;
            auto e = std::make_shared<Expr>();
            e->src = Expr::Src::value;
            e->constant = Compiler::yaml_value(spec);
            e->is_plain = e->plain();
            rule.alternatives.push_back(e);
            r = rule;
          } else {
            r = c.parse_rule(k, spec, "cef." + k);
          }
          if (r) draft->cef_header.set(k, std::move(*r));
        }
      }
    }
  }

  auto build = [&](SourceKind kind, const KindDraft* specific) {
    KindMapping m;
    m.kind = kind;
    OrderedRules ecs = common.ecs, header = common.cef_header, ext = common.cef_ext, ocsf = common.ocsf;
    m.id_paths = common.id_paths;
    m.time_paths = common.time_paths;
    m.tenant_paths = common.tenant_paths;
    m.subscription_paths = common.subscription_paths;
    if (specific) {
      for (const auto& [t, r] : specific->ecs.items) ecs.set(t, r);
      for (const auto& [t, r] : specific->cef_header.items) header.set(t, r);
      for (const auto& [t, r] : specific->cef_ext.items) ext.set(t, r);
      for (const auto& [t, r] : specific->ocsf.items) ocsf.set(t, r);
      if (!specific->id_paths.empty()) m.id_paths = specific->id_paths;
      if (!specific->time_paths.empty()) m.time_paths = specific->time_paths;
      if (!specific->tenant_paths.empty()) m.tenant_paths = specific->tenant_paths;
      if (!specific->subscription_paths.empty()) m.subscription_paths = specific->subscription_paths;
    }
    m.ecs = ecs.compiled();
    m.cef_extension = ext.compiled();
    m.ocsf = ocsf.compiled();
    for (auto& r : header.compiled()) {
      if (r.target == "vendor") m.cef_vendor = r;
      else if (r.target == "product") m.cef_product = r;
      else if (r.target == "version") m.cef_version = r;
      else if (r.target == "class_id") m.cef_class_id = r;
      else if (r.target == "name") m.cef_name = r;
      else if (r.target == "severity") m.cef_severity = r;
    }
    collect_paths(m);
    finish_kind_paths(m);
    return m;
  };
  set.path_slots_ = slots.size();
  set.fallback_ = build(SourceKind::unknown, drafts.count(SourceKind::unknown) ? &drafts[SourceKind::unknown] : nullptr);
  for (auto k : all_source_kinds()) set.kinds_[k] = build(k, drafts.count(k) ? &drafts[k] : nullptr);
  set.slots_ = std::move(slots);
  return set;
}

int MappingSet::add_path(SourceKind kind, const std::string& text) {
  const json::Path path(text);
  if (path.fans_out()) throw std::invalid_argument("a fan-out path has no single value: " + text);
  auto it = slots_.find(text);
  if (it == slots_.end()) {
    it = slots_.emplace(text, static_cast<int>(path_slots_)).first;
    ++path_slots_;
  }
  auto kind_it = kinds_.find(kind);
  KindMapping& m = kind_it == kinds_.end() ? fallback_ : kind_it->second;
  // Into both sets a pipeline may resolve in its one pass (PathCache::resolve_for): the enrichment
  // reads these values by slot (RecordPaths), so a CEF-only pipeline must resolve them too.
  if (!m.paths.contains(it->second)) m.paths.add(path, it->second);
  if (!m.cef_paths.contains(it->second)) m.cef_paths.add(path, it->second);
  return it->second;
}

void MappingSet::finish_paths() {
  finish_kind_paths(fallback_);
  for (auto& entry : kinds_) finish_kind_paths(entry.second);
}

const KindMapping& MappingSet::for_kind(SourceKind kind) const {
  auto it = kinds_.find(kind);
  return it == kinds_.end() ? fallback_ : it->second;
}

}  // namespace siem::mapping
