// The source plugin interface. A source reads records and hands them to the pipeline in batches;
// the pipeline tells it (through the checkpoint store) when everything before a batch's checkpoint
// was acknowledged by every sink.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <utility>
#include <vector>

#include "connector/core/event.h"

namespace siem {

struct SourceBatch {
  std::vector<RawRecord> records;
  // Opaque to the pipeline. Once every record of this batch and of all earlier batches is
  // acknowledged by every sink (or dead-lettered), the pipeline persists this token as the
  // source's checkpoint and later passes it back to start(). nullopt: this batch moves nothing.
  std::optional<std::string> checkpoint;
  // True when the source has nothing more to read right now (`run --once` stops polling it).
  bool caught_up = false;
  // True when the poll read nothing because it could not (a window that failed, shutting down), as
  // opposed to having nothing new: such a poll does not make the source ready (/readyz).
  bool read_failed = false;
};

// A failure that retrying will not fix (bad credentials, missing file, wrong tenant...). The
// message names the cause; the pipeline prefixes the source name, logs it once and stops the source.
class SourceError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// What a source can say about its progress on /metrics (written by its poll thread with relaxed
// stores, read by the metrics endpoint). Times are Unix seconds; 0 = not yet.
struct SourceProgress {
  std::atomic<std::uint64_t> pages{0};               // pages (responses) read
  std::atomic<std::uint64_t> windows_failed{0};      // windows abandoned and read again
  std::atomic<std::uint64_t> throttled{0};           // HTTP 429 responses
  std::atomic<std::uint64_t> retry_after_ms{0};      // waits asked for by Retry-After, summed
  std::atomic<std::int64_t> checkpoint_end{0};       // oldest stream's committed checkpoint end
  std::atomic<std::int64_t> last_window_ok{0};       // when a window was last completed
  // Error backoff: set while a request failed (a 5xx, a transport error; not a 429, which is
  // throttling) and the source waits to retry it, cleared once a request succeeds. The pipeline
  // counts such a source as caught up for the start-up order.
  std::atomic<bool> backing_off{false};

  // Per stream (pull sources): whether the service refuses it now (a 4xx: a permission or licence
  // missing), from a refusal until the stream completes a window again. Written by the poll
  // thread, read by /metrics (siem_source_stream_refused), /readyz, the run summary and the exit
  // status at shutdown.
  struct StreamStatus {
    std::string stream;
    std::uint32_t refusals = 0;       // refusals in a row, 0 while the stream reads
    std::uint64_t refusals_total = 0; // refusals since start
    std::string reason;               // the service's last answer while refused (logs, run summary)
    std::string brief;                // "HTTP 403 AuthorizationFailed": status and error code only (/readyz)
  };
  void add_stream(const std::string& stream) {  // once per stream; again: no change
    std::lock_guard lock(streams_mu_);
    for (const auto& s : streams_)
      if (s.stream == stream) return;
    StreamStatus status{stream, 0, 0, {}, {}};
    for (const auto& c : carried_)
      if (c.stream == stream) status = c;
    streams_.push_back(std::move(status));
  }
  // A live reload that restarted the pipeline: `earlier` is the status of the streams of the source
  // of the same name in the pipeline it replaced. A stream this source reads (add_stream) takes its
  // status over: refused there, it stays refused here (/metrics, /readyz, the run summary and the
  // exit status) until it completes a window (set_reading) or is refused again, and its refusal
  // count goes on. Until the source has started (end_carry_over), a carried stream it has not
  // registered yet is reported as it was (streams()), so a second reload before then carries it
  // again. A stream this source no longer reads leaves its status behind once it started. Call
  // before the source starts.
  void carry_over(std::vector<StreamStatus> earlier) {
    std::lock_guard lock(streams_mu_);
    carried_ = std::move(earlier);
    for (auto& s : streams_)
      for (const auto& c : carried_)
        if (c.stream == s.stream) s = c;
  }
  void set_refused(const std::string& stream, std::uint32_t refusals, const std::string& reason,
                   const std::string& brief) {
    std::lock_guard lock(streams_mu_);
    for (auto& s : streams_)
      if (s.stream == stream) {
        s.refusals = refusals;
        ++s.refusals_total;
        s.reason = reason;
        s.brief = brief;
      }
  }
  void set_reading(const std::string& stream) {
    std::lock_guard lock(streams_mu_);
    for (auto& s : streams_)
      if (s.stream == stream) {
        s.refusals = 0;
        s.reason.clear();
        s.brief.clear();
      }
  }
  // The source started (its start() registered every stream it reads): a carried status that no
  // stream took is one of a stream it no longer reads, and is dropped.
  void end_carry_over() {
    std::lock_guard lock(streams_mu_);
    carried_.clear();
  }
  // The registered streams, then the carried ones not registered yet (the source has not started).
  std::vector<StreamStatus> streams() const {
    std::lock_guard lock(streams_mu_);
    std::vector<StreamStatus> out = streams_;
    for (const auto& c : carried_) {
      bool registered = false;
      for (const auto& s : streams_) registered = registered || s.stream == c.stream;
      if (!registered) out.push_back(c);
    }
    return out;
  }
  // "stream S: <answer>; stream T: <answer>" for the streams refused now (empty: none). `brief`:
  // "stream S: HTTP 403 AuthorizationFailed" only, for unauthenticated endpoints (/readyz): the
  // answer's text can name the client, principals and the subscription scope.
  std::string refused_streams(bool brief = false) const {
    std::string out;
    for (const auto& s : streams())
      if (s.refusals > 0)
        out += (out.empty() ? "" : "; ") + ("stream " + s.stream + ": " + (brief ? s.brief : s.reason));
    return out;
  }

 private:
  mutable std::mutex streams_mu_;
  std::vector<StreamStatus> streams_;
  std::vector<StreamStatus> carried_;  // carry_over()'s, taken by add_stream()
};

class Source {
 public:
  virtual ~Source() = default;

  // Progress counters for /metrics; null when the source keeps none (lag and pages are then not
  // exported for it). One accessor, not const: the pipeline reads the counters through it and also
  // writes a refused stream's status into it across a reload (SourceProgress::carry_over); every
  // member of SourceProgress is safe to use from any thread.
  virtual SourceProgress* progress() { return nullptr; }

  // The record kinds the source can deliver to the sinks, besides `unknown` (a record whose kind
  // the mapping stage does not recognise); empty: any kind, its content is not known in advance
  // (files, Event Hubs). `validate` uses it to find a sink whose `route:` no event can reach.
  virtual std::vector<SourceKind> delivered_kinds() const { return {}; }

  // Called once before the first poll with the last committed checkpoint (nullopt on first run).
  // May do I/O (open files, fetch a token). Throws SourceError on a permanent failure.
  virtual void start(const std::optional<std::string>& checkpoint) = 0;

  // Returns the next batch. Blocks at most about one poll interval; returns early (possibly with
  // an empty batch) once `stop` is requested. Transient errors are retried inside with backoff and
  // never surface as a busy loop. Throws SourceError on a permanent failure.
  virtual SourceBatch poll(std::stop_token stop) = 0;

  // Called once before start() under `run --once`: what the input holds now is all there is. A
  // source that would otherwise wait for the rest of an incomplete record (the file source's last
  // line without a newline) reports it instead, so nothing is left unread without a word.
  virtual void set_run_once() {}

  // Called after `checkpoint` was durably persisted (e.g. a Kafka consumer commits offsets here).
  // Runs on the pipeline's commit thread; must not block for long.
  virtual void on_committed(const std::string& checkpoint) { (void)checkpoint; }

  // Called once when the pipeline shuts down, after the last poll.
  virtual void stop() {}

  // Start-up order. At start-up a source reads only once every source with a smaller number has
  // caught up once (or failed, or stopped, or is in error backoff: SourceProgress::backing_off; at
  // most PipelineOptions::state_warmup_max), so what the
  // earlier ones queued reaches the processors first. The pipeline only compares the numbers; the
  // sources that use them document what they mean (connector/sources/graph/graph_source.h).
  static constexpr int kDefaultStartupOrder = 100;
  virtual int startup_order() const { return kDefaultStartupOrder; }
};

}  // namespace siem
