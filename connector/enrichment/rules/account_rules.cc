// Privileged accounts themselves: external holders, credential changes, brand-new admins.
#include "connector/enrichment/rules/rules.h"

#include <fmt/format.h>

#include "connector/enrichment/rules/rule_util.h"

namespace siem::rules {

void external_admin(const RuleContext& c, std::vector<RuleHit>& out) {
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

void credential_change(const RuleContext& c, std::vector<RuleHit>& out) {
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
    if (!k.empty() && (c.roster.contains(k, c.now_ms) || is_break_glass(c.settings, k))) {
      out.push_back({"pa.account.credential_change", 6, fmt::format("'{}' on privileged account {}", f.operation, k)});
      return;
    }
  }
}

void new_admin(const RuleContext& c, std::vector<RuleHit>& out) {
  const auto& f = c.facts;
  if (!is_role_add(f) || c.privileged_roles.empty()) return;
  for (const auto& t : f.targets) {
    for (const std::string& k : {std::cref(t.id), std::cref(t.upn)}) {
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

}  // namespace siem::rules
