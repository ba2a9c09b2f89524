// Events recycled from the sinks back to the mapping stage. Every event is built on a processing
// worker and released by a sink runner once its batch is acknowledged; freed there, each of its
// strings (the mapped document, ids, tags) went back to an allocator cache of the thread that
// allocated it (jemalloc's flush of a remote cache: ~1.8 k instructions per ECS event on the sink
// thread), and the worker allocated and grew them all again for the next event. A sink runner
// holding the last reference to a delivered event hands it back here instead, and the worker
// takes it for a later record with its text buffers (cleared) and its shared_ptr block kept.
//
// Bounded: at most `max_events` events and `max_bytes` of their footprint (core/footprint.h: the
// strings' capacities, as the queues charge them) wait here; an event over kMaxPooledEventBytes, or
// one that does not fit, is freed as before. The record's text (`raw`) and `origin` were allocated
// by the source's thread and are freed by the runner, as before, not kept. An event in a queue is
// charged its footprint there, a recycled buffer included, so the queues' bounds still hold.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "connector/core/event.h"
#include "connector/core/footprint.h"

namespace siem {

class EventPool {
 public:
  // An event larger than this (a very large record's document) is freed, not kept.
  static constexpr std::size_t kMaxPooledEventBytes = 64 * 1024;

  EventPool(std::size_t max_events, std::size_t max_bytes) : max_events_(max_events), max_bytes_(max_bytes) {}

  // An event in its default state: a recycled one (its string buffers kept) or a new one.
  std::shared_ptr<MappedEvent> take() {
    std::shared_ptr<MappedEvent> ev;
    if (count_.load(std::memory_order_relaxed) > 0) {
      std::lock_guard lock(mu_);
      if (!free_.empty()) {
        ev = std::move(free_.back().first);
        bytes_ -= free_.back().second;
        free_.pop_back();
        count_.store(free_.size(), std::memory_order_relaxed);
      }
    }
    if (!ev) return std::make_shared<MappedEvent>();
    reset(*ev);
    reused_.fetch_add(1, std::memory_order_relaxed);
    return ev;
  }

  // Keeps those of `events` the caller holds the only reference to (others are only released),
  // as far as the bounds allow; empties `events`.
  void give_back(std::vector<EventPtr>& events) {
    std::vector<std::pair<std::shared_ptr<MappedEvent>, std::size_t>> keep;
    for (auto& e : events) {
      // The only reference (no weak_ptr to events exists): nobody else can reach it any more. The
      // fence orders this thread's reuse after every other holder's last access, which happened
      // before its (release) decrement of the count this load read.
      if (e.use_count() != 1) continue;
      std::atomic_thread_fence(std::memory_order_acquire);
      auto& ev = const_cast<MappedEvent&>(*e);
      std::string().swap(ev.raw);  // allocated by the source's thread: freed here, as before
      std::string().swap(ev.origin);
      const std::size_t bytes = footprint(ev);
      if (bytes > kMaxPooledEventBytes) continue;
      if (keep.empty()) keep.reserve(events.size());
      keep.emplace_back(std::const_pointer_cast<MappedEvent>(std::move(e)), bytes);
    }
    events.clear();
    if (keep.empty()) return;
    {
      std::lock_guard lock(mu_);
      for (auto& p : keep) {
        if (free_.size() >= max_events_ || bytes_ + p.second > max_bytes_) break;
        bytes_ += p.second;
        free_.push_back(std::move(p));
      }
      count_.store(free_.size(), std::memory_order_relaxed);
    }
    // What did not fit is freed with `keep`, outside the lock.
  }

  std::size_t size() const {
    std::lock_guard lock(mu_);
    return free_.size();
  }
  std::size_t bytes() const {
    std::lock_guard lock(mu_);
    return bytes_;
  }
  std::size_t max_events() const noexcept { return max_events_; }
  std::size_t max_bytes() const noexcept { return max_bytes_; }
  // Events take() handed out recycled.
  std::uint64_t reused() const noexcept { return reused_.load(std::memory_order_relaxed); }

  // Every field to its default, the text buffers kept (cleared). A field added to MappedEvent must
  // be reset here too: the size check below is a reminder (EventPool.ResetGivesADefaultEvent
  // compares every field with a new event's).
  static void reset(MappedEvent& e) {
#if defined(__GLIBCXX__) && defined(__x86_64__)
    static_assert(sizeof(MappedEvent) == 384, "MappedEvent changed: reset its new fields in EventPool::reset");
#endif
    e.ack = {};
    e.kind = SourceKind::unknown;
    e.source_name.clear();
    e.origin.clear();
    e.id.clear();
    e.tenant_id.clear();
    e.subscription_id.clear();
    e.action.clear();
    e.time_ms = 0;
    e.severity = 0;
    e.tier = -1;
    e.tags.clear();
    e.raw.clear();
    e.ecs.clear();
    e.cef.clear();
    e.ocsf.clear();
  }

 private:
  const std::size_t max_events_;
  const std::size_t max_bytes_;
  mutable std::mutex mu_;
  std::vector<std::pair<std::shared_ptr<MappedEvent>, std::size_t>> free_;  // with its footprint
  std::size_t bytes_ = 0;
  std::atomic<std::size_t> count_{0};  // free_.size(), read without the lock by take()
  std::atomic<std::uint64_t> reused_{0};
};

}  // namespace siem
