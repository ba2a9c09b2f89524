// The real `siem-connector` binary against the real peers, with faults injected while it runs:
// librdkafka's mock cluster (brokers down), a real rsyslogd (stopped and restarted), the HEC
// emulator over HTTPS (a 503 "server busy" storm). For each sink: every record of the run arrives,
// parses in the configured format and carries its id; the run completes once the peer is back and
// the run summary accounts for it per sink. Plus the configuration errors each sink must report
// as one clear line naming the sink: an unknown Kafka topic, a wrong HEC token, a TLS name mismatch.
#include <gtest/gtest.h>

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tests/component/kafka/kafka_test_support.h"
#include "tests/component/pipeline/e2e_support.h"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using siem::testing::kcat_consume;
using siem::testing::MockKafkaCluster;

using namespace siem::e2e;

class SinkFaults : public E2eTest {};

// ---- Kafka --------------------------------------------------------------------------------------

std::set<std::string> kafka_ids(const MockKafkaCluster& mc, const std::string& topic, std::size_t* total = nullptr) {
  std::set<std::string> out;
  const auto records = kcat_consume(mc.bootstraps(), topic);
  for (const auto& r : records) {
    const auto doc = nlohmann::json::parse(r.payload);  // ECS JSON or the test fails
    const std::string id = doc["event"]["id"].get<std::string>();
    EXPECT_EQ(r.key.substr(r.key.find(':') + 1), id);
    out.insert(id);
  }
  if (total) *total = records.size();
  return out;
}

// For polling while brokers come back: a failed kcat read counts as "not there yet" (the final
// assertions use kafka_ids, which fails the test when kcat fails).
std::set<std::string> kafka_ids_once_readable(const MockKafkaCluster& mc, const std::string& topic) {
  try {
    return kafka_ids(mc, topic);
  } catch (const std::runtime_error&) {
    return {};
  }
}

std::string kafka_sink(const MockKafkaCluster& mc, const std::string& topic) {
  return fmt::format(
      "  - name: kafka-out\n    type: kafka\n    format: ecs\n    brokers: \"{}\"\n    topic: {}\n"
      "    metadata_timeout: 5s\n    retry: {{initial_backoff: 100ms, max_backoff: 500ms}}\n"
      "    properties: {{log_level: 0, message.timeout.ms: 60000}}\n",
      mc.bootstraps(), topic);
}

TEST_F(SinkFaults, KafkaBrokersDownMidRunLoseNothing) {
  MockKafkaCluster mc(3);
  mc.create_topic("siem.faults", 3, 3);
  const auto cfg = write_config(kafka_sink(mc, "siem.faults"));
  append(0, 200);
  Connector c(dir_, {"run", "-c", cfg.string()});
  ASSERT_TRUE(c.started());
  ASSERT_TRUE(eventually([&] { return kafka_ids_once_readable(mc, "siem.faults").size() == 200; }, 60s)) << c.err();

  for (int id = 1; id <= 3; ++id) rd_kafka_mock_broker_set_down(mc.get(), id);
  append(200, 400);  // read and sent while every broker is down
  std::this_thread::sleep_for(3s);
  ASSERT_TRUE(c.running()) << c.err();
  for (int id = 1; id <= 3; ++id) rd_kafka_mock_broker_set_up(mc.get(), id);

  ASSERT_TRUE(eventually([&] { return kafka_ids_once_readable(mc, "siem.faults").size() == 400; }, 90s)) << c.err();
  c.signal(SIGTERM);
  const int status = c.wait(60s);
  const auto err = c.err();
  EXPECT_EQ(status, 0) << err;
  EXPECT_EQ(kafka_ids(mc, "siem.faults"), ids(0, 400));
  const auto s = summary_of(err, "kafka-out");
  ASSERT_TRUE(s.found) << err;
  EXPECT_EQ(s.acked, 400u) << err;
  EXPECT_EQ(s.failed, 0u) << err;
  expect_no_dead_letters();
}

TEST_F(SinkFaults, KafkaRunOnceCompletesOnceTheBrokersAreBack) {
  MockKafkaCluster mc(3);
  mc.create_topic("siem.once", 3, 3);
  const auto cfg = write_config(kafka_sink(mc, "siem.once"));
  append(0, 300);
  for (int id = 1; id <= 3; ++id) rd_kafka_mock_broker_set_down(mc.get(), id);
  Connector c(dir_, {"run", "--once", "-c", cfg.string()});
  ASSERT_TRUE(c.started());
  std::this_thread::sleep_for(3s);
  ASSERT_TRUE(c.running()) << "run --once gave up while the brokers were down\n" << c.err();
  for (int id = 1; id <= 3; ++id) rd_kafka_mock_broker_set_up(mc.get(), id);
  const int status = c.wait(120s);
  const auto err = c.err();
  EXPECT_EQ(status, 0) << err;
  std::size_t total = 0;
  EXPECT_EQ(kafka_ids(mc, "siem.once", &total), ids(0, 300));
  EXPECT_GE(total, 300u);
  EXPECT_EQ(summary_of(err, "kafka-out").acked, 300u) << err;
  // Nothing is delivered twice by a second run: the checkpoint moved past all 300.
  Connector again(dir_, {"run", "--once", "-c", cfg.string()});
  EXPECT_EQ(again.wait(60s), 0) << again.err();
  std::size_t after = 0;
  kafka_ids(mc, "siem.once", &after);
  EXPECT_EQ(after, total);
}

TEST_F(SinkFaults, KafkaUnknownTopicIsOneClearErrorNamingTheSink) {
  MockKafkaCluster mc(3);  // clients may not auto-create topics (Metadata v4, allow.auto.create.topics off)
  // A long drain deadline: neither run may wait for it, the sink is misconfigured.
  const auto cfg = write_config(kafka_sink(mc, "siem.nosuchtopic"), "120s");
  append(0, 10);
  Connector once(dir_, {"run", "--once", "-c", cfg.string()});
  const int status = once.wait(60s);
  auto err = once.err();
  EXPECT_EQ(status, 2) << err;
  EXPECT_EQ(count_lines_with(err, "does not exist"), 1u) << err;
  EXPECT_EQ(count_lines_with(err, "sink kafka-out: kafka topic 'siem.nosuchtopic' does not exist"), 1u) << err;
  EXPECT_FALSE(siem::testing::kcat_topic_exists(mc.bootstraps(), "siem.nosuchtopic"));  // nothing created it

  // A continuous run keeps retrying (events held) but reports it once, not on every attempt.
  Connector cont(dir_, {"run", "-c", cfg.string()});
  std::this_thread::sleep_for(4s);  // retry.max_backoff 500ms: several attempts
  ASSERT_TRUE(cont.running()) << cont.err();
  cont.signal(SIGTERM);
  // It stops without waiting out the 120 s drain deadline for a sink that cannot deliver;
  // undelivered events are left for the next run.
  EXPECT_EQ(cont.wait(30s), 2) << cont.err();
  err = cont.err();
  EXPECT_EQ(count_lines_with(err, "does not exist"), 1u) << err;
  const auto s = summary_of(err, "kafka-out");
  ASSERT_TRUE(s.found) << err;
  EXPECT_GE(s.failed, 3u) << err;
  EXPECT_EQ(s.acked, 0u);
  expect_no_dead_letters();  // held, never dead-lettered
}

// ---- syslog -------------------------------------------------------------------------------------

TEST_F(SinkFaults, SyslogReceiverRestartedMidRunLosesNothing) {
  siem::test::TestPki pki;
  Rsyslog rs(dir_ / "rsyslog", pki);
  rs.start();
  const auto cfg = write_config(syslog_sink(rs.tls_port, pki));
  append(0, 200);
  Connector c(dir_, {"run", "-c", cfg.string()});
  ASSERT_TRUE(c.started());
  ASSERT_TRUE(eventually([&] { return syslog_ids(rs).size() == 200; }, 60s)) << c.err();

  rs.stop();         // the receiver goes away; the connector's connection is closed under it
  append(200, 400);  // read while the receiver is down: connects are refused, sends retried
  std::this_thread::sleep_for(2s);
  ASSERT_TRUE(c.running()) << c.err();
  rs.start();

  ASSERT_TRUE(eventually([&] { return syslog_ids(rs).size() == 400; }, 60s)) << c.err();
  c.signal(SIGTERM);
  const int status = c.wait(60s);
  const auto err = c.err();
  EXPECT_EQ(status, 0) << err;
  EXPECT_EQ(syslog_ids(rs), ids(0, 400));
  const auto s = summary_of(err, "syslog-out");
  ASSERT_TRUE(s.found) << err;
  EXPECT_EQ(s.acked, 400u) << err;
  EXPECT_GE(s.retried, 1u) << "the outage was not noticed\n" << err;
  expect_no_dead_letters();
}

TEST_F(SinkFaults, SyslogRunOnceCompletesOnceTheReceiverIsUp) {
  siem::test::TestPki pki;
  Rsyslog rs(dir_ / "rsyslog", pki);  // configured (ports chosen) but not started yet
  const auto cfg = write_config(syslog_sink(rs.tls_port, pki));
  append(0, 300);
  Connector c(dir_, {"run", "--once", "-c", cfg.string()});
  ASSERT_TRUE(c.started());
  std::this_thread::sleep_for(2s);
  ASSERT_TRUE(c.running()) << "run --once gave up while the receiver was down\n" << c.err();
  rs.start();
  const int status = c.wait(120s);
  const auto err = c.err();
  EXPECT_EQ(status, 0) << err;
  ASSERT_TRUE(eventually([&] { return syslog_ids(rs).size() == 300; }, 15s));
  EXPECT_EQ(syslog_ids(rs), ids(0, 300));
  EXPECT_GE(summary_of(err, "syslog-out").retried, 1u) << err;
}

TEST_F(SinkFaults, SyslogTlsNameMismatchIsOneClearErrorNamingTheSink) {
  siem::test::TestPki pki;
  Rsyslog rs(dir_ / "rsyslog", pki, /*wrong_name_cert=*/true);
  rs.start();
  const auto cfg = write_config(syslog_sink(rs.tls_port, pki));
  append(0, 10);
  Connector c(dir_, {"run", "--once", "-c", cfg.string()});
  const int status = c.wait(60s);
  const auto err = c.err();
  EXPECT_EQ(status, 2) << err;
  EXPECT_EQ(count_lines_with(err, "hostname mismatch"), 1u) << err;
  EXPECT_EQ(count_lines_with(err, "syslog sink 'syslog-out'"), 1u) << err;
  EXPECT_TRUE(rs.lines().empty());
}

// ---- Splunk HEC ---------------------------------------------------------------------------------

TEST_F(SinkFaults, HecBusyStormMidRunLosesNothing) {
  Hec h;
  const auto cfg = write_config(h.sink());
  append(0, 200);
  Connector c(dir_, {"run", "-c", cfg.string()});
  ASSERT_TRUE(c.started());
  ASSERT_TRUE(eventually([&] { return h.ids().size() == 200; }, 60s)) << c.err();

  const auto requests_before = h.hec->requests().size();
  h.hec->fail_busy(1'000'000);  // every data request: 503 "Server is busy", nothing stored
  append(200, 400);
  ASSERT_TRUE(eventually([&] { return h.hec->requests().size() >= requests_before + 3; }, 30s)) << c.err();
  EXPECT_EQ(h.hec->event_count(), 200u);
  ASSERT_TRUE(c.running()) << c.err();
  h.hec->fail_busy(0);  // the storm is over

  ASSERT_TRUE(eventually([&] { return h.ids().size() == 400; }, 60s)) << c.err();
  c.signal(SIGTERM);
  const int status = c.wait(60s);
  const auto err = c.err();
  EXPECT_EQ(status, 0) << err;
  EXPECT_EQ(h.ids(), ids(0, 400));
  const auto s = summary_of(err, "hec-out");
  ASSERT_TRUE(s.found) << err;
  EXPECT_EQ(s.acked, 400u) << err;
  EXPECT_GE(s.retried, 3u) << err;
  EXPECT_GT(s.sent, 400u) << "resent events count again in sent\n" << err;
  expect_no_dead_letters();
}

TEST_F(SinkFaults, HecRunOnceCompletesAfterABusyStorm) {
  Hec h;
  h.hec->fail_busy(15);  // the first 15 data requests of the run are refused
  const auto cfg = write_config(h.sink());
  append(0, 300);
  Connector c(dir_, {"run", "--once", "-c", cfg.string()});
  const int status = c.wait(120s);
  const auto err = c.err();
  EXPECT_EQ(status, 0) << err;
  EXPECT_EQ(h.ids(), ids(0, 300));
  const auto s = summary_of(err, "hec-out");
  EXPECT_EQ(s.acked, 300u) << err;
  EXPECT_GE(s.retried, 15u) << err;
}

TEST_F(SinkFaults, HecWrongTokenIsOneClearErrorNamingTheSink) {
  Hec h;
  const auto cfg = write_config(h.sink("11111111-2222-3333-4444-555555555555"));
  append(0, 10);
  Connector c(dir_, {"run", "--once", "-c", cfg.string()});
  const int status = c.wait(60s);
  const auto err = c.err();
  EXPECT_EQ(status, 2) << err;
  EXPECT_EQ(count_lines_with(err, "Invalid token"), 1u) << err;
  EXPECT_EQ(count_lines_with(err, "'hec-out'"), 1u) << err;
  EXPECT_EQ(err.find("11111111-2222"), std::string::npos) << "token leaked:\n" << err;
  EXPECT_EQ(h.hec->event_count(), 0u);
  expect_no_dead_letters();
}

TEST_F(SinkFaults, HecTlsNameMismatchIsOneClearErrorNamingTheSink) {
  Hec h(/*wrong_name_cert=*/true);  // trusted CA, certificate for another name
  const auto cfg = write_config(h.sink());
  append(0, 10);
  Connector c(dir_, {"run", "--once", "-c", cfg.string()});
  const int status = c.wait(60s);
  const auto err = c.err();
  EXPECT_EQ(status, 2) << err;
  EXPECT_EQ(count_lines_with(err, "sink hec-out: "), 1u) << err;
  // The URL names 127.0.0.1, the certificate another address: OpenSSL reports an IP mismatch.
  EXPECT_EQ(count_lines_with(err, "TLS certificate verification failed for 127.0.0.1"), 1u) << err;
  EXPECT_EQ(count_lines_with(err, "address mismatch"), 1u) << err;
  EXPECT_EQ(h.hec->event_count(), 0u);
  expect_no_dead_letters();
}

}  // namespace
