// The pull sources graph_directory_audits, graph_sign_ins, graph_pim and azure_activity: one
// Source per configured entry, one StreamPoller per stream (sign-in event type, subscription, PIM
// collection), HTTP through connector/http (retry policy, shared token bucket per app+tenant) and
// tokens through connector/auth. See pull_engine.h for the window/dedupe/checkpoint rules.
#pragma once

#include "connector/core/registry.h"
#include "connector/core/source.h"

namespace siem {

void register_graph_sources(PluginRegistry& registry);

// Start-up orders (Source::startup_order) of these sources. The enrichment is stateful: a sign-in
// is "privileged" if the roster says so, and an event's tier counts the roles its actor holds. So
//   kStartupOrderRoster       graph_pim, the roster itself (PIM requests and schedule snapshots),
//                             reads first;
//   kStartupOrderRoleEvents   graph_directory_audits (the only trace of a role assigned outside PIM)
//                             and azure_activity, whose role assignments also teach the roster and
//                             whose actors it tiers, read once graph_pim caught up;
//   Source::kDefaultStartupOrder  graph_sign_ins, like every other source (eventhub_kafka, file:
//                             content not known in advance), reads once both caught up.
inline constexpr int kStartupOrderRoster = 0;
inline constexpr int kStartupOrderRoleEvents = 1;

}  // namespace siem
