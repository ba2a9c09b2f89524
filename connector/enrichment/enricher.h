// Privileged-access enrichment: turns one parsed record into detections (pa.* tags), the highest
// role tier it touches, the roles involved and a severity. Rules follow docs/detections.md; the
// role table and thresholds come from mappings/privileged-roles.yaml and the `enrichment:` config.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "connector/config/config_node.h"
#include "connector/mapping/enrichment_interface.h"

namespace siem {

class StateStore;

// Reads the `enrichment:` section (may be an invalid node: defaults apply). `state` may be null
// (map/test/validate): the roster then lives in memory only. Problems go to the node's diagnostics.
std::unique_ptr<Enricher> make_enricher(const ConfigNode& enrichment, StateStore* state);
const config::Section& enrichment_keys();  // the table of `enrichment:`

class RoleTable;
// The privileged roles table the enrichment uses: mappings/privileged-roles.yaml (or
// `enrichment.roles_file`) with the `enrichment.roles` overrides. `alert_on_assignment`, when
// given, receives the Azure roles whose override asks for pa.azure.privileged_role_assignment.
RoleTable load_role_table(const ConfigNode& enrichment, std::vector<std::string>* alert_on_assignment = nullptr);

}  // namespace siem
