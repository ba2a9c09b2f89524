#include "connector/enrichment/detections.h"

#include <algorithm>

#include <fmt/format.h>

#include "connector/mapping/json_access.h"

namespace siem {

using json::icontains;
using json::iequals;
using json::istarts_with;

namespace {

bool any_iequal(const std::vector<std::string>& list, std::string_view v) {
  return std::any_of(list.begin(), list.end(), [&](const std::string& x) { return iequals(x, v); });
}

std::string lower(std::string_view s) { return json::to_lower(s); }

int best_tier(const RuleContext& c) {
  int t = 3;
  for (const auto* r : c.privileged_roles) t = std::min(t, r->tier);
  return t;
}

std::string role_names(const RuleContext& c) {
  std::string out;
  for (const auto* r : c.privileged_roles) {
    if (out.find(r->name) != std::string::npos) continue;
    if (!out.empty()) out += ", ";
    out += r->name;
  }
  return out;
}

std::string target_label(const Facts& f) {
  for (const auto& t : f.targets) {
    if (!t.upn.empty()) return t.upn;
    if (!t.name.empty()) return t.name;
    if (!t.id.empty()) return t.id;
  }
  return "a principal";
}

std::string actor_label(const Facts& f) {
  if (!f.actor.upn.empty()) return f.actor.upn;
  if (!f.actor_app.empty()) return f.actor_app;
  if (!f.actor.id.empty()) return f.actor.id;
  return f.caller.empty() ? "someone" : f.caller;
}

bool is_sign_in(const Facts& f) { return f.family == Facts::Family::sign_in; }

// Sign-in by a principal on the roster (or a break-glass account, which is privileged by design).
bool privileged_sign_in(const RuleContext& c) {
  if (!is_sign_in(c.facts)) return false;
  return c.roster.contains(c.facts.user_upn) || c.roster.contains(c.facts.user_id) ||
         c.settings.break_glass.count(lower(c.facts.user_upn)) || c.settings.break_glass.count(lower(c.facts.user_id));
}

bool is_guest_or_external(const PrincipalRef& p, const EnrichmentSettings& s) {
  if (icontains(p.upn, "#EXT#") || iequals(p.user_type, "Guest")) return true;
  const auto at = p.upn.rfind('@');
  if (at != std::string::npos) {
    const auto domain = std::string_view(p.upn).substr(at + 1);
    if (any_iequal(s.personal_domains, domain)) return true;
  }
  return false;
}

const std::vector<std::string_view> kCredentialOps = {
    "reset user password", "change user password", "reset password (by admin)", "change password (self-service)",
    "reset password (self-service)", "user registered security info", "user registered all required security info",
    "admin registered security info", "user changed default security info", "user deleted security info",
    "admin deleted security info", "update user authentication method", "admin updated security info",
    "register security info", "user started security info registration"};

const std::vector<std::string_view> kFederationOps = {
    "set domain authentication", "set federation settings on domain", "set dirsyncenabled flag",
    "set dirsync feature", "set password hash sync", "update domain", "add unverified domain",
    "set company information", "enable password hash sync", "disable password hash sync"};

bool op_in(const Facts& f, const std::vector<std::string_view>& ops) {
  return std::any_of(ops.begin(), ops.end(), [&](std::string_view o) { return iequals(f.operation, o); });
}

}  // namespace

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
         !icontains(f.operation, "canceled") && !icontains(f.operation, "expired");
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

namespace {

// ---- the rules -------------------------------------------------------------------------------

void rule_role_assigned(const RuleContext& c, std::vector<RuleHit>& out) {
  if (!is_role_add(c.facts) || c.privileged_roles.empty()) return;
  const int tier = best_tier(c);
  out.push_back({"pa.role.assigned", tier == 0 ? 8 : 6,
                 fmt::format("{} was given {} by {}", target_label(c.facts), role_names(c), actor_label(c.facts))});
}

void rule_assigned_outside_pim(const RuleContext& c, std::vector<RuleHit>& out) {
  const auto& f = c.facts;
  if (!is_role_add(f) || c.privileged_roles.empty() || f.family != Facts::Family::audit) return;
  const bool explicit_outside = icontains(f.operation, "outside of PIM");
  const bool direct = iequals(f.operation, "Add member to role") && !is_pim_service(f);
  if (!explicit_outside && !direct) return;
  out.push_back({"pa.role.assigned_outside_pim", 8,
                 fmt::format("{} was made an active {} directly, not through PIM", target_label(f), role_names(c))});
}

void rule_permanent(const RuleContext& c, std::vector<RuleHit>& out) {
  const auto& f = c.facts;
  if (!is_role_add(f) || c.privileged_roles.empty()) return;
  bool permanent = false;
  if (f.family == Facts::Family::pim_request) permanent = f.no_expiration;
  else permanent = icontains(f.operation, "(permanent)") || (iequals(f.operation, "Add member to role") && !is_pim_service(f));
  if (!permanent) return;
  out.push_back({"pa.role.permanent", 6, fmt::format("{} holds {} with no end date", target_label(f), role_names(c))});
}

void rule_removed(const RuleContext& c, std::vector<RuleHit>& out) {
  if (!is_role_remove(c.facts) || c.privileged_roles.empty()) return;
  out.push_back({"pa.role.removed", 3, fmt::format("{} left {}", target_label(c.facts), role_names(c))});
}

void rule_pim_activation(const RuleContext& c, std::vector<RuleHit>& out) {
  if (!is_pim_activation(c.facts)) return;
  const std::string roles = c.privileged_roles.empty() ? std::string("a role") : role_names(c);
  out.push_back({"pa.pim.activation", 5, fmt::format("{} activated {} through PIM", target_label(c.facts), roles)});
}

void rule_pim_no_justification(const RuleContext& c, std::vector<RuleHit>& out) {
  const auto& f = c.facts;
  if (!is_pim_activation(f) || !f.has_justification) return;
  std::string j = f.justification;
  j.erase(std::remove_if(j.begin(), j.end(), [](unsigned char ch) { return std::isspace(ch); }), j.end());
  if (j.size() >= c.settings.pim_min_justification_chars) return;
  out.push_back({"pa.pim.no_justification", 7,
                 fmt::format("activation justified with {} character(s), fewer than {}", j.size(),
                             c.settings.pim_min_justification_chars)});
}

void rule_pim_long_activation(const RuleContext& c, std::vector<RuleHit>& out) {
  const auto& f = c.facts;
  if (!is_pim_activation(f) || !f.duration_ms || *f.duration_ms <= c.settings.pim_max_activation_ms) return;
  out.push_back({"pa.pim.long_activation", 6,
                 fmt::format("activation for {:.1f} h, longer than the {:.1f} h maximum",
                             static_cast<double>(*f.duration_ms) / 3.6e6,
                             static_cast<double>(c.settings.pim_max_activation_ms) / 3.6e6)});
}

void rule_breakglass_signin(const RuleContext& c, std::vector<RuleHit>& out) {
  const auto& f = c.facts;
  if (!is_sign_in(f)) return;
  if (!c.settings.break_glass.count(lower(f.user_upn)) && !c.settings.break_glass.count(lower(f.user_id))) return;
  out.push_back({"pa.breakglass.signin", 10,
                 fmt::format("break-glass account {} signed in ({})", f.user_upn.empty() ? f.user_id : f.user_upn,
                             f.success ? "success" : fmt::format("failure {}", f.error_code))});
}

void rule_breakglass_activity(const RuleContext& c, std::vector<RuleHit>& out) {
  const auto& f = c.facts;
  if (is_sign_in(f) || f.family == Facts::Family::other || f.family == Facts::Family::pim_instance) return;
  for (const auto& k : {f.actor.upn, f.actor.id, f.caller}) {
    if (!k.empty() && c.settings.break_glass.count(lower(k))) {
      out.push_back({"pa.breakglass.activity", 9, fmt::format("break-glass account {} performed '{}'", k, f.operation)});
      return;
    }
  }
}

void rule_signin_privileged(const RuleContext& c, std::vector<RuleHit>& out) {
  if (!privileged_sign_in(c)) return;
  out.push_back({"pa.signin.privileged", 3, fmt::format("sign-in by privileged account {}", c.facts.user_upn)});
}

void rule_signin_no_mfa(const RuleContext& c, std::vector<RuleHit>& out) {
  const auto& f = c.facts;
  if (!privileged_sign_in(c) || !f.success) return;
  if (!iequals(f.auth_requirement, "singleFactorAuthentication") || f.mfa_step_succeeded) return;
  out.push_back({"pa.signin.no_mfa", 8, fmt::format("privileged account {} signed in with a single factor", f.user_upn)});
}

void rule_signin_legacy_auth(const RuleContext& c, std::vector<RuleHit>& out) {
  const auto& f = c.facts;
  if (!privileged_sign_in(c) || f.client_app.empty() || !any_iequal(c.settings.legacy_protocols, f.client_app)) return;
  out.push_back({"pa.signin.legacy_auth", 8, fmt::format("privileged account {} used legacy client '{}'", f.user_upn, f.client_app)});
}

void rule_signin_unmanaged_device(const RuleContext& c, std::vector<RuleHit>& out) {
  const auto& f = c.facts;
  if (!privileged_sign_in(c) || !f.success) return;
  if (f.device_compliant.value_or(false) || f.device_managed.value_or(false)) return;
  out.push_back({"pa.signin.unmanaged_device", 6,
                 fmt::format("privileged account {} signed in from a device that is neither compliant nor managed", f.user_upn)});
}

void rule_signin_nonadmin_app(const RuleContext& c, std::vector<RuleHit>& out) {
  const auto& f = c.facts;
  if (!privileged_sign_in(c) || f.app_name.empty() || !any_iequal(c.settings.everyday_apps, f.app_name)) return;
  out.push_back({"pa.signin.nonadmin_app", 5,
                 fmt::format("privileged account {} signed in to everyday app '{}'", f.user_upn, f.app_name)});
}

void rule_signin_risky(const RuleContext& c, std::vector<RuleHit>& out) {
  const auto& f = c.facts;
  if (!privileged_sign_in(c)) return;
  for (const auto& level : {f.risk_during, f.risk_aggregated}) {
    if (iequals(level, "medium") || iequals(level, "high")) {
      out.push_back({"pa.signin.risky", 8, fmt::format("privileged sign-in by {} at {} risk", f.user_upn, level)});
      return;
    }
  }
}

void rule_external_admin(const RuleContext& c, std::vector<RuleHit>& out) {
  const auto& f = c.facts;
  if (!is_role_add(f) || c.privileged_roles.empty()) return;
  for (const auto& t : f.targets) {
    if (is_guest_or_external(t, c.settings)) {
      out.push_back({"pa.account.external_admin", 9,
                     fmt::format("{} went to guest/external account {}", role_names(c), t.upn.empty() ? t.id : t.upn)});
      return;
    }
  }
}

void rule_credential_change(const RuleContext& c, std::vector<RuleHit>& out) {
  const auto& f = c.facts;
  if (f.family != Facts::Family::audit || !f.success) return;
  bool credential = op_in(f, kCredentialOps);
  if (!credential && iequals(f.operation, "Update user")) {
    for (const auto& p : f.modified_properties)
      if (icontains(p, "StrongAuthentication") || icontains(p, "PasswordProfile") || icontains(p, "SearchableDeviceKey"))
        credential = true;
  }
  if (!credential) return;
  std::vector<std::string> keys;
  for (const auto& t : f.targets) keys.insert(keys.end(), {t.upn, t.id});
  if (f.targets.empty()) keys.insert(keys.end(), {f.actor.upn, f.actor.id});
  for (const auto& k : keys) {
    if (!k.empty() && (c.roster.contains(k) || c.settings.break_glass.count(lower(k)))) {
      out.push_back({"pa.account.credential_change", 6, fmt::format("'{}' on privileged account {}", f.operation, k)});
      return;
    }
  }
}

void rule_new_admin(const RuleContext& c, std::vector<RuleHit>& out) {
  const auto& f = c.facts;
  if (!is_role_add(f) || c.privileged_roles.empty()) return;
  for (const auto& t : f.targets) {
    for (const auto& k : {t.id, t.upn}) {
      if (k.empty()) continue;
      auto it = c.account_created_ms.find(lower(k));
      if (it != c.account_created_ms.end() && c.now_ms - it->second <= c.settings.new_account_window_ms) {
        out.push_back({"pa.account.new_admin", 8,
                       fmt::format("{} received {} {:.1f} h after the account was created", k, role_names(c),
                                   static_cast<double>(c.now_ms - it->second) / 3.6e6)});
        return;
      }
    }
  }
}

void rule_federation_change(const RuleContext& c, std::vector<RuleHit>& out) {
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

void rule_conditional_access_change(const RuleContext& c, std::vector<RuleHit>& out) {
  const auto& f = c.facts;
  if (f.family != Facts::Family::audit) return;
  if (!icontains(f.operation, "conditional access policy")) return;
  if (!(istarts_with(f.operation, "Add") || istarts_with(f.operation, "Update") || istarts_with(f.operation, "Delete")))
    return;
  out.push_back({"pa.tenant.conditional_access_change", 7, fmt::format("'{}' by {}", f.operation, actor_label(f))});
}

void rule_app_privileged_permission(const RuleContext& c, std::vector<RuleHit>& out) {
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

bool is_azure_role_assignment_op(const Facts& f, std::string_view verb) {
  return f.family == Facts::Family::activity && icontains(f.operation, "Microsoft.Authorization/roleAssignments/") &&
         icontains(f.operation, verb);
}

bool azure_privileged_role(const RuleContext& c) {
  auto id = RoleTable::canonical_id(c.facts.arm_role_definition_id);
  return id && any_iequal(c.settings.azure_privileged_roles, *id);
}

void rule_azure_privileged_role_assignment(const RuleContext& c, std::vector<RuleHit>& out) {
  const auto& f = c.facts;
  if (!is_azure_role_assignment_op(f, "/write") || !f.success || !azure_privileged_role(c)) return;
  const bool broad = f.scope_level == "management_group" || f.scope_level == "subscription" || f.scope_level == "tenant";
  const auto* role = c.roles.by_id(f.arm_role_definition_id);
  out.push_back({"pa.azure.privileged_role_assignment", broad ? 9 : 7,
                 fmt::format("{} assigned at {} scope {}", role ? role->name : f.arm_role_definition_id,
                             f.scope_level.empty() ? "unknown" : f.scope_level, f.arm_scope)});
}

void rule_azure_role_assignment_removed(const RuleContext& c, std::vector<RuleHit>& out) {
  const auto& f = c.facts;
  if (!is_azure_role_assignment_op(f, "/delete") || !f.success || !azure_privileged_role(c)) return;
  const auto* role = c.roles.by_id(f.arm_role_definition_id);
  out.push_back({"pa.azure.role_assignment_removed", 3,
                 fmt::format("{} assignment removed at {}", role ? role->name : f.arm_role_definition_id, f.arm_scope)});
}

void rule_subscription_ownership(const RuleContext& c, std::vector<RuleHit>& out) {
  const auto& f = c.facts;
  if (f.family != Facts::Family::activity) return;
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

}  // namespace

const std::vector<DetectionEntry>& detection_catalogue() {
  static const std::vector<DetectionEntry> catalogue = {
      {"pa.role.assigned", 6, rule_role_assigned},
      {"pa.role.assigned_outside_pim", 8, rule_assigned_outside_pim},
      {"pa.role.permanent", 6, rule_permanent},
      {"pa.role.removed", 3, rule_removed},
      {"pa.pim.activation", 5, rule_pim_activation},
      {"pa.pim.no_justification", 7, rule_pim_no_justification},
      {"pa.pim.long_activation", 6, rule_pim_long_activation},
      {"pa.breakglass.signin", 10, rule_breakglass_signin},
      {"pa.breakglass.activity", 9, rule_breakglass_activity},
      {"pa.signin.privileged", 3, rule_signin_privileged},
      {"pa.signin.no_mfa", 8, rule_signin_no_mfa},
      {"pa.signin.legacy_auth", 8, rule_signin_legacy_auth},
      {"pa.signin.unmanaged_device", 6, rule_signin_unmanaged_device},
      {"pa.signin.nonadmin_app", 5, rule_signin_nonadmin_app},
      {"pa.signin.risky", 8, rule_signin_risky},
      {"pa.account.external_admin", 9, rule_external_admin},
      {"pa.account.credential_change", 6, rule_credential_change},
      {"pa.account.new_admin", 8, rule_new_admin},
      {"pa.tenant.federation_change", 9, rule_federation_change},
      {"pa.tenant.conditional_access_change", 7, rule_conditional_access_change},
      {"pa.app.privileged_permission", 8, rule_app_privileged_permission},
      {"pa.azure.privileged_role_assignment", 7, rule_azure_privileged_role_assignment},
      {"pa.azure.role_assignment_removed", 3, rule_azure_role_assignment_removed},
      {"pa.azure.subscription_ownership", 8, rule_subscription_ownership},
  };
  return catalogue;
}

}  // namespace siem
