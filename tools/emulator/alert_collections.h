// The emulator's Identity Protection and PIM alert collections (riskDetections,
// servicePrincipalRiskDetections, roleManagementAlerts): their query rules as the real APIs have
// them, and their part of the seeded scenario.
//   GET /v1.0/identityProtection/{riskDetections,servicePrincipalRiskDetections}
//       `$filter` on detectedDateTime (ge/gt/le/lt/eq), `$top` 1..500, default page 20
//   GET /beta/identityGovernance/roleManagementAlerts/alerts
//       `$filter=scopeId eq '/' and scopeType eq 'DirectoryRole'` required (400 without);
//       `$expand` of alertDefinition / alertIncidents (left out unless asked for); default page 20
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace siem::emulator {

bool is_alert_collection(const std::string& collection);

struct PageSizes {
  int default_top = 1000;
  int max_top = 1000;
};
PageSizes page_sizes(const std::string& collection);

// The `eq` terms of an alerts `$filter`: an error message when the scope terms are not exactly the
// two the API requires, nullopt when they are.
std::optional<std::string> check_alert_scope(const std::vector<std::pair<std::string, std::string>>& eq_terms);

// The record as a list returns it: roleManagementAlerts keep alertDefinition / alertIncidents only
// when `$expand` names them (or is `*`).
void apply_expand(const std::string& collection, const std::string& expand, nlohmann::json& record);

// Seeded scenario: risk detections of users (a privileged one at high risk, another one remediated),
// of a service principal, and the directory's PIM alerts (two active with incidents, two resolved).
std::vector<std::pair<std::string, nlohmann::json>> seed_alert_records(std::int64_t now_us, const std::string& tenant_id);

}  // namespace siem::emulator
