// `type: kafka` — an idempotent librdkafka producer (acks=all) that returns from send() only when
// every message of the batch has its delivery report: persisted messages are acknowledged,
// messages the cluster refuses for good are dead-lettered, the rest are retried by the runner.
// Settings follow formats.md §5; `properties:` are passed to librdkafka verbatim and win.
#pragma once

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "connector/core/registry.h"
#include "connector/core/sink.h"
#include "sinks/kafka/kafka_client_config.h"

namespace siem {

// `topic:` — a plain name, or a template with `{kind}` (the record kind, e.g. graph_sign_in) and
// `{source}` (the configured source name). Substituted values are reduced to Kafka's topic
// alphabet [A-Za-z0-9._-] (anything else becomes '_').
class TopicTemplate {
 public:
  // Returns false and sets `why` for an empty template, an unknown placeholder or a character
  // Kafka does not allow in topic names.
  bool parse(std::string_view text, std::string& why);
  bool is_static() const noexcept { return !has_placeholders_; }
  const std::string& text() const noexcept { return text_; }
  std::string resolve(const MappedEvent& ev) const;

 private:
  enum class Part : std::uint8_t { literal, kind, source };
  std::vector<std::pair<Part, std::string>> parts_;
  std::string text_;
  bool has_placeholders_ = false;
};

// What librdkafka's delivery error means for the event.
enum class DeliveryClass : std::uint8_t {
  persisted,     // err == 0
  rejected,      // refused for good (too large, invalid record): dead-letter
  config,        // unknown topic / not authorised: a configuration error, events are held
  fatal,         // the idempotent producer is unusable: recreate it, resend
  retriable,     // timed out, transport, purged...: send again
};
DeliveryClass classify_delivery_error(rd_kafka_resp_err_t err) noexcept;

// The record key `<tenantId>:<event.id>` (empty when the event has no id: no key, random partition).
std::string kafka_message_key(const MappedEvent& ev);
// The message headers (formats.md §5.3) in the order they are sent.
std::vector<std::pair<std::string, std::string>> kafka_message_headers(const MappedEvent& ev, OutputFormat format);

struct KafkaSinkSettings {
  std::string name;
  OutputFormat format = OutputFormat::ecs;
  TopicTemplate topic;
  kafka::ClientConfig client;
  std::chrono::milliseconds message_timeout{600'000};   // effective message.timeout.ms
  std::chrono::milliseconds metadata_timeout{10'000};   // topic existence check at start/first use
  std::chrono::milliseconds report_margin{30'000};      // waited beyond message_timeout for reports
};

// Reads and validates a `type: kafka` sink node (offline); `format` is its `format:` as the pipeline
// builder read it (PluginContext::format). Problems go to the node's diagnostics.
// The table of the keys it reads (besides the common sink keys).
const config::Section& kafka_sink_keys();
KafkaSinkSettings read_kafka_sink_settings(const ConfigNode& cfg, const std::string& name, OutputFormat format);

class KafkaSink final : public Sink {
 public:
  explicit KafkaSink(KafkaSinkSettings settings);
  ~KafkaSink() override;
  KafkaSink(const KafkaSink&) = delete;
  KafkaSink& operator=(const KafkaSink&) = delete;

  void start() override;
  SendResult send(std::span<const EventPtr> batch) override;
  void stop() override;
  void interrupt() noexcept override;

  const KafkaSinkSettings& settings() const noexcept { return settings_; }
  // How many producers were created so far (a fatal idempotence error replaces the producer).
  std::uint64_t producer_generation() const;
  // Test hook: raises an idempotent-producer fatal error in the current producer
  // (rd_kafka_test_fatal_error). Thread-safe; returns false when there is no producer.
  bool inject_fatal_error_for_testing(rd_kafka_resp_err_t err, const char* reason);
  // Test hook: messages the current producer holds without a delivery report yet (queued, in
  // flight or reports not served: rd_kafka_outq_len); 0 without a producer. Thread-safe.
  std::size_t queued_for_testing() const;

 private:
  struct Slot {
    bool done = false;
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
    std::int32_t partition = -1;
    std::int64_t offset = -1;
    std::string errstr;
  };
  enum class TopicState : std::uint8_t { exists, missing, unauthorized, unknown };

  void create_producer();
  void destroy_producer(bool purge);
  rd_kafka_topic_t* topic_handle(const std::string& topic);
  TopicState check_topic(const std::string& topic, std::string& detail);
  std::string missing_topic_message(const std::string& topic, TopicState state, const std::string& detail) const;

  static void on_delivery(rd_kafka_t* rk, const rd_kafka_message_t* msg, void* opaque);
  static void on_error(rd_kafka_t* rk, int err, const char* reason, void* opaque);
  static void on_log(const rd_kafka_t* rk, int level, const char* fac, const char* buf);

  KafkaSinkSettings settings_;
  mutable std::mutex rk_mu_;  // guards rk_ against the test hook; send/start/stop run on one thread
  rd_kafka_t* rk_ = nullptr;
  std::uint64_t generation_ = 0;
  std::map<std::string, rd_kafka_topic_t*, std::less<>> topics_;
  std::set<std::string, std::less<>> verified_topics_;
  std::vector<Slot> slots_;
  std::size_t outstanding_ = 0;
  bool fatal_seen_ = false;
  std::atomic<bool> interrupted_{false};  // the drain deadline passed: stop waiting for reports
};

void register_kafka_sink(PluginRegistry& registry);

}  // namespace siem
