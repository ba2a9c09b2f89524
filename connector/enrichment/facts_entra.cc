// Facts of Entra ID directory audits and sign-ins (Graph and Event Hubs shapes).
#include <algorithm>
#include <array>

#include "connector/enrichment/facts_internal.h"
#include "connector/record/json_access.h"
#include "connector/record/time_parse.h"

namespace siem::facts_detail {

namespace {

// One modifiedProperties entry of an audit target (`target`: its principal, or null).
void modified_property(element m, PrincipalRef* target, Facts& f) {
  ModifiedProperty& p = f.modified_properties.emplace_back();
  static constexpr std::array<std::string_view, 3> kKeys{"displayName", "oldValue", "newValue"};
  const auto [name, old_value, new_value] = json::children(m, kKeys);
  p.name = text_of(name);
  // A string value unquoted from the record in place (scalar_text() of a string is the string).
  const auto unquoted = [](const std::optional<element>& v) {
    return v && v->is_string() ? json::unquote(v->get_string().value_unsafe()) : json::unquote(text_of(v));
  };
  p.old_value = unquoted(old_value);
  p.new_value = unquoted(new_value);
  const std::string& pname = p.name;
  const std::string& value = p.new_value;
  // A role's own properties: a removal ("Remove member from role") names the role in oldValue.
  const std::string& role_value = value.empty() ? p.old_value : value;
  if (json::iequals(pname, "Role.TemplateId") || json::iequals(pname, "TemplateId") ||
      json::iequals(pname, "Role.ObjectID") || json::iequals(pname, "RoleDefinitionOriginId")) {
    if (!role_value.empty()) f.roles.push_back(RoleMention{role_value, {}});
  } else if (json::iequals(pname, "Role.DisplayName")) {
    if (!role_value.empty()) f.roles.push_back(RoleMention{{}, role_value});
  } else if (json::iequals(pname, "AppRole.Value")) {
    f.app_role_value = value.empty() ? p.old_value : value;  // a removal names it in oldValue
  } else if (json::iequals(pname, "User.UserType") || json::iequals(pname, "UserType")) {
    if (!f.targets.empty()) f.targets.back().user_type = value;
  } else if (json::istarts_with(pname, "ServicePrincipal.")) {
    const std::string& v = value.empty() ? p.old_value : value;
    const std::string_view field = std::string_view(pname).substr(17);
    if (json::iequals(field, "ObjectID")) f.grantee.id = v;
    else if (json::iequals(field, "AppId")) f.grantee.app_id = v;
    else if (json::iequals(field, "DisplayName")) f.grantee.name = v;
    if (!f.grantee.id.empty() || !f.grantee.app_id.empty()) f.grantee.type = "ServicePrincipal";
  } else if (target && target->app_id.empty() && (json::iequals(pname, "AppId") || json::iequals(pname, "AppPrincipalId"))) {
    target->app_id = value;
  }
}

// A list of the audit read only up to its bound: the first one is named (Facts::truncated).
void note_truncated(Facts& f, std::size_t list) {
  if (f.truncated.empty()) f.truncated = kBoundedLists[list].name;
}

}  // namespace

void audit_facts(element r, Facts& f, const json::Fields* fields) {
  thread_local json::Fields own;  // storage reused across records (this does not call itself)
  const json::Fields& R = fields ? *fields : (own.assign(r), own);
  f.family = Facts::Family::audit;
  // Into the reused Facts' strings (text_into keeps their buffers; assigning a new string frees them).
  text_into(R, "activityDisplayName", f.operation);
  text_into(R, "category", f.category);
  text_into(R, "loggedByService", f.logged_by_service);
  const std::string result = text(R, "result");
  f.success = result.empty() || json::iequals(result, "success") || result == "0";
  if (auto by = R.get("initiatedBy")) {
    static constexpr std::array<std::string_view, 2> kBy{"user", "app"};
    const auto [u, a] = json::children(*by, kBy);
    if (u && u->is_object()) {
      static constexpr std::array<std::string_view, 3> kUser{"id", "userPrincipalName", "displayName"};
      const auto [id, upn, name] = json::children(*u, kUser);
      text_into(id, f.actor.id);
      text_into(upn, f.actor.upn);
      text_into(name, f.actor.name);
      f.actor.type = "User";
    }
    if (a && a->is_object()) {
      static constexpr std::array<std::string_view, 3> kApp{"displayName", "appId", "servicePrincipalId"};
      const auto [name, app_id, sp_id] = json::children(*a, kApp);
      text_into(name, f.actor_app);
      text_into(app_id, f.actor_app_id);
      if (f.actor.id.empty()) text_into(sp_id, f.actor.id);
    }
  }
  std::string details_app_id;
  if (auto details = R.get("additionalDetails"); details && details->is_array()) {
    for (element d : json::as_array(*details)) {
      if (f.details.size() == kMaxAuditDetails) {
        note_truncated(f, bounded_list("additionalDetails"));
        break;
      }
      static constexpr std::array<std::string_view, 2> kDetail{"key", "value"};
      const auto [key, value] = json::children(d, kDetail);
      f.details.emplace_back(text_of(key), text_of(value));
      const auto& [k, v] = f.details.back();
      if (json::iequals(k, "AppId")) {
        details_app_id = v;
      } else if (json::iequals(k, "Justification")) {
        f.justification = v;
        f.has_justification = true;
      } else if (json::iequals(k, "TemplateId") || json::iequals(k, "RoleDefinitionOriginId")) {
        f.roles.push_back(RoleMention{v, {}});
      } else if (json::iequals(k, "ExpirationTime") || json::iequals(k, "EndTime")) {
        // duration from StartTime/EndTime below
      }
    }
    std::optional<std::int64_t> start, end;
    for (const auto& [k, v] : f.details) {
      if (json::iequals(k, "StartTime")) start = parse_time_ms(v);
      if (json::iequals(k, "ExpirationTime") || json::iequals(k, "EndTime")) end = parse_time_ms(v);
    }
    if (start && end && *end > *start) f.duration_ms = *end - *start;
    f.starts_ms = start;
    f.ends_ms = end;
  }
  if (auto targets = R.get("targetResources"); targets && targets->is_array()) {
    std::size_t read = 0;
    for (element t : json::as_array(*targets)) {
      if (read++ == kMaxAuditTargets) {
        note_truncated(f, bounded_list("targetResources"));
        break;
      }
      // The keys read of a target, in one pass over it.
      static constexpr std::array<std::string_view, 5> kTarget{"type", "displayName", "id", "userPrincipalName",
                                                                "modifiedProperties"};
      const auto [type_e, name_e, id_e, upn_e, mods] = json::children(t, kTarget);
      std::string type = text_of(type_e);
      std::string name = text_of(name_e);
      std::string id = text_of(id_e);
      PrincipalRef* target = nullptr;  // this entry's principal, when it is one
      if (json::iequals(type, "Role")) {
        f.roles.push_back(RoleMention{std::move(id), std::move(name)});
      } else if (!json::iequals(type, "Request") && !json::iequals(type, "Directory") && !json::iequals(type, "Other")) {
        PrincipalRef p;
        p.id = std::move(id);
        p.upn = text_of(upn_e);
        p.name = std::move(name);
        // Tested before `type` moves into p.
        const bool app = json::iequals(type, "ServicePrincipal") || json::iequals(type, "Application");
        p.type = std::move(type);
        // Application management audits name the application (client) id in additionalDetails.
        if (app) p.app_id = details_app_id;
        f.targets.push_back(std::move(p));
        target = &f.targets.back();
      }
      if (mods && mods->is_array())
        for (element m : json::as_array(*mods)) {
          if (f.modified_properties.size() == kMaxAuditModifiedProperties) {
            note_truncated(f, bounded_list("modifiedProperties"));
            break;
          }
          modified_property(m, target, f);
        }
    }
  }
  // "User has elevated their access to User Access Administrator for their Azure Resources".
  if (json::icontains(f.operation, "elevated their access to User Access Administrator"))
    f.roles.push_back(RoleMention{std::string(kUserAccessAdministrator), {}});
  // PIM audit records carry the justification in resultReason.
  if (!f.has_justification && json::iequals(f.logged_by_service, "PIM") && json::icontains(f.operation, "activation")) {
    f.justification = text(R, "resultReason");
    f.has_justification = true;
  }
}

namespace {

// Whether `s` holds "MFA", "multi-factor" or "multifactor" in any case (Entra's wordings of an MFA
// step: "MFA", "Multi-factor authentication", "multiFactorAuthentication"): what the three
// json::icontains() give, in one pass over the candidates' 'm'.
bool mentions_mfa(std::string_view s) {
  const auto at = [&s](std::size_t i, std::string_view lowered) {
    if (s.size() - i < lowered.size()) return false;
    for (std::size_t k = 0; k < lowered.size(); ++k)
      if ((s[i + k] >= 'A' && s[i + k] <= 'Z' ? static_cast<char>(s[i + k] | 0x20) : s[i + k]) != lowered[k]) return false;
    return true;
  };
  for (std::size_t i = 0; i + 3 <= s.size(); ++i) {
    if ((s[i] | 0x20) != 'm') continue;  // 'm' or 'M' ('M' | 0x20 == 'm'; no other byte folds to it)
    if (at(i + 1, "fa")) return true;
    if (!at(i + 1, "ulti")) continue;
    const std::size_t f = i + 5 < s.size() && s[i + 5] == '-' ? i + 6 : i + 5;
    if (at(f, "factor")) return true;
  }
  return false;
}

// A sign-in's facts from get(k), the value of its key k (SignInKey) as json::child() or
// json::Path::first() gives it: every read treats null as missing, so both give the same facts.
template <class Get>
void sign_in_facts_from(const Get& get, Facts& f) {
  f.family = Facts::Family::sign_in;
  f.operation = "Sign-in activity";
  text_into(get(kUpn), f.user_upn);
  text_into(get(kUserId), f.user_id);
  text_into(get(kUserType), f.user_type);
  f.actor.upn = f.user_upn;
  f.actor.id = f.user_id;
  if (const auto c = get(kErrorCode); c && c->is_int64()) {
    f.error_code = c->get_int64().value_unsafe();  // what strtoll of its text gives, without the text
  } else {
    const std::string code = text_of(c);
    f.error_code = code.empty() ? 0 : std::strtoll(code.c_str(), nullptr, 10);
  }
  f.success = f.error_code == 0;
  text_into(get(kAuthRequirement), f.auth_requirement);
  if (auto steps = get(kAuthDetails); steps && steps->is_array()) {
    std::size_t read = 0;
    for (element s : json::as_array(*steps)) {
      if (read++ == kMaxSignInAuthDetails) {
        note_truncated(f, bounded_list("authenticationDetails"));
        break;
      }
      std::string owned;
      std::string_view req;  // a string in place, other scalars as text
      static constexpr std::array<std::string_view, 2> kStep{"authenticationStepRequirement", "succeeded"};
      const auto [c, ok] = json::children(s, kStep);
      if (c) {
        if (c->is_string()) req = c->get_string().value_unsafe();
        else if (json::scalar_text(*c, owned)) req = owned;
      }
      // "MFA", or Entra's wording "Multi-factor authentication" / "Multifactor authentication".
      if (ok && ok->is_bool() && ok->get_bool().value_unsafe() && mentions_mfa(req)) f.mfa_step_succeeded = true;
    }
  }
  if (!text_of(get(kMfaMethod)).empty()) f.mfa_step_succeeded = true;
  text_into(get(kClientApp), f.client_app);
  const auto not_null = [](const std::optional<element>& e) { return e && !e->is_null() ? e : std::nullopt; };
  f.device_compliant = bool_of(not_null(get(kDeviceCompliant)));
  f.device_managed = bool_of(not_null(get(kDeviceManaged)));
  text_into(get(kRiskDuring), f.risk_during);
  text_into(get(kRiskAggregated), f.risk_aggregated);
  // The risk's state matters only for a risk a rule would flag (most sign-ins have none).
  const auto flaggable = [](const std::string& level) { return json::iequals(level, "medium") || json::iequals(level, "high"); };
  if (flaggable(f.risk_during) || flaggable(f.risk_aggregated)) text_into(get(kRiskState), f.risk_state);
  text_into(get(kAppName), f.app_name);
  text_into(get(kAppId), f.app_id);
  if (auto types = get(kEventTypes); types && types->is_array()) {
    std::string s;
    std::size_t read = 0;
    for (element t : json::as_array(*types)) {
      if (read++ == kMaxSignInEventTypes) {
        note_truncated(f, bounded_list("signInEventTypes"));
        break;
      }
      if (json::scalar_text(t, s)) f.sign_in_event_types.push_back(s);
    }
  }
  // Service principal and managed identity sign-ins (Graph beta, ServicePrincipalSignInLogs,
  // ManagedIdentitySignInLogs) name no user: the principal is servicePrincipalId, with its appId.
  if (f.user_upn.empty() && f.user_id.empty()) {
    text_into(get(kSpId), f.sp_id);
    text_into(get(kSpName), f.sp_name);
    const bool workload_type = std::any_of(f.sign_in_event_types.begin(), f.sign_in_event_types.end(), [](const std::string& t) {
      return json::iequals(t, "servicePrincipal") || json::iequals(t, "managedIdentity");
    });
    f.sp_sign_in = !f.sp_id.empty() || (workload_type && !f.app_id.empty());
    if (f.sp_sign_in) {
      f.actor.id = f.sp_id;
      f.actor.name = f.sp_name;
      f.actor.app_id = f.app_id;
      f.actor.type = "ServicePrincipal";
    }
  }
}

}  // namespace

void sign_in_facts(element r, Facts& f, const json::Fields* fields) {
  thread_local json::Fields own;  // storage reused across records (this does not call itself)
  const json::Fields& R = fields ? *fields : (own.assign(r), own);
  sign_in_facts_from(
      [&R](SignInKey k) {
        const auto [key, sub] = kSignInPaths[k];
        return sub.empty() ? R.get(key) : nested(R, key, sub);  // "key.sub" as Path::first() finds it
      },
      f);
}

void sign_in_facts(const RecordPaths& paths, Facts& f) {
  sign_in_facts_from([&paths](SignInKey k) { return paths.value(k); }, f);
}

}  // namespace siem::facts_detail
