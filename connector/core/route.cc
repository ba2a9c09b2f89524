#include "connector/core/route.h"

#include <algorithm>

namespace siem {

const config::Section& route_match_keys() {
  using config::Type;
  static const config::Section s{"route match", "a match (pipeline.drop[], route.exclude[])", {}, {
      {"sources", Type::list, "any", "source names (as configured)"},
      {"kinds", Type::list, "any", "record kinds (`graph_sign_in`, `graph_pim_request`, ...; `siem-connector describe` and docs/mapping.md list them)"},
      {"tags", Type::list, "any", "detection tags, globs with `*` and `?` (e.g. `pa.*`)"},
      {"min_severity", Type::integer, "0", "lowest event severity (0-10)"},
      {"max_severity", Type::integer, "10", "highest event severity (0-10)"},
  }};
  return s;
}

const config::Section& route_keys() {
  using config::Type;
  static const config::Section s{"route", "sinks[].route", {&route_match_keys()}, {
      {"exclude", Type::sections, "none", "matches the sink does not take even when the route does", {}, &route_match_keys()},
  }};
  return s;
}

bool glob_match(std::string_view pattern, std::string_view text) noexcept {
  // Iterative matcher with one backtrack point (the last `*`): linear in practice, never
  // exponential, whatever the pattern.
  std::size_t p = 0, t = 0;
  std::size_t star = std::string_view::npos, resume = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool EventMatch::matches(const MappedEvent& event) const noexcept {
  if (!sources.empty() && std::find(sources.begin(), sources.end(), event.source_name) == sources.end())
    return false;
  if (!kinds.empty() && std::find(kinds.begin(), kinds.end(), event.kind) == kinds.end()) return false;
  if (min_severity && event.severity < *min_severity) return false;
  if (max_severity && event.severity > *max_severity) return false;
  if (!tags.empty()) {
    const TagList event_tags = event.tags();
    const bool any = std::any_of(tags.begin(), tags.end(), [&](const std::string& pattern) {
      return std::any_of(event_tags.begin(), event_tags.end(),
                         [&](std::string_view tag) { return glob_match(pattern, tag); });
    });
    if (!any) return false;
  }
  return true;
}

bool Route::takes(const MappedEvent& event) const noexcept {
  return take.matches(event) && !any_matches(exclude, event);
}

bool any_matches(const std::vector<EventMatch>& matches, const MappedEvent& event) noexcept {
  return std::any_of(matches.begin(), matches.end(), [&](const EventMatch& m) { return m.matches(event); });
}

void RoutingState::init(std::vector<EventMatch> drop_rule, std::vector<Route> sink_routes) {
  drop = std::move(drop_rule);
  routes = std::move(sink_routes);
  routed = std::make_unique<std::atomic<std::uint64_t>[]>(routes.size());
  not_taken = std::make_unique<std::atomic<std::uint64_t>[]>(routes.size());
  taken.assign(routes.size(), 0);
  pending.assign(routes.size(), {});
  pending_bytes.assign(routes.size(), {});
}

bool RoutingState::configured() const noexcept {
  return !drop.empty() ||
         std::any_of(routes.begin(), routes.end(), [](const Route& r) { return !r.everything(); });
}

}  // namespace siem
