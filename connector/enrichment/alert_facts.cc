#include "connector/enrichment/alert_facts.h"

#include <algorithm>

#include "connector/record/json_access.h"

namespace siem {

using json::element;

void risk_detection_facts(element r, Facts& f) {
  f.family = Facts::Family::risk;
  f.risk_event_type = json::child_text(r, "riskEventType");
  f.operation = f.risk_event_type;
  f.risk_level = json::child_text(r, "riskLevel");
  f.risk_state = json::child_text(r, "riskState");
  f.status = json::child_text(r, "riskDetail");
  const std::string sp_id = json::child_text(r, "servicePrincipalId");
  if (!sp_id.empty()) {  // servicePrincipalRiskDetection
    f.actor.id = sp_id;
    f.actor.name = json::child_text(r, "servicePrincipalDisplayName");
    f.actor.app_id = json::child_text(r, "appId");
    f.actor.type = "ServicePrincipal";
    f.sp_id = f.actor.id;
    f.sp_name = f.actor.name;
    f.app_id = f.actor.app_id;
    return;
  }
  f.actor.id = json::child_text(r, "userId");
  f.actor.upn = json::child_text(r, "userPrincipalName");
  f.actor.name = json::child_text(r, "userDisplayName");
  f.actor.type = "User";
  f.user_id = f.actor.id;
  f.user_upn = f.actor.upn;
}

void pim_alert_facts(element r, Facts& f) {
  f.family = Facts::Family::pim_alert;
  if (const auto a = json::child(r, "isActive"); a && a->is_bool()) f.alert_active = a->get_bool().value_unsafe();
  if (const auto n = json::child(r, "incidentCount"); n && n->is_int64()) f.alert_incidents = n->get_int64().value_unsafe();
  if (const auto d = json::child(r, "alertDefinition"); d && d->is_object()) {
    f.operation = json::child_text(*d, "displayName");
    f.alert_severity = json::child_text(*d, "severityLevel");
  }
  if (f.operation.empty()) f.operation = json::child_text(r, "alertDefinitionId");
  const auto incidents = json::child(r, "alertIncidents");
  if (!incidents || !incidents->is_array()) return;
  for (const element inc : json::as_array(*incidents)) {
    if (!inc.is_object()) continue;
    PrincipalRef p;
    p.id = json::child_text(inc, "assigneeId");
    p.upn = json::child_text(inc, "assigneeUserPrincipalName");
    p.name = json::child_text(inc, "assigneeDisplayName");
    if (!p.id.empty() || !p.upn.empty()) f.targets.push_back(std::move(p));
    RoleMention m{json::child_text(inc, "roleTemplateId"), json::child_text(inc, "roleDisplayName")};
    if ((!m.id.empty() || !m.name.empty()) && std::find(f.roles.begin(), f.roles.end(), m) == f.roles.end())
      f.roles.push_back(std::move(m));
  }
}

}  // namespace siem
