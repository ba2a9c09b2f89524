// Emergency access (break-glass) accounts: any sign-in attempt, any action.
#include "connector/enrichment/rules/rules.h"

#include <fmt/format.h>

#include "connector/enrichment/rules/rule_util.h"

namespace siem::rules {

void breakglass_signin(const RuleContext& c, std::vector<RuleHit>& out) {
  const auto& f = c.facts;
  if (!is_sign_in(f)) return;
  if (!is_break_glass(c.settings, f.user_upn) && !is_break_glass(c.settings, f.user_id)) return;
  out.push_back({"pa.breakglass.signin", 10,
                 fmt::format("break-glass account {} signed in ({})", f.user_upn.empty() ? f.user_id : f.user_upn,
                             f.success ? "success" : fmt::format("failure {}", f.error_code))});
}

void breakglass_activity(const RuleContext& c, std::vector<RuleHit>& out) {
  const auto& f = c.facts;
  if (is_sign_in(f) || f.family == Facts::Family::other || f.family == Facts::Family::pim_instance) return;
  for (const std::string& k : {std::cref(f.actor.upn), std::cref(f.actor.id), std::cref(f.caller)}) {
    if (!k.empty() && is_break_glass(c.settings, k)) {
      out.push_back({"pa.breakglass.activity", 9, fmt::format("break-glass account {} performed '{}'", k, f.operation)});
      return;
    }
  }
}

}  // namespace siem::rules
