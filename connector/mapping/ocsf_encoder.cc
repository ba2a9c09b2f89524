// The OCSF encoder: one OCSF JSON event per record, written like the ECS document (a JsonProgram per
// kind compiled from the kind's `ocsf` rules, array elements allowed). Before writing, the kind's
// `class_uid` and `activity_id` rules are evaluated once so that every rule can read the event's
// class and activity ($ocsf.class_uid, $ocsf.activity_id, and the derived $ocsf.category_uid and
// $ocsf.type_uid = class_uid * 100 + activity_id): attributes that belong to one class only are
// written under a condition on it, and type_uid can never disagree with class and activity.
#include "connector/mapping/ocsf_encoder.h"

#include <map>
#include <memory>
#include <optional>

#include "connector/mapping/json_document.h"

namespace siem::mapping {

namespace {

// An integer-valued rule's value for this record, -1 when it has none (or it is not an integer).
// Integer constants under conditions (every shipped class_uid and activity_id rule) without a
// Value, through Rule::integer_constant() (which equals evaluate(): fast_path_check.cc).
std::int32_t integer_of(const std::vector<Rule>& rules, int index, const EvalContext& ctx) {
  if (index < 0) return -1;
  const Rule& rule = rules[static_cast<std::size_t>(index)];
  if (std::optional<std::int64_t> constant; rule.integer_constant(ctx, constant)) {
    if (constant && *constant >= 0 && *constant <= 0x7fffffff) return static_cast<std::int32_t>(*constant);
    return -1;
  }
  const Value v = rule.evaluate(ctx);
  if (v.kind == Value::Kind::integer && v.i >= 0 && v.i <= 0x7fffffff) return static_cast<std::int32_t>(v.i);
  return -1;
}

class OcsfEncoder final : public Encoder {
 public:
  OcsfEncoder(const MappingSet& set, const std::string& host) {
    add(set.for_kind(SourceKind::unknown), host);
    for (auto k : all_source_kinds()) add(set.for_kind(k), host);
  }
  std::string_view name() const override { return "ocsf"; }
  OutputFormat format() const override { return OutputFormat::ocsf; }
  void encode(const MappedRecord& record, std::string& out) const override {
    const Plan& plan = plans_.at(record.rules.kind);
    EvalContext ctx = record.ctx;
    ctx.ocsf_class_uid = integer_of(record.rules.ocsf, plan.class_rule, ctx);
    ctx.ocsf_activity_id = integer_of(record.rules.ocsf, plan.activity_rule, ctx);
    write_json_document(plan.program, record.rules.ocsf, ctx, out);
  }

 private:
  struct Plan {
    JsonProgram program;
    int class_rule = -1, activity_rule = -1;  // indexes in KindMapping::ocsf
  };
  void add(const KindMapping& m, const std::string& host) {
    Plan plan{JsonProgram(m.ocsf, host, true)};
    for (std::size_t i = 0; i < m.ocsf.size(); ++i) {
      if (m.ocsf[i].target == "class_uid") plan.class_rule = static_cast<int>(i);
      if (m.ocsf[i].target == "activity_id") plan.activity_rule = static_cast<int>(i);
    }
    plans_.emplace(m.kind, std::move(plan));
  }
  std::map<SourceKind, Plan> plans_;
};

}  // namespace

std::unique_ptr<Encoder> make_ocsf_encoder(const MappingSet& set, const std::string& host) {
  return std::make_unique<OcsfEncoder>(set, host);
}

}  // namespace siem::mapping
