#include "connector/core/bounded_queue.h"

#include <gtest/gtest.h>

#include <atomic>
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

}  // namespace
}  // namespace siem
