// Helpers the fact extraction of every record family shares (facts.cc, facts_entra.cc). Internal
// to connector/enrichment.
#pragma once

#include <array>
#include <optional>
#include <utility>
#include <string>
#include <string_view>

#include <simdjson.h>

#include "connector/enrichment/facts.h"
#include "connector/record/json_access.h"

namespace siem::facts_detail {

using json::element;

inline constexpr std::string_view kUserAccessAdministrator = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9";  // Azure RBAC

inline std::string text(element e, std::string_view key) { return json::child_text(e, key); }

// Many keys of one object: index it once (json::Fields) instead of scanning it per key.
inline std::string text(const json::Fields& o, std::string_view key) {
  std::string s;
  if (auto c = o.get(key)) json::scalar_text(*c, s);
  return s;
}

// text(o, key) written into `out` (its buffer reused).
inline void text_into(const json::Fields& o, std::string_view key, std::string& out) {
  out.clear();
  if (auto c = o.get(key)) json::scalar_text(*c, out);
}

// "key.sub" of an indexed object, as json::Path("key.sub").first() finds it: `key` through the
// index, `sub` by a scan of that (small) nested object, rather than a second scan of the record.
inline std::optional<element> nested(const json::Fields& o, std::string_view key, std::string_view sub) {
  const auto outer = o.get(key);
  if (!outer) return std::nullopt;
  const auto inner = json::child(*outer, sub);
  if (!inner || inner->is_null()) return std::nullopt;
  return inner;
}

inline std::string text_of(const std::optional<element>& v) {
  std::string s;
  if (v) json::scalar_text(*v, s);
  return s;
}

inline std::string path_text(element e, const json::Path& p) { return text_of(p.first(e)); }

inline std::optional<bool> bool_of(const std::optional<element>& v) {
  if (!v) return std::nullopt;
  if (v->is_bool()) return v->get_bool().value_unsafe();
  std::string s;
  if (json::scalar_text(*v, s)) {
    if (json::iequals(s, "true")) return true;
    if (json::iequals(s, "false")) return false;
  }
  return std::nullopt;
}

// `out` = the scalar text of `v` (cleared when v is missing or not a scalar), its buffer reused.
inline void text_into(const std::optional<element>& v, std::string& out) {
  out.clear();
  if (v) json::scalar_text(*v, out);
}

// Entra ID directory audits and sign-ins (facts_entra.cc). `fields`, when given, is the index of `r`.
void audit_facts(element r, Facts& f, const json::Fields* fields = nullptr);
void sign_in_facts(element r, Facts& f, const json::Fields* fields = nullptr);

// What a sign-in's facts read: a member of the signIn (the record, or an Event Hubs record's
// `properties`) and, for the nested ones, its member. fact_paths() lists them in this order (then
// the activity-time paths), and sign_in_facts(RecordPaths) reads value(k) for key k.
enum SignInKey : std::size_t {
  kUpn, kUserId, kUserType, kErrorCode, kAuthRequirement, kAuthDetails, kMfaMethod, kClientApp,
  kDeviceCompliant, kDeviceManaged, kRiskDuring, kRiskAggregated, kRiskState, kAppName, kAppId,
  kEventTypes, kSpId, kSpName, kSignInKeys
};
inline constexpr std::array<std::pair<std::string_view, std::string_view>, kSignInKeys> kSignInPaths{{
    {"userPrincipalName", {}}, {"userId", {}}, {"userType", {}}, {"status", "errorCode"},
    {"authenticationRequirement", {}}, {"authenticationDetails", {}}, {"mfaDetail", "authMethod"},
    {"clientAppUsed", {}}, {"deviceDetail", "isCompliant"}, {"deviceDetail", "isManaged"},
    {"riskLevelDuringSignIn", {}}, {"riskLevelAggregated", {}}, {"riskState", {}}, {"appDisplayName", {}},
    {"appId", {}}, {"signInEventTypes", {}}, {"servicePrincipalId", {}}, {"servicePrincipalName", {}}}};
// The same facts from the values of the kind's fact_paths() (the first kSignInKeys of them).
void sign_in_facts(const RecordPaths& paths, Facts& f);

}  // namespace siem::facts_detail
