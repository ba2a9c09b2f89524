// Helpers shared by the detection rules (internal to connector/enrichment/rules).
#pragma once

#include <algorithm>
#include <array>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "connector/enrichment/detections.h"
#include "connector/record/json_access.h"

namespace siem::rules {

using json::icontains;
using json::iequals;
using json::istarts_with;

inline bool any_iequal(const std::vector<std::string>& list, std::string_view v) {
  return std::any_of(list.begin(), list.end(), [&](const std::string& x) { return iequals(x, v); });
}

inline std::string lower(std::string_view s) { return json::to_lower(s); }

inline int best_tier(const RuleContext& c) {
  int t = 3;
  for (const auto* r : c.privileged_roles) t = std::min(t, r->tier);
  return t;
}

inline std::string role_names(const RuleContext& c) {
  std::string out;
  std::vector<std::string_view> seen;
  for (const auto* r : c.privileged_roles) {
    if (std::find(seen.begin(), seen.end(), r->name) != seen.end()) continue;
    seen.push_back(r->name);
    if (!out.empty()) out += ", ";
    out += r->name;
  }
  return out;
}

// A privileged role given / taken: directly (is_role_add / is_role_remove) or through a group
// holding it (a member added to / removed from the group).
inline bool role_added(const RuleContext& c) { return is_role_add(c.facts) || (c.group_change && c.group_change->added); }
inline bool role_removed(const RuleContext& c) { return is_role_remove(c.facts) || (c.group_change && !c.group_change->added); }

inline std::string principal_label(const PrincipalRef& t) {
  if (!t.upn.empty()) return t.upn;
  if (!t.name.empty()) return t.name;
  return t.id;
}

// " through group <name> (<id>)" for a group membership change, else empty.
inline std::string via_group(const RuleContext& c) {
  if (!c.group_change) return {};
  const auto& g = *c.group_change;
  return g.group_name.empty() ? " through group " + g.group_id : " through group " + g.group_name + " (" + g.group_id + ")";
}

inline std::string target_label(const Facts& f) {
  for (const auto& t : f.targets) {
    if (!t.upn.empty()) return t.upn;
    if (!t.name.empty()) return t.name;
    if (!t.id.empty()) return t.id;
  }
  return "a principal";
}

inline std::string actor_label(const Facts& f) {
  if (!f.actor.upn.empty()) return f.actor.upn;
  if (!f.actor_app.empty()) return f.actor_app;
  if (!f.actor.id.empty()) return f.actor.id;
  return f.caller.empty() ? "someone" : f.caller;
}

inline bool is_sign_in(const Facts& f) { return f.family == Facts::Family::sign_in; }

// Who signed in, for a reason: the user, or the service principal / managed identity.
inline const std::string& signin_label(const Facts& f) {
  if (!f.sp_sign_in) return f.user_upn.empty() ? f.user_id : f.user_upn;
  return !f.sp_name.empty() ? f.sp_name : !f.sp_id.empty() ? f.sp_id : f.app_id;
}

inline bool is_audit_success(const Facts& f) { return f.family == Facts::Family::audit && f.success; }

// The first modified property of that name (case-insensitive), or null.
inline const ModifiedProperty* property(const Facts& f, std::string_view name) {
  for (const auto& p : f.modified_properties)
    if (iequals(p.name, name)) return &p;
  return nullptr;
}

// A permission name or well-known id on the configured high-privilege list.
inline bool privileged_permission(const EnrichmentSettings& s, std::string_view permission) {
  return !permission.empty() && any_iequal(s.privileged_app_roles, permission);
}

// One of the configured break-glass accounts (compared case-insensitively, without a copy).
inline bool is_break_glass(const EnrichmentSettings& s, std::string_view upn_or_id) {
  return !s.break_glass.empty() && s.break_glass.count(json::LowerKey(upn_or_id).view()) > 0;
}

// The first of the principal's keys (object id, UPN, application id) on the roster at the event's
// time or a break-glass account; empty when none is.
inline std::string privileged_key(const RuleContext& c, const PrincipalRef& p) {
  for (const std::string& k : {std::cref(p.upn), std::cref(p.id), std::cref(p.app_id)})
    if (!k.empty() && (c.roster.contains(k, c.now_ms) || is_break_glass(c.settings, k))) return k;
  return {};
}

// Sign-in by a principal on the roster (or a break-glass account, which is privileged by design).
// The enricher computes it once per event into RuleContext::privileged_sign_in.
// A service principal or managed identity counts by its object id or its application id (the same
// in every tenant: only a principal of the record's `tenant`, or of a tenant not known, counts by it).
inline bool compute_privileged_sign_in(const Facts& f, const EnrichmentSettings& s, const Roster& roster,
                                       std::int64_t at_ms, std::string_view tenant) {
  if (!is_sign_in(f)) return false;
  if (f.sp_sign_in) return roster.contains(f.sp_id, at_ms) || roster.contains_in_tenant(f.app_id, at_ms, tenant);
  return roster.contains(f.user_upn, at_ms) || roster.contains(f.user_id, at_ms) || is_break_glass(s, f.user_upn) ||
         is_break_glass(s, f.user_id);
}
inline bool privileged_sign_in(const RuleContext& c) { return c.privileged_sign_in; }

inline bool is_guest_or_external(const PrincipalRef& p, const EnrichmentSettings& s) {
  if (icontains(p.upn, "#EXT#") || iequals(p.user_type, "Guest")) return true;
  const auto at = p.upn.rfind('@');
  if (at != std::string::npos) {
    const auto domain = std::string_view(p.upn).substr(at + 1);
    if (any_iequal(s.personal_domains, domain)) return true;
  }
  return false;
}

// Passwords reset or changed (security info: account_rules.cc).
inline const std::vector<std::string_view> kCredentialOps = {
    "reset user password", "change user password", "reset password (by admin)", "change password (self-service)",
    "reset password (self-service)"};

inline const std::vector<std::string_view> kFederationOps = {
    "set domain authentication", "set federation settings on domain", "set dirsyncenabled flag",
    "set dirsync feature", "set password hash sync", "update domain", "add unverified domain",
    "set company information", "enable password hash sync", "disable password hash sync"};

// High-privilege permissions with their ids, which are the same in every tenant (Microsoft Graph
// permissions reference; Exchange Online's full_access_as_app). Audits name a manifest's required
// permissions by id (RequiredResourceAccess EntitlementId), grants by name; the default
// `privileged_app_roles` holds both. An application permission (app role) and its delegated
// counterpart (scope) have different ids.
struct KnownPermission {
  std::string_view name, id;
};
inline constexpr KnownPermission kWellKnownPermissions[] = {
    {"RoleManagement.ReadWrite.Directory", "9e3f62cf-ca93-4989-b6ce-bf83c28f9fe8"},
    {"RoleManagement.ReadWrite.Directory", "d01b97e9-cbc0-49fe-810a-750afd5527a3"},  // delegated
    {"AppRoleAssignment.ReadWrite.All", "06b708a9-e830-4db3-a914-8e69da51d44f"},
    {"AppRoleAssignment.ReadWrite.All", "84bccea3-f856-4a8a-967b-dbe0a3d53a64"},  // delegated
    {"Application.ReadWrite.All", "1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9"},
    {"Application.ReadWrite.All", "bdfbf15f-ee85-4955-8675-146e8e5296b5"},  // delegated
    {"Application.ReadWrite.OwnedBy", "18a4783c-866b-4cc7-a460-3d5e5662c884"},
    {"Directory.ReadWrite.All", "19dbc75e-c2e2-444c-a770-ec69d8559fc7"},
    {"Directory.ReadWrite.All", "c5366453-9fb0-48a5-a156-24f0c49a4b84"},  // delegated
    {"Directory.AccessAsUser.All", "0e263e50-5827-48a4-b97c-d940288653c7"},  // delegated only
    {"Domain.ReadWrite.All", "7e05723c-0bb0-42da-be95-ae9f08a6e53c"},
    {"Domain.ReadWrite.All", "0b5d694c-a244-4bde-86e6-eb5cd07730fe"},  // delegated
    {"Policy.ReadWrite.AuthenticationMethod", "29c18626-4985-4dcd-85c0-193eef327366"},
    {"Policy.ReadWrite.AuthenticationMethod", "7e823077-d88e-468f-a337-e18f1f0e6c7c"},  // delegated
    {"UserAuthenticationMethod.ReadWrite.All", "50483e42-d915-4231-9639-7fdb7fd190e5"},
    {"UserAuthenticationMethod.ReadWrite.All", "b7887744-6746-4312-813d-72daeaee7e2d"},  // delegated
    {"Policy.ReadWrite.ConditionalAccess", "01c0a623-fc9b-48e9-b794-0756f8e8f067"},
    {"Policy.ReadWrite.ConditionalAccess", "ad902697-1014-4ef5-81ef-2b4301988e8c"},  // delegated
    {"User.ReadWrite.All", "741f803b-c850-494e-b5df-cde7c675a1ca"},
    {"User.ReadWrite.All", "204e0828-b5ca-4ad8-b9f3-f32a958e7cc4"},  // delegated
    {"Group.ReadWrite.All", "62a82d76-70ea-41e2-9197-370581804d09"},
    {"Group.ReadWrite.All", "4e46008b-f24c-477d-8fff-7bb4ec7aafe0"},  // delegated
    {"GroupMember.ReadWrite.All", "dbaae8cf-10b5-4b86-a4a1-f871c94c6695"},
    {"GroupMember.ReadWrite.All", "f81125ac-d3b7-4573-a3b2-7099cc39df9e"},  // delegated
    {"Organization.ReadWrite.All", "292d869f-3427-49a8-9dab-8c70152b74e9"},
    {"Organization.ReadWrite.All", "46ca0847-7e6b-426e-9775-ea810a948356"},  // delegated
    {"RoleAssignmentSchedule.ReadWrite.Directory", "dd199f4a-f148-40a4-a2ec-f0069cc799ec"},
    {"RoleAssignmentSchedule.ReadWrite.Directory", "8c026be3-8e26-4774-9372-8d5d6f21daff"},  // delegated
    {"RoleEligibilitySchedule.ReadWrite.Directory", "fee28b28-e1f3-4841-818e-2704dc62245f"},
    {"RoleEligibilitySchedule.ReadWrite.Directory", "62ade113-f8e0-4bf9-a6ba-5acb31db32fd"},  // delegated
    {"Mail.ReadWrite", "e2a3a72e-5f79-4c64-b1b1-878b674786c9"},
    {"Mail.ReadWrite", "024d486e-b451-40bb-833d-3e66d98c5c73"},  // delegated
    {"full_access_as_app", "dc890d15-9560-4a4c-9b7f-a736ec74ec40"},  // Office 365 Exchange Online
};

// A modified property's value that holds nothing: empty, [], {}, null (whitespace ignored).
// (No copy: a long value is not empty after its first few characters.)
inline bool empty_value(std::string_view v) {
  std::array<char, 4> buf{};
  std::size_t n = 0;
  for (char ch : v) {
    if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r') continue;
    if (n == buf.size()) return false;
    buf[n++] = ch;
  }
  const std::string_view c(buf.data(), n);
  return c.empty() || c == "[]" || c == "{}" || c == "null" || c == "[\"\"]";
}

inline bool any_iequal_view(const std::vector<std::string_view>& list, std::string_view v) {
  return std::any_of(list.begin(), list.end(), [&](std::string_view o) { return iequals(v, o); });
}
inline bool op_in(const Facts& f, const std::vector<std::string_view>& ops) { return any_iequal_view(ops, operation_name(f)); }


}  // namespace siem::rules
