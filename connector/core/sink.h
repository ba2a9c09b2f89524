// The sink plugin interface. Sinks are small and dumb about policy: batching, retry with backoff,
// bounded buffering, dead-lettering and acknowledgement live once in the SinkRunner (sink_runner.h)
// that wraps every sink, as an OpenTelemetry exporterhelper does.
#pragma once

#include <cstddef>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "connector/core/event.h"

namespace siem {

enum class SendStatus {
  ok,     // every event was delivered (acknowledged by the peer), except those in `rejected`
  retry,  // a transient failure: events [completed, size) are sent again after a backoff
  fatal,  // the sink cannot go on (bad token, unknown topic...): the pipeline holds its events
};

struct Rejection {
  std::size_t index;   // index in the batch passed to send()
  std::string reason;  // why the peer refused it for good; the event goes to the dead-letter file
};

struct SendResult {
  SendStatus status = SendStatus::ok;
  // With `retry`: how many leading events of the batch are done (delivered or rejected).
  std::size_t completed = 0;
  std::vector<Rejection> rejected;  // events refused permanently (dead-lettered, then acknowledged)
  std::string error;                // with retry/fatal: the cause, for logs and metrics

  static SendResult success() { return {}; }
  static SendResult retry_from(std::size_t completed, std::string why) {
    SendResult r;
    r.status = SendStatus::retry;
    r.completed = completed;
    r.error = std::move(why);
    return r;
  }
  static SendResult fatal_error(std::string why) {
    SendResult r;
    r.status = SendStatus::fatal;
    r.error = std::move(why);
    return r;
  }
};

// A configuration or start-up failure of a sink that retrying will not fix.
class SinkError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Sink {
 public:
  virtual ~Sink() = default;

  // Connects / checks the peer's health. May be called again after a fatal result. Throws
  // SinkError on a permanent failure (message names the cause; the runner prefixes the sink name).
  virtual void start() = 0;

  // Delivers a batch and returns only when the peer acknowledged it (or failed). Called from one
  // runner thread at a time. Must never block forever: every wait is bounded by a timeout.
  virtual SendResult send(std::span<const EventPtr> batch) = 0;

  // Flushes and closes. Called once at shutdown.
  virtual void stop() {}

  // Called from another thread by SinkRunner::abort(): when the drain deadline passed, for a sink
  // that failed (Pipeline::stop_failing_sinks()) and after a disk-buffered sink's drain
  // (Pipeline::drain_disk_buffers()). A send() under way stops waiting for its peer and returns
  // `retry` (what it did not finish stays unacknowledged, so its checkpoint does not move), and
  // later ones return at once. A call already under way inside it may still run to its own
  // timeout: each sink states its bound in docs/sinks.md. Must be thread-safe.
  virtual void interrupt() noexcept {}
};

}  // namespace siem
