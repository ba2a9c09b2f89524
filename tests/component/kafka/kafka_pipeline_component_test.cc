// The built binary end to end against librdkafka's mock cluster: `siem-connector run --once` with a
// file source into the kafka sink (read back by kcat), and the eventhub_kafka source (fed by kcat)
// into a file sink, including a second run that must not repeat anything.
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/component/kafka/kafka_test_support.h"

namespace {

using siem::testing::kcat_consume;
using siem::testing::MockKafkaCluster;
using siem::testing::run_command;
namespace fs = std::filesystem;

const std::string kBinary = std::string(SIEM_BINARY_DIR) + "/siem-connector";

fs::path fresh_dir(const std::string& name) {
  const auto dir = fs::path(SIEM_BINARY_DIR) / "kafka-e2e" / fmt::format("{}-{}", name, ::getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

int run_once(const fs::path& config, std::string* output = nullptr) {
  int status = 0;
  const std::string out =
      run_command(fmt::format("timeout -k 5 120 '{}' run --once -c '{}' 2>&1", kBinary, config.string()), &status);
  if (output) *output = out;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::size_t count_records(const std::string& file) {
  std::ifstream in(std::string(SIEM_TEST_DATA_DIR) + "/" + file);
  const auto j = nlohmann::json::parse(in);
  if (j.contains("records")) return j["records"].size();
  if (j.contains("value")) return j["value"].size();
  return 1;
}

std::vector<std::string> lines_of(const fs::path& file) {
  std::vector<std::string> out;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(line);
  return out;
}

TEST(KafkaPipelineComponent, FileSourceToKafkaSinkRunOnce) {
  ASSERT_TRUE(fs::exists(kBinary)) << kBinary;
  MockKafkaCluster mc(3);
  mc.create_topic("siem.e2e", 3, 3);
  const auto dir = fresh_dir("file-to-kafka");
  const auto cfg = dir / "config.yaml";
  std::ofstream(cfg) << fmt::format(R"(state_dir: {0}/state
dead_letter: {{path: {0}/dead-letter.ndjson}}
sources:
  - name: eh-audit
    type: file
    path: {1}/eventhub-auditlogs-records-envelope.json
  - name: graph-audit
    type: file
    path: {1}/graph-directoryaudits-list-v1.json
sinks:
  - name: kafka
    type: kafka
    format: ecs
    brokers: "{2}"
    topic: siem.e2e
    properties: {{log_level: 3}}
)",
                                    dir.string(), SIEM_TEST_DATA_DIR, mc.bootstraps());
  std::string out;
  ASSERT_EQ(run_once(cfg, &out), 0) << out;
  const std::size_t expected = count_records("eventhub-auditlogs-records-envelope.json") +
                               count_records("graph-directoryaudits-list-v1.json");
  const auto records = kcat_consume(mc.bootstraps(), "siem.e2e");
  ASSERT_EQ(records.size(), expected) << out;
  for (const auto& r : records) {
    const auto doc = nlohmann::json::parse(r.payload);
    const std::string id = doc["event"]["id"].get<std::string>();
    ASSERT_FALSE(id.empty());
    EXPECT_EQ(r.key.substr(r.key.find(':') + 1), id);
    EXPECT_EQ(r.headers.at("schema"), "ecs/8.11");
    EXPECT_TRUE(r.headers.at("source") == "eh-audit" || r.headers.at("source") == "graph-audit");
  }
  EXPECT_FALSE(fs::exists(dir / "dead-letter.ndjson") && !lines_of(dir / "dead-letter.ndjson").empty());
}

TEST(KafkaPipelineComponent, EventHubKafkaSourceToFileRunOnceDoesNotRepeat) {
  ASSERT_TRUE(fs::exists(kBinary)) << kBinary;
  MockKafkaCluster mc(3);
  mc.create_topic("insights-logs-auditlogs", 2, 3);
  const auto dir = fresh_dir("eventhub-to-file");
  std::ifstream envelope_in(std::string(SIEM_TEST_DATA_DIR) + "/eventhub-auditlogs-records-envelope.json");
  const std::string envelope = nlohmann::json::parse(envelope_in).dump();
  const std::size_t per = count_records("eventhub-auditlogs-records-envelope.json");
  auto produce = [&](int n) {
    std::ofstream(dir / "msgs.ndjson") << [&] {
      std::string s;
      for (int i = 0; i < n; ++i) s += envelope + "\n";
      return s;
    }();
    int status = 0;
    run_command(fmt::format("timeout -k 5 60 kcat -P -q -b '{}' -t insights-logs-auditlogs -X log_level=0 -l '{}'",
                            mc.bootstraps(), (dir / "msgs.ndjson").string()),
                &status);
    ASSERT_EQ(status, 0);
  };
  produce(3);
  const auto cfg = dir / "config.yaml";
  std::ofstream(cfg) << fmt::format(R"(state_dir: {0}/state
dead_letter: {{path: {0}/dead-letter.ndjson}}
sources:
  - name: eventhub
    type: eventhub_kafka
    brokers: "{1}"
    topic: insights-logs-auditlogs
    group_id: siem-e2e
    poll_interval: 500ms
    # The mock cluster keeps a departed member until its session times out.
    properties: {{log_level: 3, session.timeout.ms: 6000, heartbeat.interval.ms: 500}}
sinks:
  - name: out
    type: file
    format: ecs
    path: {0}/events.ndjson
)",
                                    dir.string(), mc.bootstraps());
  std::string out;
  ASSERT_EQ(run_once(cfg, &out), 0) << out;
  EXPECT_EQ(lines_of(dir / "events.ndjson").size(), 3 * per) << out;

  ASSERT_EQ(run_once(cfg, &out), 0) << out;  // nothing new: the checkpoint moved
  EXPECT_EQ(lines_of(dir / "events.ndjson").size(), 3 * per) << out;

  produce(1);
  ASSERT_EQ(run_once(cfg, &out), 0) << out;
  EXPECT_EQ(lines_of(dir / "events.ndjson").size(), 4 * per) << out;
}

}  // namespace
