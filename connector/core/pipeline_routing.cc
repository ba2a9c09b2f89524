// The pipeline's routing step (route.h): the drop rule, then each sink's route. An event owes one
// acknowledgement per sink that took it: the AckTracker is released of the others at once, so an
// event dropped or taken by no sink is done immediately and its checkpoint never waits for it, and
// an event taken by some sinks is done once those acknowledged it.
#include <fmt/format.h>

#include "connector/core/pipeline.h"

namespace siem {

bool Pipeline::route_event(EventPtr event) {
  auto& r = routing_;
  if (any_matches(r.drop, *event)) {
    r.dropped.fetch_add(1, std::memory_order_relaxed);
    acks_->complete(event->ack);
    return false;
  }
  std::uint32_t takers = 0;
  std::size_t last = 0;  // the last sink that takes it: it gets the event, the others a copy
  for (std::size_t i = 0; i < sinks_.size(); ++i) {
    const bool takes = r.routes[i].takes(*event);
    r.taken[i] = takes ? 1 : 0;
    takers += takes ? 1 : 0;
    if (takes) last = i;
    else r.not_taken[i].fetch_add(1, std::memory_order_relaxed);  // `routed` is counted by flush_routed()
  }
  if (takers == 0) {
    r.unrouted.fetch_add(1, std::memory_order_relaxed);
    acks_->complete(event->ack);
    return false;
  }
  if (const auto skipped = static_cast<std::uint32_t>(sinks_.size()) - takers; skipped > 0)
    acks_->release(event->ack, skipped);
  const std::size_t bytes = SinkRunner::footprint(*event);
  for (std::size_t i = 0; i < sinks_.size(); ++i) {
    if (!r.taken[i]) continue;
    r.pending[i].push_back(i == last ? std::move(event) : event);
    r.pending_bytes[i].push_back(bytes);
  }
  return true;
}

bool Pipeline::flush_routed() {
  auto& r = routing_;
  bool open = true;
  for (std::size_t i = 0; i < sinks_.size(); ++i) {
    if (r.pending[i].empty()) continue;
    r.routed[i].fetch_add(r.pending[i].size(), std::memory_order_relaxed);
    // Once a queue is closed, the other sinks' events are not queued either (as one event at a
    // time, whose hand-off stopped at the first closed queue): none of them is acknowledged.
    if (open) open = sinks_[i]->enqueue_all(r.pending[i], r.pending_bytes[i]);
    r.pending[i].clear();  // the capacity stays for the next chunk
    r.pending_bytes[i].clear();
  }
  return open;
}

void Pipeline::write_routing_metrics(Exposition& x) const {
  const auto& r = routing_;
  x.family("siem_sink_events_routed", Exposition::Type::counter,
           "Events the sink's route took (every event not dropped, for a sink without `route:`).");
  for (std::size_t i = 0; i < sinks_.size(); ++i)
    x.sample({{"sink", sinks_[i]->name()}}, static_cast<double>(r.routed[i].load(std::memory_order_relaxed)));
  x.family("siem_sink_events_not_taken", Exposition::Type::counter, "Events the sink's route did not take.");
  for (std::size_t i = 0; i < sinks_.size(); ++i)
    x.sample({{"sink", sinks_[i]->name()}},
             static_cast<double>(r.not_taken[i].load(std::memory_order_relaxed)));
  x.family("siem_pipeline_events_dropped", Exposition::Type::counter,
           "Events removed by pipeline.drop before every sink (acknowledged).");
  x.sample({}, static_cast<double>(r.dropped.load(std::memory_order_relaxed)));
  x.family("siem_pipeline_events_unrouted", Exposition::Type::counter,
           "Events no sink's route took (acknowledged).");
  x.sample({}, static_cast<double>(r.unrouted.load(std::memory_order_relaxed)));
}

std::string Pipeline::routing_summary() const {
  const auto& r = routing_;
  if (!r.configured()) return {};  // the summary of a pipeline without routing is unchanged
  std::string out = fmt::format("  routing: {} dropped by pipeline.drop, {} taken by no sink\n",
                                r.dropped.load(), r.unrouted.load());
  for (std::size_t i = 0; i < sinks_.size(); ++i)
    out += fmt::format("    {:<24} routed {:>8}  not taken {:>8}\n", sinks_[i]->name(), r.routed[i].load(),
                       r.not_taken[i].load());
  return out;
}

}  // namespace siem
