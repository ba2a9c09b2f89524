#include "connector/enrichment/mapping_stage.h"

#include "connector/enrichment/detections.h"
#include "connector/enrichment/enricher.h"

namespace siem {

std::unique_ptr<Mapper> make_mapping_stage(const ConfigNode& root, StateStore* state) {
  const ConfigNode enrichment = root.child("enrichment");
  return Mapper::create(root.child("mappings"), [&] { return make_enricher(enrichment, state); });
}

std::vector<std::string> producible_tags() {
  auto tags = enrichment_tags();
  const auto& engine = mapping_engine_tags();
  tags.insert(tags.end(), engine.begin(), engine.end());
  return tags;
}

}  // namespace siem
