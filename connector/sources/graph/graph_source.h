// The pull sources graph_directory_audits, graph_sign_ins, graph_pim and azure_activity: one
// Source per configured entry, one StreamPoller per stream (sign-in event type, subscription, PIM
// collection), HTTP through connector/http (retry policy, shared token bucket per app+tenant) and
// tokens through connector/auth. See pull_engine.h for the window/dedupe/checkpoint rules.
#pragma once

#include "connector/core/registry.h"

namespace siem {

void register_graph_sources(PluginRegistry& registry);

}  // namespace siem
