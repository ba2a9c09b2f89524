#include "connector/enrichment/mapping_processor.h"

#include <algorithm>
#include <array>

#include "connector/enrichment/mapping_stage.h"
#include "connector/mapping/encoder.h"
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

constexpr std::array<OutputFormat, 3> kEncoded = {OutputFormat::ecs, OutputFormat::cef, OutputFormat::ocsf};
constexpr std::size_t kMaxExpected = 64u << 10;  // one unusually large event reserves no more after it
// Below this the encoders' own first reservation serves (the ECS/OCSF writer and the CEF encoder
// reserve up to 2 KiB before writing); a smaller reservation here would only make them grow it.
constexpr std::size_t kMinExpected = 2048;
constexpr std::size_t kKindSlots = static_cast<std::size_t>(kLastSourceKind) + 1;

struct MappingSlot final : Processor::Slot {
  std::unique_ptr<Mapper::Scratch> scratch;
  // Per record kind and output format, the room to reserve for the next event's text: what the
  // last one of the kind needed plus a quarter (0: none seen yet; up to kMinExpected: none).
  std::array<std::array<std::size_t, kEncoded.size()>, kKindSlots> expected{};
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

// Every event is a new MappedEvent, so its texts would start empty and grow by doubling while the
// encoders append (an ECS document: ~8 reallocations, each copying what was written so far).
// Reserving about what the last event of the same kind needed writes most in one allocation; the
// sink queues charge the capacity (core/footprint.h), so the slack is counted.
void MappingProcessor::finish(Slot& slot, const RawRecord& record, const ProcessContext& ctx, MappedEvent& event) {
  auto& s = static_cast<MappingSlot&>(slot);
  auto& expected = s.expected[static_cast<std::size_t>(event.kind) % kKindSlots];
  for (std::size_t f = 0; f < kEncoded.size(); ++f)
    if (expected[f] > kMinExpected && (ctx.formats & format_bit(kEncoded[f])))
      mapping::encoded_output(event, kEncoded[f]).reserve(expected[f]);
  mapper_->finish(*s.scratch, record, ctx.formats, event);
  for (std::size_t f = 0; f < kEncoded.size(); ++f)
    if (ctx.formats & format_bit(kEncoded[f])) {
      const std::size_t n = mapping::encoded_output(event, kEncoded[f]).size();
      expected[f] = std::min(n + n / 4, kMaxExpected);
    }
}

std::unique_ptr<MappingProcessor> make_mapping_processor(const ConfigNode& root, StateStore* state) {
  return std::make_unique<MappingProcessor>(make_mapping_stage(root, state));
}

}  // namespace siem
