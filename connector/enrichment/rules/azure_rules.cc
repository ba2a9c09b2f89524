// Azure RBAC (Activity Log): privileged role assignments, their removal, subscription ownership,
// elevated access (also from its Entra audit record).
#include "connector/enrichment/rules/rules.h"

#include <fmt/format.h>

#include "connector/enrichment/rules/rule_util.h"

namespace siem::rules {

static bool is_azure_role_assignment_op(const Facts& f, std::string_view verb) {
  return f.family == Facts::Family::activity && f.success && !f.in_progress && icontains(f.operation, "Microsoft.Authorization/roleAssignments/") &&
         icontains(f.operation, verb);
}

static bool azure_privileged_role(const RuleContext& c) {
  auto id = RoleTable::canonical_id(c.facts.arm_role_definition_id);
  return id && any_iequal(c.settings.azure_privileged_roles, *id);
}

void azure_privileged_role_assignment(const RuleContext& c, std::vector<RuleHit>& out) {
  const auto& f = c.facts;
  if (!is_azure_role_assignment_op(f, "/write") || !f.success || !azure_privileged_role(c)) return;
  const bool broad = f.scope_level == "management_group" || f.scope_level == "subscription" || f.scope_level == "tenant";
  const auto* role = c.roles.by_id(f.arm_role_definition_id);
  out.push_back({"pa.azure.privileged_role_assignment", broad ? 9 : 7,
                 fmt::format("{} assigned at {} scope {}", role ? role->name : f.arm_role_definition_id,
                             f.scope_level.empty() ? "unknown" : f.scope_level, f.arm_scope)});
}

void azure_role_assignment_removed(const RuleContext& c, std::vector<RuleHit>& out) {
  const auto& f = c.facts;
  if (!is_azure_role_assignment_op(f, "/delete") || !f.success || !azure_privileged_role(c)) return;
  const auto* role = c.roles.by_id(f.arm_role_definition_id);
  out.push_back({"pa.azure.role_assignment_removed", 3,
                 fmt::format("{} assignment removed at {}", role ? role->name : f.arm_role_definition_id, f.arm_scope)});
}

void subscription_ownership(const RuleContext& c, std::vector<RuleHit>& out) {
  const auto& f = c.facts;
  if (f.family != Facts::Family::activity || !f.success || f.in_progress) return;
  const auto& op = f.operation;
  const bool ownership =
      (icontains(op, "Microsoft.Subscription/") &&
       (icontains(op, "acceptOwnership") || icontains(op, "changeTenant") || icontains(op, "/transfer"))) ||
      (icontains(op, "Microsoft.Billing/") &&
       (icontains(op, "transfer") || icontains(op, "billingSubscriptions/move") || icontains(op, "changeBillingOwner") ||
        icontains(op, "billingSubscriptions/write")));
  if (!ownership) return;
  out.push_back({"pa.azure.subscription_ownership", 8, fmt::format("subscription ownership operation '{}' by {}", op, actor_label(f))});
}

void elevate_access(const RuleContext& c, std::vector<RuleHit>& out) {
  const auto& f = c.facts;
  if (!f.success) return;
  if (f.family == Facts::Family::audit) {
    if (!icontains(f.operation, "elevated their access to User Access Administrator")) return;
  } else if (f.family != Facts::Family::activity || f.in_progress ||
             !icontains(f.operation, "Microsoft.Authorization/elevateAccess/action")) {
    return;
  }
  out.push_back({"pa.azure.elevate_access", 9,
                 fmt::format("{} elevated to User Access Administrator at root scope (every subscription)", actor_label(f))});
}

}  // namespace siem::rules
