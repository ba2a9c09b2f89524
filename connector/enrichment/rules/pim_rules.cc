// PIM activations: every activation, thin justifications, long activations.
#include "connector/enrichment/rules/rules.h"

#include <algorithm>
#include <cctype>
#include <string_view>

#include <fmt/format.h>

#include "connector/enrichment/rules/rule_util.h"

namespace siem::rules {

void pim_activation(const RuleContext& c, std::vector<RuleHit>& out) {
  if (!is_pim_activation(c.facts)) return;
  const std::string roles = c.privileged_roles.empty() ? std::string("a role") : role_names(c);
  out.push_back({"pa.pim.activation", 5, fmt::format("{} activated {} through PIM", target_label(c.facts), roles)});
}

namespace {
// The characters of a justification without its leading and trailing white space: UTF-8 code
// points (a Japanese or Greek justification counts its letters, not their bytes), spaces between
// words included ("fix ticket" has 10).
std::size_t justification_chars(std::string_view j) {
  const auto space = [](char ch) { return std::isspace(static_cast<unsigned char>(ch)) != 0; };
  while (!j.empty() && space(j.front())) j.remove_prefix(1);
  while (!j.empty() && space(j.back())) j.remove_suffix(1);
  return static_cast<std::size_t>(std::count_if(j.begin(), j.end(), [](char ch) {
    return (static_cast<unsigned char>(ch) & 0xC0) != 0x80;  // not a continuation byte
  }));
}
}  // namespace

void pim_no_justification(const RuleContext& c, std::vector<RuleHit>& out) {
  const auto& f = c.facts;
  if (!is_pim_activation(f) || !f.has_justification) return;
  const std::size_t chars = justification_chars(f.justification);
  if (chars >= c.settings.pim_min_justification_chars) return;
  out.push_back({"pa.pim.no_justification", 7,
                 fmt::format("activation justified with {} character(s), fewer than {}", chars,
                             c.settings.pim_min_justification_chars)});
}

void pim_long_activation(const RuleContext& c, std::vector<RuleHit>& out) {
  const auto& f = c.facts;
  if (!is_pim_activation(f) || !f.duration_ms || *f.duration_ms <= c.settings.pim_max_activation_ms) return;
  out.push_back({"pa.pim.long_activation", 6,
                 fmt::format("activation for {:.1f} h, longer than the {:.1f} h maximum",
                             static_cast<double>(*f.duration_ms) / 3.6e6,
                             static_cast<double>(c.settings.pim_max_activation_ms) / 3.6e6)});
}

}  // namespace siem::rules
