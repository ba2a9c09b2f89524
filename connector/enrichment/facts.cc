#include "connector/enrichment/facts.h"

#include "connector/enrichment/alert_facts.h"
#include "connector/enrichment/facts_internal.h"
#include "connector/enrichment/security_alert_facts.h"

#include <algorithm>

#include "connector/record/json_access.h"
#include "connector/record/time_parse.h"

namespace siem {

namespace {

using namespace facts_detail;

// The record's activity time: the paths tried, in order of preference (FactPaths::time).
constexpr std::array<std::string_view, 8> kTimePaths{"activityDateTime", "createdDateTime", "eventTimestamp",
                                                     "properties.activityDateTime", "properties.createdDateTime",
                                                     "properties.createdOn", "startDateTime", "time"};

// The dotted paths the extraction reads, compiled once (this runs for every record).
struct FactPaths {
  const json::Path created_by_application_id{"createdBy.application.id"};
  const json::Path created_by_user_id{"createdBy.user.id"};
  const json::Path expanded_properties_principal_display_name{"expandedProperties.principal.displayName"};
  const json::Path expanded_properties_principal_email{"expandedProperties.principal.email"};
  const json::Path expanded_properties_role_definition_display_name{"expandedProperties.roleDefinition.displayName"};
  const json::Path principal_user_principal_name{"principal.userPrincipalName"};
  const json::Path role_definition_display_name{"roleDefinition.displayName"};
  const json::Path schedule_info_expiration_duration{"scheduleInfo.expiration.duration"};
  const json::Path schedule_info_expiration_end_date_time{"scheduleInfo.expiration.endDateTime"};
  const json::Path schedule_info_expiration_type{"scheduleInfo.expiration.type"};
  const json::Path schedule_info_start_date_time{"scheduleInfo.startDateTime"};
  // The record's activity time, in order of preference.
  const std::vector<json::Path> time = std::vector<json::Path>(kTimePaths.begin(), kTimePaths.end());
  // The same paths as a key of the record and the rest below it (none when the key is the whole
  // path), for looking the key up in the record's index rather than scanning the record per path.
  // `rest_key`: the rest as one key (each rest here is a single key).
  struct Split {
    std::string_view key;
    std::optional<json::Path> rest;
    std::string_view rest_key;
  };
  const std::vector<Split> time_split{{"activityDateTime", std::nullopt, {}},
                                      {"createdDateTime", std::nullopt, {}},
                                      {"eventTimestamp", std::nullopt, {}},
                                      {"properties", json::Path("activityDateTime"), "activityDateTime"},
                                      {"properties", json::Path("createdDateTime"), "createdDateTime"},
                                      {"properties", json::Path("createdOn"), "createdOn"},
                                      {"startDateTime", std::nullopt, {}},
                                      {"time", std::nullopt, {}}};
};
const FactPaths& paths() {
  static const FactPaths p;
  return p;
}

// A JSON-in-a-string field (ARM requestbody / responseBody) or an object: either way an element.
std::optional<element> embedded(element e, std::string_view key, simdjson::dom::parser& parser) {
  auto c = json::child(e, key);
  if (!c) return std::nullopt;
  if (c->is_object()) return c;
  if (c->is_string()) {
    element inner;
    if (parser.parse(std::string(c->get_string().value_unsafe())).get(inner) == simdjson::SUCCESS) return inner;
  }
  return std::nullopt;
}

// One of the literals below (no string built per record); the scope lower-cased on the stack.
std::string_view scope_level_of(std::string_view scope) {
  const json::LowerKey lowered(scope);
  std::string_view s = lowered.view();
  // ".../providers/Microsoft.Authorization/roleAssignments/{id}" sits at the scope it is written to.
  if (const auto auth = s.find("/providers/microsoft.authorization/"); auth != std::string_view::npos) s = s.substr(0, auth);
  while (!s.empty() && (s.back() == '/' || s.back() == ' ')) s.remove_suffix(1);
  if (s.empty() || s == "/") return "tenant";
  if (s.find("/providers/microsoft.management/managementgroups/") != std::string_view::npos) return "management_group";
  const auto rg = s.find("/resourcegroups/");
  if (rg == std::string_view::npos) return s.rfind("/subscriptions/", 0) == 0 ? "subscription" : "resource";
  const auto after = s.find('/', rg + 16);
  return after == std::string_view::npos ? "resource_group" : "resource";
}

// Activity Log status: Started/Accepted (the operation is under way; its Succeeded/Failed twin
// follows with the same operationId), Succeeded, Failed, Canceled, ...
bool activity_in_progress(std::string_view s) {
  return json::iequals(s, "Started") || json::iequals(s, "Start") || json::iequals(s, "Accepted") || json::iequals(s, "Active");
}
bool activity_succeeded(std::string_view s) {
  return !(json::iequals(s, "Failed") || json::iequals(s, "Failure") || json::iequals(s, "Canceled") ||
           json::iequals(s, "Cancelled"));
}

// A PIM request (Graph or ARM) took effect unless its status says it was refused, withdrawn or
// failed, or is still waiting (PendingApproval, PendingAdminDecision, PendingProvisioning,
// PendingScheduleCreation, ...: nothing is granted until it is approved and provisioned).
bool pim_request_in_effect(std::string_view status) {
  for (std::string_view no : {"Denied", "AdminDenied", "Canceled", "Revoked", "TimedOut", "Invalid"})
    if (json::iequals(status, no)) return false;
  return !(json::istarts_with(status, "Pending") || json::istarts_with(status, "Failed"));
}


// A schedule request's / instance's expanded principal (`principal`, Graph's $expand) names a group
// principal by its @odata.type: role-assignable groups hold roles for their members.
void principal_type_into(element r, PrincipalRef& target) {
  if (const auto p = json::child(r, "principal"))
    if (json::icontains(text(*p, "@odata.type"), "graph.group")) target.type = "Group";
}

void pim_request_facts(element r, Facts& f, const json::Fields* fields) {
  thread_local json::Fields own;  // storage reused across records (this does not call itself)
  const json::Fields& R = fields ? *fields : (own.assign(r), own);
  f.family = Facts::Family::pim_request;
  f.pim_action = text(R, "action");
  f.operation = f.pim_action;
  f.status = text(R, "status");
  f.success = pim_request_in_effect(f.status);
  f.principal_id = text(R, "principalId");
  f.roles.push_back(RoleMention{text(R, "roleDefinitionId"), path_text(r, paths().role_definition_display_name)});
  if (auto j = R.get("justification")) {
    json::scalar_text(*j, f.justification);
    f.has_justification = true;
  } else {
    f.has_justification = true;  // a request without the field has no justification
  }
  const std::string exp_type = path_text(r, paths().schedule_info_expiration_type);
  f.no_expiration = json::iequals(exp_type, "noExpiration");
  if (auto d = parse_iso_duration_ms(path_text(r, paths().schedule_info_expiration_duration))) f.duration_ms = d;
  const auto start = parse_time_ms(path_text(r, paths().schedule_info_start_date_time));
  const auto end = parse_time_ms(path_text(r, paths().schedule_info_expiration_end_date_time));
  if (!f.duration_ms && start && end && *end > *start) f.duration_ms = *end - *start;
  f.starts_ms = start;
  if (!f.no_expiration) f.ends_ms = end;
  PrincipalRef target;
  target.id = f.principal_id;
  target.upn = path_text(r, paths().principal_user_principal_name);
  target.type = "User";
  principal_type_into(r, target);
  f.targets.push_back(std::move(target));
  f.actor.id = path_text(r, paths().created_by_user_id);
  if (f.actor.id.empty()) f.actor.id = path_text(r, paths().created_by_application_id);
  // Eligibility requests carry no `targetScheduleId` of an assignment... the odata type says it.
  f.eligible = json::icontains(text(R, "@odata.type"), "Eligibility") || json::icontains(text(R, "@odata.context"), "Eligibility");
}

void arm_pim_facts(element r, Facts& f) {
  f.family = Facts::Family::pim_request;
  auto p = json::child(r, "properties");
  if (!p) return;
  f.pim_action = text(*p, "requestType");
  f.operation = f.pim_action;
  f.status = text(*p, "status");
  f.success = pim_request_in_effect(f.status);
  f.principal_id = text(*p, "principalId");
  f.roles.push_back(RoleMention{text(*p, "roleDefinitionId"), path_text(*p, paths().expanded_properties_role_definition_display_name)});
  f.arm_scope = text(*p, "scope");
  f.scope_level = scope_level_of(f.arm_scope);
  if (auto j = json::child(*p, "justification")) json::scalar_text(*j, f.justification);
  f.has_justification = true;
  f.no_expiration = json::iequals(path_text(*p, paths().schedule_info_expiration_type), "NoExpiration");
  if (auto d = parse_iso_duration_ms(path_text(*p, paths().schedule_info_expiration_duration))) f.duration_ms = d;
  f.starts_ms = parse_time_ms(path_text(*p, paths().schedule_info_start_date_time));
  if (!f.no_expiration) f.ends_ms = parse_time_ms(path_text(*p, paths().schedule_info_expiration_end_date_time));
  PrincipalRef target;
  target.id = f.principal_id;
  target.upn = path_text(*p, paths().expanded_properties_principal_email);
  target.name = path_text(*p, paths().expanded_properties_principal_display_name);
  target.type = text(*p, "principalType");
  f.targets.push_back(std::move(target));
  f.actor.id = text(*p, "requestorId");
  f.eligible = json::icontains(text(r, "type"), "Eligibility");
}

void pim_instance_facts(element r, Facts& f) {
  f.family = Facts::Family::pim_instance;
  f.principal_id = text(r, "principalId");
  f.roles.push_back(RoleMention{text(r, "roleDefinitionId"), {}});
  PrincipalRef target;
  target.id = f.principal_id;
  principal_type_into(r, target);
  f.targets.push_back(std::move(target));
  f.eligible = !json::child(r, "assignmentType").has_value();
  f.starts_ms = parse_time_ms(text(r, "startDateTime"));
  f.ends_ms = parse_time_ms(text(r, "endDateTime"));  // null: the assignment does not end
}

// A privileged_inventory record (connector/enrichment/inventory.h): a principal's roles, or one
// change between two inventories (operation = changeType; the role changed; eligible/permanent as
// the role is held now).
void inventory_facts(element r, Facts& f) {
  f.family = Facts::Family::inventory;
  f.operation = text(r, "changeType");
  if (f.operation.empty()) f.operation = text(r, "recordType");
  if (const auto p = json::child(r, "principal")) {
    PrincipalRef target;
    target.id = text(*p, "id");
    target.upn = text(*p, "userPrincipalName");
    target.name = text(*p, "displayName");
    target.type = text(*p, "type");
    target.app_id = text(*p, "appId");
    f.principal_id = target.id;
    f.targets.push_back(std::move(target));
  }
  const auto add_role = [&f](element role) { f.roles.push_back(RoleMention{text(role, "roleDefinitionId"), text(role, "roleName")}); };
  if (const auto role = json::child(r, "role")) {
    add_role(*role);
    f.eligible = bool_of(json::child(*role, "eligible")).value_or(false) && !bool_of(json::child(*role, "active")).value_or(false);
    f.no_expiration = bool_of(json::child(*role, "permanentActive")).value_or(false);
  }
  if (const auto roles = json::child(r, "roles"))
    for (element role : json::as_array(*roles)) add_role(role);
}

void activity_common(element identity_claims, Facts& f) {
  // The claims object is large (~25 members): the four keys read here in one pass over it.
  static constexpr std::array<std::string_view, 4> kClaims{"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn", "upn",
                                                           "http://schemas.microsoft.com/identity/claims/objectidentifier", "name"};
  const auto [upn_uri, upn, oid, name] = json::children(identity_claims, kClaims);
  if (f.actor.upn.empty()) {
    f.actor.upn = text_of(upn_uri);
    if (f.actor.upn.empty()) f.actor.upn = text_of(upn);
  }
  if (f.actor.id.empty()) f.actor.id = text_of(oid);
  if (f.actor.name.empty()) f.actor.name = text_of(name);
}

void role_assignment_body(element body, Facts& f) {
  // ARM echoes either {"properties":{"roleDefinitionId":...}} or {"Properties":{"RoleDefinitionId":...}}.
  element props = body;
  if (auto p = json::child(body, "properties")) props = *p;
  const std::string role = text(props, "roleDefinitionId");
  if (!role.empty() && f.arm_role_definition_id.empty()) f.arm_role_definition_id = role;
  if (f.arm_principal_id.empty()) f.arm_principal_id = text(props, "principalId");
  // The assignment's own scope beats the authorization scope (the path of the assignment resource).
  if (const std::string scope = text(props, "scope"); !scope.empty()) f.arm_scope = scope;
  if (f.targets.empty() && !f.arm_principal_id.empty()) {
    PrincipalRef t;
    t.id = f.arm_principal_id;
    t.type = text(props, "principalType");
    f.targets.push_back(std::move(t));
  }
}

// Elevate access (Microsoft.Authorization/elevateAccess/action) grants its caller User Access
// Administrator at the root scope "/": the role of the event, for its tier and role list.
void elevate_access_role(Facts& f) {
  if (!json::icontains(f.operation, "Microsoft.Authorization/elevateAccess/action")) return;
  if (f.arm_role_definition_id.empty()) f.arm_role_definition_id = kUserAccessAdministrator;
  f.arm_scope.assign(1, '/');  // (not = "/": GCC 12 -O3 reports a false -Wrestrict overlap)
}

// `R`: the record's index (its top-level keys are read through it, not by a scan each).
void activity_rest_facts(const json::Fields& R, Facts& f, simdjson::dom::parser& parser) {
  f.family = Facts::Family::activity;
  f.operation = text_of(nested(R, "operationName", "value"));
  if (f.operation.empty()) f.operation = text(R, "operationName");
  f.category = text_of(nested(R, "category", "value"));
  f.status = text_of(nested(R, "status", "value"));
  f.success = activity_succeeded(f.status);
  f.in_progress = activity_in_progress(f.status);
  f.caller = text(R, "caller");
  f.actor.upn = f.caller.find('@') != std::string::npos ? f.caller : "";
  f.actor.id = f.caller.find('@') == std::string::npos ? f.caller : "";
  if (auto claims = R.get("claims")) activity_common(*claims, f);
  f.arm_scope = text_of(nested(R, "authorization", "scope"));
  if (auto props = R.get("properties")) {
    for (std::string_view key : {"requestbody", "responseBody"})
      if (auto body = embedded(*props, key, parser)) role_assignment_body(*body, f);
  }
  elevate_access_role(f);
  if (f.arm_scope.empty()) f.arm_scope = text(R, "resourceId");
  f.scope_level = scope_level_of(f.arm_scope);
}

// `R`: the record's index, as for activity_rest_facts.
void activity_eventhub_facts(const json::Fields& R, Facts& f, simdjson::dom::parser& parser) {
  f.family = Facts::Family::activity;
  f.operation = text(R, "operationName");
  f.category = text(R, "category");
  f.status = text(R, "resultType");
  f.success = activity_succeeded(f.status);
  f.in_progress = activity_in_progress(f.status);
  if (auto identity = R.get("identity")) {
    if (auto claims = json::child(*identity, "claims")) activity_common(*claims, f);
    if (auto ev = json::child(*identity, "authorization")) {
      f.arm_scope = text(*ev, "scope");
      // The evidence names the role that authorised the caller (32 hex digits, no dashes): an actor
      // role for the event's tier, never the role a role-assignment event grants (that is in the body).
      if (auto evidence = json::child(*ev, "evidence")) f.actor_role_id = text(*evidence, "roleDefinitionId");
    }
  }
  if (auto props = R.get("properties")) {
    for (std::string_view key : {"requestbody", "responseBody"})
      if (auto body = embedded(*props, key, parser)) role_assignment_body(*body, f);
    if (f.caller.empty()) f.caller = text(*props, "caller");
  }
  elevate_access_role(f);
  if (f.arm_scope.empty()) f.arm_scope = text(R, "resourceId");
  f.scope_level = scope_level_of(f.arm_scope);
}

}  // namespace

Facts extract_facts(SourceKind kind, simdjson::dom::element r, const json::Fields* record_fields) {
  Facts f;
  extract_facts(kind, r, record_fields, f);
  return f;
}

namespace {
void reset(PrincipalRef& p) {
  p.id.clear();
  p.upn.clear();
  p.name.clear();
  p.type.clear();
  p.user_type.clear();
  p.app_id.clear();
}

// Every member back to its initial value, as in a new Facts; strings keep their buffers.
void reset(Facts& f) {
  f.kind = SourceKind::unknown;
  f.time_ms.reset();
  f.family = Facts::Family::other;
  f.operation.clear();
  f.category.clear();
  f.logged_by_service.clear();
  f.success = true;
  f.status.clear();
  f.in_progress = false;
  reset(f.actor);
  f.actor_app.clear();
  f.actor_app_id.clear();
  f.targets.clear();
  f.roles.clear();
  f.modified_properties.clear();
  f.details.clear();
  f.app_role_value.clear();
  reset(f.grantee);
  f.pim_action.clear();
  f.justification.clear();
  f.has_justification = false;
  f.no_expiration = false;
  f.duration_ms.reset();
  f.starts_ms.reset();
  f.ends_ms.reset();
  f.eligible = false;
  f.principal_id.clear();
  f.user_upn.clear();
  f.user_id.clear();
  f.user_type.clear();
  f.error_code = 0;
  f.auth_requirement.clear();
  f.mfa_step_succeeded = false;
  f.client_app.clear();
  f.device_compliant.reset();
  f.device_managed.reset();
  f.risk_during.clear();
  f.risk_aggregated.clear();
  f.risk_state.clear();
  f.sp_sign_in = false;
  f.sp_id.clear();
  f.sp_name.clear();
  f.app_name.clear();
  f.app_id.clear();
  f.sign_in_event_types.clear();
  f.caller.clear();
  f.arm_role_definition_id.clear();
  f.actor_role_id.clear();
  f.arm_scope.clear();
  f.arm_principal_id.clear();
  f.scope_level.clear();
  f.risk_level.clear();
  f.risk_event_type.clear();
  f.alert_active = false;
  f.alert_incidents = 0;
  f.alert_severity.clear();
  f.truncated = {};
}
}  // namespace

const std::vector<std::string>& fact_paths(SourceKind kind) {
  // A sign-in's keys (below `prefix`), then the time paths (of the whole record).
  const auto sign_in = [](std::string_view prefix) {
    std::vector<std::string> out;
    for (const auto& [key, sub] : kSignInPaths)
      out.push_back(std::string(prefix) + std::string(key) + (sub.empty() ? "" : ".") + std::string(sub));
    for (const auto t : kTimePaths) out.emplace_back(t);
    return out;
  };
  static const std::vector<std::string> graph = sign_in(""), eventhub = sign_in("properties."), none;
  switch (kind) {
    case SourceKind::graph_sign_in: return graph;
    case SourceKind::eventhub_sign_in: return eventhub;
    default: return none;
  }
}

void extract_facts(SourceKind kind, simdjson::dom::element r, const json::Fields* record_fields, Facts& f,
                   const RecordPaths* resolved) {
  // The values of fact_paths(kind), when the caller resolved them (the sign-ins'): their keys and
  // activity times are read there. Anything else (none for this kind): the record is read.
  const RecordPaths* values = resolved && resolved->count != 0 && resolved->count == fact_paths(kind).size() ? resolved : nullptr;
  thread_local simdjson::dom::parser parser;  // for JSON embedded in strings (ARM bodies)
  // An Event Hubs sign-in or audit keeps its activity in `properties`: that object is indexed once
  // here and read through the index by the kind's facts and by the time lookup below (which would
  // otherwise scan it once per time path it tries). Storage reused across records.
  thread_local json::Fields properties_index;
  const json::Fields* properties = nullptr;
  // child(r, "properties"), through the record's index when there is one (the same answer).
  const auto record_properties = [&] { return record_fields ? record_fields->get("properties") : json::child(r, "properties"); };
  reset(f);
  f.kind = kind;
  switch (kind) {
    case SourceKind::graph_directory_audit: audit_facts(r, f, record_fields); break;
    case SourceKind::eventhub_audit:
      if (auto p = record_properties()) {
        properties_index.assign(*p);
        properties = &properties_index;
        audit_facts(*p, f, properties);
      }
      if (f.operation.empty()) f.operation = text(r, "operationName");
      break;
    case SourceKind::graph_sign_in:
      if (values) sign_in_facts(*values, f);
      else sign_in_facts(r, f, record_fields);
      break;
    case SourceKind::eventhub_sign_in:
      if (auto p = record_properties()) {
        if (values) {  // `properties` present (even null: a sign-in of empty facts, as below)
          sign_in_facts(*values, f);
          break;
        }
        properties_index.assign(*p);
        properties = &properties_index;
        sign_in_facts(*p, f, properties);
      }
      break;
    case SourceKind::graph_pim_request: pim_request_facts(r, f, record_fields); break;
    case SourceKind::arm_pim_request: arm_pim_facts(r, f); break;
    case SourceKind::graph_pim_instance: pim_instance_facts(r, f); break;
    case SourceKind::azure_activity:
    case SourceKind::eventhub_activity: {
      // Many top-level keys: through the record's index (built here when the caller has none).
      thread_local json::Fields own;
      const json::Fields& R = record_fields ? *record_fields : (own.assign(r), own);
      if (kind == SourceKind::azure_activity) activity_rest_facts(R, f, parser);
      else activity_eventhub_facts(R, f, parser);
      break;
    }
    case SourceKind::graph_risk_detection: risk_detection_facts(r, f); break;
    case SourceKind::graph_pim_alert: pim_alert_facts(r, f); break;
    case SourceKind::graph_security_alert: graph_security_alert_facts(r, f); break;
    case SourceKind::azure_defender_alert: azure_defender_alert_facts(r, f); break;
    case SourceKind::privileged_inventory: inventory_facts(r, f); break;
    case SourceKind::unknown: break;
  }
  // The record's activity time (never the envelope's processing time when the activity time exists).
  // Looked up in order, stopping at the first usable one (most records have an early one), which
  // costs less than resolving all of them in one pass over the record.
  const auto& P = paths();
  for (std::size_t i = 0; !f.time_ms && i < P.time.size(); ++i) {  // unless the kind's own facts set it
    // Path::first(r) is child(r, key) then the rest; the record's index answers child() the same.
    std::optional<element> hit;
    const auto& split = P.time_split[i];
    if (values) {
      hit = values->value(kSignInKeys + i);  // Path::first(r) of the i-th time path
    } else if (properties && split.key == "properties") {
      // "properties.<key>": `properties` is the object indexed above, so its key through the index.
      if (const auto c = properties->get(split.rest_key); c && !c->is_null()) hit = c;
    } else if (record_fields) {
      if (const auto c = record_fields->get(split.key))
        hit = split.rest ? split.rest->first(*c) : (c->is_null() ? std::nullopt : c);
    } else {
      hit = P.time[i].first(r);
    }
    if (!hit) continue;
    std::string owned;
    std::string_view t;
    if (hit->is_string()) t = hit->get_string().value_unsafe();  // parsed in place, not copied
    else if (json::scalar_text(*hit, owned)) t = owned;
    else continue;
    // The string the mapper parsed as the record's time (the same bytes of the document): its result.
    const bool parsed = resolved && !t.empty() && t.data() == resolved->time_text.data() && t.size() == resolved->time_text.size();
    if (auto ms = t.empty() ? std::nullopt : parsed ? resolved->time_ms : parse_time_ms(t)) {
      f.time_ms = ms;
      break;
    }
  }
  // A request for a duration without an end date: it ends that long after it starts (its
  // scheduled start, else the request's time).
  if (!f.ends_ms && f.duration_ms && !f.no_expiration && f.family == Facts::Family::pim_request)
    if (const auto base = f.starts_ms ? f.starts_ms : f.time_ms) f.ends_ms = *base + *f.duration_ms;
}

}  // namespace siem
