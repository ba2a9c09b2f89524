// The privileged-identity inventory: one record per principal that holds (or may activate) a
// privileged role, built from Graph's role schedule instances with the role-assignable groups'
// members expanded, and the changes between two inventories (docs/detections.md, "Inventory").
// I/O-free: the Graph reads are connector/sources/graph/inventory_reader.h, the scheduling and the
// persistence of the previous inventory connector/app/inventory_source.cc.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "connector/enrichment/role_table.h"

namespace siem {

class Roster;

// What the inventory needs besides Graph's answer.
struct InventoryContext {
  const RoleTable* roles = nullptr;           // tiers and names; only privileged roles are listed
  std::set<std::string, std::less<>> break_glass;  // lower-case UPNs / object ids (enrichment.break_glass_accounts)
  const Roster* roster = nullptr;             // last privileged sign-ins, when known (may be null)
  std::string tenant;                         // the tenant read
  std::int64_t now_ms = 0;                    // the inventory's time
};

// Graph's answer, as read by the inventory reader:
//   {"assignments": [roleAssignmentScheduleInstance...], "eligibilities": [roleEligibilityScheduleInstance...],
//    "groups": {"<group id>": {"members": [directoryObject...], "truncated": false}}}
// Each instance may carry its expanded `principal` (@odata.type, displayName, userPrincipalName, appId).
// Returns one `privileged_inventory` record per principal holding a privileged role at now_ms,
// ordered by principal id (docs/detections.md describes the fields). Malformed entries are skipped
// and counted in `skipped`.
std::vector<nlohmann::json> build_inventory(const nlohmann::json& graph, const InventoryContext& ctx,
                                            std::size_t* skipped = nullptr);

// The compact form kept between runs (the inventory source's checkpoint): per principal, its
// identity and per role (role id + directory scope) whether it is eligible, active, permanent.
//   {"v":1,"time":ms,"principals":{"<id>":{"principal":{...},"roles":{"<role>|<scope>":{...}}}}}
nlohmann::json inventory_summary(const std::vector<nlohmann::json>& records, std::int64_t time_ms);

// The `privileged_inventory` change records between the previous summary and the current records
// (an empty previous summary, the first inventory, gives none): principalAdded, roleAdded,
// madePermanent (an eligible or time-bound hold that is now active with no end), roleRemoved.
std::vector<nlohmann::json> inventory_changes(const nlohmann::json& previous, const std::vector<nlohmann::json>& records,
                                              std::int64_t time_ms);

}  // namespace siem
