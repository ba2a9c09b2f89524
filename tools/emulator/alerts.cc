#include "tools/emulator/alerts.h"

#include <cstdio>

#include "tools/emulator/emulator.h"
#include "tools/emulator/seed_people.h"

namespace siem::emulator {

using nlohmann::json;
using scenario::Person;

namespace {

constexpr std::int64_t kMin = 60'000'000;
constexpr Person kCarol{"c3a1f0de-5b7e-4f1a-9c2d-8e6b4a2f1d37", "Carol Sales", "carol.sales@contoso.com", "203.0.113.88"};

std::string alert_guid(unsigned n, unsigned salt) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-%04x-4%03x-b%03x-%012x", 0xa1e70000u + salt, n & 0xffffu, (n >> 4) & 0xfffu,
                salt & 0xfffu, n * 2654435761u);
  return buf;
}

json user_evidence(const Person& p, std::int64_t t) {
  std::string upn = p.upn;
  return {{"@odata.type", "#microsoft.graph.security.userEvidence"},
          {"createdDateTime", format_time(t)},
          {"verdict", "suspicious"},
          {"remediationStatus", "none"},
          {"remediationStatusDetails", nullptr},
          {"roles", json::array({"compromised"})},
          {"detailedRoles", json::array()},
          {"tags", json::array()},
          {"userAccount",
           {{"accountName", upn.substr(0, upn.find('@'))},
            {"domainName", upn.substr(upn.find('@') + 1)},
            {"userSid", nullptr},
            {"azureAdUserId", p.id},
            {"userPrincipalName", p.upn},
            {"displayName", p.name}}}};
}

json ip_evidence(const char* ip, const char* country, std::int64_t t) {
  return {{"@odata.type", "#microsoft.graph.security.ipEvidence"}, {"createdDateTime", format_time(t)}, {"verdict", "suspicious"},
          {"remediationStatus", "none"}, {"remediationStatusDetails", nullptr}, {"roles", json::array()},
          {"detailedRoles", json::array()}, {"tags", json::array()}, {"ipAddress", ip}, {"countryLetterCode", country}};
}

json device_evidence(const char* name, const char* device_id, const char* ip, std::int64_t t) {
  return {{"@odata.type", "#microsoft.graph.security.deviceEvidence"}, {"createdDateTime", format_time(t)}, {"verdict", "suspicious"},
          {"remediationStatus", "none"}, {"remediationStatusDetails", nullptr}, {"mdeDeviceId", device_id},
          {"azureAdDeviceId", nullptr}, {"deviceDnsName", name}, {"osPlatform", "Windows11"}, {"osBuild", 22631},
          {"healthStatus", "active"}, {"riskScore", "medium"}, {"onboardingStatus", "onboarded"},
          {"defenderAvStatus", "updated"}, {"ipInterfaces", json::array({ip})}, {"loggedOnUsers", json::array()},
          {"roles", json::array({"compromised"})}, {"detailedRoles", json::array()}, {"tags", json::array()}};
}

struct GraphAlert {
  unsigned n;
  const char* title;
  const char* category;
  const char* severity;
  const char* status;
  const char* service;
  const char* detection;
  const char* technique;
  double created_ago, updated_ago;  // minutes
};

json graph_alert(const GraphAlert& a, const std::string& tenant, std::int64_t now, json evidence) {
  const std::string id = std::string(a.service == std::string("azureAdIdentityProtection") ? "ad" : "da") + alert_guid(a.n, 1);
  const auto at = [&](double minutes) { return format_time(now - static_cast<std::int64_t>(minutes * kMin)); };
  return {{"@odata.type", "#microsoft.graph.security.alert"},
          {"id", id},
          {"providerAlertId", alert_guid(a.n, 2)},
          {"incidentId", std::to_string(4100 + a.n)},
          {"status", a.status},
          {"severity", a.severity},
          {"classification", nullptr},
          {"determination", nullptr},
          {"serviceSource", a.service},
          {"detectionSource", a.detection},
          {"detectorId", alert_guid(a.n, 3)},
          {"tenantId", tenant},
          {"title", a.title},
          {"description", std::string(a.title) + " (emulated scenario)."},
          {"recommendedActions", ""},
          {"category", a.category},
          {"assignedTo", nullptr},
          {"alertWebUrl", "https://security.microsoft.com/alerts/" + id + "?tid=" + tenant},
          {"incidentWebUrl", "https://security.microsoft.com/incidents/" + std::to_string(4100 + a.n) + "?tid=" + tenant},
          {"actorDisplayName", nullptr},
          {"threatDisplayName", nullptr},
          {"threatFamilyName", nullptr},
          {"mitreTechniques", json::array({a.technique})},
          {"createdDateTime", at(a.created_ago)},
          {"lastUpdateDateTime", at(a.updated_ago)},
          {"resolvedDateTime", nullptr},
          {"firstActivityDateTime", at(a.created_ago + 3)},
          {"lastActivityDateTime", at(a.created_ago + 1)},
          {"comments", json::array()},
          {"evidence", std::move(evidence)},
          {"systemTags", json::array()}};
}

json account_entity(const Person& p) {
  std::string upn = p.upn;
  return {{"name", upn.substr(0, upn.find('@'))}, {"upnSuffix", upn.substr(upn.find('@') + 1)}, {"aadUserId", p.id},
          {"aadTenantId", nullptr}, {"isDomainJoined", false}, {"type", "account"}};
}

json defender_alert(const std::string& sub, unsigned n, const char* type, const char* name, const char* severity, const char* status,
                    const char* intent, std::int64_t t, json entities, const char* technique) {
  const std::string alert_name = std::to_string(2517000000000000000ULL + n) + "_" + alert_guid(n, 4);
  const std::string id = "/subscriptions/" + sub + "/resourceGroups/rg-app/providers/Microsoft.Security/locations/westeurope/alerts/" + alert_name;
  return {{"id", id},
          {"name", alert_name},
          {"type", "Microsoft.Security/Locations/alerts"},
          {"properties",
           {{"version", "2022-01-01"},
            {"alertType", type},
            {"systemAlertId", alert_name},
            {"productComponentName", "Servers"},
            {"alertDisplayName", name},
            {"description", std::string(name) + " (emulated scenario)."},
            {"severity", severity},
            {"intent", intent},
            {"startTimeUtc", format_time(t - 5 * kMin)},
            {"endTimeUtc", format_time(t - 4 * kMin)},
            {"resourceIdentifiers",
             json::array({{{"azureResourceId", "/subscriptions/" + sub + "/resourceGroups/rg-app/providers/Microsoft.Compute/virtualMachines/vm-1"},
                           {"type", "AzureResource"}}})},
            {"remediationSteps", json::array({"Review the activity and revoke the sessions of the accounts involved."})},
            {"vendorName", "Microsoft"},
            {"status", status},
            {"extendedLinks", json::array()},
            {"alertUri", "https://portal.azure.com/#blade/Microsoft_Azure_Security/AlertBlade/alertId/" + alert_name + "/subscriptionId/" + sub},
            {"timeGeneratedUtc", format_time(t)},
            {"productName", "Microsoft Defender for Cloud"},
            {"processingEndTimeUtc", format_time(t + 30'000'000)},
            {"entities", std::move(entities)},
            {"isIncident", false},
            {"correlationKey", alert_guid(n, 5)},
            {"extendedProperties", json::object()},
            {"compromisedEntity", "vm-1"},
            {"techniques", json::array({technique})},
            {"subTechniques", json::array()}}}};
}

}  // namespace

std::string security_alert_time_field(const std::string& collection) {
  if (collection == kSecurityAlerts) return "lastUpdateDateTime";
  if (collection == kDefenderAlerts) return "properties/timeGeneratedUtc";
  return "";
}

std::string update_alert(std::vector<json>& alerts, const std::string& collection, const json& body, std::int64_t now_us) {
  const std::string id = body.value("id", "");
  const std::string status = body.value("status", "");
  if (id.empty() || status.empty()) return "id and status are required";
  const bool graph = collection == kSecurityAlerts;
  if (!graph && collection != kDefenderAlerts) return "not an alert collection";
  for (auto& a : alerts) {
    if (a.value(graph ? "id" : "name", "") != id) continue;
    if (graph) {
      const std::string t = format_time(now_us - static_cast<std::int64_t>(body.value("age_seconds", 60)) * 1'000'000);
      a["status"] = status;
      a["lastUpdateDateTime"] = t;
      if (status == "resolved") a["resolvedDateTime"] = t;
    } else {
      a["properties"]["status"] = status;
    }
    return "";
  }
  return "no alert " + id;
}

void make_late_alert(json& alert, const std::string& collection, const std::string& id, const std::string& time) {
  if (collection == kSecurityAlerts) {
    alert["id"] = id;
    alert["lastUpdateDateTime"] = time;
    return;
  }
  std::string rid = alert.value("id", "");
  alert["id"] = rid.substr(0, rid.rfind('/') + 1) + id;
  alert["name"] = id;
  alert["properties"]["systemAlertId"] = id;
  alert["properties"]["timeGeneratedUtc"] = time;
}

void seed_alerts(std::vector<std::pair<std::string, json>>& out, std::int64_t now, const std::string& tenant,
                 const std::vector<std::string>& subscriptions) {
  using scenario::kAlice;
  using scenario::kEve;
  const auto ago = [&](double minutes) { return now - static_cast<std::int64_t>(minutes * kMin); };
  // Entra ID Protection: the Global Administrator assigned outside PIM signs in from an anonymous IP.
  out.emplace_back(kSecurityAlerts,
                   graph_alert({1, "Anonymous IP address", "InitialAccess", "medium", "new", "azureAdIdentityProtection",
                                "azureAdIdentityProtection", "T1078", 36, 35},
                               tenant, now, json::array({user_evidence(kEve, ago(36)), ip_evidence(kEve.ip, "NL", ago(36))})));
  // Defender for Identity: a privileged account's Kerberos tickets used from a new host (updated since).
  out.emplace_back(kSecurityAlerts,
                   graph_alert({2, "Suspected identity theft (pass-the-ticket)", "LateralMovement", "high", "inProgress",
                                "microsoftDefenderForIdentity", "microsoftDefenderForIdentity", "T1550.003", 30, 12},
                               tenant, now,
                               json::array({user_evidence(kAlice, ago(30)), device_evidence("ws-fin-042.contoso.com", "5e1f9a7c03d2b4e68a1f", "10.20.4.42", ago(30))})));
  // Defender for Endpoint: a workstation runs an encoded PowerShell command (no Entra user).
  out.emplace_back(kSecurityAlerts,
                   graph_alert({3, "Suspicious PowerShell command line", "Execution", "low", "new", "microsoftDefenderForEndpoint",
                                "microsoftDefenderForEndpoint", "T1059.001", 25, 25},
                               tenant, now, json::array({device_evidence("ws-fin-017.contoso.com", "8c2d7e1f9a04b36c5d2e", "10.20.4.17", ago(25))})));
  // Defender for Cloud Apps: mass download by an ordinary user.
  out.emplace_back(kSecurityAlerts,
                   graph_alert({4, "Mass download by a single user", "Exfiltration", "medium", "new", "microsoftDefenderForCloudApps",
                                "cloudAppSecurity", "T1530", 18, 18},
                               tenant, now, json::array({user_evidence(kCarol, ago(18)), ip_evidence(kCarol.ip, "US", ago(18))})));
  unsigned n = 0;
  for (const auto& sub : subscriptions) {
    json ip = {{"address", kEve.ip}, {"location", {{"countryCode", "NL"}, {"asn", 60781}}}, {"type", "ip"}};
    out.emplace_back(kDefenderAlerts, defender_alert(sub, ++n, "ARM_AnomalousRBACRoleAssignment", "Suspicious Azure role assignment detected",
                                                     "High", "Active", "PrivilegeEscalation", ago(31), json::array({account_entity(kEve), ip}),
                                                     "T1098"));
    json host = {{"hostName", "vm-1"}, {"azureID", "/subscriptions/" + sub + "/resourceGroups/rg-app/providers/Microsoft.Compute/virtualMachines/vm-1"},
                 {"type", "host"}};
    json local = {{"name", "azureuser"}, {"ntDomain", "vm-1"}, {"type", "account"}};
    out.emplace_back(kDefenderAlerts, defender_alert(sub, ++n, "VM_SuspiciousPowerShell", "Suspicious PowerShell activity detected",
                                                     "Medium", "Active", "Execution", ago(22), json::array({host, local}), "T1059"));
    out.emplace_back(kDefenderAlerts, defender_alert(sub, ++n, "VM_EICAR", "Azure Security Center test alert (not a threat)", "Low",
                                                     "Resolved", "Execution", ago(60 * 26), json::array({host}), "T1059"));
  }
}

}  // namespace siem::emulator
