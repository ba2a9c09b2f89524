// Events per detection tag, counted in shards: one shard per processing worker, written by that
// worker's thread only (in the hand-off it runs), summed when the counts are read (the /metrics
// scrape, the run summary). A tagged event costs a lookup in its worker's shard and a relaxed
// increment, no lock and no cache line shared with another writer; the only lock is a shard's,
// taken by its writer when a tag is seen for the first time and by a reader walking it.
//
// Exact: every add() is in the totals of any read that starts after it returned; a read while
// workers add sees each tag's count between its value at the read's start and at its end, and
// never a count going down (each shard's counter only grows, and the sum is taken per tag over
// the shards).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

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
  void add(std::size_t shard, const std::vector<std::string>& tags);
  // The counts summed over the shards, by tag (any thread, any time).
  std::map<std::string, std::uint64_t, std::less<>> totals() const;

 private:
  struct alignas(64) Shard {
    // Taken by the writer to insert a tag and by readers to walk `counts`; the writer's lookups and
    // increments take no lock (it is the only thread that changes the map's shape).
    mutable std::mutex insert_mu;
    std::map<std::string, std::atomic<std::uint64_t>, std::less<>> counts;
  };
  void add_out_of_range(const std::vector<std::string>& tags);

  std::vector<std::unique_ptr<Shard>> shards_;
  Shard spare_;  // add() with a shard out of range: written under its insert_mu only
};

}  // namespace siem
