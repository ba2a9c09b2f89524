// What a record teaches the roster of privileged principals and the new-account table (the
// enricher's roster learning): read from the record alone (learns_of, any worker), applied in
// input order (learn, learn_membership). Internal to connector/enrichment (enricher.cc).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "connector/enrichment/detections.h"

namespace siem {

class RosterLearning {
 public:
  // What the record may teach the roster, read from the record alone (learn() acts on it).
  struct Learns {
    bool new_account = false;  // a successful "Add user" audit: its targets are new accounts
    bool add = false, deactivation = false, remove = false;  // a role hold given, its activation ended, taken
    bool eligible = false;     // ... an eligibility rather than an active hold
    bool snapshot = false;     // a schedule instance (Graph's state) rather than an event
    int app_role = 0;          // a privileged app role granted (1) or its assignment removed (-1)
  };

  // The enricher's settings, roster and new-account table (lower-case id/upn -> creation time).
  RosterLearning(const EnrichmentSettings& settings, Roster& roster, std::map<std::string, std::int64_t>& account_created)
      : settings_(settings), roster_(roster), account_created_(account_created) {}

  Learns learns_of(const Facts& f, bool may_hold) const;
  // `privileged`: the privileged roles the record touches (its own and a group's).
  void learn(const Facts& f, const Learns& l, std::int64_t event_ms, const std::vector<const RoleInfo*>& privileged,
             std::string_view tenant);
  void learn_membership(const GroupChange& c, std::int64_t event_ms, std::string_view tenant);

 private:
  bool is_group_target(const PrincipalRef& t) const;
  static bool iequals_group(std::string_view type);
  void learn_app_role(const Facts& f, bool added, std::int64_t event_ms, std::string_view tenant);

  static constexpr std::size_t kMaxNewAccounts = 50'000;
  const EnrichmentSettings& settings_;
  Roster& roster_;
  std::map<std::string, std::int64_t>& account_created_;
};

}  // namespace siem
