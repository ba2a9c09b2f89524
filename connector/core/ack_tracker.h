// End-to-end acknowledgement. Every event of a source gets a sequence number; it is done once every
// sink acknowledged it (or it was dead-lettered). A source's checkpoint token, attached to the end
// of a batch, becomes eligible for persisting only when every event before it is done: the
// contiguous watermark. Out-of-order acknowledgements (sinks at different speeds, retries) are fine.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "connector/core/event.h"

namespace siem {

class AckTracker {
 public:
  // `acks_per_event`: how many acknowledgements make an event done (the number of sinks).
  explicit AckTracker(std::uint32_t acks_per_event);

  std::uint32_t add_source();

  // Registers `count` new events of `source`; returns the first sequence number. `checkpoint`,
  // if set, becomes eligible once all events up to and including these are done.
  std::uint64_t begin_batch(std::uint32_t source, std::size_t count, std::optional<std::string> checkpoint);

  // One acknowledgement from one sink for each handle.
  void ack(const std::vector<AckHandle>& handles);
  void ack(AckHandle handle);
  // Marks an event done regardless of the sinks (dead-lettered before reaching them).
  void complete(AckHandle handle);
  // `count` sinks will never acknowledge the event: routing did not give it to them.
  void release(AckHandle handle, std::uint32_t count);

  // Checkpoints that became eligible since the last call: the newest one per source.
  std::vector<std::pair<std::uint32_t, std::string>> take_ready();

  // Events registered but not done yet, over all sources.
  std::uint64_t outstanding() const;
  // The contiguous watermark of a source: every seq below it is done.
  std::uint64_t watermark(std::uint32_t source) const;

 private:
  struct PerSource {
    std::uint64_t base = 0;                        // seq of remaining.front()
    std::deque<std::uint32_t> remaining;           // acks still missing, per seq from base
    std::map<std::uint64_t, std::string> pending;  // end seq (exclusive) -> checkpoint
    std::optional<std::string> ready;
  };
  void settle(PerSource& s, std::uint64_t seq, std::uint32_t count);
  void advance(PerSource& s);

  const std::uint32_t acks_per_event_;
  mutable std::mutex mu_;
  std::vector<PerSource> sources_;
  std::uint64_t outstanding_ = 0;
};

}  // namespace siem
