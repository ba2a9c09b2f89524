// The emulator's security alerts: Graph GET /v1.0/security/alerts_v2 (collection "securityAlerts",
// `$filter` on lastUpdateDateTime, @odata.nextLink paging) and ARM GET
// /subscriptions/{id}/providers/Microsoft.Security/alerts (collection "defenderAlerts", no time
// filter, nextLink paging at Options::arm_page_size). Shapes follow Microsoft's published examples
// (tests/data/graph-security-alerts-v2-list.json, arm-defender-alerts-subscription-list.json).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace siem::emulator {

inline constexpr const char* kSecurityAlerts = "securityAlerts";
inline constexpr const char* kDefenderAlerts = "defenderAlerts";

// The time field (slash-separated) of an alert collection; empty for other collections.
std::string security_alert_time_field(const std::string& collection);

// POST /_emulator/update: an alert changes in place, as the services change them.
// {"collection": "securityAlerts", "id": "...", "status": "resolved", "age_seconds": 60}: Graph
// alerts get the status and lastUpdateDateTime = now - age (resolvedDateTime too when resolved);
// Defender alerts ("id" is the alert name) get properties.status only (ARM has no update time).
// Returns an error text, or empty when the alert was updated.
std::string update_alert(std::vector<nlohmann::json>& alerts, const std::string& collection, const nlohmann::json& body,
                         std::int64_t now_us);

// A late copy of an alert (POST /_emulator/late): a fresh id (Defender: name and resource id) and
// its time set to `time`.
void make_late_alert(nlohmann::json& alert, const std::string& collection, const std::string& id, const std::string& time);

// The scenario's alerts (seed_records): Graph alerts_v2 from Entra ID Protection, Defender for
// Identity, Defender for Endpoint and Defender for Cloud Apps, and per subscription Defender for
// Cloud alerts; some name the scenario's privileged principals.
void seed_alerts(std::vector<std::pair<std::string, nlohmann::json>>& out, std::int64_t now_us, const std::string& tenant,
                 const std::vector<std::string>& subscriptions);

}  // namespace siem::emulator
