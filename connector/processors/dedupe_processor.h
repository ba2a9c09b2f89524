// The cross-path dedupe processor (`pipeline: {dedupe: {...}}`, docs/configuration.md): one event
// per record when the same logs reach the connector by two paths (Graph/ARM pulled and the
// diagnostic-settings export through Event Hubs). Runs after the mapping processor, keyed by the
// mapped event's own id and its kind family (dedupe_table.h). A copy is dropped (consumed:
// acknowledged, sent nowhere, counted) only when the id was first seen from ANOTHER source: a
// source's own re-read passes, since after a crash its first copy may never have been delivered.
// The table is persisted through the state store at the pipeline's state-save interval and at
// shutdown.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "connector/core/processor.h"
#include "connector/processors/dedupe_table.h"

namespace siem {

class ConfigNode;
class StateStore;

struct DedupeOptions {
  std::chrono::milliseconds window{std::chrono::hours(24)};
  std::size_t max_ids = 1'000'000;
  // Reads `pipeline.dedupe`; nullopt when it is missing or `enabled: false` (the default).
  static std::optional<DedupeOptions> from_config(const ConfigNode& pipeline_cfg);
};

class DedupeProcessor final : public Processor {
 public:
  static constexpr std::string_view kStateKey = "processor.dedupe";

  // Loads the persisted table from `state` (may be null: in memory only), keeping the entries of
  // the configured `source_names`. Throws StateCorruptError when the persisted table is damaged.
  // `clock` (epoch ms) is for tests; null: the system clock.
  DedupeProcessor(DedupeOptions options, StateStore* state, const std::vector<std::string>& source_names,
                  std::function<std::int64_t()> clock = nullptr);

  std::string_view name() const override { return "dedupe"; }
  std::string_view consumed_label() const override { return "duplicates"; }
  void start(const std::vector<std::string>& source_names) override;
  Verdict process(const RawRecord& record, const ProcessContext& ctx, MappedEvent& event,
                  std::string& reason) override;
  void save_state() override;
  void write_metrics(Exposition& out) const override;
  std::string summary() const override;

  std::uint64_t dropped() const noexcept { return dropped_total_.load(std::memory_order_relaxed); }
  std::size_t ids() const noexcept { return ids_.load(std::memory_order_relaxed); }

 private:
  std::int64_t now_ms() const;

  DedupeOptions options_;
  StateStore* state_;
  std::function<std::int64_t()> clock_;
  dedupe::Table table_;
  bool dirty_ = false;
  std::vector<dedupe::Table::Owner> owner_of_source_;  // pipeline source index -> table owner
  // For write_metrics()/summary() on other threads.
  std::vector<std::string> source_names_;
  // dropped copies by [source index][family]
  std::unique_ptr<std::array<std::atomic<std::uint64_t>, 4>[]> dropped_;
  std::atomic<std::uint64_t> dropped_total_{0};
  std::atomic<std::size_t> ids_{0};
  std::atomic<std::uint64_t> evicted_age_{0}, evicted_count_{0};
};

// The processor for `pipeline.dedupe`, or null when it is not enabled. Problems go to the
// document's diagnostics (file:line).
std::unique_ptr<Processor> make_dedupe_processor(const ConfigNode& pipeline_cfg, StateStore* state,
                                                 const std::vector<std::string>& source_names);

}  // namespace siem
