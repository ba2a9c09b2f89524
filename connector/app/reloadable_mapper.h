// The mapping stage of `run` behind a wrapper whose mapper can be replaced while the pipeline runs
// (a reload that changed only `mappings:`, `enrichment:` or the mapping files on disk). The swap
// happens before the next record is mapped (map()), or, with the pipeline's workers using the
// phases, when the pipeline has let every record in flight finish (apply_pending_swap(), called
// with the workers quiesced; their scratches are made again by the new mapper): the old mapper saves its
// learned state (the roster) first, then the new one is built from the new configuration and loads
// that state, so no record is mapped twice, none is skipped, and the roster carries over.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>

#include "connector/mapping/mapper.h"

namespace siem::app {

class ReloadableMapper final : public Mapper {
 public:
  // Builds the replacement (where the swap happens: map(), or apply_pending_swap()). Returns null,
  // with the reason in `error`, when it cannot be built; the current mapper then stays.
  using Factory = std::function<std::unique_ptr<Mapper>(std::string& error)>;
  // Told the outcome of a swap: true when applied, false (with the reason) when the build failed.
  using Outcome = std::function<void(bool applied, const std::string& error)>;

  explicit ReloadableMapper(std::unique_ptr<Mapper> initial) : current_(std::move(initial)) {}

  // Any thread: the next map() builds a mapper with `factory` and uses it from then on. A request
  // made before an earlier one was applied replaces it.
  void request_swap(Factory factory, Outcome outcome);
  // Swaps applied so far (tests and logs).
  std::uint64_t swaps() const noexcept { return swaps_.load(std::memory_order_relaxed); }

  std::optional<std::string> map(const RawRecord& record, std::optional<SourceKind> forced, FormatSet formats,
                                 MappedEvent& out) override;
  std::unique_ptr<Scratch> make_scratch() const override;
  std::optional<std::string> prepare(Scratch& scratch, const RawRecord& record, std::optional<SourceKind> forced,
                                     FormatSet formats, MappedEvent& out) const override;
  void enrich(Scratch& scratch, const RawRecord& record, MappedEvent& out) override;
  void finish(Scratch& scratch, const RawRecord& record, FormatSet formats, MappedEvent& out) const override;
  bool swap_pending() const override { return pending_.load(std::memory_order_acquire); }
  void apply_pending_swap() override { apply_pending(); }
  MapperStats stats() const override;
  void save_state() override;

 private:
  void apply_pending();

  std::unique_ptr<Mapper> current_;  // replaced only with nothing in flight
  std::atomic<bool> pending_{false};
  std::mutex mu_;
  Factory factory_;  // mu_
  Outcome outcome_;  // mu_
  std::atomic<std::uint64_t> swaps_{0};
  MapperStats earlier_;  // the stats of the mappers replaced so far (changed by a swap only)
};

}  // namespace siem::app
