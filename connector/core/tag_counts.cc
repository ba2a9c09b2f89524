#include "connector/core/tag_counts.h"

#include <algorithm>
#include <cassert>

namespace siem {

TagCounts::TagCounts(std::size_t shards) {
  shards = std::max<std::size_t>(shards, 1);
  shards_.reserve(shards);
  for (std::size_t i = 0; i < shards; ++i) shards_.push_back(std::make_unique<Shard>());
}

void TagCounts::add(std::size_t shard, const TagList& tags) { add_tags(shard, tags); }
void TagCounts::add(std::size_t shard, const std::vector<std::string>& tags) { add_tags(shard, tags); }

template <typename Tags>
void TagCounts::add_tags(std::size_t shard, const Tags& tags) {
  if (shard >= shards_.size()) [[unlikely]] {
    assert(!"TagCounts::add: shard out of range");
    add_out_of_range(tags);
    return;
  }
  Shard& s = *shards_[shard];
  for (std::string_view tag : tags) {
    auto it = s.counts.find(tag);
    if (it == s.counts.end()) {
      std::lock_guard lock(s.insert_mu);
      it = s.counts.try_emplace(std::string(tag)).first;
    }
    // The shard's only writer: a plain load and store, not a locked read-modify-write.
    auto& n = it->second.n;
    n.store(n.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
}

// Any number of threads may come here at once: the whole update is under the spare shard's lock.
template <typename Tags>
void TagCounts::add_out_of_range(const Tags& tags) {
  std::lock_guard lock(spare_.insert_mu);
  for (std::string_view tag : tags) {
    auto& n = spare_.counts.try_emplace(std::string(tag)).first->second.n;
    n.store(n.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
}

std::map<std::string, std::uint64_t, std::less<>> TagCounts::totals() const {
  std::map<std::string, std::uint64_t, std::less<>> out;
  const auto sum = [&out](const Shard& s) {
    std::lock_guard lock(s.insert_mu);
    for (const auto& [tag, c] : s.counts) out[tag] += c.n.load(std::memory_order_relaxed);
  };
  for (const auto& s : shards_) sum(*s);
  sum(spare_);
  return out;
}

}  // namespace siem
