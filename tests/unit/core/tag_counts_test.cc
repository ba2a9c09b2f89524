// TagCounts (core/tag_counts.h): the per-tag counts of several writer threads, each in its own
// shard, summed exactly on read, and reads while the writers run never see a count go down.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "connector/core/tag_counts.h"

namespace siem {
namespace {

// Writer `w` adds, `rounds` times, the tags "all", "w<w>" and "mod<i % 3>" (a new tag every so
// often too: "new<i / 997>", so that shards insert while they are read).
std::vector<std::string> tags_of(std::size_t w, int i) {
  return {"all", fmt::format("w{}", w), fmt::format("mod{}", i % 3), fmt::format("new{}", i / 997)};
}

std::map<std::string, std::uint64_t> expected(std::size_t writers, int rounds) {
  std::map<std::string, std::uint64_t> out;
  for (std::size_t w = 0; w < writers; ++w)
    for (int i = 0; i < rounds; ++i)
      for (const auto& t : tags_of(w, i)) ++out[t];
  return out;
}

std::map<std::string, std::uint64_t> plain(const std::map<std::string, std::uint64_t, std::less<>>& m) {
  return {m.begin(), m.end()};
}

TEST(TagCounts, SumsTheShardsExactly) {
  TagCounts c(3);
  EXPECT_TRUE(c.totals().empty());
  for (std::size_t w = 0; w < 3; ++w)
    for (int i = 0; i < 2000; ++i) c.add(w, tags_of(w, i));
  EXPECT_EQ(plain(c.totals()), expected(3, 2000));
  TagCounts none(0);  // at least one shard
  none.add(0, {"x", "x"});
  EXPECT_EQ(none.totals().at("x"), 2u);
}

// A shard out of range (a caller's bug, e.g. a worker count computed apart from the shard count)
// asserts in a debug build; otherwise it writes nothing out of bounds and is counted exactly,
// even from several threads at once next to the in-range writers.
TEST(TagCounts, AShardOutOfRangeAssertsInDebugAndIsCountedExactlyOtherwise) {
  TagCounts c(2);
  EXPECT_DEBUG_DEATH(c.add(2, {"x"}), "shard out of range");
#ifdef NDEBUG
  constexpr int kRounds = 5000;
  std::vector<std::thread> writers;
  for (std::size_t w = 0; w < 4; ++w)
    writers.emplace_back([&c, w] {
      // Two writers in range (shards 0 and 1), two out of it (shards 2 and 1000).
      const std::size_t shard = w < 2 ? w : (w == 2 ? 2 : 1000);
      for (int i = 0; i < kRounds; ++i) c.add(shard, {"x", fmt::format("w{}", w)});
    });
  for (auto& t : writers) t.join();
  const auto got = c.totals();
  EXPECT_EQ(got.at("x"), 4u * kRounds + 1);
  for (std::size_t w = 0; w < 4; ++w) EXPECT_EQ(got.at(fmt::format("w{}", w)), std::uint64_t{kRounds}) << w;
  EXPECT_EQ(c.shards(), 2u);
#endif
}

TEST(TagCounts, ConcurrentReadsNeverGoDownAndTheEndIsExact) {
  constexpr std::size_t kWriters = 4;
  constexpr int kRounds = 20000;
  TagCounts c(kWriters);
  const auto want = expected(kWriters, kRounds);
  std::atomic<std::size_t> running{kWriters};
  std::vector<std::thread> writers;
  for (std::size_t w = 0; w < kWriters; ++w)
    writers.emplace_back([&, w] {
      for (int i = 0; i < kRounds; ++i) c.add(w, tags_of(w, i));
      --running;
    });
  std::map<std::string, std::uint64_t> last;
  int reads = 0;
  bool down = false, over = false;
  // At least one read (even if the writers finished before this thread got here), then reads
  // back to back while they write. Bounded: the writers end after a fixed count; at most
  // 1 000 000 reads in any case.
  do {
    for (const auto& [tag, n] : c.totals()) {
      auto& before = last[tag];
      if (n < before) down = true;
      if (n > want.at(tag)) over = true;
      before = n;
    }
    ++reads;
  } while (running.load() > 0 && reads < 1'000'000);
  for (auto& t : writers) t.join();
  EXPECT_FALSE(down) << "a count went down between two reads";
  EXPECT_FALSE(over) << "a count above what was added";
  EXPECT_GT(reads, 0);
  EXPECT_EQ(plain(c.totals()), want);
}

}  // namespace
}  // namespace siem
