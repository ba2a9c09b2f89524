#include "connector/core/bounded_queue.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <chrono>
#include <future>
#include <vector>
#include <thread>

#include "tests/support/wait.h"

namespace siem {
namespace {

TEST(BoundedQueue, ProducerBlocksAtCapacityUntilConsumerMakesRoom) {
  BoundedQueue<int> q(3, 1'000'000);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(q.push(i, 1));
  std::atomic<bool> pushed{false};
  std::thread producer([&] {
    q.push(99, 1);  // must block: the queue holds 3 of 3
    pushed = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(pushed.load());
  EXPECT_EQ(q.size(), 3u);
  EXPECT_EQ(q.pop(), 0);
  producer.join();
  EXPECT_TRUE(pushed.load());
  EXPECT_EQ(q.size(), 3u);
}

TEST(BoundedQueue, ByteBoundHoldsMemory) {
  BoundedQueue<int> q(1000, 100);
  ASSERT_TRUE(q.push(1, 60));
  std::atomic<bool> pushed{false};
  std::thread producer([&] {
    q.push(2, 60);  // 120 > 100 bytes: blocks
    pushed = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(pushed.load());
  EXPECT_LE(q.bytes(), 100u);
  q.pop();
  producer.join();
  EXPECT_EQ(q.bytes(), 60u);
}

TEST(BoundedQueue, WeightedEntriesCountTheirRecords) {
  // A source batch of N records counts N against max_items (pipeline.queue_events is in records).
  BoundedQueue<int> q(10, 1'000'000);
  ASSERT_TRUE(q.push(1, 1, 6));
  EXPECT_EQ(q.weight(), 6u);
  std::atomic<bool> pushed{false};
  std::thread producer([&] {
    q.push(2, 1, 5);  // 6 + 5 > 10: blocks although only one entry is queued
    pushed = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(pushed.load());
  EXPECT_EQ(q.pop(), 1);
  producer.join();
  EXPECT_TRUE(pushed.load());
  EXPECT_EQ(q.weight(), 5u);
  EXPECT_TRUE(q.push(3, 1, 5));  // 5 + 5 fits exactly
  EXPECT_EQ(q.weight(), 10u);
  // A batch heavier than the whole bound is still accepted by an empty queue (no deadlock).
  BoundedQueue<int> small(4, 1'000'000);
  EXPECT_TRUE(small.push(7, 1, 50));
  EXPECT_EQ(small.weight(), 50u);
}

TEST(BoundedQueue, OversizedItemIsAcceptedWhenEmpty) {
  BoundedQueue<int> q(10, 100);
  EXPECT_TRUE(q.push(1, 500));
  EXPECT_EQ(q.pop(), 1);
}

TEST(BoundedQueue, CloseWakesBlockedProducerAndDrainsConsumer) {
  BoundedQueue<int> q(1, 100);
  q.push(1, 1);
  std::thread producer([&] { EXPECT_FALSE(q.push(2, 1)); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  q.close();
  producer.join();
  EXPECT_EQ(q.pop(), 1);
  EXPECT_FALSE(q.pop().has_value());
}

TEST(BoundedQueue, PopBatchRespectsLimitsAndLinger) {
  BoundedQueue<int> q(100, 1000);
  for (int i = 0; i < 10; ++i) q.push(i, 10);
  auto b = q.pop_batch(4, 1000, std::chrono::milliseconds(0));
  EXPECT_EQ(b.size(), 4u);
  b = q.pop_batch(100, 25, std::chrono::milliseconds(0));
  EXPECT_EQ(b.size(), 2u);  // byte limit
  b = q.pop_batch(100, 1000, std::chrono::milliseconds(20));
  EXPECT_EQ(b.size(), 4u);  // the rest, after lingering briefly
  q.close();
  EXPECT_TRUE(q.pop_batch(10, 1000, std::chrono::milliseconds(10)).empty());
}

// A consumer lingering for a batch is woken when the batch can be complete, not per push (and
// not only at its deadline): each of these would time out against a 60 s linger otherwise.
constexpr auto kLongLinger = std::chrono::seconds(60);
constexpr auto kBound = std::chrono::seconds(20);

TEST(BoundedQueue, LingeringBatchReturnsOnceFull) {
  BoundedQueue<int> q(100, 1'000'000);
  auto batch = std::async(std::launch::async, [&] { return q.pop_batch(5, 1'000'000, kLongLinger); });
  for (int i = 0; i < 5; ++i) {
    q.push(i, 10);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const bool ready = batch.wait_for(kBound) == std::future_status::ready;
  q.close();  // releases the consumer if it is still waiting
  ASSERT_TRUE(ready);
  EXPECT_EQ(batch.get(), (std::vector<int>{0, 1, 2, 3, 4}));
}

TEST(BoundedQueue, LingeringBatchReturnsOnceFullByBytes) {
  BoundedQueue<int> q(100, 1'000'000);
  auto batch = std::async(std::launch::async, [&] { return q.pop_batch(100, 25, kLongLinger); });
  for (int i = 0; i < 3; ++i) q.push(i, 10);
  const bool ready = batch.wait_for(kBound) == std::future_status::ready;
  q.close();
  ASSERT_TRUE(ready);
  EXPECT_EQ(batch.get(), (std::vector<int>{0, 1}));  // the third would exceed 25 bytes
}

TEST(BoundedQueue, LingeringBatchTakesWhatIsThereWhenTheProducerIsBlocked) {
  // The queue holds 3; the consumer wants batches of 100: it must not wait for a batch that can
  // never fill while the producer waits for room.
  BoundedQueue<int> q(3, 1'000'000);
  auto consumer = std::async(std::launch::async, [&] {
    std::vector<int> all;
    const auto give_up = std::chrono::steady_clock::now() + kBound;
    while (all.size() < 12 && std::chrono::steady_clock::now() < give_up) {
      auto b = q.pop_batch(100, 1'000'000, kLongLinger);
      if (b.empty()) break;
      all.insert(all.end(), b.begin(), b.end());
    }
    return all;
  });
  auto producer = std::async(std::launch::async, [&] {
    for (int i = 0; i < 12; ++i) q.push(i, 10);
  });
  // The producer gets through 12 pushes into room for 3 only if the lingering consumer takes
  // what is queued each time the queue fills (else it would wait out 60 s per batch).
  const bool done = producer.wait_for(kBound) == std::future_status::ready;
  q.close();  // the last partial batch is handed over at once
  ASSERT_TRUE(done);
  ASSERT_EQ(consumer.wait_for(kBound), std::future_status::ready);
  std::vector<int> all = consumer.get();
  ASSERT_EQ(all.size(), 12u);
  for (int i = 0; i < 12; ++i) EXPECT_EQ(all[static_cast<std::size_t>(i)], i);
}

TEST(BoundedQueue, CloseWakesALingeringConsumer) {
  BoundedQueue<int> q(100, 1'000'000);
  q.push(7, 10);
  auto batch = std::async(std::launch::async, [&] { return q.pop_batch(100, 1'000'000, kLongLinger); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  q.close();
  ASSERT_EQ(batch.wait_for(kBound), std::future_status::ready);
  EXPECT_EQ(batch.get(), (std::vector<int>{7}));
}

// A batch that is full by bytes exactly (or a first entry alone over the bytes) while the queue is
// empty is returned at once: it used to leave the consumer spinning with the queue's lock held
// (nothing more could complete it, and its wait's condition, "the bytes it still needs are there",
// was true of zero bytes), which kept the producers out: the connector hung.
TEST(BoundedQueue, BatchFullByBytesExactlyReturnsAtOnce) {
  for (const std::size_t first : {std::size_t{10}, std::size_t{40}}) {
    BoundedQueue<int> q(100, 1'000'000);
    q.push(1, first);
    if (first == 10) {
      q.push(2, 10);
      q.push(3, 10);
    }
    auto batch = std::async(std::launch::async, [&] { return q.pop_batch(100, 30, kLongLinger); });
    if (batch.wait_for(kBound) != std::future_status::ready) {
      // Stuck with the queue's lock held: nothing (close() included) can release it.
      std::fprintf(stderr, "FAILED: pop_batch did not return (first entry %zu bytes)\n", first);
      std::_Exit(1);
    }
    EXPECT_EQ(batch.get().size(), first == 10 ? 3u : 1u);
  }
}

// push_all: a batch of entries under one lock, the same bounds as push() entry by entry.
std::vector<std::size_t> sizes(std::size_t n, std::size_t each) { return std::vector<std::size_t>(n, each); }
std::vector<int> iota(int n) {
  std::vector<int> v;
  for (int i = 0; i < n; ++i) v.push_back(i);
  return v;
}

TEST(BoundedQueue, PushAllQueuesInOrderWhenItFits) {
  BoundedQueue<int> q(10, 1000);
  ASSERT_TRUE(q.push(-1, 10));
  std::vector<int> items = iota(5);
  const auto bytes = sizes(5, 10);
  EXPECT_EQ(q.push_all(items, bytes), 5u);
  EXPECT_EQ(q.size(), 6u);
  EXPECT_EQ(q.bytes(), 60u);
  EXPECT_EQ(q.pop_batch(100, 1000, std::chrono::milliseconds(0)), (std::vector<int>{-1, 0, 1, 2, 3, 4}));
  EXPECT_EQ(q.push_all(std::span<int>(), std::span<const std::size_t>()), 0u);  // nothing: no wait
}

// A batch larger than the room: what fits is queued, the rest waits for the consumer; the queue never
// holds more than its bounds (by count here, by bytes below), and the order is the batch's.
// Takes batches (lingering for 100 entries) until `n` entries came or the queue closed.
std::vector<int> consume(BoundedQueue<int>& q, std::size_t n) {
  std::vector<int> all;
  const auto give_up = std::chrono::steady_clock::now() + kBound;
  while (all.size() < n && std::chrono::steady_clock::now() < give_up) {
    auto b = q.pop_batch(100, 1'000'000, kLongLinger);
    if (b.empty()) break;
    all.insert(all.end(), b.begin(), b.end());
  }
  return all;
}

// Pops `n` entries one at a time; before each, waits until the producer filled the queue to
// `full` entries (or what is left to come) and checks that it holds exactly that: the producer
// waits for room, it never pushes past the bound.
std::vector<int> pop_when_full(BoundedQueue<int>& q, std::size_t n, std::size_t full) {
  std::vector<int> all;
  while (all.size() < n) {
    const std::size_t expect = std::min(full, n - all.size());
    if (!test::wait_until([&] { return q.size() >= expect; }, std::chrono::seconds(20))) break;
    EXPECT_EQ(q.size(), expect);
    auto v = q.pop();
    if (!v) break;
    all.push_back(*v);
  }
  return all;
}

TEST(BoundedQueue, PushAllWaitsForRoomAndNeverExceedsTheCountBound) {
  BoundedQueue<int> q(3, 1'000'000);
  std::vector<int> items = iota(20);
  const auto bytes = sizes(20, 10);
  auto producer = std::async(std::launch::async, [&] { return q.push_all(items, bytes); });
  const std::vector<int> all = pop_when_full(q, 20, 3);
  const bool done = producer.wait_for(kBound) == std::future_status::ready;
  q.close();  // releases the producer if it still waits
  ASSERT_TRUE(done);
  EXPECT_EQ(producer.get(), 20u);
  EXPECT_EQ(all, iota(20));
}

TEST(BoundedQueue, PushAllNeverExceedsTheByteBound) {
  BoundedQueue<int> q(1000, 100);
  std::vector<int> items = iota(7);
  const auto bytes = sizes(7, 40);  // two fit in 100 bytes, a third does not
  auto producer = std::async(std::launch::async, [&] { return q.push_all(items, bytes); });
  const std::vector<int> all = pop_when_full(q, 7, 2);
  const bool done = producer.wait_for(kBound) == std::future_status::ready;
  q.close();
  ASSERT_TRUE(done);
  EXPECT_EQ(producer.get(), 7u);
  EXPECT_EQ(all, iota(7));
}

// A consumer lingering for a batch larger than the queue is handed what is there each time the
// batch push waits for room (else it would wait out 60 s per batch); the order is the batch's.
TEST(BoundedQueue, PushAllHandsALingeringConsumerWhatIsThereWhenFull) {
  BoundedQueue<int> q(3, 1'000'000);
  std::vector<int> items = iota(20);
  const auto bytes = sizes(20, 10);
  auto consumer = std::async(std::launch::async, [&] { return consume(q, 20); });
  auto producer = std::async(std::launch::async, [&] { return q.push_all(items, bytes); });
  const bool done = producer.wait_for(kBound) == std::future_status::ready;
  q.close();  // the last partial batch is handed over at once
  ASSERT_TRUE(done);
  EXPECT_EQ(producer.get(), 20u);
  ASSERT_EQ(consumer.wait_for(kBound), std::future_status::ready);
  EXPECT_EQ(consumer.get(), iota(20));
}

// An entry over the bounds alone goes into an empty queue only: first in a batch it is queued at
// once; after it, the next entry waits until the consumer took it.
TEST(BoundedQueue, PushAllTakesAnOversizedFirstEntryAloneThenWaits) {
  BoundedQueue<int> q(10, 100);
  std::vector<int> items{1, 2, 3};
  const std::vector<std::size_t> bytes{500, 10, 10};
  auto producer = std::async(std::launch::async, [&] { return q.push_all(items, bytes); });
  ASSERT_TRUE(test::wait_until([&] { return q.size() == 1; }, std::chrono::seconds(20)));
  EXPECT_EQ(q.bytes(), 500u);  // alone: 510 would exceed 100 with a second entry
  EXPECT_EQ(q.pop(), 1);
  ASSERT_EQ(producer.wait_for(kBound), std::future_status::ready);
  EXPECT_EQ(producer.get(), 3u);
  EXPECT_EQ(q.pop_batch(100, 1000, std::chrono::milliseconds(0)), (std::vector<int>{2, 3}));
  // An oversized entry after others waits for the queue to empty.
  std::vector<int> more{4, 5};
  const std::vector<std::size_t> more_bytes{10, 500};
  auto second = std::async(std::launch::async, [&] { return q.push_all(more, more_bytes); });
  ASSERT_TRUE(test::wait_until([&] { return q.size() == 1; }, std::chrono::seconds(20)));
  EXPECT_EQ(q.pop(), 4);
  ASSERT_EQ(second.wait_for(kBound), std::future_status::ready);
  EXPECT_EQ(second.get(), 2u);
  EXPECT_EQ(q.bytes(), 500u);
}

// The batch that makes a consumer's batch full by bytes exactly, or whose first entry alone is over
// the batch's bytes, hands it over at once (the cases that once hung pop_batch, above), whether the
// consumer waits for a first entry or lingers for more.
TEST(BoundedQueue, PushAllCompletesAWaitingBatchAtOnce) {
  for (const bool lingering : {false, true}) {
    for (const std::size_t first : {std::size_t{10}, std::size_t{40}}) {
      BoundedQueue<int> q(100, 1'000'000);
      if (lingering) q.push(0, 10);  // the consumer has one entry and lingers for 30 more bytes
      auto batch = std::async(std::launch::async, [&] { return q.pop_batch(100, lingering ? 40 : 30, kLongLinger); });
      if (lingering) {
        ASSERT_TRUE(test::wait_until([&] { return q.size() == 0; }, std::chrono::seconds(20)));
      }
      std::vector<int> items{1, 2, 3};
      const std::vector<std::size_t> bytes = first == 10 ? sizes(3, 10) : std::vector<std::size_t>{first};
      const std::size_t n = bytes.size();
      EXPECT_EQ(q.push_all(std::span<int>(items.data(), n), bytes), n);
      if (batch.wait_for(kBound) != std::future_status::ready) {
        std::fprintf(stderr, "FAILED: pop_batch did not return (lingering %d, first entry %zu bytes)\n",
                     lingering ? 1 : 0, first);
        std::_Exit(1);
      }
      const auto got = batch.get();
      // Full by bytes exactly (30 of 30, or 10 + 3 x 10 = 40 of 40); an entry over them alone
      // (40 > 30), or after the first (10 + 40 > 40): left in the queue.
      EXPECT_EQ(got.size(), first == 10 ? (lingering ? 4u : 3u) : 1u);
      q.close();
    }
  }
}

// close() while a batch push waits for room: it returns how many it queued, the rest stay with
// the caller; the consumer drains what was queued, in order.
TEST(BoundedQueue, CloseReleasesAWaitingPushAll) {
  BoundedQueue<int> q(3, 1'000'000);
  ASSERT_TRUE(q.push(-1, 10));
  std::vector<int> items = iota(5);
  const auto bytes = sizes(5, 10);
  auto producer = std::async(std::launch::async, [&] { return q.push_all(items, bytes); });
  ASSERT_TRUE(test::wait_until([&] { return q.size() == 3; }, std::chrono::seconds(20)));
  q.close();
  ASSERT_EQ(producer.wait_for(kBound), std::future_status::ready);
  EXPECT_EQ(producer.get(), 2u);
  EXPECT_EQ(items[2], 2);  // not moved from: the caller still has it
  EXPECT_EQ(q.pop_batch(100, 1'000'000, kLongLinger), (std::vector<int>{-1, 0, 1}));
  EXPECT_FALSE(q.pop().has_value());
  std::vector<int> late{7};
  EXPECT_EQ(q.push_all(late, sizes(1, 10)), 0u);  // closed: nothing is queued
}

}  // namespace
}  // namespace siem
