#include "tools/emulator/alert_collections.h"

#include <algorithm>
#include <cstdio>

#include "tools/emulator/emulator.h"

namespace siem::emulator {

using nlohmann::json;

bool is_alert_collection(const std::string& c) {
  return c == "riskDetections" || c == "servicePrincipalRiskDetections" || c == "roleManagementAlerts";
}

PageSizes page_sizes(const std::string& c) {
  if (c == "riskDetections" || c == "servicePrincipalRiskDetections") return {20, 500};
  if (c == "roleManagementAlerts") return {20, 1000};
  return {};
}

std::optional<std::string> check_alert_scope(const std::vector<std::pair<std::string, std::string>>& eq) {
  bool scope = false, type = false;
  for (const auto& [k, v] : eq) {
    if (k == "scopeId" && v == "/") scope = true;
    else if (k == "scopeType" && v == "DirectoryRole") type = true;
    else return "Invalid filter clause: unsupported term '" + k + " eq '" + v + "''.";
  }
  if (!scope || !type) return std::string("The filter must contain scopeId eq '/' and scopeType eq 'DirectoryRole'.");
  return std::nullopt;
}

void apply_expand(const std::string& collection, const std::string& expand, json& rec) {
  if (collection != "roleManagementAlerts" || !rec.is_object()) return;
  auto named = [&](const char* what) {
    if (expand == "*") return true;
    std::size_t pos = 0;
    while (pos <= expand.size()) {
      const std::size_t comma = std::min(expand.find(',', pos), expand.size());
      if (expand.compare(pos, comma - pos, what) == 0) return true;
      pos = comma + 1;
    }
    return false;
  };
  if (!named("alertDefinition")) rec.erase("alertDefinition");
  if (!named("alertIncidents")) {
    rec.erase("alertIncidents");
    rec.erase("alertIncidents@odata.context");
  }
}

namespace {

constexpr std::int64_t kMin = 60'000'000;
constexpr const char* kGlobalAdmin = "62e90394-69f5-4237-9190-012177145e10";

struct Who {
  const char* id;
  const char* name;
  const char* upn;
};
// The scenario's people (seed.cc): Alice holds Global Administrator through PIM, Eve got it
// outside PIM, the break-glass account holds it permanently; Bob is not privileged.
constexpr Who kAlice{"5d6f3a2e-1b0c-4e8f-9a7d-2c4b6e8f0a11", "Alice Admin", "alice.admin@contoso.com"};
constexpr Who kBob{"728309ae-1a37-4937-9afe-e35d964db09b", "Bob Helpdesk", "bob@contoso.com"};
constexpr Who kEve{"9f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0", "Eve Contractor", "eve.contractor@contoso.com"};
constexpr Who kBreakGlass{"0b6c1f5e-9d8a-4c3b-8e2f-7a1d5c9b3e00", "Emergency Access 01", "breakglass01@contoso.onmicrosoft.com"};

json user_risk(const std::string& id, std::int64_t detected, const Who& who, const char* type, const char* level, const char* state,
               const char* detail, const char* ip, const char* city, const char* country) {
  return {{"@odata.type", "#microsoft.graph.riskDetection"},
          {"id", id},
          {"requestId", id},
          {"correlationId", id},
          {"riskEventType", type},
          {"riskState", state},
          {"riskLevel", level},
          {"riskDetail", detail},
          {"source", "IdentityProtection"},
          {"detectionTimingType", "realtime"},
          {"activity", "signin"},
          {"tokenIssuerType", "AzureAD"},
          {"ipAddress", ip},
          {"location", {{"city", city}, {"state", nullptr}, {"countryOrRegion", country}, {"geoCoordinates", nullptr}}},
          {"activityDateTime", format_time(detected - 2 * kMin)},
          {"detectedDateTime", format_time(detected)},
          {"lastUpdatedDateTime", format_time(detected)},
          {"userId", who.id},
          {"userDisplayName", who.name},
          {"userPrincipalName", who.upn},
          {"additionalInfo", "[{\"Key\":\"userAgent\",\"Value\":\"Mozilla/5.0 (Windows NT 10.0; Win64; x64)\"}]"}};
}

json alert(const std::string& tenant, const char* type, const char* name, const char* severity, bool active,
           std::int64_t modified, std::int64_t scanned, json incidents) {
  const std::string id = "DirectoryRole_" + tenant + "_" + type;
  json definition = {{"id", id},           {"displayName", name},      {"scopeType", "DirectoryRole"}, {"scopeId", "/"},
                     {"description", name}, {"severityLevel", severity}, {"isRemediatable", true},     {"isConfigurable", true}};
  return {{"id", id},
          {"alertDefinitionId", id},
          {"scopeId", "/"},
          {"scopeType", "DirectoryRole"},
          {"incidentCount", incidents.size()},
          {"isActive", active},
          {"lastModifiedDateTime", modified ? format_time(modified) : std::string("0001-01-01T08:00:00Z")},
          {"lastScannedDateTime", format_time(scanned)},
          {"alertDefinition", definition},
          {"alertIncidents", std::move(incidents)}};
}

json ga_incident(const char* type, const Who& who, std::int64_t assigned) {
  return {{"@odata.type", std::string("#microsoft.graph.") + type},
          {"id", who.id},
          {"assigneeId", who.id},
          {"assigneeDisplayName", who.name},
          {"assigneeUserPrincipalName", who.upn},
          {"assignmentCreatedDateTime", format_time(assigned)},
          {"roleDefinitionId", kGlobalAdmin},
          {"roleDisplayName", "Global Administrator"},
          {"roleTemplateId", kGlobalAdmin}};
}

}  // namespace

std::vector<std::pair<std::string, json>> seed_alert_records(std::int64_t now, const std::string& tenant) {
  auto ago = [&](double minutes) { return now - static_cast<std::int64_t>(minutes * kMin); };
  std::vector<std::pair<std::string, json>> out;
  // Users: Eve (Global Administrator outside PIM) signs in from a TOR exit at high risk; Bob's
  // unfamiliar sign-in was remediated by a secure password reset; Alice has a low-risk detection.
  out.emplace_back("riskDetections", user_risk("5eed0f01-7a1c-4c55-9a10-000000000001", ago(38), kEve, "anonymizedIPAddress",
                                               "high", "atRisk", "none", "45.155.205.233", "Amsterdam", "NL"));
  out.emplace_back("riskDetections", user_risk("5eed0f01-7a1c-4c55-9a10-000000000002", ago(33), kBob, "unfamiliarFeatures",
                                               "medium", "remediated", "userPerformedSecuredPasswordReset", "198.51.100.23",
                                               "Seattle", "US"));
  out.emplace_back("riskDetections", user_risk("5eed0f01-7a1c-4c55-9a10-000000000003", ago(21), kAlice, "unlikelyTravel", "low",
                                               "atRisk", "none", "203.0.113.10", "Sydney", "AU"));
  // A workload identity leaking its credentials.
  out.emplace_back("servicePrincipalRiskDetections",
                   json{{"@odata.type", "#microsoft.graph.servicePrincipalRiskDetection"},
                        {"id", "5eed0f02c3a74021ff70291fa68107570c150d8dc145bde01"},
                        {"requestId", nullptr},
                        {"correlationId", nullptr},
                        {"riskEventType", "leakedCredentials"},
                        {"riskState", "atRisk"},
                        {"riskLevel", "high"},
                        {"riskDetail", "none"},
                        {"source", "IdentityProtection"},
                        {"detectionTimingType", "offline"},
                        {"activity", "servicePrincipal"},
                        {"tokenIssuerType", "AzureAD"},
                        {"ipAddress", nullptr},
                        {"location", nullptr},
                        {"activityDateTime", format_time(ago(44))},
                        {"detectedDateTime", format_time(ago(27))},
                        {"lastUpdatedDateTime", format_time(ago(27))},
                        {"servicePrincipalId", "a7c0e7d2-5f44-4d2b-9a2e-6f0d3c8b1e21"},
                        {"servicePrincipalDisplayName", "Contoso Deployment Automation"},
                        {"appId", "c1d2e3f4-0a1b-4c2d-8e3f-9a0b1c2d3e4f"},
                        {"keyIds", json::array({"9d9fea30-d8e3-481b-b57c-0ef569a989e5"})},
                        {"additionalInfo", "[{\"Key\":\"alertUrl\",\"Value\":null}]"}});
  // PIM alerts of the directory: Eve's assignment outside PIM and three permanent Global
  // Administrators are active; two others were scanned and are quiet.
  out.emplace_back("roleManagementAlerts",
                   alert(tenant, "RolesAssignedOutsidePimAlert", "Roles are being assigned outside of Privileged Identity Management",
                         "high", true, ago(48), ago(12), json::array({ga_incident("rolesAssignedOutsidePimAlertIncident", kEve, ago(50))})));
  out.emplace_back("roleManagementAlerts",
                   alert(tenant, "TooManyGlobalAdminsAssignedToTenantAlert", "There are too many global administrators", "low", true,
                         ago(48), ago(12),
                         json::array({ga_incident("tooManyGlobalAdminsAssignedToTenantAlertIncident", kAlice, ago(60 * 24 * 30)),
                                      ga_incident("tooManyGlobalAdminsAssignedToTenantAlertIncident", kEve, ago(50)),
                                      ga_incident("tooManyGlobalAdminsAssignedToTenantAlertIncident", kBreakGlass, ago(60 * 24 * 400))})));
  out.emplace_back("roleManagementAlerts", alert(tenant, "SequentialActivationRenewalsAlert", "Roles are being activated too frequently",
                                                 "medium", false, 0, ago(12), json::array()));
  out.emplace_back("roleManagementAlerts", alert(tenant, "StaleSignInAlert", "Administrators aren't using their privileged roles",
                                                 "low", false, ago(60 * 24 * 3), ago(12), json::array()));
  return out;
}

}  // namespace siem::emulator
