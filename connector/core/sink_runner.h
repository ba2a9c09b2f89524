// Wraps every sink once with the policy plugins should not re-implement (the OpenTelemetry
// exporterhelper / Fluent Bit engine model): a bounded queue, batching by count/bytes/time, retry
// with capped exponential backoff and full jitter, dead-lettering of events the peer refuses for
// good, holding (never dropping) while the sink is down, per-sink counters, acknowledgement.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <thread>

#include "connector/buffer/disk_buffer.h"
#include "connector/core/ack_tracker.h"
#include "connector/core/bounded_queue.h"
#include "connector/core/dead_letter.h"
#include "connector/core/metrics.h"
#include "connector/core/sink.h"

namespace siem {

class ConfigNode;
namespace config { class Section; }

struct SinkRunnerOptions {
  std::size_t queue_events = 10'000;
  std::size_t queue_bytes = 6ull << 20;
  std::size_t batch_max_events = 500;
  std::size_t batch_max_bytes = 4ull << 20;
  std::chrono::milliseconds batch_timeout{200};
  std::chrono::milliseconds initial_backoff{500};
  std::chrono::milliseconds max_backoff{60'000};
  // A sink that keeps failing the same way (start failure, fatal results) is logged at error level
  // once, then again at most this often while it lasts (every attempt is logged at debug level).
  std::chrono::milliseconds repeat_log_interval{300'000};

  // `buffer: {type: disk}`: events are spooled to a disk buffer (DiskBuffer) and acknowledged
  // once durable there; the queue above is then only the intake in front of it.
  bool disk = false;
  DiskBufferOptions disk_options;

  // Reads the common sink keys `batch: {max_events, max_bytes, timeout}`, `retry: {initial_backoff,
  // max_backoff}`, `buffer: {type, max_events, max_bytes, max_size, when_full}`.
  static SinkRunnerOptions from_config(const ConfigNode& sink_cfg);
  // The table of the keys every sink accepts (format, route, batch, retry, buffer): read here, by
  // read_sink_format() and read_route(), never by a sink plugin.
  static const config::Section& keys();
};

struct SinkCounters {
  std::atomic<std::uint64_t> sent{0};           // events handed to send() (a resent event counts again)
  std::atomic<std::uint64_t> acked{0};          // events the peer acknowledged
  std::atomic<std::uint64_t> retried{0};        // send() calls that asked for a retry
  std::atomic<std::uint64_t> failed{0};         // fatal results and failed start() calls
  std::atomic<std::uint64_t> dead_lettered{0};  // events refused for good
  std::atomic<std::uint64_t> bytes{0};          // payload bytes acknowledged
  std::atomic<std::uint64_t> latency_us_total{0};  // sum of send() durations of successful calls
  std::atomic<std::uint64_t> batches{0};        // batches fully delivered (their latency is summed)
  LatencyHistogram latency;                     // send() durations of successful calls
  std::atomic<std::uint64_t> in_flight{0};      // events in the send() call under way (or its retry)
  std::atomic<bool> send_failing{false};        // the last send() or start() did not succeed
};

// Logs a repeating failure once, then at most every `interval` while it lasts (with how many
// times it happened meanwhile); a different message is logged at once. Not thread-safe: one per
// runner thread.
class RepeatedErrorLog {
 public:
  explicit RepeatedErrorLog(std::chrono::milliseconds interval) : interval_(interval) {}
  // Returns true when the message was logged at error level.
  bool report(const std::string& message, const std::string& suffix = {});
  void reset() { last_.clear(); }

 private:
  std::chrono::milliseconds interval_;
  std::string last_;
  std::chrono::steady_clock::time_point last_logged_{};
  std::uint64_t suppressed_ = 0;
};

class SinkRunner {
 public:
  // `on_fatal` is called (from the runner thread) each time the sink reports a fatal error or fails
  // to start, with a message that names the sink; the pipeline decides whether to give up.
  // With `disk`, events are acknowledged once durable in it and delivered from it (disk_spool.cc).
  SinkRunner(std::string name, std::unique_ptr<Sink> sink, OutputFormat format, SinkRunnerOptions options,
             AckTracker& acks, DeadLetterWriter& dead_letters, std::function<void(const std::string&)> on_fatal,
             std::unique_ptr<DiskBuffer> disk = nullptr);
  ~SinkRunner();
  SinkRunner(const SinkRunner&) = delete;
  SinkRunner& operator=(const SinkRunner&) = delete;

  void start();                       // starts the worker thread (which starts the sink)
  bool enqueue(EventPtr event);       // blocks while the queue is full (backpressure)
  // Queues events[i] (charged bytes[i], footprint()) in order, in one push; blocks while the rest
  // does not fit. False once closed: the events from the first one not queued stay in `events`.
  bool enqueue_all(std::span<EventPtr> events, std::span<const std::size_t> bytes);
  void close();                       // no more events: drain what is queued, then stop
  void abort();                       // stop retrying now (drain deadline passed)
  void join();

  const std::string& name() const noexcept { return name_; }
  OutputFormat format() const noexcept { return format_; }
  const SinkCounters& counters() const noexcept { return counters_; }
  bool healthy() const noexcept { return healthy_.load(); }
  std::size_t queued() const { return queue_.size(); }
  std::size_t queued_bytes() const { return queue_.bytes(); }
  bool disk_buffered() const noexcept { return disk_ != nullptr; }
  // Events in the disk buffer not delivered yet (0 without one).
  std::uint64_t buffered() const { return disk_ ? disk_->pending() : 0; }
  std::optional<DiskBufferStats> buffer_stats() const {
    return disk_ ? std::optional<DiskBufferStats>(disk_->stats()) : std::nullopt;
  }

  // The bytes an event is charged in a sink queue: everything it keeps alive (the original record,
  // every mapped payload, ids and tags), not only this sink's payload, so that buffer.max_bytes
  // bounds the memory the queue actually holds.
  static std::size_t footprint(const MappedEvent& event) noexcept;

 private:
  void run();
  bool start_sink();  // false when aborted first
  // True once every event of the batch is done (delivered or dead-lettered); false when aborted.
  // `track_acks`: acknowledge to the AckTracker (not for events read back from the disk buffer).
  bool deliver(std::vector<EventPtr> batch, bool track_acks = true);
  void spool();           // disk buffer: intake queue -> disk, then acknowledge (disk_spool.cc)
  void send_from_disk();  // disk buffer: disk -> sink, then commit (disk_spool.cc)
  // False when aborted, or (`until_nothing_owed`) once the queue is closed and empty.
  bool sleep_for(std::chrono::milliseconds d, bool until_nothing_owed = false);
  bool owes_nothing() const;  // no disk buffer, queue closed and empty: no event can come
  std::chrono::milliseconds next_backoff(int attempt);

  std::string name_;
  std::unique_ptr<Sink> sink_;
  OutputFormat format_;
  SinkRunnerOptions options_;
  AckTracker& acks_;
  DeadLetterWriter& dead_letters_;
  std::function<void(const std::string&)> on_fatal_;
  BoundedQueue<EventPtr> queue_;
  SinkCounters counters_;
  std::atomic<bool> healthy_{false};
  std::atomic<bool> aborted_{false};
  std::atomic<bool> closed_{false};
  std::mutex sleep_mu_;
  std::condition_variable sleep_cv_;
  std::thread thread_;
  bool started_sink_ = false;
  std::unique_ptr<DiskBuffer> disk_;
  std::thread spool_thread_;
  std::atomic<bool> spool_done_{false};
};

}  // namespace siem
