// Applications and service principals: credentials added, tenant-wide consent, high-privilege
// permissions (app role assignments, delegated grants, required permissions in the manifest).
#include "connector/enrichment/rules/rules.h"

#include <fmt/format.h>

#include "connector/enrichment/rules/rule_util.h"

namespace siem::rules {

namespace {

// At most this many key ids, permission ids or scopes are read from one value: Entra keeps far
// fewer per application, and comparing old and new lists stays bounded whatever a record holds.
constexpr std::size_t kMaxItems = 256;

// Case-insensitive find of `needle` in `hay` from `from`; npos when absent.
std::size_t ifind(std::string_view hay, std::string_view needle, std::size_t from = 0) {
  if (needle.size() > hay.size()) return std::string_view::npos;
  for (std::size_t i = from; i + needle.size() <= hay.size(); ++i)
    if (iequals(hay.substr(i, needle.size()), needle)) return i;
  return std::string_view::npos;
}

// The values that follow each `marker` in `text` (separators `":= ` skipped), up to the next
// `,`, `;`, `]`, `}`, `"` or whitespace.
std::vector<std::string_view> values_after(std::string_view text, std::string_view marker) {
  std::vector<std::string_view> out;
  for (std::size_t at = ifind(text, marker); at != std::string_view::npos && out.size() < kMaxItems;
       at = ifind(text, marker, at + 1)) {
    std::size_t b = at + marker.size();
    while (b < text.size() && (text[b] == '"' || text[b] == ':' || text[b] == '=' || text[b] == ' ')) ++b;
    std::size_t e = b;
    while (e < text.size() && std::string_view(",;]}\" \t\r\n").find(text[e]) == std::string_view::npos) ++e;
    if (e > b) out.push_back(text.substr(b, e - b));
  }
  return out;
}

bool contains_ci(const std::vector<std::string_view>& list, std::string_view v) {
  return std::any_of(list.begin(), list.end(), [&](std::string_view x) { return iequals(x, v); });
}

// Credentials of an application or service principal as audits write them: KeyDescription
// ("[KeyIdentifier=…,KeyType=Password,KeyUsage=Verify,DisplayName=…]"), KeyCredentials /
// PasswordCredentials (JSON with KeyId), FederatedIdentityCredentials.
bool credential_property(std::string_view name) {
  return iequals(name, "KeyDescription") || iequals(name, "KeyCredentials") || iequals(name, "PasswordCredentials") ||
         iequals(name, "FederatedIdentityCredentials");
}

// The property's new value holds a credential its old value did not: a key id only in the new
// value; without key ids, a value where there was none or a longer one.
bool adds_credential(const ModifiedProperty& p) {
  if (empty_value(p.new_value)) return false;
  auto now = values_after(p.new_value, "KeyIdentifier");
  auto before = values_after(p.old_value, "KeyIdentifier");
  for (std::string_view marker : {"KeyId", "\"Name"}) {
    if (!now.empty()) break;
    now = values_after(p.new_value, marker);
    before = values_after(p.old_value, marker);
  }
  if (now.empty()) return empty_value(p.old_value) || p.new_value.size() > p.old_value.size();
  return std::any_of(now.begin(), now.end(), [&](std::string_view id) { return !contains_ci(before, id); });
}

// The scopes (delegated permission names) of a grant: "DelegatedPermissionGrant.Scope" is a
// space-separated list; "ConsentAction.Permissions" writes "old => [[…, ConsentType: AllPrincipals,
// Scope:  User.Read Mail.ReadWrite, CreatedDateTime: …]]".
std::vector<std::string_view> words(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size() && out.size() < kMaxItems) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    std::size_t e = i;
    while (e < s.size() && s[e] != ' ' && s[e] != '\t') ++e;
    if (e > i) out.push_back(s.substr(i, e - i));
    i = e;
  }
  return out;
}

// The part of a "ConsentAction.Permissions" value after its last "=>" (the state after the consent).
std::string_view after_arrow(std::string_view v) {
  const auto arrow = v.rfind("=>");
  return arrow == std::string_view::npos ? v : v.substr(arrow + 2);
}

// Each "Scope: …" of a consent's permissions, up to the next ','.
std::vector<std::string_view> consent_scopes(std::string_view permissions) {
  std::vector<std::string_view> out;
  const auto granted = after_arrow(permissions);
  for (std::size_t at = ifind(granted, "Scope:"); at != std::string_view::npos; at = ifind(granted, "Scope:", at + 1)) {
    auto rest = granted.substr(at + 6);
    rest = rest.substr(0, rest.find(','));
    for (auto w : words(rest))
      if (out.size() < kMaxItems) out.push_back(w);
  }
  return out;
}

std::string_view first_privileged(const EnrichmentSettings& s, const std::vector<std::string_view>& perms,
                                  const std::vector<std::string_view>& before = {}) {
  for (auto p : perms)
    if (privileged_permission(s, p) && !contains_ci(before, p)) return p;
  return {};
}

// The application or service principal the record is about, for reasons and roster checks.
const PrincipalRef* app_target(const Facts& f) {
  if (!f.grantee.id.empty() || !f.grantee.app_id.empty()) return &f.grantee;
  for (const auto& t : f.targets)
    if (iequals(t.type, "ServicePrincipal") || iequals(t.type, "Application")) return &t;
  return f.targets.empty() ? nullptr : &f.targets.front();
}

std::string app_label(const Facts& f) {
  const PrincipalRef* a = app_target(f);
  if (!a) return "an application";
  return !a->name.empty() ? a->name : !a->app_id.empty() ? a->app_id : a->id.empty() ? "an application" : a->id;
}

// A well-known permission id shown with its name.
std::string permission_label(std::string_view p) {
  for (const auto& k : kWellKnownPermissions)
    if (iequals(k.id, p)) return fmt::format("{} ({})", k.name, p);
  return std::string(p);
}

}  // namespace

void app_credential_added(const RuleContext& c, std::vector<RuleHit>& out) {
  const auto& f = c.facts;
  if (!is_audit_success(f)) return;
  const std::string_view op = operation_name(f);
  bool added = iequals(op, "Add service principal credentials");
  // "Update application – Certificates and secrets management " (en dash, trailing space) and plain
  // "Update application" / "Update service principal": the credential properties say add or remove.
  if (!added && (istarts_with(op, "Update application") || istarts_with(op, "Update service principal")))
    for (const auto& p : f.modified_properties) added = added || (credential_property(p.name) && adds_credential(p));
  if (!added) return;
  std::string privileged;
  for (const auto& t : f.targets)
    if (privileged.empty()) privileged = privileged_key(c, t);
  const bool priv = !privileged.empty();
  out.push_back({"pa.app.credential_added", priv ? 8 : 6,
                 fmt::format("credential added to {} by {}{}", app_label(f), actor_label(f),
                             priv ? " (a privileged service principal)" : "")});
}

void app_consent_granted(const RuleContext& c, std::vector<RuleHit>& out) {
  const auto& f = c.facts;
  if (!is_audit_success(f)) return;
  bool tenant_wide = false;
  std::vector<std::string_view> scopes;
  if (iequals(operation_name(f), "Consent to application")) {
    const auto* admin = property(f, "ConsentContext.IsAdminConsent");
    const auto* all = property(f, "ConsentContext.OnBehalfOfAll");
    const auto* perms = property(f, "ConsentAction.Permissions");
    tenant_wide = (admin && iequals(admin->new_value, "True")) || (all && iequals(all->new_value, "True"));
    if (perms) {
      scopes = consent_scopes(perms->new_value);
      tenant_wide = tenant_wide || contains_ci(values_after(after_arrow(perms->new_value), "ConsentType"), "AllPrincipals");
    }
  } else if (iequals(operation_name(f), "Add delegated permission grant")) {
    const auto* type = property(f, "DelegatedPermissionGrant.ConsentType");
    const auto* scope = property(f, "DelegatedPermissionGrant.Scope");
    tenant_wide = type && iequals(type->new_value, "AllPrincipals");
    if (scope) scopes = words(scope->new_value);
  } else {
    return;
  }
  if (!tenant_wide) return;
  const auto high = first_privileged(c.settings, scopes);
  out.push_back({"pa.app.consent_granted", high.empty() ? 6 : 8,
                 fmt::format("tenant-wide consent to {} by {}{}", app_label(f), actor_label(f),
                             high.empty() ? std::string() : fmt::format(", including {}", high))});
}

void app_privileged_permission(const RuleContext& c, std::vector<RuleHit>& out) {
  const auto& f = c.facts;
  if (!is_audit_success(f)) return;
  const std::string_view op = operation_name(f);
  std::string granted;  // the permission, when one on the list was added
  if (icontains(op, "app role assignment") && istarts_with(op, "Add")) {
    if (privileged_permission(c.settings, f.app_role_value)) granted = f.app_role_value;
  } else if (iequals(op, "Add delegated permission grant") || iequals(op, "Update delegated permission grant")) {
    if (const auto* scope = property(f, "DelegatedPermissionGrant.Scope"))
      granted = first_privileged(c.settings, words(scope->new_value), words(scope->old_value));
  } else if (istarts_with(op, "Update application") || iequals(op, "Add application")) {
    // The manifest's required permissions name each permission by id (EntitlementId).
    if (const auto* req = property(f, "RequiredResourceAccess"))
      granted = permission_label(first_privileged(c.settings, values_after(req->new_value, "EntitlementId"),
                                                  values_after(req->old_value, "EntitlementId")));
  } else if (is_role_add(f) && !c.privileged_roles.empty()) {
    for (const auto& t : f.targets) {
      if (iequals(t.type, "ServicePrincipal") || iequals(t.type, "Application")) {
        out.push_back({"pa.app.privileged_permission", 8,
                       fmt::format("service principal {} was given {}", t.name.empty() ? t.id : t.name, role_names(c))});
        return;
      }
    }
  }
  if (granted.empty()) return;
  out.push_back({"pa.app.privileged_permission", 8, fmt::format("{} granted {} ('{}')", app_label(f), granted, f.operation)});
}

}  // namespace siem::rules
