#include "connector/processors/dedupe_processor.h"

#include <fmt/format.h>

#include "connector/config/config_node.h"
#include "connector/core/metrics.h"
#include "connector/state/state_store.h"

namespace siem {

namespace {

constexpr std::size_t kFamilies = 4;

// Ids the mapper derives from the record's text when the record has none of its own ("siem-" and
// 16 hex digits): not an identity two paths share, so never a key.
bool derived_id(std::string_view id) {
  if (id.size() != 21 || id.substr(0, 5) != "siem-") return false;
  for (char c : id.substr(5))
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

}  // namespace

std::optional<DedupeOptions> DedupeOptions::from_config(const ConfigNode& pipeline_cfg) {
  if (!pipeline_cfg.valid()) return std::nullopt;
  const ConfigNode cfg = pipeline_cfg.child("dedupe");
  if (!cfg.valid()) return std::nullopt;
  DedupeOptions o;
  const bool enabled = cfg.boolean("enabled", false);
  o.window = cfg.duration("window", o.window);
  if (o.window < std::chrono::minutes(1) || o.window > std::chrono::hours(24 * 30))
    cfg.error_at("window", "must be between 1m and 30d");
  o.max_ids = static_cast<std::size_t>(cfg.integer("max_ids", static_cast<std::int64_t>(o.max_ids), 1, 50'000'000));
  if (!enabled) return std::nullopt;
  return o;
}

DedupeProcessor::DedupeProcessor(DedupeOptions options, StateStore* state, const std::vector<std::string>& source_names,
                                 std::function<std::int64_t()> clock)
    : options_(options), state_(state), clock_(std::move(clock)),
      table_(options.window.count(), options.max_ids), source_names_(source_names),
      dropped_(std::make_unique<std::array<std::atomic<std::uint64_t>, kFamilies>[]>(source_names.size())) {
  if (state_) {
    if (auto saved = state_->get(kStateKey)) {
      try {
        table_ = dedupe::Table::parse(*saved, options_.window.count(), options_.max_ids, source_names, now_ms());
      } catch (const std::exception& e) {
        throw StateCorruptError(fmt::format("{}: {} (delete the file to start the dedupe table afresh)",
                                            state_->file_for(kStateKey).string(), e.what()));
      }
    }
  }
  ids_ = table_.size();
  start(source_names);
}

std::int64_t DedupeProcessor::now_ms() const {
  if (clock_) return clock_();
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void DedupeProcessor::start(const std::vector<std::string>& source_names) {
  owner_of_source_.clear();
  for (const auto& n : source_names) owner_of_source_.push_back(table_.owner(n));
}

Verdict DedupeProcessor::process(const RawRecord&, const ProcessContext& ctx, MappedEvent& event, std::string&) {
  const auto family = dedupe::family_of(event.kind);
  if (family == dedupe::Family::none || event.id().empty() || derived_id(event.id()) ||
      ctx.source >= owner_of_source_.size() || ctx.source >= source_names_.size())
    return Verdict::deliver;
  const auto before_age = table_.evicted_by_age(), before_count = table_.evicted_by_count();
  const auto result = table_.check(family, event.id(), owner_of_source_[ctx.source], now_ms());
  evicted_age_.fetch_add(table_.evicted_by_age() - before_age, std::memory_order_relaxed);
  evicted_count_.fetch_add(table_.evicted_by_count() - before_count, std::memory_order_relaxed);
  ids_.store(table_.size(), std::memory_order_relaxed);
  switch (result) {
    case dedupe::Table::Result::first: dirty_ = true; return Verdict::deliver;
    case dedupe::Table::Result::same_source: return Verdict::deliver;
    case dedupe::Table::Result::duplicate: break;
  }
  dropped_[ctx.source][static_cast<std::size_t>(family)].fetch_add(1, std::memory_order_relaxed);
  dropped_total_.fetch_add(1, std::memory_order_relaxed);
  return Verdict::consumed;
}

void DedupeProcessor::save_state() {
  if (!state_ || !dirty_) return;
  state_->put(kStateKey, table_.serialize());
  dirty_ = false;
}

void DedupeProcessor::write_metrics(Exposition& x) const {
  using Type = Exposition::Type;
  x.family("siem_dedupe_duplicates_dropped", Type::counter,
           "Copies of a record already delivered from another source (cross-path dedupe), by the dropped "
           "copy's source and record family.");
  for (std::size_t s = 0; s < source_names_.size(); ++s)
    for (std::size_t f = 1; f < kFamilies; ++f)
      x.sample({{"source", source_names_[s]}, {"family", dedupe::to_string(static_cast<dedupe::Family>(f))}},
               static_cast<double>(dropped_[s][f].load(std::memory_order_relaxed)));
  x.family("siem_dedupe_ids", Type::gauge, "Record ids the cross-path dedupe table holds.");
  x.sample({}, static_cast<double>(ids_.load(std::memory_order_relaxed)));
  x.family("siem_dedupe_ids_forgotten", Type::counter,
           "Ids the dedupe table forgot, by bound: older than the window, or beyond max_ids.");
  x.sample({{"reason", "window"}}, static_cast<double>(evicted_age_.load(std::memory_order_relaxed)));
  x.sample({{"reason", "max_ids"}}, static_cast<double>(evicted_count_.load(std::memory_order_relaxed)));
}

std::string DedupeProcessor::summary() const {
  return fmt::format("  dedupe: {} duplicate(s) dropped, {} id(s) held (window {} s, max_ids {})\n",
                     dropped_total_.load(std::memory_order_relaxed), ids_.load(std::memory_order_relaxed),
                     std::chrono::duration_cast<std::chrono::seconds>(options_.window).count(), options_.max_ids);
}

std::unique_ptr<Processor> make_dedupe_processor(const ConfigNode& pipeline_cfg, StateStore* state,
                                                 const std::vector<std::string>& source_names) {
  const auto options = DedupeOptions::from_config(pipeline_cfg);
  if (!options) return nullptr;
  return std::make_unique<DedupeProcessor>(*options, state, source_names);
}

}  // namespace siem
