#include "connector/core/bounded_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <chrono>
#include <future>
#include <vector>
#include <thread>

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

}  // namespace
}  // namespace siem
