#include "connector/mapping/kind_detect.h"

#include "connector/record/json_access.h"

namespace siem {

namespace {

bool has(simdjson::dom::element e, std::string_view key) { return json::child(e, key).has_value(); }
// Inline (as are view() and text()): each call names its key as a literal, so the key's bucket
// and folded last byte (json::Fields::key, constexpr) are worked out at compile time, not per call.
[[gnu::always_inline]] inline bool has(const json::Fields& o, std::string_view key) { return o.has(key); }

// A string member in place (no copy); empty when it is missing or not a string.
[[gnu::always_inline]] inline std::string_view view(const json::Fields& o, std::string_view key) {
  const auto c = o.get(key);
  return c && c->is_string() ? c->get_string().value_unsafe() : std::string_view();
}

[[gnu::always_inline]] inline std::string text(const json::Fields& o, std::string_view key) {
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

bool is_sign_in_category(std::string_view c) {
  return c.size() >= 10 && json::iequals(c.substr(c.size() - 10), "SignInLogs");
}

// What an Entra record's own fields say it is (a directoryAudit, a signIn), whatever a category
// claims. Read in one pass over the object's keys: it runs for every diagnostic-settings record.
struct EntraContent {
  bool activity_display_name = false, initiated_by = false, target_resources = false, logged_by_service = false;
  bool created_date_time = false, user_principal_name = false, service_principal_id = false, app_id = false;
  bool audit() const { return activity_display_name && (initiated_by || target_resources || logged_by_service); }
  bool sign_in() const { return created_date_time && (user_principal_name || service_principal_id || app_id); }
};

EntraContent entra_content(simdjson::dom::element o) {
  EntraContent c;
  for (const auto field : json::as_object(o)) {
    const std::string_view k = field.key;
    // A key of a candidate's length and name, not null (null is absent, everywhere).
    const auto is = [&](std::string_view name) { return json::iequals(k, name) && !field.value.is_null(); };
    switch (k.size()) {  // compare only keys of a candidate's length
      case 5: c.app_id = c.app_id || is("appId"); break;
      case 11: c.initiated_by = c.initiated_by || is("initiatedBy"); break;
      case 15:
        c.target_resources = c.target_resources || is("targetResources");
        c.logged_by_service = c.logged_by_service || is("loggedByService");
        c.created_date_time = c.created_date_time || is("createdDateTime");
        break;
      case 17: c.user_principal_name = c.user_principal_name || is("userPrincipalName"); break;
      case 18: c.service_principal_id = c.service_principal_id || is("servicePrincipalId"); break;
      case 19: c.activity_display_name = c.activity_display_name || is("activityDisplayName"); break;
      default: break;
    }
  }
  return c;
}

// A diagnostic-settings record (Event Hubs / storage): the properties' content decides, then the
// resource id, then the category. `props` is its `properties` object, if any.
SourceKind diagnostic_kind(const json::Fields& r, std::string_view category, std::optional<simdjson::dom::element> props,
                           bool& ambiguous) {
  const std::string_view resource = view(r, "resourceId");
  const bool arm_resource = json::istarts_with(resource, "/subscriptions/") ||
                            json::istarts_with(resource, "/providers/microsoft.management");
  // An Azure resource's Activity Log category: the Activity Log (its properties never hold an Entra
  // record), without reading them.
  if (arm_resource && is_activity_category(category)) return SourceKind::eventhub_activity;
  // Every sign-in category's envelope says "Sign-in activity" (an audit's names its activity): such
  // a record's properties are a signIn, without reading their forty-odd keys.
  if (props && is_sign_in_category(category) && json::iequals(view(r, "operationName"), "Sign-in activity") &&
      !arm_resource)
    return SourceKind::eventhub_sign_in;
  const EntraContent c = props ? entra_content(*props) : EntraContent{};
  const bool audit = c.audit(), sign_in = c.sign_in();
  if (audit || sign_in) {
    // A directoryAudit and a signIn at once, an Azure resource's record, or a category of the other
    // Entra kind: not one record of one kind.
    ambiguous = (audit && sign_in) || arm_resource || (audit && is_sign_in_category(category)) ||
                (sign_in && json::iequals(category, "AuditLogs"));
    if (ambiguous) return SourceKind::unknown;
    return audit ? SourceKind::eventhub_audit : SourceKind::eventhub_sign_in;
  }
  if (json::iequals(category, "AuditLogs")) return SourceKind::eventhub_audit;
  if (is_sign_in_category(category)) {
    // A flat sign-in (its fields at the top, no `properties`): the Graph signIn's shape.
    if (!props && has(r, "createdDateTime") && (has(r, "userPrincipalName") || has(r, "servicePrincipalId") || has(r, "appId")))
      return SourceKind::graph_sign_in;
    return SourceKind::eventhub_sign_in;
  }
  // Another Entra category (RiskyUsers, ProvisioningLogs, ...) is not an Activity Log event, even
  // where its name is also an Activity Log category.
  if (json::icontains(resource, "/providers/microsoft.aadiam")) return SourceKind::unknown;
  if (is_activity_category(category) || arm_resource) return SourceKind::eventhub_activity;
  return SourceKind::unknown;
}

}  // namespace

SourceKind detect_kind(simdjson::dom::element record) {
  if (!record.is_object()) return SourceKind::unknown;
  return detect_kind(json::Fields(record));  // a dozen keys of the same object: index it once
}

SourceKind detect_kind(const json::Fields& r) {
  bool ambiguous = false;
  const SourceKind kind = detect_kind(r, ambiguous);
  return ambiguous ? SourceKind::unknown : kind;
}

SourceKind detect_kind(const json::Fields& r, bool& ambiguous) {
  ambiguous = false;
  // Diagnostic-settings (Event Hubs / storage) records: category + properties + envelope fields.
  // A string category: the REST Activity Log's is a LocalizableString object.
  const std::string_view category = view(r, "category");
  auto props = r.get("properties");
  if (props && !props->is_object()) props.reset();
  const bool envelope = has(r, "time") && (has(r, "resourceId") || has(r, "operationName"));
  if (!category.empty() && (props || envelope) && (has(r, "time") || has(r, "resourceId") || has(r, "operationName")))
    return diagnostic_kind(r, category, props, ambiguous);

  // ARM Activity Log REST (EventData).
  if (has(r, "eventDataId") && (has(r, "eventTimestamp") || has(r, "operationName"))) return SourceKind::azure_activity;

  // ARM PIM requests: {id, name, type, properties{requestType, roleDefinitionId, principalId ...}}.
  if (props && (json::icontains(text(r, "type"), "Microsoft.Authorization/role") || has(*props, "requestType")))
    return SourceKind::arm_pim_request;

  // Identity Protection riskDetection / servicePrincipalRiskDetection, and PIM alerts
  // (unifiedRoleManagementAlert): fields no log record has.
  if (has(r, "riskEventType") && has(r, "detectedDateTime")) return SourceKind::graph_risk_detection;
  if (has(r, "alertDefinitionId") && has(r, "scopeType") && (has(r, "isActive") || has(r, "incidentCount")))
    return SourceKind::graph_pim_alert;
  // Defender for Cloud alerts (ARM Microsoft.Security/alerts): {id, name, type, properties{alertType,
  // systemAlertId | alertDisplayName, ...}}. After the kinds of the usual mix, which never match it.
  if (props && (json::icontains(text(r, "type"), "Microsoft.Security/Locations/alerts") ||
                (has(*props, "alertType") && (has(*props, "systemAlertId") || has(*props, "alertDisplayName")))))
    return SourceKind::azure_defender_alert;

  // Graph directoryAudit and signIn; a record with the fields of both is neither.
  const bool audit = has(r, "activityDisplayName") && (has(r, "activityDateTime") || has(r, "initiatedBy"));
  const bool sign_in = has(r, "createdDateTime") &&
                       (has(r, "userPrincipalName") || has(r, "appId") || has(r, "servicePrincipalId")) &&
                       (has(r, "status") || has(r, "ipAddress") || has(r, "clientAppUsed") || has(r, "signInEventTypes"));
  if (audit && sign_in) {
    ambiguous = true;
    return SourceKind::unknown;
  }
  if (audit) return SourceKind::graph_directory_audit;

  // Graph PIM schedule requests / instances.
  if (has(r, "roleDefinitionId") && has(r, "principalId")) {
    if (has(r, "action")) return SourceKind::graph_pim_request;
    return SourceKind::graph_pim_instance;
  }

  if (sign_in) return SourceKind::graph_sign_in;

  // Graph security alerts (alerts_v2): the service that raised it and the alert's own update time.
  // Last: none of the kinds above has these fields, and they are the bulk of the traffic.
  if (has(r, "serviceSource") && has(r, "lastUpdateDateTime") && (has(r, "detectionSource") || has(r, "evidence")))
    return SourceKind::graph_security_alert;
  return SourceKind::unknown;
}

}  // namespace siem
