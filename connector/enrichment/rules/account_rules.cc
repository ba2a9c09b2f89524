// Privileged accounts themselves: external holders, credential changes, brand-new admins.
#include "connector/enrichment/rules/rules.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

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
// break-glass account), else the actor when the record names no target or names the actor itself
// as its target (self-service: a target with the object id only, the actor with its UPN as well).
std::string privileged_subject(const RuleContext& c) {
  const auto& f = c.facts;
  for (const auto& t : f.targets)
    if (auto k = privileged_key(c, t); !k.empty()) return k;
  const bool self = std::any_of(f.targets.begin(), f.targets.end(), [&](const PrincipalRef& t) {
    return !t.id.empty() && iequals(t.id, f.actor.id);
  });
  return f.targets.empty() || self ? privileged_key(c, f.actor) : std::string();
}

// A user's security info (authentication methods) registered, changed or deleted: the
// "Authentication Methods" audits by their names in Microsoft's audit activity reference (in any
// case), or a user's authentication method managed through Graph ("Update user authentication
// method"). Not "User reviewed security info" (the periodic "looks good" re-confirmation), nor a
// registration only started or canceled: no method changed.
constexpr std::string_view kSecurityInfoOps[] = {
    "user registered security info", "user registered all required security info", "user updated security info",
    "user changed default security info", "user deleted security info", "admin registered security info",
    "admin updated security info", "admin changed default security info", "admin deleted security info",
    "update user authentication method"};

bool security_info_op(std::string_view op) {
  return std::any_of(std::begin(kSecurityInfoOps), std::end(kSecurityInfoOps),
                     [&](std::string_view k) { return iequals(op, k); });
}

// Per-user MFA (Disabled / Enabled / Enforced) set, by an admin or through Graph's
// authentication/requirements (perUserMfaState).
constexpr std::string_view kPerUserMfaOp = "Update per-user multifactor authentication state";

// The words of an activity name, white space around and between them ignored: their count, or
// w.size() + 1 when there are more than w holds.
template <std::size_t N>
std::size_t activity_words(std::string_view op, std::array<std::string_view, N>& w) {
  std::size_t n = 0;
  for (std::size_t i = 0; i < op.size();) {
    while (i < op.size() && (op[i] == ' ' || op[i] == '\t')) ++i;
    const std::size_t b = i;
    while (i < op.size() && op[i] != ' ' && op[i] != '\t') ++i;
    if (i == b) continue;
    if (n == N) return N + 1;
    w[n++] = op.substr(b, i - b);
  }
  return n;
}

// A registered method deleted, or strong authentication switched off, by its activity: words
// (activity_words) exactly "Disable Strong Authentication", or [Admin | User] Delete | Deleted |
// Remove | Removed, then "security info" or "user authentication method(s)" (Microsoft's "Admin
// deleted security info", "User deleted security info"; Graph's "Delete user authentication
// method"), in any case. Whole words and nothing after the object: "Restore deleted security
// info", "Undelete ...", "... security info registration" or "... user authentication method
// policy" changed no user's methods.
bool mfa_removal_op(std::string_view op) {
  std::array<std::string_view, 6> w;  // a removal has at most five words
  const std::size_t n = activity_words(op, w);
  if (n > w.size()) return false;
  if (n == 3 && iequals(w[0], "Disable") && iequals(w[1], "Strong") && iequals(w[2], "Authentication")) return true;
  std::size_t k = n > 0 && (iequals(w[0], "Admin") || iequals(w[0], "User")) ? 1 : 0;
  if (k >= n) return false;
  const std::string_view verb = w[k++];
  if (!iequals(verb, "Delete") && !iequals(verb, "Deleted") && !iequals(verb, "Remove") && !iequals(verb, "Removed"))
    return false;
  if (n - k == 2) return iequals(w[k], "security") && iequals(w[k + 1], "info");
  return n - k == 3 && iequals(w[k], "user") && iequals(w[k + 1], "authentication") &&
         (iequals(w[k + 2], "method") || iequals(w[k + 2], "methods"));
}

// An activity that is not a removal (mfa_removal_op) but names a delete or remove and security
// info or an authentication method ("security" then "info...", "authentication" then "method..."):
// perhaps a wording of a removal the detection does not know. Counted and logged at debug level
// with its name, so an operator can see what pa.account.mfa_removed passed over.
bool unmatched_removal_wording(std::string_view op) {
  if (!icontains(op, "delete") && !icontains(op, "remove")) return false;
  std::array<std::string_view, 32> w;
  const std::size_t n = std::min(activity_words(op, w), w.size());
  for (std::size_t i = 0; i + 1 < n; ++i)
    if ((iequals(w[i], "security") && istarts_with(w[i + 1], "info")) ||
        (iequals(w[i], "authentication") && istarts_with(w[i + 1], "method")))
      return true;
  return false;
}

void note_unmatched_removal_wording(std::string_view op) {
  static std::atomic<std::uint64_t> seen{0};
  const std::uint64_t count = seen.fetch_add(1, std::memory_order_relaxed) + 1;
  if (!spdlog::should_log(spdlog::level::debug)) return;
  std::string name(op.substr(0, 200));  // from the record: bounded, no control characters in the log
  for (char& ch : name)
    if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) ch = '?';
  spdlog::debug("enrichment: pa.account.mfa_removed: activity \"{}\"{} names a delete or remove of security info or "
                "an authentication method but is none of the removal names the detection knows "
                "(docs/detections.md); {} such audit(s) so far",
                name, op.size() > 200 ? "..." : "", count);
}

// The properties of an "Update user" that hold the account's authentication methods:
// StrongAuthenticationMethod (the methods' types), StrongAuthenticationPhoneAppDetail (Microsoft
// Authenticator and software OATH tokens), StrongAuthenticationUserDetails (phone numbers, e-mail),
// StrongAuthenticationRequirement (per-user MFA), and SearchableDeviceKey (FIDO2 security keys,
// Windows Hello for Business).
bool method_property(std::string_view name) {
  return istarts_with(name, "StrongAuthentication") || iequals(name, "SearchableDeviceKey");
}
}  // namespace

void credential_change(const RuleContext& c, std::vector<RuleHit>& out) {
  const auto& f = c.facts;
  if (!is_audit_success(f)) return;
  const std::string_view op = operation_name(f);
  bool credential = any_iequal_view(kCredentialOps, op) || security_info_op(op);
  if (!credential && iequals(op, "Update user")) {
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
using Json = nlohmann::json;

// A modified property's value (one level of JSON quoting already removed): parsed, and parsed again
// while it is a string holding JSON (values quoted twice), at most twice; discarded when not JSON.
Json parse_value(std::string_view v) {
  Json doc = Json::parse(v, nullptr, /*allow_exceptions=*/false);
  for (int i = 0; i < 2 && doc.is_string(); ++i) {
    Json inner = Json::parse(doc.get_ref<const std::string&>(), nullptr, false);
    if (inner.is_discarded() || !inner.is_structured()) break;
    doc = std::move(inner);
  }
  return doc;
}

// Nothing in it: null, "", an empty list or object, or a list / object of nothing.
bool holds_nothing(const Json& j, int depth = 0) {
  if (j.is_null()) return true;
  if (j.is_string()) return j.get_ref<const std::string&>().find_first_not_of(" \t") == std::string::npos;
  if (!j.is_structured()) return false;
  if (depth > 4) return false;
  return std::all_of(j.begin(), j.end(), [&](const Json& e) { return holds_nothing(e, depth + 1); });
}

bool value_empty(std::string_view raw, const Json& doc) {
  if (empty_value(raw)) return true;
  return doc.is_discarded() ? false : holds_nothing(doc);
}

// What names one registered method in a list: the key (SearchableDeviceKey), its type
// (StrongAuthenticationMethod), the device or token (StrongAuthenticationPhoneAppDetail). Empty: none.
std::string method_identity(const Json& m) {
  if (!m.is_object()) return {};
  // A key first: two keys (FIDO2, Windows Hello for Business) on one device are two methods.
  for (std::string_view key : {"KeyIdentifier", "CredentialId", "MethodType", "Id", "DeviceId", "DeviceToken"}) {
    for (const auto& [k, v] : m.items()) {
      if (!iequals(k, key) || v.is_null()) continue;
      std::string id = v.is_string() ? v.get<std::string>() : v.dump();
      if (id.empty() || id == "00000000-0000-0000-0000-000000000000") continue;
      return std::string(key) + "=" + lower(id);
    }
  }
  return {};
}

// A member of an object (a phone number, an e-mail) that had a value and now has none.
bool member_cleared(const Json& before, const Json& after) {
  if (!before.is_object() || !after.is_object()) return false;
  for (const auto& member : before.items()) {
    // Named, not a structured binding: clang before 16 cannot capture a binding in a lambda (the
    // fuzzing build uses Debian's clang 14).
    const std::string& k = member.key();
    if (holds_nothing(member.value())) continue;
    const auto it = std::find_if(after.items().begin(), after.items().end(), [&](const auto& kv) { return iequals(kv.key(), k); });
    if (it == after.items().end() || holds_nothing(it.value())) return true;
  }
  return false;
}

// A registered method that the new value no longer holds: a list entry (by its identity) gone, or
// a member of an object that had a value and now has none (member_cleared). A list entry without
// an identity (StrongAuthenticationUserDetails written as a list of one object) is compared with
// the entry at its position, member by member. A change of the default method, a renamed device or
// a new phone number keeps every method.
bool method_deleted(const Json& before, const Json& after) {
  if (before.is_array()) {
    if (!after.is_array() && !after.is_null()) return false;
    for (std::size_t i = 0; i < before.size(); ++i) {
      const Json& m = before[i];
      const std::string id = method_identity(m);
      if (id.empty()) {
        if (holds_nothing(m)) continue;
        if (!after.is_array() || i >= after.size() || member_cleared(m, after[i])) return true;
        continue;
      }
      const bool kept = after.is_array() && std::any_of(after.begin(), after.end(), [&](const Json& n) { return method_identity(n) == id; });
      if (!kept) return true;
    }
    return false;
  }
  return member_cleared(before, after);
}

// An "Update user" property holding authentication methods that lost one: cleared (it had a value
// and now has none: MFA switched off, its methods or devices cleared) or a method deleted from it.
bool property_lost_method(const ModifiedProperty& p) {
  if (!method_property(p.name)) return false;
  const Json before = parse_value(p.old_value);
  if (value_empty(p.old_value, before)) return false;
  const Json after = parse_value(p.new_value);
  if (value_empty(p.new_value, after)) return true;
  return !before.is_discarded() && !after.is_discarded() && method_deleted(before, after);
}

// "Update per-user multifactor authentication state": the state now "disabled" (or cleared). The
// audit's property holding the state is not documented: a property naming a state or the
// StrongAuthenticationRequirement decides; without one, the activity alone counts (it may have
// switched per-user MFA off, and a privileged account's MFA state is worth a look either way).
bool per_user_mfa_disabled(const Facts& f) {
  bool stated = false;
  for (const auto& p : f.modified_properties) {
    if (icontains(p.name, "StrongAuthenticationRequirement")) {
      stated = true;
      if (property_lost_method(p)) return true;
      continue;
    }
    if (!icontains(p.name, "state")) continue;
    stated = true;
    const Json after = parse_value(p.new_value);
    if (value_empty(p.new_value, after)) return true;
    if (after.is_string() && iequals(after.get_ref<const std::string&>(), "disabled")) return true;
    if (after.is_discarded() && iequals(p.new_value, "disabled")) return true;
  }
  return !stated;
}
}  // namespace

void mfa_removed(const RuleContext& c, std::vector<RuleHit>& out) {
  const auto& f = c.facts;
  if (!is_audit_success(f)) return;
  const std::string_view op = operation_name(f);
  bool removed = mfa_removal_op(op);
  const bool update = !removed && iequals(op, "Update user");
  const bool per_user = !removed && !update && iequals(op, kPerUserMfaOp);
  if (!removed && !update && !per_user) {
    if (unmatched_removal_wording(op)) note_unmatched_removal_wording(op);
    return;
  }
  // The account first: the method lists below are JSON parsed only for a privileged one.
  const auto k = privileged_subject(c);
  if (k.empty()) return;
  if (update)
    removed = std::any_of(f.modified_properties.begin(), f.modified_properties.end(), property_lost_method);
  if (per_user) removed = per_user_mfa_disabled(f);
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
