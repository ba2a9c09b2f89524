// The privileged-principal roster: who holds (active) or may activate (eligible) a privileged role.
// Built from static config, learned from the role events the stream shows, and refreshed from Graph
// snapshots by the pull source. Persisted in the state store (key "roster") so a restart is not blind.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace siem {

class StateStore;

struct RosterEntry {
  std::set<std::string> keys;        // lower-case UPNs and object ids of this principal
  std::map<std::string, int> roles;  // role id -> tier
  bool is_static = false;            // listed in config: never removed by events
  std::int64_t updated_ms = 0;
};

class Roster {
 public:
  static constexpr std::size_t kMaxPrincipals = 100'000;

  void add_static(const std::string& upn_or_id);
  // A principal gained a role (ids and UPNs: any that are known).
  void grant(const std::vector<std::string>& keys, const std::string& role_id, int tier, std::int64_t now_ms);
  void revoke(const std::vector<std::string>& keys, const std::string& role_id);
  // A full snapshot from Graph (principal keys -> roles): replaces learned entries.
  void apply_snapshot(const std::vector<std::pair<std::vector<std::string>, std::map<std::string, int>>>& principals,
                      std::int64_t now_ms);

  // The best (lowest) tier the principal holds, or nullopt when not on the roster.
  std::optional<int> tier_of(const std::string& key) const;
  bool contains(const std::string& key) const { return find(key) != nullptr; }
  std::size_t size() const noexcept { return entries_.size(); }

  std::string serialize() const;
  void deserialize(const std::string& text);  // throws on malformed text
  bool dirty() const noexcept { return dirty_; }
  void clear_dirty() noexcept { dirty_ = false; }

 private:
  const RosterEntry* find(const std::string& key) const;
  RosterEntry* find_mut(const std::vector<std::string>& keys);
  void index(std::size_t entry);
  void rebuild_index();

  std::vector<RosterEntry> entries_;
  std::map<std::string, std::size_t> by_key_;
  bool dirty_ = false;
};

}  // namespace siem
