// Reading and checking the routing configuration (docs/configuration.md, "Routing"): a sink's
// `route:` and the `pipeline.drop` rule, into the core's EventMatch / Route (connector/core/route.h).
// Errors name file:line:column and the config path: an unknown record kind or source name (with a
// "did you mean"), a tag pattern no tag of the mapping stage matches, a severity outside 0-10, and a
// sink no event can reach.
#pragma once

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "connector/config/config_node.h"
#include "connector/core/pipeline.h"
#include "connector/core/route.h"

namespace siem::app {

// What the checks compare a route with.
struct RouteContext {
  // Every configured source: its name and the kinds it can deliver (Source::delivered_kinds();
  // empty: any kind).
  std::vector<std::pair<std::string, std::vector<SourceKind>>> sources;
  std::vector<std::string> known_tags;  // every tag the mapping stage can produce
};

// From the configured source names (a source whose factory failed delivers any kind) and the
// sources built, plus the tags the mapping stage can produce.
RouteContext route_context(const std::set<std::string>& source_names, const std::vector<SourceSlot>& sources);

// The sink's `route:` (absent: takes everything).
Route read_route(const ConfigNode& sink_cfg, const RouteContext& ctx);

// `pipeline.drop`: a list of matches (absent: drops nothing).
std::vector<EventMatch> read_drop_rule(const ConfigNode& pipeline_cfg, const RouteContext& ctx);

// Reports an error at the sink's `route` when no event of the configured sources can reach it:
// the sources it names deliver none of the kinds it takes, or the drop rule or its exclude remove
// every (source, kind) it takes. Only the criteria known before reading (sources, kinds) count.
// Call it only when the route and the drop rule were read without errors (no cascade).
void check_reachable(const ConfigNode& sink_cfg, const Route& route, const std::vector<EventMatch>& drop,
                     const RouteContext& ctx);

}  // namespace siem::app
