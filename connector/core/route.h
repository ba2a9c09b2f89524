// Routing of mapped events to sinks (the `route:` of a sink and the `pipeline.drop` rule, read by
// connector/app/route_config.cc; docs/configuration.md, "Routing"). Only core types: a criterion
// looks at what every MappedEvent carries (source name, kind, tags, severity).
//
// Semantics: within one EventMatch every criterion given must match (AND); a list matches when
// any of its elements matches (OR); a match with no criterion matches every event. A sink's Route
// takes an event when its `take` matches and none of its `exclude` matches; a sink without a
// `route:` takes everything. The drop rule removes an event before every sink when any of its
// matches matches.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "connector/config/schema.h"
#include "connector/core/event.h"

namespace siem {

// The declared keys of one match (a `pipeline.drop` entry, an `exclude` entry) and of a sink's
// `route:` (a match plus `exclude`), read by connector/app/route_config.cc.
const config::Section& route_match_keys();
const config::Section& route_keys();

// `*` matches any run of characters (dots included: "pa.*" matches "pa.role.tier0"), `?` one
// character; everything else matches itself (case-sensitive, as tags are spelled).
bool glob_match(std::string_view pattern, std::string_view text) noexcept;

struct EventMatch {
  std::vector<std::string> sources;  // configured source names
  std::vector<SourceKind> kinds;
  std::vector<std::string> tags;    // glob patterns; an event matches when one of its tags does
  std::optional<int> min_severity;  // 0-10, inclusive
  std::optional<int> max_severity;  // 0-10, inclusive

  bool matches(const MappedEvent& event) const noexcept;
  bool empty() const noexcept {
    return sources.empty() && kinds.empty() && tags.empty() && !min_severity && !max_severity;
  }
};

struct Route {
  EventMatch take;                  // empty: every event
  std::vector<EventMatch> exclude;  // none may match

  bool takes(const MappedEvent& event) const noexcept;
  bool everything() const noexcept { return take.empty() && exclude.empty(); }
};

// Any of the matches matches (the drop rule; empty: drops nothing).
bool any_matches(const std::vector<EventMatch>& matches, const MappedEvent& event) noexcept;

// A pipeline's routing: each sink's route and the counters of what they took (the hand-off turn
// of the processing workers writes them, one worker at a time; /metrics and the summary read them: relaxed atomics).
struct RoutingState {
  std::vector<EventMatch> drop;
  std::vector<Route> routes;                                // per sink, in sink order
  std::unique_ptr<std::atomic<std::uint64_t>[]> routed;     // per sink: events it took
  std::unique_ptr<std::atomic<std::uint64_t>[]> not_taken;  // per sink: events its route refused
  std::atomic<std::uint64_t> dropped{0};                    // removed by the drop rule
  std::atomic<std::uint64_t> unrouted{0};                   // taken by no sink
  std::vector<std::uint8_t> taken;                          // scratch of the hand-off turn, one per sink
  // Per sink, scratch of the hand-off turn: the events routed to it and not queued yet, and the
  // bytes each is charged in its queue (a chunk's events go into each sink queue in one push).
  std::vector<std::vector<EventPtr>> pending;
  std::vector<std::vector<std::size_t>> pending_bytes;

  void init(std::vector<EventMatch> drop_rule, std::vector<Route> sink_routes);
  // Something other than "every sink takes every event" is configured.
  bool configured() const noexcept;
};

}  // namespace siem
