// Facts of the Identity Protection risk detection and PIM alert kinds (facts.h), kept apart from
// the log kinds' extraction in facts.cc.
#pragma once

#include <simdjson.h>

#include "connector/enrichment/facts.h"

namespace siem {

// riskDetection / servicePrincipalRiskDetection: family risk; the principal in `actor` (and
// user_id / user_upn for a user), riskState, riskLevel, riskEventType (also the operation).
void risk_detection_facts(simdjson::dom::element record, Facts& f);
// unifiedRoleManagementAlert with its alertDefinition and alertIncidents expanded: family
// pim_alert; isActive, incidentCount, the definition's name (operation) and severityLevel; each
// incident's assignee as a target and its role (roleTemplateId / roleDisplayName) as a role.
void pim_alert_facts(simdjson::dom::element record, Facts& f);

}  // namespace siem
