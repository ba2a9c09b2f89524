// The ECS encoder: one JSON document per event, written from a flat per-kind program of steps
// (JsonProgram, json_document.h) compiled once from the kind's `ecs` rules.
#include "connector/mapping/ecs_encoder.h"

#include <map>
#include <memory>

#include "connector/mapping/json_document.h"

namespace siem::mapping {

namespace {

class EcsEncoder final : public Encoder {
 public:
  EcsEncoder(const MappingSet& set, const std::string& host) {
    plans_.emplace(SourceKind::unknown, JsonProgram(set.for_kind(SourceKind::unknown).ecs, host, false));
    for (auto k : all_source_kinds()) plans_.emplace(k, JsonProgram(set.for_kind(k).ecs, host, false));
  }
  std::string_view name() const override { return "ecs"; }
  OutputFormat format() const override { return OutputFormat::ecs; }
  void encode(const MappedRecord& record, std::string& out) const override {
    write_json_document(plans_.at(record.rules.kind), record.rules.ecs, record.ctx, out);
  }

 private:
  std::map<SourceKind, JsonProgram> plans_;
};

}  // namespace

std::unique_ptr<Encoder> make_ecs_encoder(const MappingSet& set, const std::string& host) {
  return std::make_unique<EcsEncoder>(set, host);
}

}  // namespace siem::mapping
