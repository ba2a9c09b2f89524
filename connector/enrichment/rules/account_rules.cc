// Privileged accounts themselves: external holders, credential changes, brand-new admins.
#include "connector/enrichment/rules/rules.h"

#include <cstdint>
#include <optional>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "connector/enrichment/rules/rule_util.h"

namespace siem::rules {

void external_admin(const RuleContext& c, std::vector<RuleHit>& out) {
  const auto& f = c.facts;
  if (!role_added(c) || c.privileged_roles.empty()) return;
  for (const auto& t : f.targets) {
    if (is_guest_or_external(t, c.settings)) {
      out.push_back({"pa.account.external_admin", 9,
                     fmt::format("{} went to guest/external account {}", role_names(c), t.upn.empty() ? t.id : t.upn)});
      return;
    }
  }
}

namespace {
// The privileged account an account-level audit is about: a target on the roster (or a
// break-glass account), else the actor when the record names no target (self-service).
std::string privileged_subject(const RuleContext& c) {
  const auto& f = c.facts;
  for (const auto& t : f.targets)
    if (auto k = privileged_key(c, t); !k.empty()) return k;
  return f.targets.empty() ? privileged_key(c, f.actor) : std::string();
}
}  // namespace

void credential_change(const RuleContext& c, std::vector<RuleHit>& out) {
  const auto& f = c.facts;
  if (!is_audit_success(f)) return;
  bool credential = op_in(f, kCredentialOps);
  if (!credential && iequals(f.operation, "Update user")) {
    for (const auto& p : f.modified_properties)
      if (icontains(p.name, "StrongAuthentication") || icontains(p.name, "PasswordProfile") ||
          icontains(p.name, "SearchableDeviceKey"))
        credential = true;
  }
  if (!credential) return;
  if (const auto k = privileged_subject(c); !k.empty())
    out.push_back({"pa.account.credential_change", 6, fmt::format("'{}' on privileged account {}", f.operation, k)});
}

namespace {
// The MethodType numbers of a StrongAuthenticationMethod value ([{"MethodType":6,"Default":true},...]);
// nullopt when it is not such a list.
std::optional<std::set<std::int64_t>> method_types(const std::string& value) {
  const auto doc = nlohmann::json::parse(value, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_array()) return std::nullopt;
  std::set<std::int64_t> types;
  for (const auto& m : doc) {
    if (!m.is_object()) return std::nullopt;
    for (const auto& [key, v] : m.items())
      if (iequals(key, "MethodType") && v.is_number_integer()) types.insert(v.get<std::int64_t>());
  }
  return types;
}

// A registered strong authentication method that the new StrongAuthenticationMethod list no longer
// holds (a method deleted; a change of the default method keeps every type).
bool method_deleted(const ModifiedProperty& p) {
  if (!iequals(p.name, "StrongAuthenticationMethod") || empty_value(p.old_value) || empty_value(p.new_value)) return false;
  const auto before = method_types(p.old_value), after = method_types(p.new_value);
  return before && after && !std::includes(after->begin(), after->end(), before->begin(), before->end());
}
}  // namespace

void mfa_removed(const RuleContext& c, std::vector<RuleHit>& out) {
  const auto& f = c.facts;
  if (!is_audit_success(f)) return;
  bool removed = op_in(f, kMfaRemovalOps);
  const bool update = !removed && iequals(f.operation, "Update user");
  if (!removed && !update) return;
  // The account first: the method lists below are JSON parsed only for a privileged one.
  const auto k = privileged_subject(c);
  if (k.empty()) return;
  if (update) {
    // A StrongAuthentication* property (methods, requirements, phone app details) that had a value
    // and now has none: MFA was switched off or its methods cleared; or a method of the list deleted.
    for (const auto& p : f.modified_properties)
      if ((istarts_with(p.name, "StrongAuthentication") && empty_value(p.new_value) && !empty_value(p.old_value)) ||
          method_deleted(p)) {
        removed = true;
        break;
      }
  }
  if (removed)
    out.push_back({"pa.account.mfa_removed", 8, fmt::format("'{}' removed strong authentication of privileged account {}", f.operation, k)});
}

void new_admin(const RuleContext& c, std::vector<RuleHit>& out) {
  const auto& f = c.facts;
  if (!role_added(c) || c.privileged_roles.empty()) return;
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
