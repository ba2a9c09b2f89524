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
