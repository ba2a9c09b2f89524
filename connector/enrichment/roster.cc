#include "connector/enrichment/roster.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "connector/mapping/json_access.h"

namespace siem {

namespace {
// ASCII lower-casing, the same as the lookups' json::LowerKey (and as std::tolower in the C locale
// the connector runs in).
std::string lower(std::string_view s) { return json::to_lower(s); }
}  // namespace

const RosterEntry* Roster::find(const std::string& key) const {
  auto it = by_key_.find(json::LowerKey(key).view());
  return it == by_key_.end() ? nullptr : &entries_[it->second];
}

RosterEntry* Roster::find_mut(const std::vector<std::string>& keys) {
  for (const auto& k : keys) {
    if (k.empty()) continue;
    auto it = by_key_.find(json::LowerKey(k).view());
    if (it != by_key_.end()) return &entries_[it->second];
  }
  return nullptr;
}

void Roster::index(std::size_t entry) {
  for (const auto& k : entries_[entry].keys) by_key_[k] = entry;
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

void Roster::grant(const std::vector<std::string>& keys, const std::string& role_id, int tier, std::int64_t now_ms,
                   bool eligible) {
  RosterEntry* e = find_mut(keys);
  if (!e) {
    if (entries_.size() >= kMaxPrincipals) return;
    entries_.emplace_back();
    e = &entries_.back();
  }
  for (const auto& k : keys)
    if (!k.empty()) e->keys.insert(lower(k));
  const bool had_active = e->roles.count(role_id) && !e->eligible.count(role_id);
  e->roles[role_id] = tier;
  if (!eligible) e->eligible.erase(role_id);
  else if (!had_active) e->eligible.insert(role_id);
  e->updated_ms = now_ms;
  index(static_cast<std::size_t>(e - entries_.data()));
  dirty_ = true;
}

void Roster::revoke(const std::vector<std::string>& keys, const std::string& role_id) {
  RosterEntry* e = find_mut(keys);
  if (!e) return;
  e->roles.erase(role_id);
  e->eligible.erase(role_id);
  if (e->roles.empty() && !e->is_static) {
    entries_.erase(entries_.begin() + (e - entries_.data()));
    rebuild_index();
  }
  dirty_ = true;
}

void Roster::apply_snapshot(const std::vector<SnapshotPrincipal>& principals, std::int64_t now_ms) {
  std::vector<RosterEntry> kept;
  for (auto& e : entries_)
    if (e.is_static) {
      e.roles.clear();
      e.eligible.clear();
      kept.push_back(std::move(e));
    }
  entries_ = std::move(kept);
  rebuild_index();
  for (const auto& p : principals) {
    for (const auto& [role, tier] : p.eligible) grant(p.keys, role, tier, now_ms, true);
    for (const auto& [role, tier] : p.active) grant(p.keys, role, tier, now_ms, false);
  }
  dirty_ = true;
}

bool Roster::holds_active(const std::string& key) const {
  const auto* e = find(key);
  if (!e) return false;
  if (e->roles.empty()) return e->is_static;
  return e->roles.size() > e->eligible.size();
}

std::optional<int> Roster::tier_of(const std::string& key) const {
  const auto* e = find(key);
  if (!e) return std::nullopt;
  int best = 3;
  for (const auto& [role, tier] : e->roles) best = std::min(best, tier);
  return best == 3 ? std::optional<int>(-1) : std::optional<int>(best);  // -1: listed, tier unknown
}

std::string Roster::serialize() const {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& e : entries_) {
    if (e.is_static) continue;  // config is the source of static entries
    j.push_back({{"keys", e.keys}, {"roles", e.roles}, {"eligible", e.eligible}, {"updated_ms", e.updated_ms}});
  }
  return nlohmann::json{{"version", 1}, {"principals", j}}.dump();
}

void Roster::deserialize(const std::string& text) {
  const auto j = nlohmann::json::parse(text);
  for (const auto& p : j.at("principals")) {
    const auto keys = p.at("keys").get<std::vector<std::string>>();
    const auto roles = p.at("roles").get<std::map<std::string, int>>();
    const auto eligible = p.value("eligible", std::set<std::string>{});
    for (const auto& [role, tier] : roles)
      grant(keys, role, tier, p.value("updated_ms", std::int64_t{0}), eligible.count(role) > 0);
  }
  dirty_ = false;
}

}  // namespace siem
