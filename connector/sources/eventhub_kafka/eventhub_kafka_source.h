// `type: eventhub_kafka` — reads Entra / Azure diagnostic exports from Event Hubs through its Kafka
// endpoint (or from any Kafka topic) with a librdkafka consumer group. Each message body (usually
// an envelope `{"records":[...]}`) is split into records by the core RecordReader.
//
// Offsets move only after the sinks acknowledged: auto-commit is off; each batch's checkpoint is
// the next offset of every partition read so far (JSON); the pipeline persists it once every
// record up to that batch was acknowledged and then calls on_committed(), which commits those
// offsets to the group. On a partition assignment the start offset is the larger of the group's
// committed offset and the locally persisted one, so replicas sharing a group (scale-out) hand
// partitions over without losing records (duplicates are possible: at-least-once).
//
// No call waits without a deadline: librdkafka's synchronous commit and consumer close can wait
// for a group coordinator indefinitely (a rebalance that never settles), which would stall the
// source thread and a SIGTERM drain. Synchronous commits wait at most `commit_timeout` for their
// result (the local checkpoint still holds the offsets when one is abandoned), and leaving the
// group at most `close_timeout` (the coordinator then notices after session.timeout.ms).
#pragma once

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "connector/core/registry.h"
#include "connector/core/source.h"
#include "sinks/kafka/kafka_client_config.h"

namespace siem {

struct EventHubKafkaOptions {
  std::string name;
  std::string topic;
  std::string group_id;
  kafka::ClientConfig client;                   // complete consumer properties
  SourceKind kind_hint = SourceKind::unknown;
  std::chrono::milliseconds poll_interval{1'000};  // longest poll() waits for a batch to fill
  std::size_t max_batch_records = 1'000;
  std::chrono::milliseconds commit_timeout{10'000};  // longest wait for a synchronous commit's result
  std::chrono::milliseconds close_timeout{30'000};   // longest wait for leaving the group on shutdown
};

// `queue_bytes`: the pipeline's input queue budget (`pipeline.queue_bytes`), from which the
// consumer's prefetch defaults are sized (prefetch_defaults()).
EventHubKafkaOptions read_eventhub_kafka_options(const ConfigNode& cfg, const std::string& name,
                                                 std::size_t queue_bytes = 8ull << 20);

// librdkafka prefetches ahead of poll(): its consumer queue fills up to queued.max.messages.kbytes
// (64 MiB by default) and each broker's fetch response (fetch.max.bytes, 50 MiB by default, up to
// max.partition.fetch.bytes per partition) comes on top, so with librdkafka's defaults the
// consumer alone held ~100 MiB against three brokers. The defaults here bound it by the pipeline's
// queue budget: the queue a quarter of it (at least 1 MiB), a fetch response an eighth (at least
// 1 MiB, and at least message.max.bytes), a partition's share of a fetch a quarter of that. A
// record larger than these still arrives: the broker returns a partition's first batch whatever
// its size (bounded by receive.message.max.bytes, 100 MB). The user's `properties:` win. The
// bound also caps the rate against a broker faster than the connector: librdkafka 2.0 looks at a
// full queue again only after up to 1 s (docs/performance.md, "Event Hubs prefetch bound").
struct KafkaPrefetch {
  std::size_t queued_kbytes = 0;          // queued.max.messages.kbytes
  std::size_t fetch_max_bytes = 0;        // fetch.max.bytes
  std::size_t partition_fetch_bytes = 0;  // max.partition.fetch.bytes
};
KafkaPrefetch prefetch_defaults(std::size_t queue_bytes);

// topic -> partition -> next offset to read.
using KafkaOffsets = std::map<std::string, std::map<std::int32_t, std::int64_t>>;
std::string encode_kafka_offsets(const KafkaOffsets& offsets);
KafkaOffsets decode_kafka_offsets(const std::string& token);  // throws SourceError when malformed

// What a partition's next message at `offset`, where `expected` was due, means; `low` is the
// partition's log start offset (negative: unknown).
enum class OffsetJump {
  none,        // at the expected offset (or nothing was expected)
  rewound,     // before it: the partition is shorter (a recreated hub); read again
  no_records,  // after it, but the skipped offsets are still on the broker and held no message
  lost,        // after it, and the skipped offsets are gone (retention): never read
  unknown,     // after it, and the log start offset could not be read
};
OffsetJump classify_offset_jump(std::int64_t expected, std::int64_t offset, std::int64_t low);

// The offset of `partition` of `topic` in `o`, RD_KAFKA_OFFSET_INVALID when absent.
std::int64_t lookup_offset(const KafkaOffsets& o, const std::string& topic, std::int32_t partition);

class EventHubKafkaSource final : public Source {
 public:
  explicit EventHubKafkaSource(EventHubKafkaOptions options);
  ~EventHubKafkaSource() override;
  EventHubKafkaSource(const EventHubKafkaSource&) = delete;
  EventHubKafkaSource& operator=(const EventHubKafkaSource&) = delete;

  void start(const std::optional<std::string>& checkpoint) override;
  SourceBatch poll(std::stop_token stop) override;
  void on_committed(const std::string& checkpoint) override;
  void stop() override;
  // Under `run --once` a retention gap (messages never read) fails the source once the rest is
  // read, so the run exits non-zero (kExitUndelivered).
  void set_run_once() override;

  // Partitions currently assigned to this member (for tests and metrics).
  std::set<std::pair<std::string, std::int32_t>> assignment() const;

 private:
  static void on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts, void* opaque);
  static void on_commit_result(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* offsets,
                               void* opaque);
  static void on_error(rd_kafka_t* rk, int err, const char* reason, void* opaque);
  static void on_log(const rd_kafka_t* rk, int level, const char* fac, const char* buf);
  void handle_assign(rd_kafka_topic_partition_list_t* parts);
  void handle_revoke(rd_kafka_topic_partition_list_t* parts);
  void commit(const KafkaOffsets& offsets, bool sync);
  rd_kafka_resp_err_t commit_and_wait(const rd_kafka_topic_partition_list_t* list);
  void close_consumer();
  // Called with every message before positions_ moves: says so when it is not at the offset the
  // partition was assigned at (its first) or the one after the last (out of range: retention
  // passed, or the partition is shorter than the checkpoint); counts the messages never read.
  void check_resume_offset(const std::string& topic, std::int32_t partition, std::int64_t offset);
  bool caught_up_locked() const;
  // The acknowledged offset of a partition this member owns, when it is past the group's committed
  // offset as of the current assignment (RD_KAFKA_OFFSET_INVALID otherwise): acknowledgements from
  // an earlier ownership period must never move the group's offset back.
  std::int64_t committable_locked(const std::string& topic, std::int32_t partition, std::int64_t acked) const;

  EventHubKafkaOptions options_;
  rd_kafka_t* rk_ = nullptr;
  rd_kafka_queue_t* commit_queue_ = nullptr;  // results of synchronous commits (waited for with a deadline)
  std::mutex commit_mu_;                      // one synchronous commit waits on commit_queue_ at a time
  std::uintptr_t commit_seq_ = 0;             // tells a late result of an abandoned commit from the awaited one
  bool cooperative_ = false;
  std::atomic<bool> stopped_{false};  // stop() ran: paused, still in the group until destroyed
  KafkaOffsets persisted_;   // from start(): the checkpoint the pipeline last persisted
  KafkaOffsets positions_;   // next offset of everything handed to the pipeline (poll thread)
  bool once_ = false;        // set_run_once()
  std::uint64_t never_read_ = 0;  // messages retention removed before they were read (poll thread)
  mutable std::mutex mu_;    // guards the members below (poll thread vs commit thread)
  KafkaOffsets acked_;       // last offsets passed to on_committed()
  std::set<std::pair<std::string, std::int32_t>> assigned_;
  std::set<std::pair<std::string, std::int32_t>> at_eof_;
  std::map<std::pair<std::string, std::int32_t>, std::int64_t> resume_at_;  // assigned start, until its first message
  std::map<std::pair<std::string, std::int32_t>, std::int64_t> assigned_at_;  // group's committed offset at the current assignment
  bool assigned_once_ = false;
  std::string fatal_;        // a permanent error seen in a callback, thrown from poll()
};

void register_eventhub_kafka_source(PluginRegistry& registry);

}  // namespace siem
