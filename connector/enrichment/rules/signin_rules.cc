// Sign-ins by principals on the privileged roster: users, and service principals / managed
// identities (pa.signin.privileged and .risky; MFA, client, device and app do not apply to them).
#include "connector/enrichment/rules/rules.h"

#include <fmt/format.h>

#include "connector/enrichment/rules/rule_util.h"

namespace siem::rules {

void signin_privileged(const RuleContext& c, std::vector<RuleHit>& out) {
  if (!privileged_sign_in(c)) return;
  out.push_back({"pa.signin.privileged", 3,
                 fmt::format("sign-in by privileged {} {}", c.facts.sp_sign_in ? "service principal" : "account",
                             signin_label(c.facts))});
}

void signin_no_mfa(const RuleContext& c, std::vector<RuleHit>& out) {
  const auto& f = c.facts;
  if (!privileged_sign_in(c) || !f.success || f.sp_sign_in) return;
  if (!iequals(f.auth_requirement, "singleFactorAuthentication") || f.mfa_step_succeeded) return;
  out.push_back({"pa.signin.no_mfa", 8, fmt::format("privileged account {} signed in with a single factor", signin_label(f))});
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
  if (!privileged_sign_in(c) || f.sp_sign_in || f.client_app.empty() || !legacy_client(c.settings.legacy_protocols, f.client_app)) return;
  out.push_back({"pa.signin.legacy_auth", 8, fmt::format("privileged account {} used legacy client '{}'", signin_label(f), f.client_app)});
}

void signin_unmanaged_device(const RuleContext& c, std::vector<RuleHit>& out) {
  const auto& f = c.facts;
  if (!privileged_sign_in(c) || !f.success || f.sp_sign_in) return;  // a workload has no device
  if (f.device_compliant.value_or(false) || f.device_managed.value_or(false)) return;
  out.push_back({"pa.signin.unmanaged_device", 6,
                 fmt::format("privileged account {} signed in from a device that is neither compliant nor managed", signin_label(f))});
}

void signin_nonadmin_app(const RuleContext& c, std::vector<RuleHit>& out) {
  const auto& f = c.facts;
  if (!privileged_sign_in(c) || f.sp_sign_in || f.app_name.empty() || !any_iequal(c.settings.everyday_apps, f.app_name)) return;
  out.push_back({"pa.signin.nonadmin_app", 5,
                 fmt::format("privileged account {} signed in to everyday app '{}'", signin_label(f), f.app_name)});
}

void signin_risky(const RuleContext& c, std::vector<RuleHit>& out) {
  const auto& f = c.facts;
  if (!privileged_sign_in(c)) return;
  // A risk an administrator or Identity Protection already closed (dismissed, remediated,
  // confirmed safe by default) is no longer a lead.
  if (!f.risk_state.empty() && any_iequal(c.settings.resolved_risk_states, f.risk_state)) return;
  for (const std::string& level : {std::cref(f.risk_during), std::cref(f.risk_aggregated)}) {
    if (iequals(level, "medium") || iequals(level, "high")) {
      out.push_back({"pa.signin.risky", 8, fmt::format("privileged sign-in by {} at {} risk", signin_label(f), level)});
      return;
    }
  }
}

}  // namespace siem::rules
