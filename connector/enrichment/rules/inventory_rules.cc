// Changes between two privileged-identity inventories (connector/enrichment/inventory.h): the
// change records carry changeType and the role; the role table gives its tier.
#include <fmt/format.h>

#include "connector/enrichment/rules/rule_util.h"
#include "connector/enrichment/rules/rules.h"

namespace siem::rules {

namespace {
constexpr std::string_view kGlobalAdministrator = "62e90394-69f5-4237-9190-012177145e10";

bool change_is(const Facts& f, std::string_view type) { return f.family == Facts::Family::inventory && f.operation == type; }

std::string who(const Facts& f) {
  if (f.targets.empty()) return "?";
  const auto& t = f.targets.front();
  return !t.upn.empty() ? t.upn : !t.name.empty() ? t.name : t.id;
}

std::string role_name(const RuleContext& c) {
  if (!c.privileged_roles.empty()) return c.privileged_roles.front()->name;
  return c.facts.roles.empty() ? std::string("?") : c.facts.roles.front().name;
}
}  // namespace

void inventory_new_principal(const RuleContext& c, std::vector<RuleHit>& out) {
  if (!change_is(c.facts, "principalAdded")) return;
  out.push_back({"pa.inventory.new_principal", 5, fmt::format("{} is a new privileged principal since the previous inventory", who(c.facts))});
}

void inventory_new_global_admin(const RuleContext& c, std::vector<RuleHit>& out) {
  if (!change_is(c.facts, "roleAdded")) return;
  for (const auto* r : c.privileged_roles)
    if (r->id == kGlobalAdministrator) {
      out.push_back({"pa.inventory.new_global_admin", 9, fmt::format("{} holds Global Administrator since the previous inventory", who(c.facts))});
      return;
    }
}

void inventory_new_tier0(const RuleContext& c, std::vector<RuleHit>& out) {
  if (!change_is(c.facts, "roleAdded")) return;
  for (const auto* r : c.privileged_roles)
    if (r->tier == 0) {
      out.push_back({"pa.inventory.new_tier0", 8, fmt::format("{} holds tier-0 role {} since the previous inventory", who(c.facts), r->name)});
      return;
    }
}

void inventory_made_permanent(const RuleContext& c, std::vector<RuleHit>& out) {
  if (!change_is(c.facts, "madePermanent")) return;
  out.push_back({"pa.inventory.made_permanent", 8,
                 fmt::format("{} now holds {} actively with no end (it was eligible or time-bound)", who(c.facts), role_name(c))});
}

void inventory_role_removed(const RuleContext& c, std::vector<RuleHit>& out) {
  if (!change_is(c.facts, "roleRemoved")) return;
  out.push_back({"pa.inventory.role_removed", 4, fmt::format("{} no longer holds {}", who(c.facts), role_name(c))});
}

}  // namespace siem::rules
