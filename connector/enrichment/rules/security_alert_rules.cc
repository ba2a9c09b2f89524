// Security alerts whose evidence names a privileged principal (docs/detections.md, pa.alert.*).
#include "connector/enrichment/rules/rules.h"

#include <fmt/format.h>

#include "connector/enrichment/rules/rule_util.h"

namespace siem::rules {

// A principal on the roster at the alert's time (or a break-glass account) named by the alert's
// evidence: severity 9 for a high or medium alert, 7 for a low, informational or unrated one.
void alert_privileged_principal(const RuleContext& c, std::vector<RuleHit>& out) {
  const auto& f = c.facts;
  if (f.family != Facts::Family::alert) return;
  for (const auto& p : f.targets) {
    const std::string key = privileged_key(c, p);
    if (key.empty()) continue;
    const bool serious = iequals(f.alert_severity, "high") || iequals(f.alert_severity, "medium");
    out.push_back({"pa.alert.privileged_principal", serious ? 9 : 7,
                   fmt::format("{} alert '{}' ({}) names privileged principal {}", f.alert_severity.empty() ? "unrated" : f.alert_severity,
                               f.operation, f.status, key)});
    return;
  }
}

}  // namespace siem::rules
