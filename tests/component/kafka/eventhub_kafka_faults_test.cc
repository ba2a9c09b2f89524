// The eventhub_kafka source under group and retention faults, against librdkafka's mock cluster
// fed by kcat: a rebalance while records are in flight, and a checkpoint that retention passed.
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include "tests/component/kafka/eventhub_test_support.h"
#include "tests/support/wait.h"

namespace siem {
namespace {

using namespace siem::eh_test;
using namespace std::chrono_literals;

// The partition of a record's origin `kafka:<topic>/<partition>@<offset>:...`.
int partition_of(const std::string& origin) {
  const auto slash = origin.find('/');
  return std::stoi(origin.substr(slash + 1, origin.find('@') - slash - 1));
}

// A member as the pipeline runs it, except that nothing is acknowledged: every batch stays in
// flight; the last checkpoint token is kept for the test to acknowledge later.
class InFlightMember {
 public:
  explicit InFlightMember(EventHubKafkaSource& src)
      : src_(src), thread_([this](std::stop_token stop) {
          while (!stop.stop_requested()) {
            auto b = src_.poll(stop);
            std::lock_guard lock(mu_);
            for (const auto& r : b.records) ++per_partition_[partition_of(r.origin)];
            if (b.checkpoint) token_ = *b.checkpoint;
          }
        }) {}
  std::size_t read(int partition) const {
    std::lock_guard lock(mu_);
    auto it = per_partition_.find(partition);
    return it == per_partition_.end() ? 0 : it->second;
  }
  std::optional<std::string> token() const {
    std::lock_guard lock(mu_);
    return token_;
  }
  void join() {
    thread_.request_stop();
    thread_.join();
  }

 private:
  EventHubKafkaSource& src_;
  mutable std::mutex mu_;
  std::map<int, std::size_t> per_partition_;
  std::optional<std::string> token_;
  std::jthread thread_;
};

// The group's committed offset of `topic`/`partition` (RD_KAFKA_OFFSET_INVALID when none), read
// by a client that does not join the group.
std::int64_t group_offset(const MockKafkaCluster& mc, const std::string& group, const std::string& topic, int partition) {
  char err[256];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", mc.bootstraps().c_str(), err, sizeof err);
  rd_kafka_conf_set(conf, "group.id", group.c_str(), err, sizeof err);
  rd_kafka_conf_set(conf, "log_level", "0", err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  if (rk == nullptr) throw std::runtime_error(err);
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(list, topic.c_str(), partition);
  const auto e = rd_kafka_committed(rk, list, 10'000);
  const std::int64_t off = e == RD_KAFKA_RESP_ERR_NO_ERROR ? list->elems[0].offset : -2000;
  rd_kafka_topic_partition_list_destroy(list);
  rd_kafka_destroy_flags(rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
  return off;
}

// Member A read both partitions; nothing is acknowledged when B joins and takes one of them. A
// committed nothing on the revocation (nothing was acknowledged), so B reads that partition from
// the start: nothing lost. When A's in-flight batch is acknowledged afterwards, its checkpoint
// (which holds both partitions) commits only the partition A still owns: B's partition keeps
// B's own (here: no) committed offset, A's position never overwrites it.
TEST(EventHubKafkaFaults, RebalanceWithRecordsInFlightNeitherLosesNorCommitsForTheNewOwner) {
  MockKafkaCluster mc(3);
  mc.create_topic("hub2", 2, 3);
  const std::string audit = compact_file("eventhub-auditlogs-records-envelope.json");
  const std::size_t per = records_in(audit);
  kcat_produce(mc, "hub2", {audit, audit, audit}, 0);
  kcat_produce(mc, "hub2", {audit, audit, audit}, 1);

  auto a = build_source(mc, "hub2", "rb");
  a->source->start(std::nullopt);
  const auto first = drain(*a->source);
  ASSERT_TRUE(first.caught_up);
  ASSERT_EQ(first.records.size(), 6 * per);
  ASSERT_TRUE(first.checkpoint);  // A's batches: in flight, not acknowledged
  ASSERT_EQ(a->source->assignment().size(), 2u);

  auto b = build_source(mc, "hub2", "rb");
  b->source->start(std::nullopt);
  InFlightMember ma(*a->source), mb(*b->source);
  const bool split = test::wait_until(
      [&] { return a->source->assignment().size() == 1 && b->source->assignment().size() == 1; }, 60s, 50ms);
  ASSERT_TRUE(split) << "the group never gave B a partition";
  const int moved = b->source->assignment().begin()->second;
  const int kept = a->source->assignment().begin()->second;
  EXPECT_TRUE(test::wait_until([&] { return mb.read(moved) >= 3 * per; }, 30s, 50ms))
      << "B did not read the moved partition from its start: " << mb.read(moved);

  // The sinks now acknowledge A's batches: the pipeline persists A's checkpoint and commits it.
  a->source->on_committed(*first.checkpoint);
  EXPECT_TRUE(test::wait_until([&] { return group_offset(mc, "rb", "hub2", kept) == 3; }, 20s, 100ms))
      << "A's own partition was not committed: " << group_offset(mc, "rb", "hub2", kept);
  EXPECT_EQ(group_offset(mc, "rb", "hub2", moved), RD_KAFKA_OFFSET_INVALID)
      << "A committed its position of a partition B owns, past B's unacknowledged records";
  ma.join();
  mb.join();
  EXPECT_EQ(mb.read(kept), 0u);
  a->source->stop();
  b->source->stop();
}

// A partition moves away and comes back: A acknowledged partition `m` up to 3 in its first
// ownership; B owns it next and commits 6; back on A (which starts at 6) A reads more without
// acknowledging; the next rebalance (eager: A gives up everything) must not commit A's old 3 and
// move the group back over messages B already delivered. Nor may a late acknowledgement of A's
// first ownership period.
TEST(EventHubKafkaFaults, PartitionReturningToAMemberNeverMovesTheGroupOffsetBack) {
  MockKafkaCluster mc(1);
  mc.create_topic("hub3", 2, 1);
  const std::string audit = compact_file("eventhub-auditlogs-records-envelope.json");
  kcat_produce(mc, "hub3", {audit, audit, audit}, 0);
  kcat_produce(mc, "hub3", {audit, audit, audit}, 1);

  auto a = build_source(mc, "hub3", "back");
  a->source->start(std::nullopt);
  const auto first = drain(*a->source);
  ASSERT_TRUE(first.caught_up);
  ASSERT_TRUE(first.checkpoint);
  a->source->on_committed(*first.checkpoint);  // A acknowledged 3 on both partitions
  ASSERT_TRUE(test::wait_until([&] { return group_offset(mc, "back", "hub3", 0) == 3 && group_offset(mc, "back", "hub3", 1) == 3; },
                               20s, 100ms));
  InFlightMember ma(*a->source);
  int moved = -1;
  {
    auto b = build_source(mc, "hub3", "back");
    b->source->start(std::nullopt);
    std::optional<std::string> b_token;
    std::stop_source never;
    const bool split = test::wait_until(
        [&] {
          auto batch = b->source->poll(never.get_token());
          if (batch.checkpoint) b_token = batch.checkpoint;
          return a->source->assignment().size() == 1 && b->source->assignment().size() == 1;
        },
        60s, 10ms);
    ASSERT_TRUE(split) << "the group never gave B a partition";
    moved = b->source->assignment().begin()->second;
    kcat_produce(mc, "hub3", {audit, audit, audit}, moved);  // 3..5
    ASSERT_TRUE(test::wait_until(
        [&] {
          auto batch = b->source->poll(never.get_token());
          if (batch.checkpoint) b_token = batch.checkpoint;
          return b_token && decode_kafka_offsets(*b_token).at("hub3").at(moved) == 6;
        },
        30s, 10ms));
    b->source->on_committed(*b_token);
    ASSERT_TRUE(test::wait_until([&] { return group_offset(mc, "back", "hub3", moved) == 6; }, 20s, 100ms));
    b->source->stop();
  }  // B leaves: the partition returns to A, at 6
  ASSERT_TRUE(test::wait_until([&] { return a->source->assignment().size() == 2; }, 60s, 50ms));
  kcat_produce(mc, "hub3", {audit, audit}, moved);  // 6..7, read by A and never acknowledged
  ASSERT_TRUE(test::wait_until(
      [&] { return ma.token() && decode_kafka_offsets(*ma.token()).at("hub3").at(moved) == 8; }, 30s, 50ms));
  a->source->on_committed(*first.checkpoint);  // late: from A's first ownership (3)
  EXPECT_EQ(group_offset(mc, "back", "hub3", moved), 6);

  auto c = build_source(mc, "hub3", "back");  // the next rebalance revokes both of A's partitions
  c->source->start(std::nullopt);
  std::stop_source never;
  const bool split = test::wait_until(
      [&] {
        c->source->poll(never.get_token());
        return a->source->assignment().size() == 1 && c->source->assignment().size() == 1;
      },
      60s, 10ms);
  ASSERT_TRUE(split) << "the group never gave C a partition";
  EXPECT_EQ(group_offset(mc, "back", "hub3", moved), 6) << "the group offset went back below what B delivered";
  ma.join();
  a->source->stop();
  c->source->stop();
  EXPECT_EQ(group_offset(mc, "back", "hub3", moved), 6);
}

}  // namespace
}  // namespace siem

namespace siem {
namespace {

class CapturedLog {
 public:
  CapturedLog()
      : previous_(spdlog::default_logger()),
        previous_level_(spdlog::get_level()),
        sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(5'000)) {
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("eventhub-faults-test", sink_));
    spdlog::set_level(spdlog::level::info);
  }
  ~CapturedLog() {
    spdlog::set_default_logger(previous_);
    spdlog::set_level(previous_level_);  // set_level changed every registered logger's level
  }
  CapturedLog(const CapturedLog&) = delete;
  CapturedLog& operator=(const CapturedLog&) = delete;
  std::string text() const {
    std::string out;
    for (const auto& l : sink_->last_formatted()) out += l;
    return out;
  }

 private:
  std::shared_ptr<spdlog::logger> previous_;
  spdlog::level::level_enum previous_level_;
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
};

std::int64_t low_watermark(const MockKafkaCluster& mc, const std::string& topic, int partition) {
  char err[256];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", mc.bootstraps().c_str(), err, sizeof err);
  rd_kafka_conf_set(conf, "log_level", "0", err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (rk == nullptr) throw std::runtime_error(err);
  std::int64_t lo = -1, hi = -1;
  const auto e = rd_kafka_query_watermark_offsets(rk, topic.c_str(), partition, &lo, &hi, 10'000);
  rd_kafka_destroy(rk);
  return e == RD_KAFKA_RESP_ERR_NO_ERROR ? lo : -1;
}

// The checkpoint's offset is older than anything the hub still keeps (its retention passed while
// the connector was stopped): the consumer gets "offset out of range" and resumes where
// initial_offset says (earliest: the oldest record kept); the records in between are gone, and
// the source says so once, naming the partition, the checkpoint's offset and where it resumed.
TEST(EventHubKafkaFaults, CheckpointPastRetentionResumesAtTheEarliestWithAClearLog) {
  MockKafkaCluster mc(1);
  mc.create_topic("hub", 1, 1);
  const std::string audit = compact_file("eventhub-auditlogs-records-envelope.json");
  kcat_produce(mc, "hub", {audit, audit});
  std::string checkpoint;
  {
    auto a = build_source(mc, "hub", "ret");
    a->source->start(std::nullopt);
    const auto d = drain(*a->source);
    ASSERT_TRUE(d.caught_up);
    ASSERT_TRUE(d.checkpoint);
    checkpoint = *d.checkpoint;
    a->source->on_committed(checkpoint);
    a->source->stop();
  }
  ASSERT_EQ(decode_kafka_offsets(checkpoint).at("hub").at(0), 2);
  // The mock keeps 5 MiB per partition: 7 messages of ~1 MB push the first ones out.
  const std::string large = nlohmann::json{{"records", {{{"pad", std::string(1'000'000, 'x')}}}}}.dump();
  kcat_produce_large(mc, "hub", std::vector<std::string>(7, large));
  kcat_produce(mc, "hub", {audit});
  const std::int64_t lo = low_watermark(mc, "hub", 0);
  ASSERT_GT(lo, 2) << "the mock kept the checkpoint's offset: no retention fault";

  CapturedLog log;
  auto b = build_source(mc, "hub", "ret");
  b->source->set_run_once();
  b->source->start(checkpoint);
  // Under `run --once` everything kept is read and handed on, then the source fails (exit 2).
  Drained d;
  std::string failure;
  std::stop_source never;
  for (int i = 0; i < 60 && failure.empty(); ++i) {
    try {
      auto batch = b->source->poll(never.get_token());
      for (auto& r : batch.records) d.records.push_back(std::move(r));
      if (batch.checkpoint) d.checkpoint = batch.checkpoint;
      ASSERT_FALSE(batch.caught_up) << "caught up without saying that messages were never read";
    } catch (const SourceError& e) {
      failure = e.what();
    }
  }
  EXPECT_NE(failure.find(fmt::format("{} message(s) were removed by the hub's retention", lo - 2)), std::string::npos)
      << failure;
  EXPECT_EQ(d.records.size(), static_cast<std::size_t>(9 - lo) + records_in(audit));  // all that is kept
  ASSERT_TRUE(d.checkpoint);
  EXPECT_EQ(decode_kafka_offsets(*d.checkpoint).at("hub").at(0), 10);
  b->source->stop();
  const std::string text = log.text();
  EXPECT_NE(text.find("hub[0]: offset 2 is no longer on the broker"), std::string::npos) << text;
  EXPECT_NE(text.find(fmt::format("resumed at offset {} (initial_offset: earliest)", lo)), std::string::npos) << text;
  EXPECT_NE(text.find(fmt::format("{} message(s) at offsets 2..{} were never read", lo - 2, lo - 1)), std::string::npos)
      << text;
}

}  // namespace
}  // namespace siem

namespace siem {
namespace {

// The decision behind each offset jump check_resume_offset() logs, on every message (the
// mid-run case: a consumer held back by backpressure longer than the retention is reset by
// librdkafka to the earliest offset kept) as on the first after an assignment.
TEST(EventHubKafkaOffsetJump, ClassifiesEachJumpAndAnUnknownLogStartIsNotCalledALoss) {
  EXPECT_EQ(classify_offset_jump(RD_KAFKA_OFFSET_INVALID, 7, 0), OffsetJump::none);  // nothing expected (reset)
  EXPECT_EQ(classify_offset_jump(5, 5, 0), OffsetJump::none);
  EXPECT_EQ(classify_offset_jump(5, 3, 0), OffsetJump::rewound);
  EXPECT_EQ(classify_offset_jump(5, 9, 4), OffsetJump::no_records);  // still there: markers, compaction
  EXPECT_EQ(classify_offset_jump(5, 9, 5), OffsetJump::no_records);
  EXPECT_EQ(classify_offset_jump(5, 9, 6), OffsetJump::lost);  // retention removed 5
  EXPECT_EQ(classify_offset_jump(5, 9, RD_KAFKA_OFFSET_INVALID), OffsetJump::unknown);
}

}  // namespace
}  // namespace siem
