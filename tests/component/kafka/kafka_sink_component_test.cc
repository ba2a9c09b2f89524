// The Kafka sink against librdkafka's mock cluster (3 brokers on 127.0.0.1), read back by kcat.
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "connector/config/config_node.h"
#include "connector/core/ack_tracker.h"
#include "connector/core/dead_letter.h"
#include "connector/core/sink_runner.h"
#include "sinks/kafka/kafka_sink.h"
#include "tests/component/kafka/kafka_test_support.h"
#include "tests/support/wait.h"

namespace siem {
namespace {

using siem::testing::kcat_consume;
using siem::testing::MockKafkaCluster;

constexpr const char* kTenantA = "11111111-2222-3333-4444-555555555555";
constexpr const char* kTenantB = "99999999-8888-7777-6666-555555555555";

EventPtr make_event(std::size_t i, SourceKind kind = SourceKind::graph_directory_audit, std::size_t pad = 0) {
  auto ev = std::make_shared<MappedEvent>();
  ev->ack = AckHandle{0, i};
  ev->kind = kind;
  ev->source_name = "entra-audit";
  ev->set_origin(fmt::format("test#{}", i));
  ev->set_id(fmt::format("Directory_{:08d}-{}", i, kind == SourceKind::graph_sign_in ? "signin" : "audit"));
  ev->set_tenant_id((i % 2 == 0) ? kTenantA : kTenantB);
  ev->set_action("Add member to role");
  ev->tier = (i % 3 == 0) ? 0 : -1;
  nlohmann::json raw = {{"id", ev->id()}, {"activityDisplayName", ev->action()}, {"pad", std::string(pad, 'x')}};
  ev->raw = raw.dump();
  nlohmann::json ecs = {{"@timestamp", "2026-11-01T10:00:00.000Z"},
                        {"event", {{"id", ev->id()}, {"action", ev->action()}, {"kind", "event"}}},
                        {"cloud", {{"account", {{"id", ev->tenant_id()}}}}},
                        {"message", std::string(pad, 'x')}};
  ev->ecs = ecs.dump();
  ev->cef = fmt::format("CEF:0|Microsoft|Entra ID|1.0|{}|Add member to role|5|externalId={} rt=1793527200000", ev->action(),
                        ev->id());
  return ev;
}

std::vector<EventPtr> make_events(std::size_t from, std::size_t count, SourceKind kind = SourceKind::graph_directory_audit) {
  std::vector<EventPtr> v;
  for (std::size_t i = from; i < from + count; ++i) v.push_back(make_event(i, kind));
  return v;
}

struct Built {
  std::shared_ptr<ConfigDocument> doc;
  Diagnostics diags;
  std::unique_ptr<KafkaSink> sink;
};

std::unique_ptr<Built> build_sink(const std::string& yaml) {
  auto b = std::make_unique<Built>();
  b->doc = ConfigDocument::load_string(yaml, "kafka-test.yaml", b->diags);
  auto settings = read_kafka_sink_settings(b->doc->root(), "kafka-test", read_sink_format(b->doc->root()));
  EXPECT_FALSE(b->diags.has_errors()) << b->diags.format();
  b->sink = std::make_unique<KafkaSink>(std::move(settings));
  return b;
}

std::string base_yaml(const MockKafkaCluster& mc, const std::string& topic, const std::string& format = "ecs",
                      const std::string& extra_props = "") {
  return fmt::format(
      "brokers: \"{}\"\ntopic: \"{}\"\nformat: {}\nmetadata_timeout: 10s\nproperties:\n  message.timeout.ms: 60000\n"
      "  log_level: 3\n{}",
      mc.bootstraps(), topic, format, extra_props);
}

void expect_all_delivered(const MockKafkaCluster& mc, const std::string& topic, const std::vector<EventPtr>& sent,
                          OutputFormat format, bool exactly_once = true) {
  const auto records = kcat_consume(mc.bootstraps(), topic);
  std::map<std::string, int> seen;
  for (const auto& r : records) {
    ASSERT_FALSE(r.key_null) << "record without key at " << r.partition << "/" << r.offset;
    const auto colon = r.key.find(':');
    ASSERT_NE(colon, std::string::npos) << r.key;
    const std::string tenant = r.key.substr(0, colon), id = r.key.substr(colon + 1);
    ++seen[id];
    EXPECT_EQ(r.headers.at("tenant"), tenant);
    EXPECT_EQ(r.headers.at("source"), "entra-audit");
    EXPECT_EQ(r.headers.at("format"), std::string(to_string(format)));
    EXPECT_EQ(r.headers.at("connector-version"), SIEM_VERSION);
    EXPECT_TRUE(r.headers.count("source-kind"));
    if (format == OutputFormat::ecs) {
      EXPECT_EQ(r.headers.at("schema"), "ecs/8.11");
      EXPECT_EQ(r.headers.at("content-type"), "application/json");
      const auto doc = nlohmann::json::parse(r.payload);  // throws (fails the test) when not JSON
      EXPECT_EQ(doc["event"]["id"], id);
      EXPECT_EQ(doc["cloud"]["account"]["id"], tenant);
    } else if (format == OutputFormat::cef) {
      EXPECT_EQ(r.headers.at("schema"), "cef/0");
      EXPECT_EQ(r.payload.rfind("CEF:0|Microsoft|Entra ID|", 0), 0u) << r.payload;
      EXPECT_NE(r.payload.find("externalId=" + id), std::string::npos) << r.payload;
    }
  }
  for (const auto& ev : sent) {
    ASSERT_TRUE(seen.count(std::string(ev->id()))) << "lost event " << ev->id();
    if (exactly_once) {
      EXPECT_EQ(seen[std::string(ev->id())], 1) << "duplicate of " << ev->id();
    }
    if (ev->tier >= 0) {
      const auto it = std::find_if(records.begin(), records.end(),
                                   [&](const auto& r) { return r.key == std::string(ev->tenant_id()) + ":" + std::string(ev->id()); });
      ASSERT_NE(it, records.end());
      EXPECT_EQ(it->headers.at("pa-tier"), std::to_string(ev->tier));
    }
  }
  if (exactly_once) {
    EXPECT_EQ(records.size(), sent.size());
  }
}

TEST(KafkaSinkComponent, AllRecordsArriveWithKeyHeadersAndIdsAsEcs) {
  MockKafkaCluster mc(3);
  mc.create_topic("siem.ecs", 3, 3);
  auto b = build_sink(base_yaml(mc, "siem.ecs"));
  ASSERT_NO_THROW(b->sink->start());
  std::vector<EventPtr> all;
  for (int batch = 0; batch < 3; ++batch) {
    auto events = make_events(static_cast<std::size_t>(batch) * 200, 200);
    const auto r = b->sink->send(events);
    ASSERT_EQ(r.status, SendStatus::ok) << r.error;
    EXPECT_TRUE(r.rejected.empty());
    all.insert(all.end(), events.begin(), events.end());
  }
  b->sink->stop();
  expect_all_delivered(mc, "siem.ecs", all, OutputFormat::ecs);
}

TEST(KafkaSinkComponent, TopicTemplatePerKindCarriesCef) {
  MockKafkaCluster mc(3);
  mc.create_topic("entra.graph_directory_audit", 2, 3);
  mc.create_topic("entra.graph_sign_in", 2, 3);
  auto b = build_sink(base_yaml(mc, "entra.{kind}", "cef"));
  ASSERT_NO_THROW(b->sink->start());
  auto audits = make_events(0, 50, SourceKind::graph_directory_audit);
  auto signins = make_events(1000, 50, SourceKind::graph_sign_in);
  std::vector<EventPtr> mixed;
  for (std::size_t i = 0; i < 50; ++i) {
    mixed.push_back(audits[i]);
    mixed.push_back(signins[i]);
  }
  const auto r = b->sink->send(mixed);
  ASSERT_EQ(r.status, SendStatus::ok) << r.error;
  b->sink->stop();
  expect_all_delivered(mc, "entra.graph_directory_audit", audits, OutputFormat::cef);
  expect_all_delivered(mc, "entra.graph_sign_in", signins, OutputFormat::cef);
  for (const auto& rec : kcat_consume(mc.bootstraps(), "entra.graph_sign_in"))
    EXPECT_EQ(rec.headers.at("source-kind"), "graph_sign_in");
}

TEST(KafkaSinkComponent, BrokersDownMidRunThenBackLosesNothing) {
  MockKafkaCluster mc(3);
  mc.create_topic("siem.outage", 3, 3);
  auto b = build_sink(base_yaml(mc, "siem.outage"));
  ASSERT_NO_THROW(b->sink->start());
  auto first = make_events(0, 100);
  ASSERT_EQ(b->sink->send(first).status, SendStatus::ok);

  for (int id = 1; id <= 3; ++id) rd_kafka_mock_broker_set_down(mc.get(), id);
  std::atomic<bool> done{false};
  SendResult during;
  auto second = make_events(100, 100);
  std::thread sender([&] {
    during = b->sink->send(second);
    done = true;
  });
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_FALSE(done.load()) << "send() returned while every broker was down";
  for (int id = 1; id <= 3; ++id) rd_kafka_mock_broker_set_up(mc.get(), id);
  sender.join();  // bounded by message.timeout.ms (60 s) + margin
  ASSERT_EQ(during.status, SendStatus::ok) << during.error;

  auto third = make_events(200, 100);
  ASSERT_EQ(b->sink->send(third).status, SendStatus::ok);
  b->sink->stop();
  std::vector<EventPtr> all = first;
  all.insert(all.end(), second.begin(), second.end());
  all.insert(all.end(), third.begin(), third.end());
  expect_all_delivered(mc, "siem.outage", all, OutputFormat::ecs, /*exactly_once=*/false);
}

// Every broker down for longer than message.timeout.ms (delivery_timeout): librdkafka times the
// messages out; send() returns `retry` within the timeout plus its margin, with nothing counted as
// done and nothing dead-lettered (a timeout is never a permanent refusal). Once the brokers are
// back, sending the rest again (as the runner does) delivers every event.
TEST(KafkaSinkComponent, BrokersDownLongerThanTheDeliveryTimeoutRetriesWithoutLoss) {
  MockKafkaCluster mc(3);
  mc.create_topic("siem.longout", 3, 3);
  auto b = build_sink(fmt::format("brokers: \"{}\"\ntopic: siem.longout\nformat: ecs\nmetadata_timeout: 10s\n"
                                  "delivery_timeout: 2s\nproperties:\n  log_level: 0\n  reconnect.backoff.max.ms: 500\n",
                                  mc.bootstraps()));
  EXPECT_EQ(b->sink->settings().message_timeout, std::chrono::milliseconds(2'000));
  ASSERT_NO_THROW(b->sink->start());
  auto first = make_events(0, 50);
  ASSERT_EQ(b->sink->send(first).status, SendStatus::ok);

  for (int id = 1; id <= 3; ++id) rd_kafka_mock_broker_set_down(mc.get(), id);
  auto second = make_events(50, 100);
  const auto t0 = std::chrono::steady_clock::now();
  const auto down = b->sink->send(second);
  const auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_EQ(down.status, SendStatus::retry) << down.error;
  EXPECT_EQ(down.completed, 0u);
  EXPECT_TRUE(down.rejected.empty()) << down.rejected.front().reason;
  EXPECT_NE(down.error.find("not persisted"), std::string::npos) << down.error;
  EXPECT_LT(took, std::chrono::seconds(30)) << "send() outlived message.timeout.ms";

  for (int id = 1; id <= 3; ++id) rd_kafka_mock_broker_set_up(mc.get(), id);
  std::vector<EventPtr> rest(second.begin() + static_cast<std::ptrdiff_t>(down.completed), second.end());
  SendResult r;
  // Bounded by time (60 s) and count, like the runner's retries: each attempt lasts up to
  // delivery_timeout while librdkafka reconnects (its backoff capped at 500 ms above).
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (int attempt = 0; attempt < 30 && !rest.empty() && std::chrono::steady_clock::now() < until; ++attempt) {
    r = b->sink->send(rest);
    if (r.status == SendStatus::ok) break;
    ASSERT_EQ(r.status, SendStatus::retry) << r.error;
    ASSERT_TRUE(r.rejected.empty());
    rest.erase(rest.begin(), rest.begin() + static_cast<std::ptrdiff_t>(r.completed));
  }
  ASSERT_EQ(r.status, SendStatus::ok) << r.error;
  b->sink->stop();
  std::vector<EventPtr> all = first;
  all.insert(all.end(), second.begin(), second.end());
  expect_all_delivered(mc, "siem.longout", all, OutputFormat::ecs, /*exactly_once=*/false);
}

// SIGTERM drain while every broker is down: the drain deadline passes long before
// delivery_timeout (60 s here); interrupt() (the runner's abort) makes the send() under way return
// `retry` at once with nothing done or dead-lettered, later sends return at once, and stop() does
// not wait for the brokers either.
TEST(KafkaSinkComponent, InterruptEndsAWaitForDeliveryReportsWithoutAcknowledging) {
  MockKafkaCluster mc(3);
  mc.create_topic("siem.drain", 3, 3);
  auto b = build_sink(base_yaml(mc, "siem.drain"));
  ASSERT_NO_THROW(b->sink->start());
  ASSERT_EQ(b->sink->send(make_events(0, 10)).status, SendStatus::ok);
  for (int id = 1; id <= 3; ++id) rd_kafka_mock_broker_set_down(mc.get(), id);
  std::atomic<bool> done{false};
  SendResult during;
  auto second = make_events(10, 50);
  std::thread sender([&] {
    during = b->sink->send(second);
    done = true;
  });
  // The interrupt comes while send() waits for delivery reports: once all 50 are produced.
  ASSERT_TRUE(test::wait_until([&] { return b->sink->queued_for_testing() >= 50 || done.load(); }, std::chrono::seconds(30)));
  EXPECT_FALSE(done.load()) << "send() returned while every broker was down";
  const auto t0 = std::chrono::steady_clock::now();
  b->sink->interrupt();
  sender.join();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(15)) << "send() waited for the brokers";
  ASSERT_EQ(during.status, SendStatus::retry) << during.error;
  EXPECT_EQ(during.completed, 0u);
  EXPECT_TRUE(during.rejected.empty());
  const auto later = b->sink->send(second);
  EXPECT_EQ(later.status, SendStatus::retry);
  EXPECT_EQ(later.completed, 0u);
  const auto t1 = std::chrono::steady_clock::now();
  b->sink->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t1, std::chrono::seconds(8)) << "stop() waited for the brokers";
  for (int id = 1; id <= 3; ++id) rd_kafka_mock_broker_set_up(mc.get(), id);
}

// The produce loop itself stops at an interrupt: every broker down and the producer's queue full
// (queue.buffering.max.messages 10), so send() of 50 events waits for room to produce the rest
// (up to the delivery timeout, 60 s here). interrupt() (the drain deadline) ends that wait: nothing
// more is produced, send() returns `retry` with nothing done or rejected, and the 10 queued
// messages, never delivered, are purged with the producer: once the brokers are back, the topic
// holds exactly the batch delivered before the outage.
TEST(KafkaSinkComponent, InterruptStopsTheProduceLoopWaitingForQueueRoom) {
  MockKafkaCluster mc(3);
  mc.create_topic("siem.produce_stop", 3, 3);
  auto b = build_sink(base_yaml(mc, "siem.produce_stop", "ecs", "  queue.buffering.max.messages: 10\n"));
  ASSERT_NO_THROW(b->sink->start());
  const auto first = make_events(0, 10);
  ASSERT_EQ(b->sink->send(first).status, SendStatus::ok);
  for (int id = 1; id <= 3; ++id) rd_kafka_mock_broker_set_down(mc.get(), id);
  std::atomic<bool> done{false};
  SendResult during;
  const auto second = make_events(10, 50);
  std::thread sender([&] {
    during = b->sink->send(second);
    done = true;
  });
  // The queue holds its 10: the loop now waits for room to produce the 11th.
  const bool full = test::wait_until([&] { return b->sink->queued_for_testing() >= 10 || done.load(); },
                                     std::chrono::seconds(30));
  EXPECT_TRUE(full);
  EXPECT_FALSE(done.load()) << "send() returned while every broker was down";
  const auto t0 = std::chrono::steady_clock::now();
  b->sink->interrupt();
  sender.join();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(15)) << "the produce loop waited for room";
  ASSERT_EQ(during.status, SendStatus::retry) << during.error;
  EXPECT_EQ(during.completed, 0u) << "events reported done that no broker acknowledged";
  EXPECT_TRUE(during.rejected.empty());
  b->sink->stop();
  for (int id = 1; id <= 3; ++id) rd_kafka_mock_broker_set_up(mc.get(), id);
  expect_all_delivered(mc, "siem.produce_stop", first, OutputFormat::ecs);  // exactly these 10
}

TEST(KafkaSinkComponent, LeaderChangeIsFollowed) {
  MockKafkaCluster mc(3);
  mc.create_topic("siem.leaders", 3, 3);
  auto b = build_sink(base_yaml(mc, "siem.leaders"));
  ASSERT_NO_THROW(b->sink->start());
  auto first = make_events(0, 150);
  ASSERT_EQ(b->sink->send(first).status, SendStatus::ok);
  for (int p = 0; p < 3; ++p) rd_kafka_mock_partition_set_leader(mc.get(), "siem.leaders", p, (p + 1) % 3 + 1);
  auto second = make_events(150, 150);
  const auto r = b->sink->send(second);
  ASSERT_EQ(r.status, SendStatus::ok) << r.error;
  b->sink->stop();
  std::vector<EventPtr> all = first;
  all.insert(all.end(), second.begin(), second.end());
  expect_all_delivered(mc, "siem.leaders", all, OutputFormat::ecs);
}

TEST(KafkaSinkComponent, InjectedRetriableProduceErrorsAreRetriedWithoutDuplicates) {
  MockKafkaCluster mc(3);
  mc.create_topic("siem.flaky", 1, 3);
  auto b = build_sink(base_yaml(mc, "siem.flaky"));
  ASSERT_NO_THROW(b->sink->start());
  rd_kafka_mock_push_request_errors(mc.get(), 0 /* Produce */, 4, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                                    RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
                                    RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE);
  auto events = make_events(0, 120);
  const auto r = b->sink->send(events);
  ASSERT_EQ(r.status, SendStatus::ok) << r.error;
  b->sink->stop();
  expect_all_delivered(mc, "siem.flaky", events, OutputFormat::ecs);
}

TEST(KafkaSinkComponent, UnknownTopicIsOneClearConfigurationError) {
  MockKafkaCluster mc(3);
  {
    auto b = build_sink(base_yaml(mc, "siem.missing"));
    try {
      b->sink->start();
      FAIL() << "start() accepted a topic that does not exist";
    } catch (const SinkError& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("'siem.missing' does not exist"), std::string::npos) << msg;
      EXPECT_NE(msg.find(mc.bootstraps()), std::string::npos) << msg;
    }
  }
  // Templated topic: checked on first use; the batch is held (fatal), nothing dead-lettered.
  mc.create_topic("entra.graph_directory_audit", 1, 3);
  auto b = build_sink(base_yaml(mc, "entra.{kind}"));
  ASSERT_NO_THROW(b->sink->start());
  std::vector<EventPtr> batch = {make_event(0), make_event(1, SourceKind::graph_sign_in)};
  const auto r = b->sink->send(batch);
  EXPECT_EQ(r.status, SendStatus::fatal);
  EXPECT_EQ(r.completed, 0u);
  EXPECT_TRUE(r.rejected.empty());
  EXPECT_NE(r.error.find("'entra.graph_sign_in' does not exist"), std::string::npos) << r.error;
  // The topic is created: the held batch goes through.
  mc.create_topic("entra.graph_sign_in", 1, 3);
  b->sink->start();
  const auto again = b->sink->send(batch);
  EXPECT_EQ(again.status, SendStatus::ok) << again.error;
  b->sink->stop();
}

TEST(KafkaSinkComponent, UnknownTopicThroughRunnerNamesTheSinkAndTopic) {
  MockKafkaCluster mc(3);
  auto b = build_sink(base_yaml(mc, "siem.absent"));
  const auto dir = std::filesystem::path(SIEM_BINARY_DIR) / "kafka-test-runner";
  std::filesystem::create_directories(dir);
  AckTracker acks(1);
  acks.add_source();
  DeadLetterWriter dead(dir / "dead.ndjson");
  std::mutex mu;
  std::vector<std::string> fatals;
  SinkRunnerOptions opts;
  opts.initial_backoff = std::chrono::milliseconds(50);
  opts.max_backoff = std::chrono::milliseconds(200);
  SinkRunner runner("kafka-test", std::move(b->sink), OutputFormat::ecs, opts, acks, dead, [&](const std::string& m) {
    std::lock_guard lock(mu);
    fatals.push_back(m);
  });
  runner.start();
  // At most 60 s (the metadata request may take a while on a loaded machine; metadata_timeout 10 s).
  for (int i = 0; i < 600; ++i) {
    {
      std::lock_guard lock(mu);
      if (!fatals.empty()) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  runner.abort();
  runner.close();
  runner.join();
  std::lock_guard lock(mu);
  ASSERT_FALSE(fatals.empty());
  EXPECT_NE(fatals.front().find("sink kafka-test"), std::string::npos) << fatals.front();
  EXPECT_NE(fatals.front().find("'siem.absent' does not exist"), std::string::npos) << fatals.front();
}

TEST(KafkaSinkComponent, MessageTooLargeIsDeadLetteredWithReason) {
  MockKafkaCluster mc(3);
  mc.create_topic("siem.sizes", 1, 3);
  auto b = build_sink(base_yaml(mc, "siem.sizes", "ecs", "  message.max.bytes: 20000\n"));
  ASSERT_NO_THROW(b->sink->start());
  std::vector<EventPtr> batch = make_events(0, 10);
  batch[4] = make_event(4, SourceKind::graph_directory_audit, 50'000);
  const auto r = b->sink->send(batch);
  ASSERT_EQ(r.status, SendStatus::ok) << r.error;
  ASSERT_EQ(r.rejected.size(), 1u);
  EXPECT_EQ(r.rejected[0].index, 4u);
  EXPECT_NE(r.rejected[0].reason.find("MSG_SIZE_TOO_LARGE"), std::string::npos) << r.rejected[0].reason;
  EXPECT_NE(r.rejected[0].reason.find("siem.sizes"), std::string::npos) << r.rejected[0].reason;
  b->sink->stop();
  std::vector<EventPtr> delivered = batch;
  delivered.erase(delivered.begin() + 4);
  expect_all_delivered(mc, "siem.sizes", delivered, OutputFormat::ecs);
}

TEST(KafkaSinkComponent, FatalIdempotenceErrorRecreatesTheProducerAndResends) {
  MockKafkaCluster mc(3);
  mc.create_topic("siem.fatal", 2, 3);
  auto b = build_sink(base_yaml(mc, "siem.fatal"));
  ASSERT_NO_THROW(b->sink->start());
  auto first = make_events(0, 50);
  ASSERT_EQ(b->sink->send(first).status, SendStatus::ok);
  EXPECT_EQ(b->sink->producer_generation(), 1u);

  ASSERT_TRUE(b->sink->inject_fatal_error_for_testing(RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER, "injected by test"));
  auto second = make_events(50, 50);
  const auto r = b->sink->send(second);
  ASSERT_EQ(r.status, SendStatus::retry);
  EXPECT_EQ(r.completed, 0u);
  EXPECT_NE(r.error.find("fatal"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("OUT_OF_ORDER_SEQUENCE_NUMBER"), std::string::npos) << r.error;
  // The runner sends [completed, size) again: a fresh producer delivers it.
  const auto again = b->sink->send(std::span<const EventPtr>(second).subspan(r.completed));
  ASSERT_EQ(again.status, SendStatus::ok) << again.error;
  EXPECT_EQ(b->sink->producer_generation(), 2u);
  b->sink->stop();
  std::vector<EventPtr> all = first;
  all.insert(all.end(), second.begin(), second.end());
  expect_all_delivered(mc, "siem.fatal", all, OutputFormat::ecs);
}

// The read-back every test relies on fails loudly: an unknown topic or an unreachable cluster is a
// kcat failure, never "no records".
TEST(KcatReadBack, FailsWhenKcatCannotRead) {
  MockKafkaCluster mc(1);
  mc.create_topic("siem.present", 1, 1);
  EXPECT_TRUE(kcat_consume(mc.bootstraps(), "siem.present", 20).empty());
  EXPECT_TRUE(siem::testing::kcat_topic_exists(mc.bootstraps(), "siem.present"));
  EXPECT_FALSE(siem::testing::kcat_topic_exists(mc.bootstraps(), "siem.absent"));
  EXPECT_THROW(kcat_consume(mc.bootstraps(), "siem.absent", 20), std::runtime_error);
}

}  // namespace
}  // namespace siem
