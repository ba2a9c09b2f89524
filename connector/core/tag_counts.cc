#include "connector/core/tag_counts.h"

#include <algorithm>
#include <cassert>

namespace siem {

TagCounts::TagCounts(std::size_t shards) {
  shards = std::max<std::size_t>(shards, 1);
  shards_.reserve(shards);
  for (std::size_t i = 0; i < shards; ++i) shards_.push_back(std::make_unique<Shard>());
}

void TagCounts::add(std::size_t shard, const std::vector<std::string>& tags) {
  assert(shard < shards_.size() && "TagCounts::add: shard out of range");
  Shard& s = *shards_[shard];
  for (const auto& tag : tags) {
    auto it = s.counts.find(std::string_view(tag));
    if (it == s.counts.end()) {
      std::lock_guard lock(s.insert_mu);
      it = s.counts.try_emplace(tag).first;
    }
    // The shard's only writer: a plain load and store, not a locked read-modify-write.
    auto& n = it->second.n;
    n.store(n.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
}

std::map<std::string, std::uint64_t, std::less<>> TagCounts::totals() const {
  std::map<std::string, std::uint64_t, std::less<>> out;
  for (const auto& s : shards_) {
    std::lock_guard lock(s->insert_mu);
    for (const auto& [tag, c] : s->counts) out[tag] += c.n.load(std::memory_order_relaxed);
  }
  return out;
}

}  // namespace siem
