#include "connector/mapping/kind_detect.h"

#include "connector/mapping/json_access.h"

namespace siem {

namespace {

bool has(simdjson::dom::element e, std::string_view key) { return json::child(e, key).has_value(); }
bool has(const json::Fields& o, std::string_view key) { return o.has(key); }

std::string text(const json::Fields& o, std::string_view key) {
  std::string s;
  if (auto c = o.get(key)) json::scalar_text(*c, s);
  return s;
}

bool is_activity_category(std::string_view c) {
  for (std::string_view k : {"Administrative", "Security", "ServiceHealth", "Alert", "Recommendation", "Policy",
                             "Autoscale", "ResourceHealth", "Write", "Action", "Delete"})
    if (json::iequals(c, k)) return true;
  return false;
}

}  // namespace

SourceKind detect_kind(simdjson::dom::element record) {
  if (!record.is_object()) return SourceKind::unknown;
  return detect_kind(json::Fields(record));  // a dozen keys of the same object: index it once
}

SourceKind detect_kind(const json::Fields& r) {

  // Diagnostic-settings (Event Hubs / storage) records: category + properties + envelope fields.
  const std::string category = text(r, "category");
  auto props = r.get("properties");
  const bool envelope = has(r, "time") && (has(r, "resourceId") || has(r, "operationName"));
  if (!category.empty() && ((props && props->is_object()) || envelope) &&
      (has(r, "time") || has(r, "resourceId") || has(r, "operationName"))) {
    if (json::iequals(category, "AuditLogs")) return SourceKind::eventhub_audit;
    if (category.size() >= 10 && json::iequals(std::string_view(category).substr(category.size() - 10), "SignInLogs"))
      return SourceKind::eventhub_sign_in;
    const std::string resource = text(r, "resourceId");
    if (is_activity_category(category) || json::istarts_with(resource, "/subscriptions/") ||
        json::istarts_with(resource, "/providers/microsoft.management"))
      return SourceKind::eventhub_activity;
    return SourceKind::unknown;
  }

  // ARM Activity Log REST (EventData).
  if (has(r, "eventDataId") && (has(r, "eventTimestamp") || has(r, "operationName"))) return SourceKind::azure_activity;

  // ARM PIM requests: {id, name, type, properties{requestType, roleDefinitionId, principalId ...}}.
  if (props && props->is_object() &&
      (json::icontains(text(r, "type"), "Microsoft.Authorization/role") || has(*props, "requestType")))
    return SourceKind::arm_pim_request;

  // Graph directoryAudit.
  if (has(r, "activityDisplayName") && (has(r, "activityDateTime") || has(r, "initiatedBy")))
    return SourceKind::graph_directory_audit;

  // Graph PIM schedule requests / instances.
  if (has(r, "roleDefinitionId") && has(r, "principalId")) {
    if (has(r, "action")) return SourceKind::graph_pim_request;
    return SourceKind::graph_pim_instance;
  }

  // Graph signIn.
  if (has(r, "createdDateTime") &&
      (has(r, "userPrincipalName") || has(r, "appId") || has(r, "servicePrincipalId")) &&
      (has(r, "status") || has(r, "ipAddress") || has(r, "clientAppUsed") || has(r, "signInEventTypes")))
    return SourceKind::graph_sign_in;

  return SourceKind::unknown;
}

}  // namespace siem
