// Config of the security-alert pull sources (graph_security_alerts, azure_defender_alerts): which
// streams they read (docs/sources.md, "Security alerts"; security_alert_streams.h has the engine side).
#pragma once

#include <functional>
#include <string>

#include "connector/config/config_node.h"
#include "connector/sources/graph/pull_engine.h"

namespace siem::sources {

// graph_security_alerts: one stream "alerts_v2". azure_defender_alerts (`defender`): one stream
// "defender.<subscription>" per entry of `subscriptions` (at least one; each an Azure subscription
// id, a GUID). Errors are reported on `cfg`.
void add_security_alert_streams(bool defender, const ConfigNode& cfg, const std::string& graph_root, const std::string& arm_root,
                       const std::function<void(StreamSpec)>& add);

// An Azure subscription id: a GUID (8-4-4-4-12 hex digits).
bool is_subscription_id(std::string_view s) noexcept;

}  // namespace siem::sources
