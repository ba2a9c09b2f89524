// Role assignments in Entra ID (directory audit, PIM audit, Graph and ARM PIM requests).
#include "connector/enrichment/rules/rules.h"

#include <fmt/format.h>

#include "connector/enrichment/rules/rule_util.h"

namespace siem::rules {

void role_assigned(const RuleContext& c, std::vector<RuleHit>& out) {
  if (!is_role_add(c.facts) || c.privileged_roles.empty()) return;
  const int tier = best_tier(c);
  out.push_back({"pa.role.assigned", tier == 0 ? 8 : 6,
                 fmt::format("{} was given {} by {}", target_label(c.facts), role_names(c), actor_label(c.facts))});
}

void assigned_outside_pim(const RuleContext& c, std::vector<RuleHit>& out) {
  const auto& f = c.facts;
  if (!is_role_add(f) || c.privileged_roles.empty() || f.family != Facts::Family::audit) return;
  const bool explicit_outside = icontains(f.operation, "outside of PIM");
  const bool direct = iequals(f.operation, "Add member to role") && !is_pim_service(f);
  if (!explicit_outside && !direct) return;
  out.push_back({"pa.role.assigned_outside_pim", 8,
                 fmt::format("{} was made an active {} directly, not through PIM", target_label(f), role_names(c))});
}

void permanent(const RuleContext& c, std::vector<RuleHit>& out) {
  const auto& f = c.facts;
  if (!is_role_add(f) || c.privileged_roles.empty()) return;
  bool permanent = false;
  if (f.family == Facts::Family::pim_request) permanent = f.no_expiration;
  else permanent = icontains(f.operation, "(permanent)") || (iequals(f.operation, "Add member to role") && !is_pim_service(f));
  if (!permanent) return;
  out.push_back({"pa.role.permanent", 6, fmt::format("{} holds {} with no end date", target_label(f), role_names(c))});
}

void removed(const RuleContext& c, std::vector<RuleHit>& out) {
  if (!is_role_remove(c.facts) || c.privileged_roles.empty()) return;
  out.push_back({"pa.role.removed", 3, fmt::format("{} left {}", target_label(c.facts), role_names(c))});
}

}  // namespace siem::rules
