// Tenant-wide controls: federation, Conditional Access, privileged application permissions.
#include "connector/enrichment/rules/rules.h"

#include <fmt/format.h>

#include "connector/enrichment/rules/rule_util.h"

namespace siem::rules {

void federation_change(const RuleContext& c, std::vector<RuleHit>& out) {
  const auto& f = c.facts;
  if (f.family != Facts::Family::audit || !op_in(f, kFederationOps)) return;
  if (iequals(f.operation, "Update domain") || iequals(f.operation, "Set Company Information")) {
    bool relevant = false;
    for (const auto& p : f.modified_properties)
      if (icontains(p, "Authentication") || icontains(p, "Federat") || icontains(p, "PasswordSync") ||
          icontains(p, "DirSync") || icontains(p, "LiveType"))
        relevant = true;
    if (!relevant) return;
  }
  if (iequals(f.operation, "Add unverified domain")) return;
  out.push_back({"pa.tenant.federation_change", 9, fmt::format("'{}' by {}", f.operation, actor_label(f))});
}

void conditional_access_change(const RuleContext& c, std::vector<RuleHit>& out) {
  const auto& f = c.facts;
  if (f.family != Facts::Family::audit) return;
  if (!icontains(f.operation, "conditional access policy")) return;
  if (!(istarts_with(f.operation, "Add") || istarts_with(f.operation, "Update") || istarts_with(f.operation, "Delete")))
    return;
  out.push_back({"pa.tenant.conditional_access_change", 7, fmt::format("'{}' by {}", f.operation, actor_label(f))});
}

void app_privileged_permission(const RuleContext& c, std::vector<RuleHit>& out) {
  const auto& f = c.facts;
  if (f.family != Facts::Family::audit || !f.success) return;
  if (icontains(f.operation, "app role assignment") && istarts_with(f.operation, "Add")) {
    if (!f.app_role_value.empty() && any_iequal(c.settings.privileged_app_roles, f.app_role_value)) {
      out.push_back({"pa.app.privileged_permission", 8,
                     fmt::format("application granted {} ({})", f.app_role_value, target_label(f))});
    }
    return;
  }
  if (is_role_add(f) && !c.privileged_roles.empty()) {
    for (const auto& t : f.targets) {
      if (iequals(t.type, "ServicePrincipal") || iequals(t.type, "Application")) {
        out.push_back({"pa.app.privileged_permission", 8,
                       fmt::format("service principal {} was given {}", t.name.empty() ? t.id : t.name, role_names(c))});
        return;
      }
    }
  }
}

}  // namespace siem::rules
