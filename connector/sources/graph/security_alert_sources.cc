#include "connector/sources/graph/security_alert_sources.h"

namespace siem::sources {

bool is_subscription_id(std::string_view s) noexcept {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
      return false;
    }
  }
  return true;
}

void add_security_alert_streams(bool defender, const ConfigNode& cfg, const std::string& graph_root, const std::string& arm_root,
                       const std::function<void(StreamSpec)>& add) {
  if (!defender) {
    add(StreamSpec("alerts_v2", StreamType::security_alerts, graph_root));
    return;
  }
  const auto subs = cfg.string_list("subscriptions");
  if (subs.empty()) cfg.error_at("subscriptions", "azure_defender_alerts needs at least one subscription id");
  for (const auto& sub : subs) {
    // The id becomes part of the URL path: only a GUID is accepted.
    if (!is_subscription_id(sub)) {
      cfg.error_at("subscriptions", "'" + sub + "' is not a subscription id (expected a GUID such as 00000000-0000-0000-0000-000000000000)");
      continue;
    }
    StreamSpec s("defender." + sub, StreamType::defender_alerts, arm_root);
    s.scope = "/subscriptions/" + sub;
    add(std::move(s));
  }
}

}  // namespace siem::sources
