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
  std::set<std::string> eligible;    // role ids held only as eligible (activation needed)
  bool is_static = false;            // listed in config: never removed by events
  std::int64_t updated_ms = 0;
};

class Roster {
 public:
  static constexpr std::size_t kMaxPrincipals = 100'000;

  void add_static(const std::string& upn_or_id);
  // A principal gained a role (ids and UPNs: any that are known).
  // `eligible`: the principal may activate the role (PIM eligibility) rather than hold it now; an
  // active grant of the same role wins over an eligible one.
  void grant(const std::vector<std::string>& keys, const std::string& role_id, int tier, std::int64_t now_ms,
             bool eligible = false);
  void revoke(const std::vector<std::string>& keys, const std::string& role_id);
  // A full snapshot from Graph (principal keys -> roles): replaces learned entries.
  // One principal of a Graph snapshot (roleAssignments + roleEligibilityScheduleInstances).
  struct SnapshotPrincipal {
    std::vector<std::string> keys;       // object id, UPN
    std::map<std::string, int> active;   // role id -> tier
    std::map<std::string, int> eligible; // role id -> tier
  };
  void apply_snapshot(const std::vector<SnapshotPrincipal>& principals, std::int64_t now_ms);

  // The best (lowest) tier the principal holds, or nullopt when not on the roster.
  std::optional<int> tier_of(const std::string& key) const;
  bool contains(const std::string& key) const { return find(key) != nullptr; }
  // True when the principal holds at least one role actively (not only eligible). Static entries
  // (roles unknown) count as active.
  bool holds_active(const std::string& key) const;
  // The entry of a principal, or null.
  const RosterEntry* entry(const std::string& key) const { return find(key); }
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
  std::map<std::string, std::size_t, std::less<>> by_key_;  // transparent: looked up by LowerKey
  bool dirty_ = false;
};

}  // namespace siem
