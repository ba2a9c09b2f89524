#include "connector/core/ack_tracker.h"

#include <gtest/gtest.h>

namespace siem {
namespace {

TEST(AckTracker, CheckpointWaitsForEverySinkAndEveryEarlierEvent) {
  AckTracker t(2);  // two sinks
  const auto s = t.add_source();
  const auto first = t.begin_batch(s, 3, std::string("cp-after-3"));
  const auto second = t.begin_batch(s, 2, std::string("cp-after-5"));
  EXPECT_EQ(first, 0u);
  EXPECT_EQ(second, 3u);
  EXPECT_EQ(t.outstanding(), 5u);

  // Sink A acknowledges everything; sink B only the second batch: nothing is eligible yet.
  for (std::uint64_t i = 0; i < 5; ++i) t.ack(AckHandle{s, i});
  for (std::uint64_t i = 3; i < 5; ++i) t.ack(AckHandle{s, i});
  EXPECT_TRUE(t.take_ready().empty());
  EXPECT_EQ(t.watermark(s), 0u);

  // Out-of-order completion of the first batch by sink B releases both checkpoints; the newest wins.
  t.ack(AckHandle{s, 2});
  t.ack(AckHandle{s, 0});
  EXPECT_TRUE(t.take_ready().empty());
  t.ack(AckHandle{s, 1});
  auto ready = t.take_ready();
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_EQ(ready[0].second, "cp-after-5");
  EXPECT_EQ(t.outstanding(), 0u);
  EXPECT_TRUE(t.take_ready().empty());
}

// The overload the sink runners use: one acknowledgement per handle, from one sink.
TEST(AckTracker, BatchAcknowledgementCountsForOneSinkOnly) {
  AckTracker t(3);  // three sinks
  const auto s = t.add_source();
  t.begin_batch(s, 4, std::string("cp-after-4"));
  const std::vector<AckHandle> all{{s, 0}, {s, 1}, {s, 2}, {s, 3}};
  t.ack(all);  // sink A
  t.ack(all);  // sink B
  EXPECT_TRUE(t.take_ready().empty());
  EXPECT_EQ(t.watermark(s), 0u);
  EXPECT_EQ(t.outstanding(), 4u);
  t.ack(std::vector<AckHandle>{{s, 0}, {s, 1}});  // sink C, part of the batch
  EXPECT_TRUE(t.take_ready().empty());
  EXPECT_EQ(t.watermark(s), 2u);
  t.ack(std::vector<AckHandle>{{s, 3}, {s, 2}});
  auto ready = t.take_ready();
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_EQ(ready[0].second, "cp-after-4");
  EXPECT_EQ(t.outstanding(), 0u);
}

TEST(AckTracker, DeadLetteredEventsCountAsDone) {
  AckTracker t(3);
  const auto s = t.add_source();
  t.begin_batch(s, 2, std::string("cp"));
  t.complete(AckHandle{s, 0});  // dead-lettered in the mapping stage
  for (int sink = 0; sink < 3; ++sink) t.ack(AckHandle{s, 1});
  auto ready = t.take_ready();
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_EQ(ready[0].second, "cp");
}

TEST(AckTracker, CheckpointsOnlyAtBatchEnds) {
  AckTracker t(1);
  const auto s = t.add_source();
  t.begin_batch(s, 4, std::nullopt);             // mid-window pages carry no checkpoint
  t.begin_batch(s, 1, std::string("window-end"));
  for (std::uint64_t i = 0; i < 4; ++i) t.ack(AckHandle{s, i});
  EXPECT_TRUE(t.take_ready().empty());
  t.ack(AckHandle{s, 4});
  ASSERT_EQ(t.take_ready().size(), 1u);
}

TEST(AckTracker, EmptyBatchCheckpointIsEligibleOnceEarlierEventsAreDone) {
  AckTracker t(1);
  const auto s = t.add_source();
  t.begin_batch(s, 1, std::nullopt);
  t.begin_batch(s, 0, std::string("nothing-new"));
  EXPECT_TRUE(t.take_ready().empty());
  t.ack(AckHandle{s, 0});
  ASSERT_EQ(t.take_ready().size(), 1u);
}

TEST(AckTracker, SourcesAreIndependent) {
  AckTracker t(1);
  const auto a = t.add_source();
  const auto b = t.add_source();
  t.begin_batch(a, 1, std::string("a1"));
  t.begin_batch(b, 1, std::string("b1"));
  t.ack(AckHandle{b, 0});
  auto ready = t.take_ready();
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_EQ(ready[0].first, b);
  EXPECT_EQ(t.watermark(a), 0u);
}

TEST(AckTracker, DuplicateAcknowledgementsAreHarmless) {
  AckTracker t(2);
  const auto s = t.add_source();
  t.begin_batch(s, 1, std::string("cp"));
  t.ack(AckHandle{s, 0});
  t.ack(AckHandle{s, 0});  // the same sink again (a retried batch) must not stand in for the other
  EXPECT_EQ(t.outstanding(), 0u);  // two acknowledgements were needed and two arrived
  t.ack(AckHandle{s, 0});  // after completion: ignored
  EXPECT_EQ(t.take_ready().size(), 1u);
}

}  // namespace
}  // namespace siem
