// The first processor of the pipeline's chain: the mapper with the privileged-access enrichment
// (make_mapping_stage()) behind the core Processor interface. It maps each record into the formats
// the sinks asked for; a record the source marked state only (attr::state_only: roster snapshots)
// is consumed once the enrichment learned from it; a record that cannot be mapped is dead-lettered
// (stage "map").
#pragma once

#include <memory>

#include "connector/core/processor.h"
#include "connector/mapping/mapper.h"

namespace siem {

class StateStore;
class ConfigNode;

class MappingProcessor final : public Processor {
 public:
  explicit MappingProcessor(std::unique_ptr<Mapper> mapper) : mapper_(std::move(mapper)) {}

  std::string_view name() const override { return "mapping"; }
  std::string_view dead_letter_stage() const override { return "map"; }
  std::string_view consumed_label() const override { return "roster-only"; }
  Verdict process(const RawRecord& record, const ProcessContext& ctx, MappedEvent& event,
                  std::string& reason) override;
  void save_state() override { mapper_->save_state(); }

  // The phases (several workers): decoding and the enrichment's reading of the record in
  // prepare(), the enrichment's state in ordered(), the encoders in finish() (Mapper's split).
  bool phased() const override { return true; }
  std::unique_ptr<Slot> make_slot() override;
  Verdict prepare(Slot& slot, const RawRecord& record, const ProcessContext& ctx, MappedEvent& event,
                  std::string& reason) override;
  Verdict ordered(Slot& slot, const RawRecord& record, const ProcessContext& ctx, MappedEvent& event,
                  std::string& reason, Verdict prepared) override;
  void finish(Slot& slot, const RawRecord& record, const ProcessContext& ctx, MappedEvent& event) override;
  bool wants_quiesce() const override { return mapper_->swap_pending(); }
  void quiesced() override { mapper_->apply_pending_swap(); }
  // Puts `mapper` in place of the current one and returns that (run wraps it for live reload).
  // Not while the pipeline runs (slots made before it are stale).
  std::unique_ptr<Mapper> exchange_mapper(std::unique_ptr<Mapper> mapper) {
    mapper_.swap(mapper);
    return mapper;
  }

 private:
  std::unique_ptr<Mapper> mapper_;
};

// make_mapping_stage(root, state) as a processor (errors go to the document's diagnostics).
std::unique_ptr<MappingProcessor> make_mapping_processor(const ConfigNode& root, StateStore* state);

}  // namespace siem
