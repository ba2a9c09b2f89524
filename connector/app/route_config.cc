#include "connector/app/route_config.h"

#include <algorithm>

#include <fmt/format.h>

#include "connector/enrichment/mapping_stage.h"

namespace siem::app {

namespace {

constexpr std::size_t kMaxPatternChars = 200;

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

std::vector<std::string> kind_names() {
  std::vector<std::string> names{std::string(to_string(SourceKind::unknown))};
  for (const auto k : all_source_kinds()) names.emplace_back(to_string(k));
  return names;
}

// An error at element `index` of the list under `key` (at the list when it cannot be located).
void element_error(const ConfigNode& cfg, std::string_view key, std::size_t index, std::size_t count,
                   const std::string& message) {
  Location where = cfg.location_of(key);
  const YAML::Node list = cfg.yaml()[std::string(key)];
  if (list.IsSequence() && list.size() == count && index < count && list[index].Mark().line >= 0) {
    where.line = list[index].Mark().line + 1;
    where.column = list[index].Mark().column + 1;
  }
  const std::string path = cfg.path().empty() ? std::string(key) : fmt::format("{}.{}", cfg.path(), key);
  cfg.diagnostics().error(where, fmt::format("{}[{}]", path, index), message);
}

// The strings under `key`; an empty list is an error (it would match nothing).
std::vector<std::string> read_list(const ConfigNode& cfg, std::string_view key) {
  if (!cfg.has(key)) return {};
  auto items = cfg.string_list(key);
  const YAML::Node n = cfg.yaml()[std::string(key)];
  if (n.IsSequence() && n.size() == 0)
    cfg.error_at(key, "an empty list matches no event; leave the key out to match every value");
  return items;
}

std::optional<int> read_severity(const ConfigNode& cfg, std::string_view key) {
  if (!cfg.has(key)) return std::nullopt;
  return static_cast<int>(cfg.integer(key, 0, 0, 10));
}

void check_pattern(const ConfigNode& cfg, std::size_t i, std::size_t n, const std::string& pattern,
                   const RouteContext& ctx) {
  const bool printable =
      std::all_of(pattern.begin(), pattern.end(), [](char c) { return c > 0x20 && c < 0x7f; });
  if (pattern.empty() || pattern.size() > kMaxPatternChars || !printable) {
    element_error(
        cfg, "tags", i, n,
        fmt::format("a tag pattern is 1 to {} printable ASCII characters without spaces", kMaxPatternChars));
    return;
  }
  if (std::any_of(ctx.known_tags.begin(), ctx.known_tags.end(),
                  [&](const auto& t) { return glob_match(pattern, t); }))
    return;
  std::string msg =
      fmt::format("tag pattern '{}' matches no tag the detections or the mapping produce", pattern);
  // Suggest a tag, or a family pattern ("pa.signin.*") for a pattern with a wildcard.
  std::vector<std::string> candidates = ctx.known_tags;
  for (const auto& t : ctx.known_tags)
    for (auto dot = t.find('.'); dot != std::string::npos; dot = t.find('.', dot + 1))
      candidates.push_back(t.substr(0, dot + 1) + "*");
  if (auto s = did_you_mean(pattern, candidates)) msg += fmt::format(" (did you mean '{}'?)", *s);
  msg += "; the tags are listed in docs/detections.md";
  element_error(cfg, "tags", i, n, msg);
}

EventMatch read_match(const ConfigNode& cfg, const RouteContext& ctx) {
  EventMatch m;
  if (!cfg.yaml().IsMap()) {
    cfg.error("expected a mapping of sources, kinds, tags, min_severity, max_severity");
    return m;
  }
  m.sources = read_list(cfg, "sources");
  std::vector<std::string> source_names;
  for (const auto& [name, kinds] : ctx.sources) source_names.push_back(name);
  for (std::size_t i = 0; i < m.sources.size(); ++i) {
    if (std::find(source_names.begin(), source_names.end(), m.sources[i]) != source_names.end()) continue;
    std::string msg = fmt::format("unknown source '{}'", m.sources[i]);
    if (auto s = did_you_mean(m.sources[i], source_names)) msg += fmt::format(" (did you mean '{}'?)", *s);
    element_error(cfg, "sources", i, m.sources.size(), msg + "; configured sources: " + joined(source_names));
  }
  const auto kinds = read_list(cfg, "kinds");
  const auto names = kind_names();
  for (std::size_t i = 0; i < kinds.size(); ++i) {
    if (std::find(names.begin(), names.end(), kinds[i]) != names.end()) {
      m.kinds.push_back(*source_kind_from_string(kinds[i]));
      continue;
    }
    std::string msg = fmt::format("unknown record kind '{}'", kinds[i]);
    if (auto s = did_you_mean(kinds[i], names)) msg += fmt::format(" (did you mean '{}'?)", *s);
    element_error(cfg, "kinds", i, kinds.size(), msg + "; known kinds: " + joined(names));
  }
  m.tags = read_list(cfg, "tags");
  for (std::size_t i = 0; i < m.tags.size(); ++i) check_pattern(cfg, i, m.tags.size(), m.tags[i], ctx);
  m.min_severity = read_severity(cfg, "min_severity");
  m.max_severity = read_severity(cfg, "max_severity");
  if (m.min_severity && m.max_severity && *m.min_severity > *m.max_severity)
    cfg.error_at("max_severity", fmt::format("max_severity {} is below min_severity {}: no event matches",
                                             *m.max_severity, *m.min_severity));
  return m;
}

std::vector<EventMatch> read_match_list(const ConfigNode& cfg, std::string_view key, const RouteContext& ctx,
                                        std::string_view what) {
  std::vector<EventMatch> out;
  for (const auto& item : cfg.list(key)) {
    out.push_back(read_match(item, ctx));
    if (item.yaml().IsMap() && item.yaml().size() == 0)
      item.error(fmt::format("an entry without sources, kinds, tags or severity {} every event", what));
  }
  return out;
}

// Only the criteria known before any event is read: which source, which kind.
EventMatch structural(const EventMatch& m) {
  EventMatch s;
  s.sources = m.sources;
  s.kinds = m.kinds;
  return s;
}
bool only_structural(const EventMatch& m) { return m.tags.empty() && !m.min_severity && !m.max_severity; }

}  // namespace

RouteContext route_context(const std::set<std::string>& source_names,
                           const std::vector<SourceSlot>& sources) {
  RouteContext ctx;
  for (const auto& name : source_names) {
    auto it =
        std::find_if(sources.begin(), sources.end(), [&](const SourceSlot& s) { return s.name == name; });
    ctx.sources.emplace_back(name,
                             it == sources.end() ? std::vector<SourceKind>{} : it->source->delivered_kinds());
  }
  ctx.known_tags = producible_tags();
  return ctx;
}

Route read_route(const ConfigNode& sink_cfg, const RouteContext& ctx) {
  Route r;
  if (!sink_cfg.has("route")) return r;
  const ConfigNode cfg = sink_cfg.child("route");
  r.take = read_match(cfg, ctx);
  if (cfg.yaml().IsMap()) r.exclude = read_match_list(cfg, "exclude", ctx, "excludes");
  return r;
}

std::vector<EventMatch> read_drop_rule(const ConfigNode& pipeline_cfg, const RouteContext& ctx) {
  if (!pipeline_cfg.valid()) return {};
  return read_match_list(pipeline_cfg, "drop", ctx, "drops");
}

void check_reachable(const ConfigNode& sink_cfg, const Route& route, const std::vector<EventMatch>& drop,
                     const RouteContext& ctx) {
  if (ctx.sources.empty()) return;
  // Every (source, kind) pair the configuration can produce, against the parts of the route and of
  // the drop rule that do not depend on the event's content.
  const EventMatch take = structural(route.take);
  auto removed = [](const std::vector<EventMatch>& rule, const MappedEvent& e) {
    return std::any_of(rule.begin(), rule.end(),
                       [&](const EventMatch& m) { return only_structural(m) && m.matches(e); });
  };
  std::string takes;
  for (const auto k : route.take.kinds) takes += (takes.empty() ? "" : ", ") + std::string(to_string(k));
  std::string delivers;
  for (const auto& [name, delivered] : ctx.sources) {
    std::vector<SourceKind> kinds = delivered.empty() ? all_source_kinds() : delivered;
    kinds.push_back(SourceKind::unknown);
    std::string names;
    for (const auto k : delivered) names += (names.empty() ? "" : ", ") + std::string(to_string(k));
    delivers += fmt::format("{}{} delivers {}", delivers.empty() ? "" : "; ", name,
                            delivered.empty() ? "any kind" : names);
    MappedEvent e;
    e.source_name = name;
    for (const auto k : kinds) {
      e.kind = k;
      if (take.matches(e) && !removed(route.exclude, e) && !removed(drop, e)) return;
    }
  }
  sink_cfg.error_at(
      "route", fmt::format("no event can reach this sink: its route takes {}{}, after pipeline.drop "
                           "and its exclude, from sources that deliver none of it ({})",
                           takes.empty() ? "every kind" : "kinds " + takes,
                           route.take.sources.empty() ? "" : " of " + joined(route.take.sources), delivers));
}

}  // namespace siem::app
