// Sign-ins by principals on the privileged roster.
#include "connector/enrichment/rules/rules.h"

#include <fmt/format.h>

#include "connector/enrichment/rules/rule_util.h"

namespace siem::rules {

void signin_privileged(const RuleContext& c, std::vector<RuleHit>& out) {
  if (!privileged_sign_in(c)) return;
  out.push_back({"pa.signin.privileged", 3, fmt::format("sign-in by privileged account {}", c.facts.user_upn)});
}

void signin_no_mfa(const RuleContext& c, std::vector<RuleHit>& out) {
  const auto& f = c.facts;
  if (!privileged_sign_in(c) || !f.success) return;
  if (!iequals(f.auth_requirement, "singleFactorAuthentication") || f.mfa_step_succeeded) return;
  out.push_back({"pa.signin.no_mfa", 8, fmt::format("privileged account {} signed in with a single factor", f.user_upn)});
}

namespace {

// `clientAppUsed` as Entra writes it, or a refinement of it ("Other clients; Older Office
// clients", "Other clients; IMAP/POP/SMTP/MAPI"): the part before ';' names the client family.
bool legacy_client(const std::vector<std::string>& legacy, std::string_view client) {
  if (any_iequal(legacy, client)) return true;
  const auto semi = client.find(';');
  if (semi == std::string_view::npos) return false;
  auto family = client.substr(0, semi);
  while (!family.empty() && family.back() == ' ') family.remove_suffix(1);
  return !family.empty() && any_iequal(legacy, family);
}

}  // namespace

void signin_legacy_auth(const RuleContext& c, std::vector<RuleHit>& out) {
  const auto& f = c.facts;
  if (!privileged_sign_in(c) || f.client_app.empty() || !legacy_client(c.settings.legacy_protocols, f.client_app)) return;
  out.push_back({"pa.signin.legacy_auth", 8, fmt::format("privileged account {} used legacy client '{}'", f.user_upn, f.client_app)});
}

void signin_unmanaged_device(const RuleContext& c, std::vector<RuleHit>& out) {
  const auto& f = c.facts;
  if (!privileged_sign_in(c) || !f.success) return;
  if (f.device_compliant.value_or(false) || f.device_managed.value_or(false)) return;
  out.push_back({"pa.signin.unmanaged_device", 6,
                 fmt::format("privileged account {} signed in from a device that is neither compliant nor managed", f.user_upn)});
}

void signin_nonadmin_app(const RuleContext& c, std::vector<RuleHit>& out) {
  const auto& f = c.facts;
  if (!privileged_sign_in(c) || f.app_name.empty() || !any_iequal(c.settings.everyday_apps, f.app_name)) return;
  out.push_back({"pa.signin.nonadmin_app", 5,
                 fmt::format("privileged account {} signed in to everyday app '{}'", f.user_upn, f.app_name)});
}

void signin_risky(const RuleContext& c, std::vector<RuleHit>& out) {
  const auto& f = c.facts;
  if (!privileged_sign_in(c)) return;
  for (const std::string& level : {std::cref(f.risk_during), std::cref(f.risk_aggregated)}) {
    if (iequals(level, "medium") || iequals(level, "high")) {
      out.push_back({"pa.signin.risky", 8, fmt::format("privileged sign-in by {} at {} risk", f.user_upn, level)});
      return;
    }
  }
}

}  // namespace siem::rules
