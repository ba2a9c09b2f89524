// Privileged-access enrichment: turns one parsed record into detections (pa.* tags), the highest
// role tier it touches, the roles involved and a severity. Rules follow docs/detections.md; the
// role table and thresholds come from mappings/privileged-roles.yaml and the `enrichment:` config.
#pragma once

#include <memory>

#include "connector/config/config_node.h"
#include "connector/mapping/enrichment_interface.h"

namespace siem {

class StateStore;

// Reads the `enrichment:` section (may be an invalid node: defaults apply). `state` may be null
// (map/test/validate): the roster then lives in memory only. Problems go to the node's diagnostics.
std::unique_ptr<Enricher> make_enricher(const ConfigNode& enrichment, StateStore* state);
const config::Section& enrichment_keys();  // the table of `enrichment:`

}  // namespace siem
