// The privileged-principal roster: who holds (active) or may activate (eligible) a privileged role.
// Built from static config, learned from the role events the stream shows, and refreshed from Graph
// snapshots by the pull source. Persisted in the state store (key "roster") so a restart is not blind.
#pragma once

#include <climits>
#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace siem {

class StateStore;

// One role of a principal: held actively and/or as an eligibility (may activate), each until a
// time (PIM activations and time-bound assignments end; kForever: no end; 0: not held that way).
struct RoleHold {
  static constexpr std::int64_t kForever = INT64_MAX;
  int tier = 3;
  std::int64_t active_until = 0;
  std::int64_t eligible_until = 0;
  // The latest event (its time) that granted each kind of hold, and the number of the latest
  // roster snapshot that listed it (0: none since start-up; snapshot numbers are not saved).
  std::int64_t active_granted_ms = 0, eligible_granted_ms = 0;
  std::int64_t active_ended_ms = 0;  // the latest event that ended the active hold (end_active)
  std::uint32_t active_snapshot = 0, eligible_snapshot = 0;
  bool active_at(std::int64_t t) const noexcept { return active_until > t; }
  bool held_at(std::int64_t t) const noexcept { return active_until > t || eligible_until > t; }
};

// A principal's membership of a role-assignable group, from the membership events (the latest add
// and the latest remove, by event time: an older event does not undo a newer one).
struct Membership {
  std::int64_t added_ms = 0, removed_ms = 0;
  // A member at `t`: added, and not removed since (events of before a removal still see it).
  bool member_at(std::int64_t t) const noexcept { return added_ms != 0 && (added_ms > removed_ms || t < removed_ms); }
};

struct RosterEntry {
  std::set<std::string> keys;            // lower-case UPNs and object ids of this principal
  std::map<std::string, RoleHold> roles;  // role id -> how it is held (directly; a group's: its own)
  // Groups holding roles this principal is a member of: lower-case group id -> membership. The
  // principal holds the group's roles through it (queries add them), apart from its own holds.
  std::map<std::string, Membership> groups;
  bool is_static = false;                // listed in config: never removed by events
  bool is_group = false;                 // a group (its roles pass to its members)
  std::int64_t updated_ms = 0;
  std::uint16_t tenant = 0;              // Roster::tenant_id() of its tenant; 0: not known
  std::int64_t last_privileged_sign_in_ms = 0;  // the latest privileged sign-in seen (0: none)
};

class Roster {
 public:
  static constexpr std::size_t kMaxPrincipals = 100'000;  // groups and members included
  // Role-holding groups one principal is remembered a member of (Entra allows 500 role-assignable
  // groups per tenant).
  static constexpr std::size_t kMaxGroupsPerPrincipal = 512;
  // Keys (object ids, UPNs, application ids) one principal is known by at most.
  static constexpr std::size_t kMaxKeysPerPrincipal = 16;
  // Holds that ended this long before the latest event of their principal are forgotten (they
  // still answer for events of that period until then: records arrive late and out of order).
  static constexpr std::int64_t kEndedRetentionMs = 7LL * 24 * 3600 * 1000;

  // The key index is hashed with the process's random seed (json::ihash_seed()), so that keys
  // crafted in input events cannot all land in one bucket; or with `hash_seed` (tests). Nothing
  // the roster writes or reports depends on the seed (entries keep their own order).
  Roster();
  explicit Roster(std::uint64_t hash_seed);

  void add_static(const std::string& upn_or_id);
  // A principal gained a role (ids and UPNs: any that are known), actively or as an eligibility
  // (PIM: may activate), until `until_ms` (kForever: no end). A grant replaces the same kind of
  // hold of that role (a renewal moves its end); the other kind is kept. Records arrive out of
  // order (several sources, late records): an event older than the one that last granted or ended
  // that hold does not move its end.
  // `from_snapshot`: the grant is a schedule instance of the roster snapshot in progress.
  // `tenant`: the principal's tenant, when known (a snapshot's are always).
  void grant(const std::vector<std::string>& keys, const std::string& role_id, int tier, std::int64_t now_ms,
             bool eligible = false, std::int64_t until_ms = RoleHold::kForever, bool from_snapshot = false,
             std::string_view tenant = {});
  // The role is gone entirely (removed, both kinds of hold).
  void revoke(const std::vector<std::string>& keys, const std::string& role_id);
  // An activation ended early (deactivated) or expired at `at_ms`: the active hold ends, an
  // eligibility stays. An end older than the latest grant of the active hold (a previous
  // activation's) changes nothing.
  void end_active(const std::vector<std::string>& keys, const std::string& role_id, std::int64_t at_ms);

  // The roster snapshot in progress (active assignments, or eligibilities) is complete; it was read
  // from `read_ms` on. Every hold of that kind of a role the snapshot covers (`covers`: Entra
  // directory roles; Azure RBAC roles are not in it) still running at `read_ms` that the snapshot
  // did not list ends at `read_ms`, unless an event granted it at or after `read_ms` (newer than
  // the snapshot). Static entries stay listed. Returns the number of holds ended; the next
  // snapshot of that kind starts. Holds that ended more than kEndedRetentionMs before `read_ms`
  // are forgotten, and so are the principals left without any (not static): the roster and its
  // saved state only keep what is held, or ended recently enough for late records. A snapshot covers one `tenant` (several roster sources may read
  // several tenants): principals known to belong to another tenant are not its business.
  std::size_t complete_snapshot(bool eligible, std::int64_t read_ms,
                                const std::function<bool(const std::string& role_id)>& covers,
                                std::string_view tenant = {});

  // Role-assignable groups. A role granted to a group (grant() with the group's id) is held by its
  // members through it. mark_group(): the principal with `group_id` (on the roster) is a group.
  void mark_group(const std::string& group_id);
  bool is_group(const std::string& key) const;
  // A member was added to / removed from a group at `at_ms` (membership audits). Memberships are
  // only kept for groups on the roster (holding a role: the group is then marked as one, as the
  // snapshots' schedule instances do not say a principal is a group); returns whether it is one.
  // An add or remove older than the latest of the other kind for that membership changes nothing.
  bool add_member(const std::string& group_id, const std::vector<std::string>& member_keys, std::int64_t at_ms,
                  std::string_view tenant = {});
  bool remove_member(const std::string& group_id, const std::vector<std::string>& member_keys, std::int64_t at_ms);
  // The roles a group holds at `at_ms` (role id -> tier), empty when it is not a group on the roster.
  std::map<std::string, int> group_roles(const std::string& group_id, std::int64_t at_ms) const;

  // Keys that name one principal (a service principal's object id and application id, a user's
  // object id and UPN, as one record gives them): when the roster knows the principal by one of
  // them, it learns the others (not those already naming another principal), so a service principal
  // made privileged by its object id (a directory role) is also found by its application id (audits
  // initiated by it, application credential audits). Principals not on the roster are not added.
  // `tenant`: the record's tenant; a principal known to belong to another tenant is not linked (a
  // multi-tenant application has the same application id in every tenant).
  void link_keys(const std::vector<std::string>& keys, std::string_view tenant = {});
  // A privileged sign-in of a principal on the roster (any of its keys) at `at_ms`: kept as its
  // latest one (the inventory reports it), and its keys linked (link_keys). Principals not on the
  // roster are not added.
  void note_privileged_sign_in(const std::vector<std::string>& keys, std::int64_t at_ms,
                               std::string_view tenant = {});
  std::optional<std::int64_t> last_privileged_sign_in(const std::string& key) const;

  // Queries at the time of the event being enriched: roles that ended before `at_ms` do not count.
  // The best (lowest) tier the principal holds, -1 for a static entry without known roles, or
  // nullopt when the principal holds nothing at that time.
  std::optional<int> tier_of(const std::string& key, std::int64_t at_ms) const;
  bool contains(const std::string& key, std::int64_t at_ms) const;
  // The same for a key that several tenants share (an application id): a principal known to belong
  // to another tenant than `tenant` (the record's) does not count.
  std::optional<int> tier_in_tenant(const std::string& key, std::int64_t at_ms, std::string_view tenant) const;
  bool contains_in_tenant(const std::string& key, std::int64_t at_ms, std::string_view tenant) const;
  // At least one role held actively (not only eligible). Static entries without known roles count.
  bool holds_active(const std::string& key, std::int64_t at_ms) const;
  // The entry of a principal (whatever its holds' times), or null.
  const RosterEntry* entry(const std::string& key) const { return find(key); }
  std::size_t size() const noexcept { return entries_.size(); }

  std::string serialize() const;
  // Reads what serialize() wrote (also the version 1 format: roles and an eligible list, no ends).
  void deserialize(const std::string& text);  // throws on malformed text
  bool dirty() const noexcept { return dirty_; }
  void clear_dirty() noexcept { dirty_ = false; }

 private:
  const RosterEntry* find(const std::string& key) const;
  // Its tenant not known, or `tenant` (any case).
  bool in_tenant(const RosterEntry& e, std::string_view tenant) const;
  RosterEntry* find_mut(const std::vector<std::string>& keys);
  void index(std::size_t entry);
  void rebuild_index();
  void erase_if_empty(RosterEntry* e);
  bool mark_known_group(const std::string& group_id);  // false: not on the roster
  // Calls f(hold) for every hold of the principal at `at_ms`: its own, and its groups'.
  template <class F>
  void for_each_hold(const RosterEntry& e, std::int64_t at_ms, F&& f) const;
  // Memberships removed long before `horizon`, and of groups no longer on the roster: forgotten.
  void prune_groups(RosterEntry& e, std::int64_t horizon) const;
  // A small number for a tenant id (0 for an empty one), the same for every spelling's case.
  std::uint16_t tenant_id(std::string_view tenant);
  std::vector<RosterEntry> entries_;
  // The index of the principals' (lower-case) keys: hashed and compared case-folded, so a lookup
  // takes any spelling as it is, without a lower-cased copy (the enrichment looks up a few keys per
  // event).
  // Keyed by the roster's seed (json::ihash): the keys come from input events. Each key keeps its
  // hash (Key), and a lookup hashes its text once (Probe): the table's walk of a bucket asks for
  // the hash of the nodes it passes, which was the key's ihash again for each.
  struct Key {
    std::string text;
    std::uint64_t hash;
  };
  struct Probe {
    std::string_view text;
    std::uint64_t hash;
  };
  struct FoldedHash {
    using is_transparent = void;
    std::uint64_t seed;
    std::size_t operator()(const Key& k) const noexcept { return static_cast<std::size_t>(k.hash); }
    std::size_t operator()(const Probe& p) const noexcept { return static_cast<std::size_t>(p.hash); }
  };
  struct FoldedEqual {
    using is_transparent = void;
    template <class A, class B>
    bool operator()(const A& a, const B& b) const noexcept {
      return a.hash == b.hash && same(a.text, b.text);
    }
    static bool same(std::string_view a, std::string_view b) noexcept;  // json::iequals
  };
  Probe probe(std::string_view s) const noexcept;
  Key key_of(std::string text) const noexcept;
  std::unordered_map<Key, std::size_t, FoldedHash, FoldedEqual> by_key_;
  std::vector<std::string> tenants_{std::string()};  // tenant_id() -> tenant ([0]: not known)
  // Per tenant, the snapshot in progress: [0] assignments, [1] eligibilities.
  std::vector<std::array<std::uint32_t, 2>> snapshot_{{1, 1}};
  bool dirty_ = false;
};

}  // namespace siem
