// Helpers shared by the eventhub_kafka source's component tests: producing with kcat into
// librdkafka's mock cluster, building the source from YAML, draining it with bounded polls.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "connector/config/config_node.h"
#include "connector/sources/eventhub_kafka/eventhub_kafka_source.h"
#include "tests/component/kafka/kafka_test_support.h"

namespace siem::eh_test {

using siem::testing::MockKafkaCluster;
using siem::testing::run_command;

inline std::string compact_file(const std::string& name) {
  std::ifstream in(std::string(SIEM_TEST_DATA_DIR) + "/" + name);
  return nlohmann::json::parse(in).dump();
}

inline std::size_t records_in(const std::string& envelope) { return nlohmann::json::parse(envelope).at("records").size(); }

// Produces each line as one message with kcat (to `partition`, or spread when -1). Throws
// std::runtime_error when kcat fails: the test ends there (gtest reports the exception).
inline void kcat_produce(const MockKafkaCluster& mc, const std::string& topic, const std::vector<std::string>& messages,
                  int partition = -1) {
  static int counter = 0;
  const auto file = std::filesystem::path(SIEM_BINARY_DIR) / fmt::format("kcat-input-{}-{}.ndjson", ::getpid(), counter++);
  {
    std::ofstream out(file);
    for (const auto& m : messages) out << m << '\n';
  }
  int status = 0;
  run_command(fmt::format("timeout -k 5 60 kcat -P -q -b '{}' -t '{}' {} -X log_level=0 -l '{}' 2>&1", mc.bootstraps(),
                          topic, partition >= 0 ? fmt::format("-p {}", partition) : std::string(), file.string()),
              &status);
  std::filesystem::remove(file);
  if (status != 0) throw std::runtime_error(fmt::format("kcat producer failed (wait status {})", status));
}

// Like kcat_produce, for messages above the producer's default message.max.bytes (1 MB).
inline void kcat_produce_large(const MockKafkaCluster& mc, const std::string& topic, const std::vector<std::string>& messages) {
  const auto file = std::filesystem::path(SIEM_BINARY_DIR) / fmt::format("kcat-large-{}.ndjson", ::getpid());
  {
    std::ofstream out(file);
    for (const auto& m : messages) out << m << '\n';
  }
  int status = 0;
  run_command(fmt::format("timeout -k 5 60 kcat -P -q -b '{}' -t '{}' -X log_level=0 -X message.max.bytes=16000000 "
                          "-l '{}' 2>&1",
                          mc.bootstraps(), topic, file.string()),
              &status);
  std::filesystem::remove(file);
  if (status != 0) throw std::runtime_error(fmt::format("kcat producer failed (wait status {})", status));
}

struct Built {
  Diagnostics diags;
  std::shared_ptr<ConfigDocument> doc;
  EventHubKafkaOptions source_options;  // what the source was built with
  std::unique_ptr<EventHubKafkaSource> source;
};

inline std::unique_ptr<Built> build_source(const MockKafkaCluster& mc, const std::string& topic, const std::string& group,
                                    const std::string& extra = "", std::size_t queue_bytes = 8ull << 20) {
  auto b = std::make_unique<Built>();
  b->doc = ConfigDocument::load_string(
      fmt::format("brokers: \"{}\"\ntopic: {}\ngroup_id: {}\npoll_interval: 500ms\nproperties:\n  log_level: 3\n"
                  "  session.timeout.ms: 6000\n  heartbeat.interval.ms: 500\n{}",
                  mc.bootstraps(), topic, group, extra),
      "source.yaml", b->diags);
  auto options = read_eventhub_kafka_options(b->doc->root(), "eh-test", queue_bytes);
  EXPECT_FALSE(b->diags.has_errors()) << b->diags.format();
  b->source_options = options;
  b->source = std::make_unique<EventHubKafkaSource>(std::move(options));
  return b;
}

struct Drained {
  std::vector<RawRecord> records;
  std::optional<std::string> checkpoint;
  bool caught_up = false;
};

// Polls until caught up (at most `max_polls` polls of <= 500 ms each).
inline Drained drain(EventHubKafkaSource& src, int max_polls = 60) {
  Drained d;
  std::stop_source never;
  for (int i = 0; i < max_polls; ++i) {
    auto b = src.poll(never.get_token());
    for (auto& r : b.records) d.records.push_back(std::move(r));
    if (b.checkpoint) d.checkpoint = b.checkpoint;
    if (b.caught_up) {
      d.caught_up = true;
      break;
    }
  }
  return d;
}

}  // namespace siem::eh_test
