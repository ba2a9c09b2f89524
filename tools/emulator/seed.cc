// The seeded privileged-access scenario. Shapes follow the real Graph/ARM samples in tests/data
// (directoryAudit, signIn beta, unifiedRoleAssignmentScheduleRequest, EventData, ARM PIM request);
// every time is relative to `now` so the scenario always sits inside the sources' first window.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>

#include "tools/emulator/alerts.h"
#include "tools/emulator/directory.h"
#include "tools/emulator/emulator.h"
#include "tools/emulator/seed_people.h"

namespace siem::emulator {

using nlohmann::json;

namespace {

using scenario::kAlice;
using scenario::kAzureOwner;
using scenario::kBob;
using scenario::kBreakGlass;
using scenario::kEve;
using scenario::kGlobalAdmin;
using scenario::kGroupsAdmin;
using scenario::kPrivRoleAdmin;
using scenario::kSecurityAdmin;
using scenario::Person;

std::string seeded_guid(unsigned n, unsigned salt) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-%04x-4%03x-a%03x-%012x", 0x5eed0000u + salt, n & 0xffffu, (n >> 4) & 0xfffu,
                salt & 0xfffu, n * 2654435761u);
  return buf;
}

json user_initiator(const Person& p) {
  return {{"user",
           {{"id", p.id}, {"displayName", p.name}, {"userPrincipalName", p.upn}, {"ipAddress", p.ip}, {"userType", "Member"}}},
          {"app", nullptr}};
}

json user_target(const Person& p) {
  return {{"id", p.id}, {"displayName", p.name}, {"type", "User"}, {"userPrincipalName", p.upn}, {"modifiedProperties", json::array()}};
}

json role_target(const char* template_id, const char* name) {
  return {{"id", template_id}, {"displayName", name}, {"type", "Role"}, {"modifiedProperties", json::array()}};
}

json audit(const std::string& id, std::int64_t t, const char* category, const char* activity, const char* service,
           const char* op, json initiator, json targets, json details = json::array(), const char* result = "success") {
  return {{"id", id},
          {"category", category},
          {"correlationId", seeded_guid(static_cast<unsigned>(t / 1000000), 7)},
          {"result", result},
          {"resultReason", ""},
          {"activityDisplayName", activity},
          {"activityDateTime", format_time(t)},
          {"loggedByService", service},
          {"operationType", op},
          {"initiatedBy", std::move(initiator)},
          {"targetResources", std::move(targets)},
          {"additionalDetails", std::move(details)}};
}

json sign_in(const std::string& id, std::int64_t t, const char* type, const Person& p, const char* app, json extra) {
  json s = {{"id", id},
            {"createdDateTime", format_time(t)},
            {"userDisplayName", p.name},
            {"userPrincipalName", p.upn},
            {"userId", p.id},
            {"appId", "de8bc8b5-d9f9-48b1-a8ad-b748da725064"},
            {"appDisplayName", app},
            {"ipAddress", p.ip},
            {"clientAppUsed", "Browser"},
            {"correlationId", seeded_guid(static_cast<unsigned>(t / 1000000), 11)},
            {"conditionalAccessStatus", "success"},
            {"isInteractive", std::string(type) == "interactiveUser"},
            {"signInEventTypes", {type}},
            {"authenticationRequirement", "multiFactorAuthentication"},
            {"riskDetail", "none"},
            {"riskLevelAggregated", "none"},
            {"riskLevelDuringSignIn", "none"},
            {"riskState", "none"},
            {"riskEventTypes_v2", json::array()},
            {"resourceDisplayName", "Microsoft Graph"},
            {"resourceId", "00000003-0000-0000-c000-000000000000"},
            {"status", {{"errorCode", 0}, {"failureReason", nullptr}, {"additionalDetails", nullptr}}},
            {"deviceDetail",
             {{"deviceId", "3c1c9e0b-7f1e-4b9b-9d2f-61c2c6f4a8e1"},
              {"displayName", "CONTOSO-PAW-01"},
              {"operatingSystem", "Windows 10"},
              {"browser", "Edge 120.0"},
              {"isCompliant", true},
              {"isManaged", true},
              {"trustType", "Azure AD joined"}}},
            {"location", {{"city", "Redmond"}, {"state", "Washington"}, {"countryOrRegion", "US"}}},
            {"appliedConditionalAccessPolicies", json::array()}};
  for (auto& [k, v] : extra.items()) s[k] = v;
  return s;
}

json pim_request(const std::string& id, std::int64_t t, const char* action, const Person& principal, const char* role,
                 const char* justification, const char* status, const char* expiration_type, const char* duration) {
  return {{"id", id},
          {"status", status},
          {"createdDateTime", format_time(t)},
          {"completedDateTime", format_time(t + 1'000'000)},
          {"approvalId", nullptr},
          {"customData", nullptr},
          {"action", action},
          {"principalId", principal.id},
          {"roleDefinitionId", role},
          {"directoryScopeId", "/"},
          {"appScopeId", nullptr},
          {"isValidationOnly", false},
          {"targetScheduleId", id},
          {"justification", justification},
          {"createdBy", {{"application", nullptr}, {"device", nullptr}, {"user", {{"displayName", nullptr}, {"id", principal.id}}}}},
          {"scheduleInfo",
           {{"startDateTime", format_time(t)},
            {"recurrence", nullptr},
            {"expiration", {{"type", expiration_type}, {"endDateTime", nullptr}, {"duration", duration ? json(duration) : json(nullptr)}}}}},
          {"ticketInfo", {{"ticketNumber", nullptr}, {"ticketSystem", nullptr}}}};
}

json activity(const std::string& sub, const std::string& tenant, const std::string& id, std::int64_t t, const char* op,
              const char* status, const Person& caller, const std::string& resource_id, json properties) {
  std::string corr = seeded_guid(static_cast<unsigned>(t / 60'000'000), 13);
  return {{"authorization", {{"action", op}, {"scope", resource_id}}},
          {"caller", caller.upn},
          {"channels", "Operation"},
          {"claims",
           {{"ipaddr", caller.ip},
            {"name", caller.name},
            {"http://schemas.microsoft.com/identity/claims/objectidentifier", caller.id},
            {"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn", caller.upn}}},
          {"correlationId", corr},
          {"description", ""},
          {"eventDataId", id},
          {"eventName", {{"value", std::string(status) == "Started" ? "BeginRequest" : "EndRequest"},
                         {"localizedValue", std::string(status) == "Started" ? "Begin request" : "End request"}}},
          {"category", {{"value", "Administrative"}, {"localizedValue", "Administrative"}}},
          {"eventTimestamp", format_time(t)},
          {"id", resource_id + "/events/" + id + "/ticks/" + std::to_string(t * 10)},
          {"level", "Informational"},
          {"operationId", corr},
          {"operationName", {{"value", op}, {"localizedValue", op}}},
          {"resourceGroupName", ""},
          {"resourceProviderName", {{"value", "Microsoft.Authorization"}, {"localizedValue", "Microsoft.Authorization"}}},
          {"resourceType", {{"value", "Microsoft.Authorization/roleAssignments"}, {"localizedValue", "Microsoft.Authorization/roleAssignments"}}},
          {"resourceId", resource_id},
          {"status", {{"value", status}, {"localizedValue", status}}},
          {"subStatus", {{"value", std::string(status) == "Succeeded" ? "Created" : ""},
                         {"localizedValue", std::string(status) == "Succeeded" ? "Created (HTTP Status Code: 201)" : ""}}},
          {"submissionTimestamp", format_time(t + 15'000'000)},
          {"subscriptionId", sub},
          {"tenantId", tenant},
          {"properties", std::move(properties)},
          {"relatedEvents", json::array()}};
}

}  // namespace

std::vector<std::pair<std::string, json>> seed_records(Clock::time_point now_tp, const std::string& tenant,
                                                       const std::vector<std::string>& subscriptions) {
  const std::int64_t now = std::chrono::duration_cast<std::chrono::microseconds>(now_tp.time_since_epoch()).count();
  constexpr std::int64_t kMin = 60'000'000;
  std::vector<std::pair<std::string, json>> out;
  auto ago = [&](double minutes) { return now - static_cast<std::int64_t>(minutes * kMin); };

  // ---------------------------------------------------------------- directory audits
  auto role_props = [](const char* template_id, const char* name) {
    return json::array({{{"displayName", "Role.DisplayName"}, {"oldValue", nullptr}, {"newValue", std::string("\"") + name + "\""}},
                        {{"displayName", "Role.TemplateId"}, {"oldValue", nullptr}, {"newValue", std::string("\"") + template_id + "\""}},
                        {{"displayName", "Role.ObjectID"}, {"oldValue", nullptr}, {"newValue", std::string("\"") + template_id + "\""}}});
  };
  {
    json ga_target = user_target(kEve);
    json role = role_target(kGlobalAdmin, "Global Administrator");
    role["modifiedProperties"] = role_props(kGlobalAdmin, "Global Administrator");
    ga_target["modifiedProperties"] = role_props(kGlobalAdmin, "Global Administrator");
    // Global Administrator assigned directly, outside PIM.
    out.emplace_back("directoryAudits", audit("Directory_" + seeded_guid(1, 1), ago(50), "RoleManagement", "Add member to role",
                                              "Core Directory", "Assign", user_initiator(kBob), json::array({ga_target, role})));
  }
  {
    json t = user_target(kAlice);
    t["modifiedProperties"] = role_props(kGlobalAdmin, "Global Administrator");
    // PIM activation with a one-word justification, and one with a proper justification + ticket.
    out.emplace_back("directoryAudits",
                     audit("PIM_" + seeded_guid(2, 1), ago(45), "RoleManagement", "Add member to role completed (PIM activation)",
                           "PIM", "Add", user_initiator(kAlice), json::array({role_target(kGlobalAdmin, "Global Administrator"), t}),
                           json::array({{{"key", "Justification"}, {"value", "fix"}}, {{"key", "StartTime"}, {"value", format_time(ago(45))}},
                                        {{"key", "ExpirationTime"}, {"value", format_time(ago(45) + 480 * kMin)}}})));
    out.emplace_back("directoryAudits",
                     audit("PIM_" + seeded_guid(3, 1), ago(40), "RoleManagement", "Add member to role completed (PIM activation)",
                           "PIM", "Add", user_initiator(kAlice), json::array({role_target(kSecurityAdmin, "Security Administrator"), user_target(kAlice)}),
                           json::array({{{"key", "Justification"}, {"value", "Investigating incident INC-4711: reviewing risky sign-ins for finance users"}},
                                        {{"key", "TicketNumber"}, {"value", "INC-4711"}}})));
    out.emplace_back("directoryAudits",
                     audit("PIM_" + seeded_guid(4, 1), ago(38), "RoleManagement", "Add eligible member to role in PIM completed (permanent)",
                           "PIM", "Add", user_initiator(kBob), json::array({role_target(kPrivRoleAdmin, "Privileged Role Administrator"), user_target(kEve)})));
  }
  out.emplace_back("directoryAudits",
                   audit("Policy_" + seeded_guid(5, 1), ago(35), "Policy", "Update conditional access policy", "Conditional Access", "Update",
                         user_initiator(kEve),
                         json::array({{{"id", seeded_guid(5, 2)}, {"displayName", "Require MFA for admins"}, {"type", "Policy"},
                                       {"modifiedProperties", json::array({{{"displayName", "ConditionalAccessPolicy"},
                                                                            {"oldValue", "{\"state\":\"enabled\"}"},
                                                                            {"newValue", "{\"state\":\"disabled\"}"}}})}}})));
  out.emplace_back("directoryAudits",
                   audit("Directory_" + seeded_guid(6, 1), ago(30), "DirectoryManagement", "Set domain authentication", "Core Directory", "Update",
                         user_initiator(kEve),
                         json::array({{{"id", seeded_guid(6, 2)}, {"displayName", "contoso.com"}, {"type", "Domain"},
                                       {"modifiedProperties", json::array({{{"displayName", "LiveType"},
                                                                            {"oldValue", "\"Managed\""}, {"newValue", "\"Federated\""}}})}}})));
  out.emplace_back("directoryAudits",
                   audit("Directory_" + seeded_guid(7, 1), ago(28), "ApplicationManagement",
                         "Update application - Certificates and secrets management ", "Core Directory", "Update", user_initiator(kEve),
                         json::array({{{"id", seeded_guid(7, 2)}, {"displayName", "Payroll Sync"}, {"type", "Application"},
                                       {"modifiedProperties", json::array({{{"displayName", "KeyDescription"}, {"oldValue", "[]"},
                                                                            {"newValue", "[\"[KeyIdentifier=1f2e,KeyType=Password,KeyUsage=Verify,DisplayName=backdoor]\"]"}}})}}})));
  // Everyday directory noise, enough for several pages at small $top.
  for (unsigned i = 0; i < 40; ++i) {
    const Person& who = i % 2 ? kBob : kAlice;
    out.emplace_back("directoryAudits",
                     audit("Directory_" + seeded_guid(100 + i, 1), ago(55 - i), "GroupManagement", "Add member to group", "Core Directory",
                           "Assign", user_initiator(who), json::array({user_target(i % 3 ? kBob : kEve)})));
  }

  // ---------------------------------------------------------------- sign-ins
  out.emplace_back("signIns", sign_in(seeded_guid(1, 2), ago(52), "interactiveUser", kBreakGlass, "Azure Portal",
                                      {{"authenticationRequirement", "singleFactorAuthentication"}}));
  out.emplace_back("signIns", sign_in(seeded_guid(2, 2), ago(47), "interactiveUser", kAlice, "Azure Portal",
                                      {{"authenticationRequirement", "singleFactorAuthentication"}}));
  out.emplace_back("signIns", sign_in(seeded_guid(3, 2), ago(44), "interactiveUser", kAlice, "Office 365 Exchange Online",
                                      {{"clientAppUsed", "IMAP4"}, {"authenticationRequirement", "singleFactorAuthentication"}}));
  out.emplace_back("signIns", sign_in(seeded_guid(4, 2), ago(42), "interactiveUser", kAlice, "Microsoft Azure PowerShell",
                                      {{"deviceDetail", {{"deviceId", ""}, {"displayName", nullptr}, {"operatingSystem", "Android"},
                                                         {"browser", "Chrome Mobile"}, {"isCompliant", false}, {"isManaged", false}, {"trustType", nullptr}}}}));
  out.emplace_back("signIns", sign_in(seeded_guid(5, 2), ago(39), "interactiveUser", kEve, "Azure Portal",
                                      {{"riskLevelDuringSignIn", "high"}, {"riskLevelAggregated", "high"}, {"riskState", "atRisk"},
                                       {"riskDetail", "none"}, {"riskEventTypes_v2", {"unfamiliarFeatures", "anonymizedIPAddress"}},
                                       {"location", {{"city", "Unknown"}, {"countryOrRegion", "NL"}}}}));
  out.emplace_back("signIns", sign_in(seeded_guid(6, 2), ago(37), "interactiveUser", kEve, "Azure Portal",
                                      {{"status", {{"errorCode", 50126}, {"failureReason", "Error validating credentials due to invalid username or password."},
                                                   {"additionalDetails", nullptr}}}, {"conditionalAccessStatus", "notApplied"}}));
  for (unsigned i = 0; i < 12; ++i) {
    out.emplace_back("signIns", sign_in(seeded_guid(20 + i, 2), ago(50 - 3 * i), "interactiveUser", i % 2 ? kBob : kAlice, "Microsoft Teams", {}));
    out.emplace_back("signIns", sign_in(seeded_guid(40 + i, 2), ago(49 - 3 * i), "nonInteractiveUser", i % 2 ? kBob : kAlice, "Microsoft Teams",
                                        {{"authenticationRequirement", "singleFactorAuthentication"}}));
  }
  for (unsigned i = 0; i < 4; ++i) {
    json sp = sign_in(seeded_guid(60 + i, 2), ago(48 - 5 * i), "servicePrincipal", kBob, "Payroll Sync",
                      {{"servicePrincipalId", seeded_guid(7, 3)}, {"servicePrincipalName", "Payroll Sync"}, {"userPrincipalName", nullptr},
                       {"userDisplayName", nullptr}, {"userId", ""}});
    out.emplace_back("signIns", sp);
    json mi = sign_in(seeded_guid(70 + i, 2), ago(46 - 5 * i), "managedIdentity", kBob, "vm-build-01",
                      {{"servicePrincipalId", seeded_guid(8, 3)}, {"servicePrincipalName", "vm-build-01"}, {"userPrincipalName", nullptr},
                       {"userDisplayName", nullptr}, {"userId", ""}, {"managedServiceIdentity", {{"msiType", "systemAssigned"}}}});
    out.emplace_back("signIns", mi);
  }

  // ---------------------------------------------------------------- PIM (Graph roleManagement)
  out.emplace_back("roleAssignmentScheduleRequests",
                   pim_request(seeded_guid(1, 4), ago(45), "selfActivate", kAlice, kGlobalAdmin, "fix", "Provisioned", "afterDuration", "PT8H"));
  out.emplace_back("roleAssignmentScheduleRequests",
                   pim_request(seeded_guid(2, 4), ago(40), "selfActivate", kAlice, kSecurityAdmin,
                               "Investigating incident INC-4711: reviewing risky sign-ins for finance users", "Provisioned", "afterDuration", "PT2H"));
  out.emplace_back("roleAssignmentScheduleRequests",
                   pim_request(seeded_guid(3, 4), ago(33), "adminAssign", kEve, kGlobalAdmin, "temp access", "Provisioned", "noExpiration", nullptr));
  out.emplace_back("roleAssignmentScheduleRequests",
                   pim_request(seeded_guid(4, 4), ago(20), "adminAssign", kBob, kGroupsAdmin, "Assign Groups Admin to IT Helpdesk group",
                               "Provisioned", "noExpiration", nullptr));
  out.emplace_back("roleEligibilityScheduleRequests",
                   pim_request(seeded_guid(5, 4), ago(38), "adminAssign", kEve, kPrivRoleAdmin, "contractor onboarding", "Provisioned",
                               "noExpiration", nullptr));
  // The schedule instances agree with the requests above, as Graph's do: each provisioned request
  // is listed (an activation as "Activated" until it expires), so a roster snapshot ends no role
  // an earlier request granted.
  auto instance = [&](unsigned n, const Person& p, const char* role, bool eligible, std::int64_t start,
                      const char* assignment_type = "Assigned", std::int64_t end = 0) {
    json j = {{"id", seeded_guid(n, 5)}, {"principalId", p.id}, {"roleDefinitionId", role}, {"directoryScopeId", "/"},
              {"appScopeId", nullptr}, {"startDateTime", format_time(start)},
              {"endDateTime", end != 0 ? json(format_time(end)) : json(nullptr)}, {"memberType", "Direct"}};
    if (eligible) j["roleEligibilityScheduleId"] = seeded_guid(n, 6);
    else {
      j["assignmentType"] = assignment_type;
      j["roleAssignmentScheduleId"] = seeded_guid(n, 6);
    }
    return j;
  };
  const auto month_ago = ago(60 * 24 * 30);
  out.emplace_back("roleEligibilityScheduleInstances", instance(1, kAlice, kGlobalAdmin, true, month_ago));
  out.emplace_back("roleEligibilityScheduleInstances", instance(2, kAlice, kSecurityAdmin, true, month_ago));
  out.emplace_back("roleEligibilityScheduleInstances", instance(3, kEve, kPrivRoleAdmin, true, ago(38)));
  out.emplace_back("roleAssignmentScheduleInstances", instance(4, kBreakGlass, kGlobalAdmin, false, month_ago));
  out.emplace_back("roleAssignmentScheduleInstances", instance(5, kEve, kGlobalAdmin, false, ago(33)));
  out.emplace_back("roleAssignmentScheduleInstances", instance(9, kAlice, kGlobalAdmin, false, ago(45), "Activated", ago(45 - 8 * 60)));
  out.emplace_back("roleAssignmentScheduleInstances", instance(10, kAlice, kSecurityAdmin, false, ago(40), "Activated", ago(40 - 2 * 60)));
  out.emplace_back("roleAssignmentScheduleInstances", instance(11, kBob, kGroupsAdmin, false, ago(20)));
  // The directory behind them (principals for $expand=principal) and a role-assignable group
  // holding a tier-0 role, whose members the inventory expands.
  {
    std::vector<json> users;
    for (const Person* p : {&kAlice, &kBob, &kBreakGlass, &kEve})
      users.push_back({{"id", p->id}, {"displayName", p->name}, {"userPrincipalName", p->upn}});
    for (auto& r : seed_directory(users, format_time(month_ago))) out.push_back(std::move(r));
  }
  for (auto [n, p, role] : {std::tuple{6u, kBreakGlass, kGlobalAdmin}, std::tuple{7u, kEve, kGlobalAdmin}, std::tuple{8u, kBob, kGroupsAdmin}}) {
    out.emplace_back("roleAssignments", json{{"id", seeded_guid(n, 7)}, {"principalId", p.id}, {"roleDefinitionId", role},
                                             {"directoryScopeId", "/"}, {"appScopeId", nullptr}});
  }

  // ---------------------------------------------------------------- Azure Activity Log + ARM PIM
  unsigned n = 0;
  for (const auto& sub : subscriptions) {
    std::string ra = "/subscriptions/" + sub + "/providers/Microsoft.Authorization/roleAssignments/" + seeded_guid(++n, 8);
    std::string body = json{{"Id", seeded_guid(n, 8)},
                            {"Properties",
                             {{"PrincipalId", kEve.id}, {"PrincipalType", "User"},
                              {"RoleDefinitionId", "/subscriptions/" + sub + "/providers/Microsoft.Authorization/roleDefinitions/" + kAzureOwner},
                              {"Scope", "/subscriptions/" + sub}}}}
                           .dump();
    out.emplace_back("activity", activity(sub, tenant, seeded_guid(n, 9), ago(32), "Microsoft.Authorization/roleAssignments/write", "Started",
                                          kBob, ra, {{"requestbody", body}}));
    out.emplace_back("activity", activity(sub, tenant, seeded_guid(n + 100, 9), ago(31.9), "Microsoft.Authorization/roleAssignments/write",
                                          "Succeeded", kBob, ra, {{"statusCode", "Created"}, {"responseBody", body}}));
    for (unsigned i = 0; i < 6; ++i) {
      std::string vm = "/subscriptions/" + sub + "/resourceGroups/rg-app/providers/Microsoft.Compute/virtualMachines/vm-" + std::to_string(i);
      json ev = activity(sub, tenant, seeded_guid(n * 1000 + i, 10), ago(54 - 7 * i), "Microsoft.Compute/virtualMachines/write",
                         i % 2 ? "Succeeded" : "Started", kAlice, vm, {{"statusCode", i % 2 ? "OK" : "Accepted"}});
      ev["resourceGroupName"] = "rg-app";
      ev["resourceProviderName"] = {{"value", "Microsoft.Compute"}, {"localizedValue", "Microsoft.Compute"}};
      ev["resourceType"] = {{"value", "Microsoft.Compute/virtualMachines"}, {"localizedValue", "Microsoft.Compute/virtualMachines"}};
      out.emplace_back("activity", ev);
    }
    std::string rid = "/subscriptions/" + sub + "/providers/Microsoft.Authorization/roleAssignmentScheduleRequests/" + seeded_guid(n, 11);
    out.emplace_back("armRoleAssignmentScheduleRequests",
                     json{{"id", rid}, {"name", seeded_guid(n, 11)}, {"type", "Microsoft.Authorization/RoleAssignmentScheduleRequests"},
                          {"properties",
                           {{"scope", "/subscriptions/" + sub},
                            {"roleDefinitionId", "/subscriptions/" + sub + "/providers/Microsoft.Authorization/roleDefinitions/" + kAzureOwner},
                            {"principalId", kAlice.id}, {"principalType", "User"}, {"requestType", "SelfActivate"}, {"status", "Provisioned"},
                            {"scheduleInfo", {{"startDateTime", format_time(ago(25))}, {"expiration", {{"type", "AfterDuration"}, {"duration", "PT1H"}}}}},
                            {"justification", "deploy"}, {"requestorId", kAlice.id}, {"createdOn", format_time(ago(25))},
                            {"expandedProperties",
                             {{"scope", {{"id", "/subscriptions/" + sub}, {"displayName", "Production"}, {"type", "subscription"}}},
                              {"roleDefinition", {{"id", kAzureOwner}, {"displayName", "Owner"}, {"type", "BuiltInRole"}}},
                              {"principal", {{"id", kAlice.id}, {"displayName", kAlice.name}, {"email", kAlice.upn}, {"type", "User"}}}}}}}});
  }
  seed_alerts(out, now, tenant, subscriptions);
  return out;
}

}  // namespace siem::emulator

// ------------------------------------------------------------------ scenario files
namespace siem::emulator {
namespace {

std::string classify(const json& r) {
  auto has = [&](const char* k) { return r.contains(k); };
  if (has("activityDateTime")) return "directoryAudits";
  if (has("eventDataId") || has("eventTimestamp")) return "activity";
  if (has("properties") && r["properties"].is_object() && r["properties"].contains("createdOn"))
    return "armRoleAssignmentScheduleRequests";
  if (has("roleDefinitionId") && has("action") && has("createdDateTime")) {
    std::string context = r.value("@odata.context", "");
    return context.find("roleEligibilityScheduleRequests") != std::string::npos ? "roleEligibilityScheduleRequests"
                                                                                 : "roleAssignmentScheduleRequests";
  }
  if (has("createdDateTime") && (has("appDisplayName") || has("signInEventTypes") || has("isInteractive") || has("clientAppUsed")))
    return "signIns";
  return {};
}

// The field that orders a record of `collection` (a '/' path).
const char* primary_time(const std::string& collection) {
  if (collection == "directoryAudits") return "activityDateTime";
  if (collection == "activity") return "eventTimestamp";
  if (collection == "armRoleAssignmentScheduleRequests") return "properties/createdOn";
  return "createdDateTime";
}

json* at_path(json& r, std::string_view path) {
  json* p = &r;
  while (true) {
    auto slash = path.find('/');
    std::string part(path.substr(0, slash));
    if (!p->is_object() || !p->contains(part)) return nullptr;
    p = &(*p)[part];
    if (slash == std::string_view::npos) return p;
    path.remove_prefix(slash + 1);
  }
}

// Moves every timestamp string inside `v` by `delta` microseconds.
void shift_times(json& v, std::int64_t delta) {
  if (v.is_object() || v.is_array()) {
    for (auto& child : v) shift_times(child, delta);
  } else if (v.is_string()) {
    if (auto t = parse_time_us(v.get<std::string>())) v = format_time(*t + delta);
  }
}

}  // namespace

std::vector<std::pair<std::string, json>> load_seed_file(const std::filesystem::path& file, Clock::time_point now_tp,
                                                         const std::vector<std::string>& subscriptions,
                                                         std::chrono::seconds last_gap, std::chrono::seconds spacing) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::runtime_error("seed file " + file.string() + ": cannot open");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();

  std::vector<std::pair<std::size_t, json>> raw;  // (line, record)
  json whole = json::parse(text, nullptr, false);
  if (!whole.is_discarded() && (whole.is_array() || (whole.is_object() && whole.contains("value")))) {
    const json& list = whole.is_array() ? whole : whole["value"];
    if (!list.is_array()) throw std::runtime_error("seed file " + file.string() + ": 'value' is not an array");
    for (const auto& r : list) raw.emplace_back(1, r);
  } else if (!whole.is_discarded() && whole.is_object()) {
    raw.emplace_back(1, whole);
  } else {
    std::size_t line_no = 0, pos = 0;
    while (pos < text.size()) {
      auto nl = text.find('\n', pos);
      std::string line = text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
      pos = nl == std::string::npos ? text.size() : nl + 1;
      ++line_no;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      json r = json::parse(line, nullptr, false);
      if (r.is_discarded() || !r.is_object())
        throw std::runtime_error("seed file " + file.string() + ":" + std::to_string(line_no) + ": not a JSON object");
      raw.emplace_back(line_no, std::move(r));
    }
  }

  const std::int64_t now = std::chrono::duration_cast<std::chrono::microseconds>(now_tp.time_since_epoch()).count();
  const std::int64_t gap_us = std::chrono::duration_cast<std::chrono::microseconds>(last_gap).count();
  const std::int64_t spacing_us = std::chrono::duration_cast<std::chrono::microseconds>(spacing).count();
  std::map<std::string, std::map<std::string, int>> ids;  // collection -> id -> times seen
  std::vector<std::pair<std::string, json>> out;
  const std::size_t n = raw.size();
  for (std::size_t i = 0; i < n; ++i) {
    auto& [line, rec] = raw[i];
    const std::string where = file.string() + ":" + std::to_string(line);
    if (!rec.is_object()) throw std::runtime_error("seed file " + where + ": record is not a JSON object");
    std::string collection = classify(rec);
    if (collection.empty())
      throw std::runtime_error("seed file " + where +
                               ": not a directoryAudit, signIn, PIM schedule request, Activity Log event or ARM PIM request");
    rec.erase("@odata.context");
    json* t = at_path(rec, primary_time(collection));
    std::optional<std::int64_t> original = t && t->is_string() ? parse_time_us(t->get<std::string>()) : std::nullopt;
    if (!original) throw std::runtime_error("seed file " + where + ": missing or unreadable " + primary_time(collection));
    const std::int64_t target = now - gap_us - static_cast<std::int64_t>(n - 1 - i) * spacing_us;
    shift_times(rec, target - *original);

    const char* id_field = collection == "activity" ? "eventDataId" : "id";
    if (rec.contains(id_field) && rec[id_field].is_string()) {
      std::string id = rec[id_field].get<std::string>();
      int seen = ++ids[collection][id];
      if (seen > 1) rec[id_field] = id + "-" + std::to_string(seen);
    }
    if (collection == "signIns" && !(rec.contains("signInEventTypes") && rec["signInEventTypes"].is_array() &&
                                     !rec["signInEventTypes"].empty())) {
      bool interactive = !rec.contains("isInteractive") || !rec["isInteractive"].is_boolean() || rec["isInteractive"].get<bool>();
      rec["signInEventTypes"] = json::array({interactive ? "interactiveUser" : "nonInteractiveUser"});
    }
    if (collection == "activity" && !subscriptions.empty()) {
      std::string sub = rec.value("subscriptionId", "");
      if (std::find(subscriptions.begin(), subscriptions.end(), sub) == subscriptions.end()) rec["subscriptionId"] = subscriptions.front();
    }
    out.emplace_back(std::move(collection), std::move(rec));
  }
  return out;
}

}  // namespace siem::emulator
