#include "connector/enrichment/mapping_processor.h"

#include "connector/enrichment/mapping_stage.h"
#include "connector/record/record_attributes.h"

namespace siem {

Verdict MappingProcessor::process(const RawRecord& record, const ProcessContext& ctx, MappedEvent& event,
                                  std::string& reason) {
  if (auto error = mapper_->map(record, std::nullopt, ctx.formats, event)) {
    reason = std::move(*error);
    return Verdict::dead_letter;
  }
  // Enrichment has seen it; nothing to deliver.
  return record.attributes.has(attr::state_only) ? Verdict::consumed : Verdict::deliver;
}

std::unique_ptr<MappingProcessor> make_mapping_processor(const ConfigNode& root, StateStore* state) {
  return std::make_unique<MappingProcessor>(make_mapping_stage(root, state));
}

}  // namespace siem
