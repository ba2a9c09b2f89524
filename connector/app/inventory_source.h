// The privileged-identity inventory as a pipeline source and as the `inventory` command's engine.
// A graph_pim source with an `inventory:` section gets a companion source "<name>.inventory" that,
// every `inventory.interval` (24h by default), reads Graph (connector/sources/graph/inventory_reader.h),
// builds one privileged_inventory record per privileged principal and the changes since the
// previous inventory (connector/enrichment/inventory.h). The previous inventory is its checkpoint:
// persisted in the state store once every record of the run is delivered, so a crash repeats a
// run's records and changes, never loses them.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <stop_token>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "connector/auth/auth_config.h"
#include "connector/config/config_node.h"
#include "connector/core/source.h"
#include "connector/enrichment/role_table.h"
#include "connector/sources/graph/inventory_reader.h"

namespace siem {
class StateStore;
class Roster;
}  // namespace siem

namespace siem::app {

struct InventorySettings {
  std::string source_name;  // the graph_pim source's name
  auth::SourceConnection connection;
  sources::InventoryReadOptions read;
  std::chrono::milliseconds interval{24LL * 3600 * 1000};
  std::shared_ptr<const RoleTable> roles;
  std::set<std::string, std::less<>> break_glass;  // lower-case
};

// Reads a graph_pim source's `inventory:` section (interval, enabled, read bounds); nullopt when
// the source has none or it says `enabled: false` (with `any`: settings whatever it says, for
// the `inventory` command). Problems go to the document's diagnostics.
std::optional<InventorySettings> read_inventory_section(const ConfigNode& source, const std::string& source_name,
                                                        bool any = false);
// Completes them: the source's connection (auth, cloud, TLS) and the enrichment's role table and
// break-glass accounts. Call once the source and the enrichment were read without errors (their
// keys are read again here, and would report the same problems twice).
void complete_inventory_settings(InventorySettings& s, const ConfigNode& source, const ConfigNode& enrichment);

// One inventory: Graph read now, one record per privileged principal. `roster` (may be null) gives
// the last privileged sign-ins. Returns null when `stop` was requested. Throws
// sources::InventoryError (permanent) or std::runtime_error.
std::optional<std::vector<nlohmann::json>> take_inventory(sources::InventoryReader& reader, const InventorySettings& s,
                                                          const Roster* roster, std::int64_t now_ms, std::stop_token stop);

// The roster the enrichment saved in the state store (null when none or unreadable).
std::unique_ptr<Roster> saved_roster(StateStore* state);

std::unique_ptr<Source> make_inventory_source(InventorySettings settings, StateStore* state);

}  // namespace siem::app
