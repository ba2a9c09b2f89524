// Alerts Microsoft already computes: PIM alerts and Identity Protection risk on a privileged principal.
#include "connector/enrichment/rules/rules.h"

#include <fmt/format.h>

#include "connector/enrichment/rules/rule_util.h"

namespace siem::rules {

void pim_alert(const RuleContext& c, std::vector<RuleHit>& out) {
  const auto& f = c.facts;
  // A resolved alert (isActive false) is still an event, but no longer a lead.
  if (f.family != Facts::Family::pim_alert || !f.alert_active) return;
  // The alert definition's own severity moves the default: high 8, medium 7, low 5.
  const int severity = iequals(f.alert_severity, "high") ? 8 : iequals(f.alert_severity, "low") ? 5 : 7;
  out.push_back({"pa.pim.alert", severity,
                 fmt::format("PIM alert '{}' is active with {} incident(s){}", f.operation, f.alert_incidents,
                             f.alert_severity.empty() ? std::string() : " (severity " + f.alert_severity + ")")});
}

void risk_privileged(const RuleContext& c, std::vector<RuleHit>& out) {
  const auto& f = c.facts;
  if (f.family != Facts::Family::risk) return;
  const bool compromised = iequals(f.risk_state, "confirmedCompromised");
  // A risk an administrator or Identity Protection already closed is no longer a lead, whatever its level.
  if (!compromised && !f.risk_state.empty() && any_iequal(c.settings.resolved_risk_states, f.risk_state)) return;
  if (!compromised && !iequals(f.risk_state, "atRisk") && !iequals(f.risk_level, "high")) return;
  const std::string key = privileged_key(c, f.actor);
  if (key.empty()) return;
  out.push_back({"pa.risk.privileged", compromised ? 10 : 9,
                 fmt::format("{} risk '{}' on privileged {} {} (riskState {})", f.risk_level.empty() ? "unrated" : f.risk_level,
                             f.risk_event_type, f.actor.type == "ServicePrincipal" ? "service principal" : "account", key,
                             f.risk_state.empty() ? "none" : f.risk_state)});
}

}  // namespace siem::rules
