#include "connector/enrichment/detections.h"

#include <array>
#include <cassert>

#include "connector/enrichment/rules/rules.h"
#include "connector/record/json_access.h"

namespace siem {

using json::icontains;
using json::iequals;
using json::istarts_with;

std::string_view operation_name(const Facts& f) noexcept {
  std::string_view op = f.operation;
  const auto blank = [](char ch) { return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n'; };
  while (!op.empty() && blank(op.front())) op.remove_prefix(1);
  while (!op.empty() && blank(op.back())) op.remove_suffix(1);
  return op;
}

bool is_pim_service(const Facts& f) {
  return iequals(f.logged_by_service, "PIM") || iequals(f.actor_app, "MS-PIM") ||
         iequals(f.actor.name, "MS-PIM") || iequals(f.actor.name, "Azure AD PIM") ||
         icontains(f.actor_app, "Privileged Identity Management");
}

bool is_pim_activation(const Facts& f) {
  if (!f.success) return false;
  if (f.family == Facts::Family::pim_request)
    return iequals(f.pim_action, "selfActivate") || iequals(f.pim_action, "SelfActivate");
  if (f.family != Facts::Family::audit) return false;
  const std::string_view op = operation_name(f);
  return icontains(op, "(PIM activation)") && istarts_with(op, "Add member to role") && !icontains(op, "requested") &&
         !icontains(op, "canceled") && !icontains(op, "expired");
}

std::optional<GroupChange> group_membership_change(const Facts& f) {
  if (f.family != Facts::Family::audit || !f.success) return std::nullopt;
  const bool added = iequals(operation_name(f), "Add member to group");
  if (!added && !iequals(operation_name(f), "Remove member from group")) return std::nullopt;
  GroupChange c;
  c.added = added;
  for (const auto& t : f.targets) {
    if (iequals(t.type, "Group")) {
      if (c.group_id.empty()) {
        c.group_id = t.id;
        c.group_name = t.name;
      }
    } else if (!c.member && (!t.id.empty() || !t.upn.empty())) {
      c.member = &t;
    }
  }
  // Log Analytics / Graph records name the group in the member's modifiedProperties as well (the
  // group target's displayName is often null): new values on an add, old values on a remove.
  const auto mod = [&](std::string_view name) -> std::string {
    for (const auto& m : f.modified_properties)
      if (iequals(m.name, name)) return c.added || m.old_value.empty() ? m.new_value : m.old_value;
    return {};
  };
  if (c.group_id.empty()) c.group_id = mod("Group.ObjectID");
  if (c.group_name.empty()) c.group_name = mod("Group.DisplayName");
  if (c.group_id.empty() || !c.member) return std::nullopt;
  return c;
}

bool is_role_add(const Facts& f) {
  if (!f.success) return false;
  if (f.family == Facts::Family::pim_request) {
    return iequals(f.pim_action, "adminAssign") || iequals(f.pim_action, "AdminAssign") ||
           iequals(f.pim_action, "adminExtend") || iequals(f.pim_action, "adminRenew");
  }
  if (f.family != Facts::Family::audit) return false;
  const std::string_view op = operation_name(f);
  if (!istarts_with(op, "Add") || !icontains(op, "to role")) return false;
  if (icontains(op, "requested") || icontains(op, "canceled") || icontains(op, "expired") ||
      icontains(op, "(PIM activation)") || icontains(op, "denied"))
    return false;
  return true;
}

bool is_role_remove(const Facts& f) {
  if (!f.success) return false;
  if (f.family == Facts::Family::pim_request) return iequals(f.pim_action, "adminRemove") || iequals(f.pim_action, "AdminRemove");
  if (f.family != Facts::Family::audit) return false;
  const std::string_view op = operation_name(f);
  if (icontains(op, "requested") || icontains(op, "canceled")) return false;
  return (istarts_with(op, "Remove") && icontains(op, "from role")) ||
         iequals(op, "Remove permanent direct role assignment") || iequals(op, "Remove permanent eligible role assignment");
}

bool is_pim_deactivation(const Facts& f) {
  if (!f.success) return false;
  if (f.family == Facts::Family::pim_request) return iequals(f.pim_action, "selfDeactivate");
  if (f.family != Facts::Family::audit) return false;
  const std::string_view op = operation_name(f);
  return istarts_with(op, "Remove member from role") && !icontains(op, "requested") &&
         (icontains(op, "(PIM deactivate)") || icontains(op, "(PIM activation expired)"));
}

namespace {
constexpr FamilyMask kAudit = family_bit(Facts::Family::audit);
constexpr FamilyMask kSignIn = family_bit(Facts::Family::sign_in);
constexpr FamilyMask kActivity = family_bit(Facts::Family::activity);
constexpr FamilyMask kInventory = family_bit(Facts::Family::inventory);
// Role grants and PIM activations: directory / PIM audits and PIM requests (is_role_add, ...).
constexpr FamilyMask kRoleEvents = kAudit | family_bit(Facts::Family::pim_request);
// What a rule reads (DetectionEntry::reads): the record's facts alone, or the learned state too.
constexpr auto kRecord = DetectionEntry::Reads::record;
constexpr auto kLearned = DetectionEntry::Reads::learned_state;
}  // namespace

std::vector<std::string> enrichment_tags() {
  std::vector<std::string> tags;
  for (const auto& d : detection_catalogue()) tags.push_back(d.name);
  tags.emplace_back(kTier0Tag);
  tags.emplace_back(kTier1Tag);
  return tags;
}

const std::vector<DetectionEntry>& detection_catalogue() {
  static const std::vector<DetectionEntry> catalogue = {
      {"pa.role.assigned", 6, rules::role_assigned, kRoleEvents, kRecord},
      {"pa.role.assigned_outside_pim", 8, rules::assigned_outside_pim, kAudit, kRecord},
      {"pa.role.permanent", 6, rules::permanent, kRoleEvents, kRecord},
      {"pa.role.removed", 3, rules::removed, kRoleEvents, kRecord},
      {"pa.pim.activation", 5, rules::pim_activation, kRoleEvents, kRecord},
      {"pa.pim.no_justification", 7, rules::pim_no_justification, kRoleEvents, kRecord},
      {"pa.pim.long_activation", 6, rules::pim_long_activation, kRoleEvents, kRecord},
      {"pa.breakglass.signin", 10, rules::breakglass_signin, kSignIn, kRecord},
      {"pa.breakglass.activity", 9, rules::breakglass_activity, kRoleEvents | kActivity, kRecord},
      {"pa.signin.privileged", 3, rules::signin_privileged, kSignIn, kRecord},
      {"pa.signin.no_mfa", 8, rules::signin_no_mfa, kSignIn, kRecord},
      {"pa.signin.legacy_auth", 8, rules::signin_legacy_auth, kSignIn, kRecord},
      {"pa.signin.unmanaged_device", 6, rules::signin_unmanaged_device, kSignIn, kRecord},
      {"pa.signin.nonadmin_app", 5, rules::signin_nonadmin_app, kSignIn, kRecord},
      {"pa.signin.risky", 8, rules::signin_risky, kSignIn, kRecord},
      {"pa.account.external_admin", 9, rules::external_admin, kRoleEvents, kRecord},
      {"pa.account.credential_change", 6, rules::credential_change, kAudit, kLearned},
      {"pa.account.new_admin", 8, rules::new_admin, kRoleEvents, kLearned},
      {"pa.account.mfa_removed", 8, rules::mfa_removed, kAudit, kLearned},
      {"pa.tenant.federation_change", 9, rules::federation_change, kAudit, kRecord},
      {"pa.tenant.conditional_access_change", 7, rules::conditional_access_change, kAudit, kRecord},
      {"pa.tenant.auth_policy_change", 7, rules::auth_policy_change, kAudit, kRecord},
      {"pa.app.privileged_permission", 8, rules::app_privileged_permission, kAudit, kRecord},
      {"pa.app.credential_added", 6, rules::app_credential_added, kAudit, kLearned},
      {"pa.app.consent_granted", 6, rules::app_consent_granted, kAudit, kRecord},
      {"pa.azure.privileged_role_assignment", 7, rules::azure_privileged_role_assignment, kActivity, kRecord},
      {"pa.azure.role_assignment_removed", 3, rules::azure_role_assignment_removed, kActivity, kRecord},
      {"pa.azure.subscription_ownership", 8, rules::subscription_ownership, kActivity, kRecord},
      {"pa.azure.elevate_access", 9, rules::elevate_access, kAudit | kActivity, kRecord},
      // Alerts Microsoft computes (graph_pim_alerts, graph_risk_detections).
      {"pa.pim.alert", 7, rules::pim_alert, family_bit(Facts::Family::pim_alert), kRecord},
      {"pa.risk.privileged", 9, rules::risk_privileged, family_bit(Facts::Family::risk), kLearned},
      // Security alerts (Graph alerts_v2, Defender for Cloud).
      {"pa.alert.privileged_principal", 9, rules::alert_privileged_principal, family_bit(Facts::Family::alert), kLearned},
      {"pa.inventory.new_principal", 5, rules::inventory_new_principal, kInventory, kRecord},
      {"pa.inventory.new_global_admin", 9, rules::inventory_new_global_admin, kInventory, kRecord},
      {"pa.inventory.new_tier0", 8, rules::inventory_new_tier0, kInventory, kRecord},
      {"pa.inventory.made_permanent", 8, rules::inventory_made_permanent, kInventory, kRecord},
      {"pa.inventory.role_removed", 4, rules::inventory_role_removed, kInventory, kRecord},
  };
  return catalogue;
}

namespace {
// Per record family, the catalogue's rules that can fire on it (their indices, in catalogue order):
// all of them, and those that read the learned state.
struct FamilyRules {
  std::array<std::vector<std::uint16_t>, 16> all, learned;
};
const FamilyRules& family_rules() {
  static const FamilyRules rules = [] {
    FamilyRules out;
    const auto& catalogue = detection_catalogue();
    for (std::size_t f = 0; f < out.all.size(); ++f)
      for (std::size_t i = 0; i < catalogue.size(); ++i) {
        if (!(catalogue[i].families & (1u << f))) continue;
        out.all[f].push_back(static_cast<std::uint16_t>(i));
        if (catalogue[i].reads == DetectionEntry::Reads::learned_state) out.learned[f].push_back(static_cast<std::uint16_t>(i));
      }
    return out;
  }();
  return rules;
}
}  // namespace

void run_learned_rules(const RuleContext& ctx, std::vector<RuleHit>& hits, std::vector<std::uint16_t>& hit_rules) {
  const auto& catalogue = detection_catalogue();
  const auto family = static_cast<unsigned>(ctx.facts.family);
  assert(family < family_rules().learned.size());
  for (const std::uint16_t i : family_rules().learned[family]) {
    catalogue[i].rule(ctx, hits);
    hit_rules.resize(hits.size(), i);
  }
}

const Roster& no_roster() {
  static const Roster empty;
  return empty;
}
const std::map<std::string, std::int64_t>& no_accounts() {
  static const std::map<std::string, std::int64_t> empty;
  return empty;
}

void run_record_rules(const RuleContext& ctx, std::vector<RuleHit>& hits, const std::vector<std::uint16_t>& hit_rules,
                      std::vector<RuleHit>& out) {
  assert(&ctx.roster == &no_roster() && &ctx.account_created_ms == &no_accounts());
  const auto& catalogue = detection_catalogue();
  std::size_t next = 0;  // hits[next]: the next hit of a learned-state rule
  const auto family = static_cast<unsigned>(ctx.facts.family);
  assert(family < family_rules().all.size());
  for (const std::uint16_t i : family_rules().all[family]) {
    const auto& entry = catalogue[i];
    if (entry.reads == DetectionEntry::Reads::record) entry.rule(ctx, out);
    else
      for (; next < hits.size() && hit_rules[next] == i; ++next) out.push_back(std::move(hits[next]));
  }
  assert(next == hits.size());  // every learned hit was taken, none dropped
}

}  // namespace siem
