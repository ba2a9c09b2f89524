#include "connector/enrichment/detections.h"

#include "connector/enrichment/rules/rules.h"
#include "connector/mapping/json_access.h"

namespace siem {

using json::icontains;
using json::iequals;
using json::istarts_with;

bool is_pim_service(const Facts& f) {
  return iequals(f.logged_by_service, "PIM") || iequals(f.actor_app, "MS-PIM") ||
         iequals(f.actor.name, "MS-PIM") || iequals(f.actor.name, "Azure AD PIM") ||
         icontains(f.actor_app, "Privileged Identity Management");
}

bool is_pim_activation(const Facts& f) {
  if (!f.success) return false;
  if (f.family == Facts::Family::pim_request)
    return iequals(f.pim_action, "selfActivate") || iequals(f.pim_action, "SelfActivate");
  if (f.family != Facts::Family::audit) return false;
  return icontains(f.operation, "(PIM activation)") && istarts_with(f.operation, "Add member to role") &&
         !icontains(f.operation, "requested") && !icontains(f.operation, "canceled") && !icontains(f.operation, "expired");
}

bool is_role_add(const Facts& f) {
  if (!f.success) return false;
  if (f.family == Facts::Family::pim_request) {
    return iequals(f.pim_action, "adminAssign") || iequals(f.pim_action, "AdminAssign") ||
           iequals(f.pim_action, "adminExtend") || iequals(f.pim_action, "adminRenew");
  }
  if (f.family != Facts::Family::audit) return false;
  const auto& op = f.operation;
  if (!istarts_with(op, "Add") || !icontains(op, "to role")) return false;
  if (icontains(op, "requested") || icontains(op, "canceled") || icontains(op, "expired") ||
      icontains(op, "(PIM activation)") || icontains(op, "denied"))
    return false;
  return true;
}

bool is_role_remove(const Facts& f) {
  if (!f.success) return false;
  if (f.family == Facts::Family::pim_request) return iequals(f.pim_action, "adminRemove") || iequals(f.pim_action, "AdminRemove");
  if (f.family != Facts::Family::audit) return false;
  const auto& op = f.operation;
  if (icontains(op, "requested") || icontains(op, "canceled")) return false;
  return (istarts_with(op, "Remove") && icontains(op, "from role")) ||
         iequals(op, "Remove permanent direct role assignment") || iequals(op, "Remove permanent eligible role assignment");
}

bool is_pim_deactivation(const Facts& f) {
  if (!f.success) return false;
  if (f.family == Facts::Family::pim_request) return iequals(f.pim_action, "selfDeactivate");
  if (f.family != Facts::Family::audit) return false;
  const auto& op = f.operation;
  return istarts_with(op, "Remove member from role") && !icontains(op, "requested") &&
         (icontains(op, "(PIM deactivate)") || icontains(op, "(PIM activation expired)"));
}

const std::vector<DetectionEntry>& detection_catalogue() {
  static const std::vector<DetectionEntry> catalogue = {
      {"pa.role.assigned", 6, rules::role_assigned},
      {"pa.role.assigned_outside_pim", 8, rules::assigned_outside_pim},
      {"pa.role.permanent", 6, rules::permanent},
      {"pa.role.removed", 3, rules::removed},
      {"pa.pim.activation", 5, rules::pim_activation},
      {"pa.pim.no_justification", 7, rules::pim_no_justification},
      {"pa.pim.long_activation", 6, rules::pim_long_activation},
      {"pa.breakglass.signin", 10, rules::breakglass_signin},
      {"pa.breakglass.activity", 9, rules::breakglass_activity},
      {"pa.signin.privileged", 3, rules::signin_privileged},
      {"pa.signin.no_mfa", 8, rules::signin_no_mfa},
      {"pa.signin.legacy_auth", 8, rules::signin_legacy_auth},
      {"pa.signin.unmanaged_device", 6, rules::signin_unmanaged_device},
      {"pa.signin.nonadmin_app", 5, rules::signin_nonadmin_app},
      {"pa.signin.risky", 8, rules::signin_risky},
      {"pa.account.external_admin", 9, rules::external_admin},
      {"pa.account.credential_change", 6, rules::credential_change},
      {"pa.account.new_admin", 8, rules::new_admin},
      {"pa.tenant.federation_change", 9, rules::federation_change},
      {"pa.tenant.conditional_access_change", 7, rules::conditional_access_change},
      {"pa.app.privileged_permission", 8, rules::app_privileged_permission},
      {"pa.azure.privileged_role_assignment", 7, rules::azure_privileged_role_assignment},
      {"pa.azure.role_assignment_removed", 3, rules::azure_role_assignment_removed},
      {"pa.azure.subscription_ownership", 8, rules::subscription_ownership},
  };
  return catalogue;
}

}  // namespace siem
