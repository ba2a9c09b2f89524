// Helpers shared by the detection rules (internal to connector/enrichment/rules).
#pragma once

#include <algorithm>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "connector/enrichment/detections.h"
#include "connector/mapping/json_access.h"

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

// One of the configured break-glass accounts (compared case-insensitively, without a copy).
inline bool is_break_glass(const EnrichmentSettings& s, std::string_view upn_or_id) {
  return !s.break_glass.empty() && s.break_glass.count(json::LowerKey(upn_or_id).view()) > 0;
}

// Sign-in by a principal on the roster (or a break-glass account, which is privileged by design).
// The enricher computes it once per event into RuleContext::privileged_sign_in.
inline bool compute_privileged_sign_in(const Facts& f, const EnrichmentSettings& s, const Roster& roster,
                                       std::int64_t at_ms) {
  if (!is_sign_in(f)) return false;
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

inline const std::vector<std::string_view> kCredentialOps = {
    "reset user password", "change user password", "reset password (by admin)", "change password (self-service)",
    "reset password (self-service)", "user registered security info", "user registered all required security info",
    "admin registered security info", "user changed default security info", "user deleted security info",
    "admin deleted security info", "update user authentication method", "admin updated security info",
    "register security info", "user started security info registration"};

inline const std::vector<std::string_view> kFederationOps = {
    "set domain authentication", "set federation settings on domain", "set dirsyncenabled flag",
    "set dirsync feature", "set password hash sync", "update domain", "add unverified domain",
    "set company information", "enable password hash sync", "disable password hash sync"};

inline bool op_in(const Facts& f, const std::vector<std::string_view>& ops) {
  return std::any_of(ops.begin(), ops.end(), [&](std::string_view o) { return iequals(f.operation, o); });
}


}  // namespace siem::rules
