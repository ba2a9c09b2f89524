// Tenant-wide controls: federation, Conditional Access, authentication methods and identity providers.
#include "connector/enrichment/rules/rules.h"

#include <fmt/format.h>

#include "connector/enrichment/rules/rule_util.h"

namespace siem::rules {

void federation_change(const RuleContext& c, std::vector<RuleHit>& out) {
  const auto& f = c.facts;
  if (!is_audit_success(f) || !op_in(f, kFederationOps)) return;  // a failed attempt changed nothing
  if (iequals(operation_name(f), "Update domain") || iequals(operation_name(f), "Set Company Information")) {
    bool relevant = false;
    for (const auto& p : f.modified_properties)
      if (icontains(p.name, "Authentication") || icontains(p.name, "Federat") || icontains(p.name, "PasswordSync") ||
          icontains(p.name, "DirSync") || icontains(p.name, "LiveType"))
        relevant = true;
    if (!relevant) return;
  }
  if (iequals(operation_name(f), "Add unverified domain")) return;
  out.push_back({"pa.tenant.federation_change", 9, fmt::format("'{}' by {}", f.operation, actor_label(f))});
}

void conditional_access_change(const RuleContext& c, std::vector<RuleHit>& out) {
  const auto& f = c.facts;
  if (!is_audit_success(f)) return;  // a failed attempt changed nothing
  if (!icontains(f.operation, "conditional access policy")) return;
  if (!(istarts_with(operation_name(f), "Add") || istarts_with(operation_name(f), "Update") || istarts_with(operation_name(f), "Delete")))
    return;
  out.push_back({"pa.tenant.conditional_access_change", 7, fmt::format("'{}' by {}", f.operation, actor_label(f))});
}

namespace {

// An audit that only reads (never written for these policies today, but cheap to rule out).
bool read_only(std::string_view op) {
  return istarts_with(op, "Get") || istarts_with(op, "List") || istarts_with(op, "Read");
}

// An external identity provider or external authentication method (OIDC): a new place that may
// vouch for the tenant's users, as much as a federation change.
bool names_external_provider(const Facts& f) {
  if (icontains(f.operation, "identity provider")) return true;
  for (const auto& p : f.modified_properties)
    for (const std::string& s : {std::cref(p.name), std::cref(p.new_value)})
      if (icontains(s, "externalAuthenticationMethod") || icontains(s, "openIdConnect") || icontains(s, "discoveryUrl"))
        return true;
  return false;
}

}  // namespace

void auth_policy_change(const RuleContext& c, std::vector<RuleHit>& out) {
  const auto& f = c.facts;
  if (!is_audit_success(f)) return;
  const std::string_view op = operation_name(f);
  // "Authentication Methods Policy Update" / "… Reset", "Update a partner cross-tenant access
  // setting", "Add identity provider", security defaults. (Lower-cased once, then plain finds:
  // this runs for every audit.)
  const json::LowerKey lower_op(op);
  const std::string_view l = lower_op.view();
  const auto has = [l](std::string_view needle) { return l.find(needle) != std::string_view::npos; };
  const bool auth_methods = has("authentication method") && has("polic");
  if (!(auth_methods || has("cross-tenant access") || has("identity provider") || has("security defaults")) || read_only(op))
    return;
  // Azure AD B2C logs "Federate with an identity provider" for each user sign-in through a
  // federated provider: an authentication, not a change to the tenant's policy.
  if (has("federate with an identity provider")) return;
  const bool external = names_external_provider(f) && !istarts_with(op, "Delete") && !istarts_with(op, "Remove");
  out.push_back({"pa.tenant.auth_policy_change", external ? 9 : 7,
                 fmt::format("'{}' by {}{}", f.operation, actor_label(f), external ? " (external identity provider)" : "")});
}

}  // namespace siem::rules
