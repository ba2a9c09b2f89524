// Test helpers for Kafka component tests: librdkafka's in-process mock cluster (real Kafka protocol
// on 127.0.0.1) and `kcat` as an independent client. Every wait is bounded.
#pragma once

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <cstdio>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace siem::testing {

class MockKafkaCluster {
 public:
  explicit MockKafkaCluster(int brokers = 3) {
    char err[256];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
    rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (rk_ == nullptr) throw std::runtime_error(std::string("mock cluster handle: ") + err);
    mc_ = rd_kafka_mock_cluster_new(rk_, brokers);
    if (mc_ == nullptr) throw std::runtime_error("rd_kafka_mock_cluster_new failed");
    bootstraps_ = rd_kafka_mock_cluster_bootstraps(mc_);
    // The mock advertises Metadata v2, which has no AllowAutoTopicCreation flag, so every topic a
    // client asks about would be auto-created. Kafka >= 0.11 speaks v4: let clients choose.
    rd_kafka_mock_set_apiversion(mc_, 3 /* Metadata */, 0, 4);
  }
  ~MockKafkaCluster() {
    rd_kafka_mock_cluster_destroy(mc_);
    rd_kafka_destroy(rk_);
  }
  MockKafkaCluster(const MockKafkaCluster&) = delete;
  MockKafkaCluster& operator=(const MockKafkaCluster&) = delete;

  const std::string& bootstraps() const { return bootstraps_; }
  rd_kafka_mock_cluster_t* get() const { return mc_; }
  void create_topic(const std::string& topic, int partitions = 3, int replication = 3) {
    if (rd_kafka_mock_topic_create(mc_, topic.c_str(), partitions, replication) != RD_KAFKA_RESP_ERR_NO_ERROR)
      throw std::runtime_error("cannot create mock topic " + topic);
  }

 private:
  rd_kafka_t* rk_ = nullptr;
  rd_kafka_mock_cluster_t* mc_ = nullptr;
  std::string bootstraps_;
};

// Runs a shell command (bounded by `timeout`), returns its stdout.
inline std::string run_command(const std::string& cmd, int* status = nullptr) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) throw std::runtime_error("popen failed: " + cmd);
  char buf[65536];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int rc = ::pclose(p);
  if (status != nullptr) *status = rc;
  return out;
}

struct ConsumedRecord {
  std::string topic;
  int partition = -1;
  long long offset = -1;
  std::string key;
  bool key_null = true;
  std::map<std::string, std::string> headers;
  std::string payload;
};

// Reads every record of `topic` from the beginning with kcat -J and exits at the end of the
// partitions; at most `timeout_s` seconds. Throws std::runtime_error (with kcat's messages) when
// kcat fails or times out: "no records" must never stand for "kcat could not read".
inline std::vector<ConsumedRecord> kcat_consume(const std::string& bootstraps, const std::string& topic,
                                                int timeout_s = 60) {
  const std::string cmd = "timeout -k 5 " + std::to_string(timeout_s) + " kcat -C -q -b '" + bootstraps + "' -t '" +
                          topic + "' -o beginning -e -J -X log_level=0 2>&1";
  int status = 0;
  const std::string out = run_command(cmd, &status);
  if (status != 0) {
    std::string messages;  // kcat's own lines (records are JSON objects)
    for (std::size_t pos = 0; pos < out.size();) {
      auto nl = out.find('\n', pos);
      if (nl == std::string::npos) nl = out.size();
      if (out[pos] != '{') messages += out.substr(pos, nl - pos) + "\n";
      pos = nl + 1;
    }
    throw std::runtime_error("kcat failed on topic " + topic + " (wait status " + std::to_string(status) + "): " + messages);
  }
  std::vector<ConsumedRecord> records;
  std::size_t pos = 0;
  while (pos < out.size()) {
    auto nl = out.find('\n', pos);
    if (nl == std::string::npos) nl = out.size();
    const std::string line = out.substr(pos, nl - pos);
    pos = nl + 1;
    if (line.empty() || line[0] != '{') continue;
    const auto j = nlohmann::json::parse(line);
    ConsumedRecord r;
    r.topic = j.value("topic", "");
    r.partition = j.value("partition", -1);
    r.offset = j.value("offset", -1LL);
    if (j.contains("key") && j["key"].is_string()) {
      r.key = j["key"].get<std::string>();
      r.key_null = false;
    }
    if (j.contains("headers") && j["headers"].is_array()) {
      const auto& h = j["headers"];
      for (std::size_t i = 0; i + 1 < h.size(); i += 2)
        r.headers[h[i].get<std::string>()] = h[i + 1].is_string() ? h[i + 1].get<std::string>() : std::string();
    }
    if (j.contains("payload") && j["payload"].is_string()) r.payload = j["payload"].get<std::string>();
    records.push_back(std::move(r));
  }
  return records;
}

// Whether the cluster knows `topic` (kcat -L metadata: listed with partitions). Throws when kcat
// fails, like kcat_consume.
inline bool kcat_topic_exists(const std::string& bootstraps, const std::string& topic, int timeout_s = 30) {
  const std::string cmd = "timeout -k 5 " + std::to_string(timeout_s) + " kcat -L -J -b '" + bootstraps + "' -t '" + topic +
                          "' -X log_level=0 -X allow.auto.create.topics=false 2>&1";
  int status = 0;
  const std::string out = run_command(cmd, &status);
  const auto start = out.find('{');
  if (status != 0 || start == std::string::npos)
    throw std::runtime_error("kcat -L failed (wait status " + std::to_string(status) + "): " + out);
  const auto meta = nlohmann::json::parse(out.substr(start));
  for (const auto& t : meta.value("topics", nlohmann::json::array()))
    if (t.value("topic", "") == topic && t.contains("partitions") && !t["partitions"].empty()) return true;
  return false;
}

}  // namespace siem::testing
