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
  earlier_ += current_->stats();
  current_ = std::move(next);
  swaps_.fetch_add(1, std::memory_order_relaxed);
  if (outcome) outcome(true, {});
}

std::optional<std::string> ReloadableMapper::map(const RawRecord& record, std::optional<SourceKind> forced,
                                                 FormatSet formats, MappedEvent& out) {
  if (pending_.load(std::memory_order_acquire)) apply_pending();
  return current_->map(record, forced, formats, out);
}

namespace {
// The current mapper's scratch, made again after a swap (the swap count tells).
struct WrappedScratch final : Mapper::Scratch {
  std::unique_ptr<Mapper::Scratch> inner;
  std::uint64_t generation = 0;
};
}  // namespace

std::unique_ptr<Mapper::Scratch> ReloadableMapper::make_scratch() const {
  auto s = std::make_unique<WrappedScratch>();
  s->generation = swaps();
  s->inner = current_->make_scratch();
  return s;
}

std::optional<std::string> ReloadableMapper::prepare(Scratch& scratch, const RawRecord& record,
                                                     std::optional<SourceKind> forced, FormatSet formats,
                                                     MappedEvent& out) const {
  auto& s = static_cast<WrappedScratch&>(scratch);
  if (s.generation != swaps()) {  // made by the mapper a swap replaced
    s.inner = current_->make_scratch();
    s.generation = swaps();
  }
  return current_->prepare(*s.inner, record, forced, formats, out);
}

void ReloadableMapper::enrich(Scratch& scratch, const RawRecord& record, MappedEvent& out) {
  current_->enrich(*static_cast<WrappedScratch&>(scratch).inner, record, out);
}

void ReloadableMapper::finish(Scratch& scratch, const RawRecord& record, FormatSet formats, MappedEvent& out) const {
  current_->finish(*static_cast<WrappedScratch&>(scratch).inner, record, formats, out);
}

MapperStats ReloadableMapper::stats() const {
  auto s = current_->stats();
  s += earlier_;
  return s;
}

void ReloadableMapper::save_state() { current_->save_state(); }

}  // namespace siem::app
