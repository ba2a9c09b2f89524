// Role assignments in Entra ID (directory audit, PIM audit, Graph and ARM PIM requests).
#include "connector/enrichment/rules/rules.h"

#include <fmt/format.h>

#include "connector/enrichment/rules/rule_util.h"

namespace siem::rules {

namespace {
// Who got or lost the roles: the member of a group membership change, else the record's target.
std::string assignee(const RuleContext& c) {
  return c.group_change ? principal_label(*c.group_change->member) : target_label(c.facts);
}
// A member added to a group holding roles by someone other than PIM (PIM for Groups adds members
// through its own service principal, MS-PIM): a permanent membership outside PIM.
bool group_add_outside_pim(const RuleContext& c) {
  return c.group_change && c.group_change->added && !is_pim_service(c.facts);
}
}  // namespace

void role_assigned(const RuleContext& c, std::vector<RuleHit>& out) {
  if (!role_added(c) || c.privileged_roles.empty()) return;
  const int tier = best_tier(c);
  out.push_back({"pa.role.assigned", tier == 0 ? 8 : 6,
                 fmt::format("{} was given {}{} by {}", assignee(c), role_names(c), via_group(c), actor_label(c.facts))});
}

void assigned_outside_pim(const RuleContext& c, std::vector<RuleHit>& out) {
  const auto& f = c.facts;
  if (!role_added(c) || c.privileged_roles.empty() || f.family != Facts::Family::audit) return;
  const bool explicit_outside = icontains(f.operation, "outside of PIM");
  const bool direct = (iequals(operation_name(f), "Add member to role") && !is_pim_service(f)) || group_add_outside_pim(c);
  if (!explicit_outside && !direct) return;
  if (c.group_change)  // a membership written directly, not a PIM for Groups assignment
    out.push_back({"pa.role.assigned_outside_pim", 8,
                   fmt::format("{} was made an active {}{} by a membership not made through PIM", assignee(c), role_names(c),
                               via_group(c))});
  else
    out.push_back({"pa.role.assigned_outside_pim", 8,
                   fmt::format("{} was made an active {} directly, not through PIM", target_label(f), role_names(c))});
}

void permanent(const RuleContext& c, std::vector<RuleHit>& out) {
  const auto& f = c.facts;
  if (!role_added(c) || c.privileged_roles.empty()) return;
  bool permanent = false;
  if (f.family == Facts::Family::pim_request) permanent = f.no_expiration;
  else permanent = icontains(f.operation, "(permanent)") || (iequals(operation_name(f), "Add member to role") && !is_pim_service(f)) ||
                   group_add_outside_pim(c);
  if (!permanent) return;
  out.push_back({"pa.role.permanent", 6, fmt::format("{} holds {}{} with no end date", assignee(c), role_names(c), via_group(c))});
}

void removed(const RuleContext& c, std::vector<RuleHit>& out) {
  if (!role_removed(c) || c.privileged_roles.empty()) return;
  out.push_back({"pa.role.removed", 3, fmt::format("{} left {}{}", assignee(c), role_names(c), via_group(c))});
}

}  // namespace siem::rules
