// The mapping stage as the app, the map/test commands, the benchmarks, tests and fuzz targets use
// it: the mapper (connector/mapping) given the privileged-access enrichment (this module).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "connector/config/config_node.h"
#include "connector/mapping/mapper.h"

namespace siem {

class StateStore;

// From a configuration document's root: its `mappings:` and `enrichment:` sections (either may be
// missing: shipped defaults apply). Errors go to the document's diagnostics; check has_errors()
// before use. `state` may be null (map/test/validate, tests): the roster then lives in memory.
std::unique_ptr<Mapper> make_mapping_stage(const ConfigNode& root, StateStore* state);

// Every tag the mapping stage can put on an event: the detection catalogue's names, the tier tags
// and the mapping engine's own tags (for `validate`'s check of route tag patterns).
std::vector<std::string> producible_tags();

}  // namespace siem
