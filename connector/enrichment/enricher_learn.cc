// The enricher's roster learning (enricher_learn.h): what a record teaches the roster of
// privileged principals and the new-account table.
#include "connector/enrichment/enricher_learn.h"

#include <algorithm>
#include <functional>

#include "connector/enrichment/rules/rule_util.h"
#include "connector/record/json_access.h"

namespace siem {

namespace {

std::string lower(std::string_view s) { return json::to_lower(s); }

}  // namespace

// Memberships are kept for groups on the roster only (Roster::add_member).
void RosterLearning::learn_membership(const GroupChange& c, std::int64_t event_ms, std::string_view tenant) {
  const std::vector<std::string> keys{c.member->id, c.member->upn, c.member->app_id};
  if (c.added) roster_.add_member(c.group_id, keys, event_ms, tenant);
  else roster_.remove_member(c.group_id, keys, event_ms);
}

// A role event's target is a group: its @odata.type / type says so, or the roster knows its id as one.
bool RosterLearning::is_group_target(const PrincipalRef& t) const {
  return iequals_group(t.type) || roster_.is_group(t.id);
}
bool RosterLearning::iequals_group(std::string_view type) {
  return json::iequals(type, "Group") || json::iequals(type, "#microsoft.graph.group");
}

// What the record may teach the roster, from the record alone (prepare(), any worker). The role
// holds only for a record touching a privileged role (`may_hold`: its own, or a group's, known
// in ordered()).
RosterLearning::Learns RosterLearning::learns_of(const Facts& f, bool may_hold) const {
  Learns l;
  l.new_account = f.family == Facts::Family::audit && f.success && json::iequals(operation_name(f), "Add user");
  // A high-privilege app role (privileged_app_roles) granted to a service principal.
  if (f.family == Facts::Family::audit && f.success && !f.app_role_value.empty() &&
      json::icontains(f.operation, "app role assignment") && rules::privileged_permission(settings_, f.app_role_value))
  {
    // The activity name as the rules read it (white space around it ignored, like theirs).
    const std::string_view op = operation_name(f);
    l.app_role = json::istarts_with(op, "Add") ? 1 : json::istarts_with(op, "Remove") ? -1 : 0;
  }
  if (!may_hold) return l;
  const bool azure_write = f.family == Facts::Family::activity && f.success && !f.in_progress &&
                           json::icontains(f.operation, "Microsoft.Authorization/roleAssignments/write");
  const bool azure_delete = f.family == Facts::Family::activity && f.success && !f.in_progress &&
                            json::icontains(f.operation, "Microsoft.Authorization/roleAssignments/delete");
  l.add = is_role_add(f) || is_pim_activation(f) || f.family == Facts::Family::pim_instance || azure_write;
  l.deactivation = is_pim_deactivation(f);
  l.remove = is_role_remove(f) || azure_delete;
  if (!l.add && !l.deactivation && !l.remove) return l;
  // Eligible (may activate) vs active: PIM eligibility requests/instances and "eligible" audits.
  l.eligible = !is_pim_activation(f) && (f.eligible || json::icontains(f.operation, "eligible"));
  // Schedule instances are Graph's state (the roster snapshots), the rest are events.
  l.snapshot = f.family == Facts::Family::pim_instance;
  return l;
}

// The roster and the new-account table learn what prepare() found the record teaches (in order).
void RosterLearning::learn(const Facts& f, const Learns& l, std::int64_t event_ms,
                           const std::vector<const RoleInfo*>& privileged, std::string_view tenant) {
  // New accounts, for pa.account.new_admin (bounded: oldest entries go first).
  if (l.new_account) {
    for (const auto& t : f.targets)
      for (const std::string& k : {std::cref(t.id), std::cref(t.upn)})
        if (!k.empty()) account_created_[lower(k)] = event_ms;
    if (account_created_.size() > kMaxNewAccounts) {
      // Outside the window first; if a burst of creations still overflows, the oldest go.
      const std::int64_t cutoff = event_ms - settings_.new_account_window_ms;
      std::erase_if(account_created_, [&](const auto& kv) { return kv.second < cutoff; });
      if (account_created_.size() > kMaxNewAccounts) {
        std::vector<std::int64_t> times;
        times.reserve(account_created_.size());
        for (const auto& kv : account_created_) times.push_back(kv.second);
        const auto drop = account_created_.size() - kMaxNewAccounts * 9 / 10;
        std::nth_element(times.begin(), times.begin() + static_cast<std::ptrdiff_t>(drop), times.end());
        const std::int64_t oldest_kept = times[drop];
        std::erase_if(account_created_, [&](const auto& kv) { return kv.second < oldest_kept; });
      }
    }
  }
  if (l.app_role != 0) learn_app_role(f, l.app_role > 0, event_ms, tenant);
  if (privileged.empty() || (!l.add && !l.deactivation && !l.remove)) return;
  // A time-bound assignment or an activation ends (PIM schedules); other grants hold until removed.
  const std::int64_t until = f.ends_ms ? *f.ends_ms : RoleHold::kForever;
  for (const auto& t : f.targets) {
    std::vector<std::string> keys{t.id, t.upn, t.app_id};
    if (keys[0].empty() && keys[1].empty() && keys[2].empty()) continue;
    const bool group = is_group_target(t);
    for (const auto* r : privileged) {
      if (l.add) roster_.grant(keys, r->id, r->tier, event_ms, l.eligible, until, l.snapshot, tenant);
      else if (l.deactivation) roster_.end_active(keys, r->id, event_ms);  // an eligibility stays
      else roster_.revoke(keys, r->id);
    }
    if (l.add && group) roster_.mark_group(t.id);  // its members hold its roles
  }
}

// A high-privilege app role (privileged_app_roles) granted to a service principal makes it a
// privileged principal, keyed by object id and application id, until the assignment is removed.
// The hold's role id is "approle:" and the permission in lower case (no Entra role snapshot
// lists it, so snapshots leave it alone); tier 1.
void RosterLearning::learn_app_role(const Facts& f, bool added, std::int64_t event_ms, std::string_view tenant) {
  const std::vector<std::string> keys{f.grantee.id, f.grantee.app_id};
  if (keys[0].empty() && keys[1].empty()) return;
  const std::string role = "approle:" + lower(f.app_role_value);
  if (added) roster_.grant(keys, role, 1, event_ms, false, RoleHold::kForever, false, tenant);
  else roster_.revoke(keys, role);
}

}  // namespace siem
