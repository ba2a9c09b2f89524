#include "connector/enrichment/roster.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "connector/record/json_access.h"

namespace siem {

namespace {
// ASCII lower-casing, the same as the lookups' json::LowerKey (and as std::tolower in the C locale
// the connector runs in).
std::string lower(std::string_view s) { return json::to_lower(s); }
// Nothing to keep: no role, no membership, not from config.
bool unused(const RosterEntry& e) { return e.roles.empty() && e.groups.empty() && !e.is_static; }
}  // namespace

Roster::Roster() : Roster(json::ihash_seed()) {}
Roster::Roster(std::uint64_t hash_seed) : by_key_(0, FoldedHash{hash_seed}) {}

bool Roster::FoldedEqual::same(std::string_view a, std::string_view b) noexcept { return json::iequals(a, b); }
Roster::Probe Roster::probe(std::string_view s) const noexcept { return Probe{s, json::ihash(s, by_key_.hash_function().seed)}; }
Roster::Key Roster::key_of(std::string text) const noexcept {
  const std::uint64_t h = json::ihash(text, by_key_.hash_function().seed);
  return Key{std::move(text), h};
}

const RosterEntry* Roster::find(const std::string& key) const {
  auto it = by_key_.find(probe(key));
  return it == by_key_.end() ? nullptr : &entries_[it->second];
}

RosterEntry* Roster::find_mut(const std::vector<std::string>& keys) {
  for (const auto& k : keys) {
    if (k.empty()) continue;
    auto it = by_key_.find(probe(k));
    if (it != by_key_.end()) return &entries_[it->second];
  }
  return nullptr;
}

void Roster::index(std::size_t entry) {
  for (const auto& k : entries_[entry].keys) by_key_[key_of(k)] = entry;
}

void Roster::rebuild_index() {
  by_key_.clear();
  for (std::size_t i = 0; i < entries_.size(); ++i) index(i);
}

void Roster::add_static(const std::string& upn_or_id) {
  if (upn_or_id.empty()) return;
  if (auto* e = find_mut({upn_or_id})) {
    e->is_static = true;
    return;
  }
  RosterEntry e;
  e.keys.insert(lower(upn_or_id));
  e.is_static = true;
  entries_.push_back(std::move(e));
  index(entries_.size() - 1);
}

std::uint16_t Roster::tenant_id(std::string_view tenant) {
  if (tenant.empty()) return 0;
  const std::string t = lower(tenant);
  for (std::size_t i = 1; i < tenants_.size(); ++i)
    if (tenants_[i] == t) return static_cast<std::uint16_t>(i);
  if (tenants_.size() > UINT16_MAX) return 0;  // beyond any real deployment: treated as not known
  tenants_.push_back(t);
  snapshot_.push_back({1, 1});
  return static_cast<std::uint16_t>(tenants_.size() - 1);
}

void Roster::grant(const std::vector<std::string>& keys, const std::string& role_id, int tier, std::int64_t now_ms,
                   bool eligible, std::int64_t until_ms, bool from_snapshot, std::string_view tenant) {
  const std::uint16_t tid = tenant_id(tenant);
  RosterEntry* e = find_mut(keys);
  if (!e) {
    if (entries_.size() >= kMaxPrincipals) return;
    entries_.emplace_back();
    e = &entries_.back();
  }
  if (tid != 0) e->tenant = tid;
  for (const auto& k : keys)
    if (!k.empty()) e->keys.insert(lower(k));
  RoleHold& hold = e->roles[role_id];
  hold.tier = tier;
  auto& until = eligible ? hold.eligible_until : hold.active_until;
  if (from_snapshot) {
    until = until_ms;
    (eligible ? hold.eligible_snapshot : hold.active_snapshot) = snapshot_[e->tenant][eligible ? 1 : 0];
  } else {
    auto& granted = eligible ? hold.eligible_granted_ms : hold.active_granted_ms;
    const bool older = now_ms < granted || (!eligible && now_ms < hold.active_ended_ms);
    if (!older) until = until_ms;
    granted = std::max(granted, now_ms);
  }
  e->updated_ms = std::max(e->updated_ms, now_ms);
  // Holds that ended long before this event are forgotten (bounded memory and state).
  const std::int64_t horizon = e->updated_ms - kEndedRetentionMs;
  std::erase_if(e->roles, [&](const auto& kv) { return !kv.second.held_at(horizon); });
  dirty_ = true;
  if (unused(*e)) {  // a grant that had already ended long ago
    erase_if_empty(e);
    return;
  }
  index(static_cast<std::size_t>(e - entries_.data()));
}

void Roster::erase_if_empty(RosterEntry* e) {
  if (!unused(*e)) return;
  entries_.erase(entries_.begin() + (e - entries_.data()));
  rebuild_index();
}

void Roster::revoke(const std::vector<std::string>& keys, const std::string& role_id) {
  RosterEntry* e = find_mut(keys);
  if (!e) return;
  e->roles.erase(role_id);
  erase_if_empty(e);
  dirty_ = true;
}

void Roster::end_active(const std::vector<std::string>& keys, const std::string& role_id, std::int64_t at_ms) {
  RosterEntry* e = find_mut(keys);
  if (!e) return;
  const auto it = e->roles.find(role_id);
  if (it == e->roles.end()) return;
  RoleHold& hold = it->second;
  if (at_ms < hold.active_granted_ms) return;  // a previous activation's end
  hold.active_until = std::min(hold.active_until, at_ms);  // kept for earlier events; grant() prunes
  hold.active_ended_ms = std::max(hold.active_ended_ms, at_ms);
  dirty_ = true;
}

std::size_t Roster::complete_snapshot(bool eligible, std::int64_t read_ms,
                                      const std::function<bool(const std::string& role_id)>& covers,
                                      std::string_view tenant) {
  const std::uint16_t tid = tenant_id(tenant);
  const std::uint32_t number = snapshot_[tid][eligible ? 1 : 0]++;
  std::size_t ended = 0;
  for (auto& e : entries_) {
    if (tid != 0 && e.tenant != 0 && e.tenant != tid) continue;  // another tenant's principal
    for (auto& [role, hold] : e.roles) {
      auto& until = eligible ? hold.eligible_until : hold.active_until;
      const auto listed = eligible ? hold.eligible_snapshot : hold.active_snapshot;
      const auto granted = eligible ? hold.eligible_granted_ms : hold.active_granted_ms;
      if (until <= read_ms || listed == number || granted >= read_ms || !covers(role)) continue;
      until = read_ms;
      ++ended;
    }
  }
  // Forget what ended long before this snapshot (a principal whose roles are all gone goes too):
  // holds end here or in end_active(), but only a later grant of the same principal pruned them.
  const std::int64_t horizon = read_ms - kEndedRetentionMs;
  const std::size_t before = entries_.size();
  bool pruned = false;
  for (auto& e : entries_) {
    pruned |= std::erase_if(e.roles, [&](const auto& kv) { return !kv.second.held_at(horizon); }) > 0;
    const std::size_t memberships = e.groups.size();
    prune_groups(e, horizon);
    pruned |= e.groups.size() != memberships;
  }
  std::erase_if(entries_, unused);
  if (entries_.size() != before) rebuild_index();
  if (ended > 0 || pruned) dirty_ = true;
  return ended;
}

bool Roster::in_tenant(const RosterEntry& e, std::string_view tenant) const {
  return e.tenant == 0 || (e.tenant < tenants_.size() && json::iequals(tenants_[e.tenant], tenant));
}

void Roster::link_keys(const std::vector<std::string>& keys, std::string_view tenant) {
  RosterEntry* e = find_mut(keys);
  if (!e || !in_tenant(*e, tenant)) return;
  const auto at = static_cast<std::size_t>(e - entries_.data());
  for (const auto& k : keys) {
    if (k.empty() || e->keys.size() >= kMaxKeysPerPrincipal || by_key_.count(probe(k)) != 0) continue;
    std::string key = lower(k);
    e->keys.insert(key);
    by_key_.emplace(key_of(std::move(key)), at);
    dirty_ = true;
  }
}

void Roster::note_privileged_sign_in(const std::vector<std::string>& keys, std::int64_t at_ms,
                                     std::string_view tenant) {
  link_keys(keys, tenant);
  RosterEntry* e = find_mut(keys);
  if (!e || !in_tenant(*e, tenant) || at_ms <= e->last_privileged_sign_in_ms) return;
  e->last_privileged_sign_in_ms = at_ms;
  dirty_ = true;
}

std::optional<std::int64_t> Roster::last_privileged_sign_in(const std::string& key) const {
  const auto* e = find(key);
  if (!e || e->last_privileged_sign_in_ms == 0) return std::nullopt;
  return e->last_privileged_sign_in_ms;
}

template <class F>
void Roster::for_each_hold(const RosterEntry& e, std::int64_t at_ms, F&& f) const {
  for (const auto& [role, hold] : e.roles) f(hold);
  for (const auto& [group, m] : e.groups) {
    if (!m.member_at(at_ms)) continue;
    const RosterEntry* g = find(group);
    if (!g || !g->is_group || g == &e) continue;
    for (const auto& [role, hold] : g->roles) f(hold);  // a group's own holds only: no nesting
  }
}

bool Roster::contains(const std::string& key, std::int64_t at_ms) const {
  const auto* e = find(key);
  if (!e) return false;
  if (e->is_static) return true;
  bool held = false;
  for_each_hold(*e, at_ms, [&](const RoleHold& h) { held = held || h.held_at(at_ms); });
  return held;
}

std::optional<int> Roster::tier_in_tenant(const std::string& key, std::int64_t at_ms, std::string_view tenant) const {
  const auto* e = find(key);
  if (!e || !in_tenant(*e, tenant)) return std::nullopt;
  return tier_of(key, at_ms);
}

bool Roster::contains_in_tenant(const std::string& key, std::int64_t at_ms, std::string_view tenant) const {
  const auto* e = find(key);
  return e && in_tenant(*e, tenant) && contains(key, at_ms);
}

bool Roster::holds_active(const std::string& key, std::int64_t at_ms) const {
  const auto* e = find(key);
  if (!e) return false;
  if (e->roles.empty() && e->groups.empty()) return e->is_static;
  bool active = false;
  for_each_hold(*e, at_ms, [&](const RoleHold& h) { active = active || h.active_at(at_ms); });
  return active;
}

std::optional<int> Roster::tier_of(const std::string& key, std::int64_t at_ms) const {
  const auto* e = find(key);
  if (!e) return std::nullopt;
  int best = 3;
  for_each_hold(*e, at_ms, [&](const RoleHold& h) {
    if (h.held_at(at_ms)) best = std::min(best, h.tier);
  });
  if (best < 3) return best;
  if (e->is_static) return -1;  // listed, tier unknown
  return std::nullopt;
}

void Roster::mark_group(const std::string& group_id) { mark_known_group(group_id); }

bool Roster::mark_known_group(const std::string& group_id) {
  RosterEntry* g = group_id.empty() ? nullptr : find_mut({group_id});
  if (!g) return false;
  if (!g->is_group) {
    g->is_group = true;
    dirty_ = true;
  }
  return true;
}

bool Roster::is_group(const std::string& key) const {
  const auto* e = key.empty() ? nullptr : find(key);
  return e && e->is_group;
}

std::map<std::string, int> Roster::group_roles(const std::string& group_id, std::int64_t at_ms) const {
  std::map<std::string, int> out;
  const auto* g = group_id.empty() ? nullptr : find(group_id);
  if (!g || !g->is_group) return out;
  for (const auto& [role, hold] : g->roles)
    if (hold.held_at(at_ms)) out.emplace(role, hold.tier);
  return out;
}

bool Roster::add_member(const std::string& group_id, const std::vector<std::string>& member_keys, std::int64_t at_ms,
                        std::string_view tenant) {
  // The id comes from a membership audit's group: on the roster, it is a group holding a role
  // (whether or not the role event or snapshot that put it there said it was a group).
  if (!mark_known_group(group_id)) return false;
  const std::string group = lower(group_id);
  if (std::find(member_keys.begin(), member_keys.end(), group_id) != member_keys.end()) return true;  // itself
  const std::uint16_t tid = tenant_id(tenant);
  RosterEntry* e = find_mut(member_keys);
  const bool any_key = std::any_of(member_keys.begin(), member_keys.end(), [](const std::string& k) { return !k.empty(); });
  if (!e) {
    if (!any_key || entries_.size() >= kMaxPrincipals) return true;
    entries_.emplace_back();
    e = &entries_.back();
  }
  if (!e->groups.count(group) && e->groups.size() >= kMaxGroupsPerPrincipal) prune_groups(*e, at_ms - kEndedRetentionMs);
  if (e->groups.count(group) || e->groups.size() < kMaxGroupsPerPrincipal) {
    Membership& m = e->groups[group];
    m.added_ms = std::max(m.added_ms, at_ms);  // a remove newer than this add still wins
  }
  if (tid != 0) e->tenant = tid;
  for (const auto& k : member_keys)
    if (!k.empty()) e->keys.insert(lower(k));
  e->updated_ms = std::max(e->updated_ms, at_ms);
  dirty_ = true;
  if (unused(*e)) {
    erase_if_empty(e);
    return true;
  }
  index(static_cast<std::size_t>(e - entries_.data()));
  return true;
}

bool Roster::remove_member(const std::string& group_id, const std::vector<std::string>& member_keys, std::int64_t at_ms) {
  if (!mark_known_group(group_id)) return false;
  RosterEntry* e = find_mut(member_keys);
  if (!e) return true;
  const auto it = e->groups.find(lower(group_id));
  if (it == e->groups.end()) return true;
  it->second.removed_ms = std::max(it->second.removed_ms, at_ms);  // an add newer than this remove still wins
  e->updated_ms = std::max(e->updated_ms, at_ms);
  dirty_ = true;
  return true;
}

void Roster::prune_groups(RosterEntry& e, std::int64_t horizon) const {
  std::erase_if(e.groups, [&](const auto& kv) { return !kv.second.member_at(horizon) || !is_group(kv.first); });
}

namespace {
// A hold's end in the state: null when it does not end (kForever), 0 when not held that way.
nlohmann::json until_json(std::int64_t until) {
  return until == RoleHold::kForever ? nlohmann::json(nullptr) : nlohmann::json(until);
}
std::int64_t until_of(const nlohmann::json& j) { return j.is_null() ? RoleHold::kForever : j.get<std::int64_t>(); }
}  // namespace

std::string Roster::serialize() const {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& e : entries_) {
    if (e.is_static) continue;  // config is the source of static entries
    nlohmann::json holds = nlohmann::json::object();
    for (const auto& [role, h] : e.roles)
      holds[role] = {{"tier", h.tier},
                     {"active_until", until_json(h.active_until)},
                     {"eligible_until", until_json(h.eligible_until)},
                     {"active_granted_ms", h.active_granted_ms},
                     {"eligible_granted_ms", h.eligible_granted_ms},
                     {"active_ended_ms", h.active_ended_ms}};
    nlohmann::json entry = {{"keys", e.keys}, {"holds", holds}, {"updated_ms", e.updated_ms}};
    if (e.is_group) entry["group"] = true;
    if (!e.groups.empty()) {  // group id -> [added_ms, removed_ms]
      nlohmann::json groups = nlohmann::json::object();
      for (const auto& [g, m] : e.groups) groups[g] = {m.added_ms, m.removed_ms};
      entry["member_of"] = std::move(groups);
    }
    if (e.tenant != 0) entry["tenant"] = tenants_[e.tenant];
    if (e.last_privileged_sign_in_ms != 0) entry["last_privileged_sign_in_ms"] = e.last_privileged_sign_in_ms;
    j.push_back(std::move(entry));
  }
  return nlohmann::json{{"version", 2}, {"principals", j}}.dump();
}

void Roster::deserialize(const std::string& text) {
  const auto j = nlohmann::json::parse(text);
  const int version = j.value("version", 1);
  for (const auto& p : j.at("principals")) {
    const auto keys = p.at("keys").get<std::vector<std::string>>();
    const auto updated = p.value("updated_ms", std::int64_t{0});
    const auto tenant = p.value("tenant", std::string());
    if (version < 2) {  // roles (id -> tier) and the ids held only as eligible; nothing ended
      const auto eligible = p.value("eligible", std::set<std::string>{});
      for (const auto& [role, tier] : p.at("roles").get<std::map<std::string, int>>())
        grant(keys, role, tier, updated, eligible.count(role) > 0);
      continue;
    }
    for (const auto& [role, h] : p.at("holds").items()) {
      const int tier = h.at("tier").get<int>();
      if (const auto a = until_of(h.at("active_until")); a != 0) grant(keys, role, tier, updated, false, a, false, tenant);
      if (const auto el = until_of(h.at("eligible_until")); el != 0)
        grant(keys, role, tier, updated, true, el, false, tenant);
      // grant() stamped `updated`; the saved grant times are what they were.
      if (auto* e = find_mut(keys); e && e->roles.count(role)) {
        e->roles[role].active_granted_ms = h.value("active_granted_ms", std::int64_t{0});
        e->roles[role].eligible_granted_ms = h.value("eligible_granted_ms", std::int64_t{0});
        e->roles[role].active_ended_ms = h.value("active_ended_ms", std::int64_t{0});
      }
    }
    if (p.value("group", false))
      if (auto* e = find_mut(keys)) e->is_group = true;
    if (const auto member_of = p.find("member_of"); member_of != p.end() && !member_of->empty()) {
      RosterEntry* e = find_mut(keys);
      if (!e && entries_.size() < kMaxPrincipals) {  // a member holding nothing directly
        entries_.emplace_back();
        e = &entries_.back();
        for (const auto& k : keys)
          if (!k.empty()) e->keys.insert(lower(k));
        e->tenant = tenant_id(tenant);
        e->updated_ms = updated;
        index(entries_.size() - 1);
      }
      for (const auto& [g, m] : member_of->items()) {
        if (!e || e->groups.size() >= kMaxGroupsPerPrincipal) break;
        e->groups[lower(g)] = Membership{m.at(0).get<std::int64_t>(), m.at(1).get<std::int64_t>()};
      }
    }
    if (const auto last = p.value("last_privileged_sign_in_ms", std::int64_t{0}); last != 0)
      if (auto* e = find_mut(keys)) e->last_privileged_sign_in_ms = std::max(e->last_privileged_sign_in_ms, last);
  }
  dirty_ = false;
}

}  // namespace siem
