#include "connector/app/reloadable_mapper.h"

#include <spdlog/spdlog.h>

namespace siem::app {

void ReloadableMapper::request_swap(Factory factory, Outcome outcome) {
  std::lock_guard lock(mu_);
  factory_ = std::move(factory);
  outcome_ = std::move(outcome);
  pending_.store(true, std::memory_order_release);
}

void ReloadableMapper::apply_pending() {
  Factory factory;
  Outcome outcome;
  {
    std::lock_guard lock(mu_);
    factory = std::move(factory_);
    outcome = std::move(outcome_);
    factory_ = nullptr;
    outcome_ = nullptr;
    pending_.store(false, std::memory_order_relaxed);
  }
  if (!factory) return;
  std::string error;
  std::unique_ptr<Mapper> next;
  try {
    current_->save_state();  // the new mapper's enrichment loads what the old one learned
    next = factory(error);
  } catch (const std::exception& e) {
    error = e.what();
    next.reset();
  }
  if (!next) {
    if (error.empty()) error = "the mapping stage could not be built";
    if (outcome) outcome(false, error);
    return;
  }
  const auto s = current_->stats();
  earlier_.mapped += s.mapped;
  earlier_.failed += s.failed;
  earlier_.repaired_json += s.repaired_json;
  earlier_.schema_unknown += s.schema_unknown;
  earlier_.decoded_properties += s.decoded_properties;
  earlier_.log_analytics_rows += s.log_analytics_rows;
  earlier_.kind_ambiguous += s.kind_ambiguous;
  current_ = std::move(next);
  swaps_.fetch_add(1, std::memory_order_relaxed);
  if (outcome) outcome(true, {});
}

std::optional<std::string> ReloadableMapper::map(const RawRecord& record, std::optional<SourceKind> forced,
                                                 FormatSet formats, MappedEvent& out) {
  if (pending_.load(std::memory_order_acquire)) apply_pending();
  return current_->map(record, forced, formats, out);
}

MapperStats ReloadableMapper::stats() const {
  auto s = current_->stats();
  s.mapped += earlier_.mapped;
  s.failed += earlier_.failed;
  s.repaired_json += earlier_.repaired_json;
  s.schema_unknown += earlier_.schema_unknown;
  s.decoded_properties += earlier_.decoded_properties;
  s.log_analytics_rows += earlier_.log_analytics_rows;
  s.kind_ambiguous += earlier_.kind_ambiguous;
  return s;
}

void ReloadableMapper::save_state() { current_->save_state(); }

}  // namespace siem::app
