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

namespace {
struct MappingSlot final : Processor::Slot {
  std::unique_ptr<Mapper::Scratch> scratch;
};
}  // namespace

std::unique_ptr<Processor::Slot> MappingProcessor::make_slot() {
  auto slot = std::make_unique<MappingSlot>();
  slot->scratch = mapper_->make_scratch();
  return slot;
}

Verdict MappingProcessor::prepare(Slot& slot, const RawRecord& record, const ProcessContext& ctx, MappedEvent& event,
                                  std::string& reason) {
  if (auto error = mapper_->prepare(*static_cast<MappingSlot&>(slot).scratch, record, std::nullopt, ctx.formats, event)) {
    reason = std::move(*error);
    return Verdict::dead_letter;
  }
  return Verdict::deliver;
}

Verdict MappingProcessor::ordered(Slot& slot, const RawRecord& record, const ProcessContext&, MappedEvent& event,
                                  std::string&, Verdict prepared) {
  mapper_->enrich(*static_cast<MappingSlot&>(slot).scratch, record, event);
  if (prepared != Verdict::deliver) return prepared;
  // Enrichment has seen it; nothing to deliver (and nothing to encode).
  return record.attributes.has(attr::state_only) ? Verdict::consumed : Verdict::deliver;
}

void MappingProcessor::finish(Slot& slot, const RawRecord& record, const ProcessContext& ctx, MappedEvent& event) {
  mapper_->finish(*static_cast<MappingSlot&>(slot).scratch, record, ctx.formats, event);
}

std::unique_ptr<MappingProcessor> make_mapping_processor(const ConfigNode& root, StateStore* state) {
  return std::make_unique<MappingProcessor>(make_mapping_stage(root, state));
}

}  // namespace siem
