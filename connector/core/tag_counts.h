// Events per detection tag, counted in shards: one shard per processing worker, written by that
// worker's thread only (in the hand-off it runs), summed when the counts are read (the /metrics
// scrape, the run summary). A tagged event costs a lookup in its worker's shard and a relaxed load
// and store of the tag's counter: no lock, no read-modify-write, and no cache line shared with
// another writer (each counter is alone in a 64-byte aligned Counter inside its map node; the
// shards' headers are 64-byte aligned too). The only lock is a shard's, taken by its writer when a
// tag is seen for the first time and by a reader walking the shard.
//
// What a read sees (the counters are relaxed atomics: "after" means happens-after, not later on
// the clock):
// - Every add() that happens before a read is in its totals: e.g. a read after the worker threads
//   were joined (the run summary, a read after run() returned) is exact.
// - A read while workers add returns for each tag a sum of values the shards' counters held, so
//   never more than was added; and never less than an earlier read returned (each counter only
//   grows, and readers take each shard's lock in turn, so a later read is ordered after an
//   earlier one, shard by shard). An add() still running, or only just returned on another
//   thread, may be missing from it.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "connector/core/event_texts.h"

namespace siem {

class TagCounts {
 public:
  explicit TagCounts(std::size_t shards);
  TagCounts(const TagCounts&) = delete;
  TagCounts& operator=(const TagCounts&) = delete;

  std::size_t shards() const { return shards_.size(); }
  // One more event for each of `tags`, in `shard` (< shards()): one thread at a time per shard.
  // A `shard` out of range is a bug of the caller: it asserts in a debug build; otherwise the
  // event is counted (exactly, under a lock shared by every such call) in a spare shard.
  void add(std::size_t shard, const TagList& tags);
  void add(std::size_t shard, const std::vector<std::string>& tags);
  // The counts summed over the shards, by tag (any thread, any time).
  std::map<std::string, std::uint64_t, std::less<>> totals() const;

 private:
  // A tag's count in one shard, alone in its cache line: map nodes of different shards are
  // allocated by different threads but may be neighbours on the heap.
  struct alignas(64) Counter {
    std::atomic<std::uint64_t> n{0};
  };
  static_assert(alignof(Counter) == 64 && sizeof(Counter) == 64, "a tag's counter fills its cache line alone");
  struct alignas(64) Shard {
    // Taken by the writer to insert a tag and by readers to walk `counts`; the writer's lookups and
    // increments take no lock (it is the only thread that changes the map's shape).
    mutable std::mutex insert_mu;
    std::map<std::string, Counter, std::less<>> counts;
  };
  template <typename Tags>
  void add_tags(std::size_t shard, const Tags& tags);
  template <typename Tags>
  void add_out_of_range(const Tags& tags);

  std::vector<std::unique_ptr<Shard>> shards_;
  Shard spare_;  // add() with a shard out of range: written under its insert_mu only
};

}  // namespace siem
