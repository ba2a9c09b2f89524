// The eventhub_kafka source against librdkafka's mock cluster, fed by kcat as an outside producer.
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <stop_token>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "connector/config/config_node.h"
#include "connector/sources/eventhub_kafka/eventhub_kafka_source.h"
#include "tests/component/kafka/eventhub_test_support.h"
#include "tests/component/kafka/kafka_test_support.h"

namespace siem {
namespace {

using siem::testing::MockKafkaCluster;
using siem::testing::run_command;
using namespace siem::eh_test;

TEST(EventHubKafkaSourceComponent, SplitsEnvelopesIntoRecordsAndCheckpointsNextOffsets) {
  MockKafkaCluster mc(3);
  mc.create_topic("insights-logs-auditlogs", 2, 3);
  const std::string audit = compact_file("eventhub-auditlogs-records-envelope.json");
  const std::string signin = compact_file("eventhub-signinlogs-record.json");
  kcat_produce(mc, "insights-logs-auditlogs", {audit, signin}, 0);
  kcat_produce(mc, "insights-logs-auditlogs", {audit}, 1);

  auto b = build_source(mc, "insights-logs-auditlogs", "siem-a");
  b->source->start(std::nullopt);
  const auto d = drain(*b->source);
  ASSERT_TRUE(d.caught_up);
  const std::size_t signin_records = nlohmann::json::parse(signin).contains("records") ? records_in(signin) : 1;
  EXPECT_EQ(d.records.size(), 2 * records_in(audit) + signin_records);
  for (const auto& r : d.records) {
    EXPECT_TRUE(r.read_error.empty()) << r.read_error;
    EXPECT_EQ(r.origin.rfind("kafka:insights-logs-auditlogs/", 0), 0u) << r.origin;
    ASSERT_TRUE(nlohmann::json::accept(std::string_view(r.json))) << r.json;
    EXPECT_EQ(nlohmann::json::parse(std::string_view(r.json)).count("records"), 0u) << "an envelope was not split";
  }
  ASSERT_TRUE(d.checkpoint.has_value());
  const auto offsets = decode_kafka_offsets(*d.checkpoint);
  EXPECT_EQ(offsets.at("insights-logs-auditlogs").at(0), 2);
  EXPECT_EQ(offsets.at("insights-logs-auditlogs").at(1), 1);
  b->source->stop();
}

TEST(EventHubKafkaSourceComponent, OffsetsMoveOnlyAfterTheSinksAcknowledged) {
  MockKafkaCluster mc(3);
  mc.create_topic("hub", 1, 3);
  const std::string audit = compact_file("eventhub-auditlogs-records-envelope.json");
  const std::size_t per = records_in(audit);
  kcat_produce(mc, "hub", {audit, audit, audit});

  {  // reads everything, but nothing was acknowledged: no commit
    auto a = build_source(mc, "hub", "grp");
    a->source->start(std::nullopt);
    const auto d = drain(*a->source);
    ASSERT_TRUE(d.caught_up);
    EXPECT_EQ(d.records.size(), 3 * per);
    a->source->stop();
  }
  std::string checkpoint;
  {  // same group, no local checkpoint: everything again; this time acknowledged
    auto b = build_source(mc, "hub", "grp");
    b->source->start(std::nullopt);
    const auto d = drain(*b->source);
    ASSERT_TRUE(d.caught_up);
    EXPECT_EQ(d.records.size(), 3 * per);
    ASSERT_TRUE(d.checkpoint);
    checkpoint = *d.checkpoint;
    b->source->on_committed(checkpoint);
    b->source->stop();
  }
  kcat_produce(mc, "hub", {audit});
  {  // the committed group offset holds: only the new message
    auto c = build_source(mc, "hub", "grp");
    c->source->start(std::nullopt);
    const auto d = drain(*c->source);
    ASSERT_TRUE(d.caught_up);
    EXPECT_EQ(d.records.size(), per);
    c->source->stop();
  }
}

TEST(EventHubKafkaSourceComponent, LocalCheckpointIsHonouredWhenTheGroupHasNoOffset) {
  MockKafkaCluster mc(3);
  mc.create_topic("hub", 1, 3);
  const std::string audit = compact_file("eventhub-auditlogs-records-envelope.json");
  kcat_produce(mc, "hub", {audit, audit});
  auto a = build_source(mc, "hub", "g1");
  a->source->start(std::nullopt);
  const auto first = drain(*a->source);
  ASSERT_TRUE(first.checkpoint);
  a->source->stop();  // never acknowledged through on_committed: the group has no offset
  a.reset();          // leaves the group

  kcat_produce(mc, "hub", {audit});
  auto b = build_source(mc, "hub", "g1");
  b->source->start(first.checkpoint);  // the pipeline persisted this checkpoint
  const auto d = drain(*b->source);
  ASSERT_TRUE(d.caught_up);
  EXPECT_EQ(d.records.size(), records_in(audit));
  b->source->stop();
}

// A replica as the pipeline runs it: its own thread polling, acknowledging each batch at once.
class Replica {
 public:
  explicit Replica(EventHubKafkaSource& src)
      : src_(src), thread_([this](std::stop_token stop) {
          while (!stop.stop_requested()) {
            auto b = src_.poll(stop);
            read_ += b.records.size();
            if (b.checkpoint) src_.on_committed(*b.checkpoint);
          }
        }) {}
  std::size_t read() const { return read_; }
  void join() {
    thread_.request_stop();
    thread_.join();
  }

 private:
  EventHubKafkaSource& src_;
  std::atomic<std::size_t> read_{0};
  std::jthread thread_;
};

TEST(EventHubKafkaSourceComponent, ReplicasInOneGroupShareThePartitions) {
  MockKafkaCluster mc(3);
  mc.create_topic("hub4", 4, 3);
  const std::string audit = compact_file("eventhub-auditlogs-records-envelope.json");
  for (int p = 0; p < 4; ++p) kcat_produce(mc, "hub4", {audit, audit}, p);
  const std::size_t total = 8 * records_in(audit);

  auto a = build_source(mc, "hub4", "scale");
  auto b = build_source(mc, "hub4", "scale");
  a->source->start(std::nullopt);
  b->source->start(std::nullopt);
  Replica ra(*a->source), rb(*b->source);
  const auto both_own_some = [&] { return !a->source->assignment().empty() && !b->source->assignment().empty(); };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!(both_own_some() && ra.read() + rb.read() >= total) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ra.join();
  rb.join();
  EXPECT_TRUE(both_own_some()) << "the group never spread the partitions over both members";
  EXPECT_GE(ra.read() + rb.read(), total);  // at-least-once: a rebalance may repeat, never skip
  EXPECT_EQ(a->source->assignment().size() + b->source->assignment().size(), 4u);
  a->source->stop();
  b->source->stop();
}

// A group coordinator that stops answering (every response delayed by a minute) cannot stall the
// source: the synchronous commit of stop() gives up at commit_timeout (librdkafka's own
// synchronous commit waits for the answer, here a minute), and leaving the group on destruction
// at close_timeout; freeing the client then waits for librdkafka's request timeouts
// (socket.timeout.ms, 10 s here). The local checkpoint still holds the offsets.
TEST(EventHubKafkaSourceComponent, UnansweringCoordinatorCannotStallStopOrShutdown) {
  MockKafkaCluster mc(1);
  mc.create_topic("hub", 1, 1);
  const std::string audit = compact_file("eventhub-auditlogs-records-envelope.json");
  kcat_produce(mc, "hub", {audit});
  Diagnostics diags;
  auto doc = ConfigDocument::load_string(
      fmt::format("brokers: \"{}\"\ntopic: hub\ngroup_id: g\npoll_interval: 500ms\nproperties:\n  log_level: 0\n"
                  "  socket.timeout.ms: 10000\n",
                  mc.bootstraps()),
      "source.yaml", diags);
  auto options = read_eventhub_kafka_options(doc->root(), "eh-test");
  options.commit_timeout = std::chrono::milliseconds(1'000);
  options.close_timeout = std::chrono::milliseconds(2'000);
  auto src = std::make_unique<EventHubKafkaSource>(std::move(options));
  src->start(std::nullopt);
  const auto d = drain(*src);
  ASSERT_TRUE(d.caught_up);
  ASSERT_TRUE(d.checkpoint);
  src->on_committed(*d.checkpoint);  // acknowledged: stop() commits it synchronously

  ASSERT_EQ(rd_kafka_mock_broker_set_rtt(mc.get(), 1, 60'000), RD_KAFKA_RESP_ERR_NO_ERROR);
  const auto t0 = std::chrono::steady_clock::now();
  src->stop();
  const auto stopped = std::chrono::steady_clock::now() - t0;
  src.reset();
  const auto closed = std::chrono::steady_clock::now() - t0;
  EXPECT_LT(stopped, std::chrono::seconds(5)) << "stop() waited for the coordinator";
  EXPECT_LT(closed, std::chrono::seconds(20)) << "leaving the group waited for the coordinator";
  EXPECT_EQ(rd_kafka_mock_broker_set_rtt(mc.get(), 1, 0), RD_KAFKA_RESP_ERR_NO_ERROR);
}

TEST(EventHubKafkaSourceComponent, BrokenMessageBecomesAReadErrorAndTheRestIsRead) {
  MockKafkaCluster mc(3);
  mc.create_topic("hub", 1, 3);
  const std::string audit = compact_file("eventhub-auditlogs-records-envelope.json");
  kcat_produce(mc, "hub", {audit, "{\"records\":[{\"time\":\"2026-", audit});
  auto a = build_source(mc, "hub", "g");
  a->source->start(std::nullopt);
  const auto d = drain(*a->source);
  ASSERT_TRUE(d.caught_up);
  std::size_t errors = 0;
  for (const auto& r : d.records) errors += r.read_error.empty() ? 0 : 1;
  EXPECT_EQ(errors, 1u);
  EXPECT_EQ(d.records.size() - errors, 2 * records_in(audit));
  a->source->stop();
}

EventHubKafkaOptions options_from(const std::string& yaml, std::size_t queue_bytes, Diagnostics& diags) {
  auto doc = ConfigDocument::load_string("brokers: \"127.0.0.1:9\"\ntopic: hub\ngroup_id: g\n" + yaml, "source.yaml", diags);
  auto o = read_eventhub_kafka_options(doc->root(), "eh-test", queue_bytes);
  kafka::RdKafkaConf conf(nullptr, rd_kafka_conf_destroy);
  std::string why;
  conf = kafka::make_conf(o.client.properties, why);
  EXPECT_TRUE(conf) << why;
  if (conf) {  // librdkafka's own consistency checks run when a client is made from the configuration
    rd_kafka_conf_set_log_cb(conf.get(), [](const rd_kafka_t*, int, const char*, const char*) {});  // nothing listens
    char err[512];
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), err, sizeof err);
    EXPECT_NE(rk, nullptr) << err;
    if (rk != nullptr) {
      conf.release();
      rd_kafka_destroy(rk);
    }
  }
  return o;
}

std::string prop(const EventHubKafkaOptions& o, const char* key) {
  const auto* v = o.client.properties.get(key);
  return v ? *v : std::string("<unset>");
}

TEST(EventHubKafkaOptions, PrefetchIsSizedFromTheQueueBudgetAndPropertiesWin) {
  Diagnostics diags;
  const auto d = options_from("", 8u << 20, diags);
  EXPECT_EQ(prop(d, "queued.max.messages.kbytes"), "2048");  // a quarter of the 8 MiB budget
  EXPECT_EQ(prop(d, "fetch.max.bytes"), "1048576");
  EXPECT_EQ(prop(d, "max.partition.fetch.bytes"), "262144");
  const auto big = options_from("", 64u << 20, diags);
  EXPECT_EQ(prop(big, "queued.max.messages.kbytes"), "16384");
  EXPECT_EQ(prop(big, "fetch.max.bytes"), "8388608");
  EXPECT_EQ(prop(big, "max.partition.fetch.bytes"), "2097152");
  // The user's properties win, and the defaults left give way to what librdkafka requires of them.
  const auto user = options_from(
      "properties: {queued.max.messages.kbytes: 65536, fetch.message.max.bytes: 4194304, message.max.bytes: 3000000}\n",
      8u << 20, diags);
  EXPECT_EQ(prop(user, "queued.max.messages.kbytes"), "65536");
  EXPECT_EQ(prop(user, "fetch.message.max.bytes"), "4194304");
  EXPECT_EQ(prop(user, "max.partition.fetch.bytes"), "<unset>");  // the alias the user set stands alone
  EXPECT_EQ(prop(user, "fetch.max.bytes"), "3000000");             // >= message.max.bytes
  const auto recv = options_from("properties: {receive.message.max.bytes: 600000, message.max.bytes: 500000}\n",
                                 8u << 20, diags);
  EXPECT_EQ(prop(recv, "fetch.max.bytes"), "599488");  // <= receive.message.max.bytes - 512
  // A smaller queue the user asked for bounds the fetch too (as librdkafka does when it sets both).
  const auto small = options_from("properties: {queued.max.messages.kbytes: 512}\n", 8u << 20, diags);
  EXPECT_EQ(prop(small, "fetch.max.bytes"), "1000000");  // not below message.max.bytes (its default)
  const auto own = options_from("properties: {fetch.max.bytes: 52428800}\n", 8u << 20, diags);
  EXPECT_EQ(prop(own, "fetch.max.bytes"), "52428800");
  EXPECT_FALSE(diags.has_errors()) << diags.format();
}

// The prefetch bounds (queued.max.messages.kbytes, fetch.max.bytes, max.partition.fetch.bytes) are
// sizes librdkafka asks for, not limits on a record: a message larger than all of them is still
// read (the broker returns a partition's first batch whatever its size), and the ones around it.
TEST(EventHubKafkaSourceComponent, MessageLargerThanThePrefetchBoundsIsRead) {
  MockKafkaCluster mc(3);
  mc.create_topic("hub", 1, 3);
  const std::string audit = compact_file("eventhub-auditlogs-records-envelope.json");
  // One envelope of > 2.5 MiB: the audit envelope's records repeated.
  auto big = nlohmann::json::parse(audit);
  const auto records = big.at("records");
  while (big.dump().size() < (5u << 19))
    for (const auto& r : records) big["records"].push_back(r);
  const std::string large = big.dump();
  const std::size_t large_records = big.at("records").size();
  kcat_produce_large(mc, "hub", {audit, large, audit});
  // A 1 MiB queue budget: 1 MiB queue and fetch, 256 KiB per partition, all under the message.
  auto a = build_source(mc, "hub", "g", "", 1u << 20);
  const auto& props = a->source_options.client.properties;
  ASSERT_NE(props.get("fetch.max.bytes"), nullptr);
  EXPECT_LT(std::stoull(*props.get("fetch.max.bytes")), large.size());
  EXPECT_LT(std::stoull(*props.get("max.partition.fetch.bytes")), large.size());
  EXPECT_LT(std::stoull(*props.get("queued.max.messages.kbytes")) << 10, large.size());
  a->source->start(std::nullopt);
  const auto d = drain(*a->source);
  ASSERT_TRUE(d.caught_up) << "the consumer stalled at the large message";
  for (const auto& r : d.records) EXPECT_TRUE(r.read_error.empty()) << r.read_error;
  EXPECT_EQ(d.records.size(), 2 * records_in(audit) + large_records);
  ASSERT_TRUE(d.checkpoint.has_value());
  EXPECT_EQ(decode_kafka_offsets(*d.checkpoint).at("hub").at(0), 3);
  a->source->stop();
}

TEST(EventHubKafkaSourceComponent, UnknownTopicIsAClearSourceError) {
  MockKafkaCluster mc(3);
  auto a = build_source(mc, "no-such-hub", "g");
  a->source->start(std::nullopt);
  std::stop_source never;
  try {
    for (int i = 0; i < 40; ++i) (void)a->source->poll(never.get_token());  // at most ~20 s
    FAIL() << "no error for a topic that does not exist";
  } catch (const SourceError& e) {
    EXPECT_NE(std::string(e.what()).find("no-such-hub"), std::string::npos) << e.what();
  }
  a->source->stop();
}

}  // namespace
}  // namespace siem
