// The pipeline's side of the observability endpoint: its /metrics families and its readiness,
// read from the counters the summary prints (relaxed atomics; nothing here is on the hot path).
#include <fmt/format.h>

#include "connector/core/pipeline.h"
#include "connector/core/pipeline_source_state.h"

namespace siem {

namespace {

using Type = Exposition::Type;
using Clock = std::chrono::steady_clock;

// A sink's disk buffer: its size in bytes (nullopt while the sink has none: no
// siem_sink_buffer_bytes sample then), and whether it accepts events now (such a sink counts as
// ready while its peer is down: the sources keep pulling into the buffer).
std::optional<std::uint64_t> disk_buffer_bytes(const SinkRunner& s) {
  const auto stats = s.buffer_stats();
  return stats ? std::optional<std::uint64_t>(stats->bytes) : std::nullopt;
}
bool disk_buffer_accepting(const SinkRunner& s) {
  const auto stats = s.buffer_stats();
  return stats && !stats->blocked;
}

double num(std::uint64_t v) { return static_cast<double>(v); }
double load(const std::atomic<std::uint64_t>& a) { return num(a.load(std::memory_order_relaxed)); }

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool sink_connected(const SinkRunner& s) {
  return s.healthy() && !s.counters().send_failing.load(std::memory_order_relaxed);
}

}  // namespace

void Pipeline::write_metrics(Exposition& x) const {
  // Per source. Progress families only for sources that keep them (the pull sources).
  auto per_source = [&](std::string_view name, Type type, std::string_view help, auto value) {
    x.family(name, type, help);
    for (const auto& s : sources_)
      if (auto v = value(*s)) x.sample({{"source", s->name}}, *v);
  };
  using Opt = std::optional<double>;
  per_source("siem_source_records", Type::counter, "Records read by the source.",
             [](const SourceState& s) -> Opt { return load(s.read); });
  per_source("siem_source_dead_lettered", Type::counter,
             "Records of the source written to the dead-letter file.",
             [](const SourceState& s) -> Opt { return load(s.dead_lettered); });
  per_source("siem_source_checkpoints", Type::counter, "Checkpoints persisted for the source.",
             [](const SourceState& s) -> Opt { return load(s.committed); });
  per_source(
      "siem_source_ready", Type::gauge, "1 once a poll of the source succeeded (authenticated and read).",
      [](const SourceState& s) -> Opt { return s.polled_ok.load(std::memory_order_relaxed) ? 1.0 : 0.0; });
  auto progress = [](auto field) {
    return [field](const SourceState& s) -> Opt {
      const auto* p = s.source->progress();
      if (!p) return std::nullopt;
      return field(*p);
    };
  };
  per_source("siem_source_pages", Type::counter, "Pages (HTTP responses with records) read.",
             progress([](const SourceProgress& p) -> Opt { return load(p.pages); }));
  per_source("siem_source_windows_failed", Type::counter, "Time windows abandoned and read again.",
             progress([](const SourceProgress& p) -> Opt { return load(p.windows_failed); }));
  per_source("siem_source_throttled_responses", Type::counter, "HTTP 429 responses.",
             progress([](const SourceProgress& p) -> Opt { return load(p.throttled); }));
  per_source("siem_source_retry_after_seconds", Type::counter,
             "Time the servers asked to wait with Retry-After.",
             progress([](const SourceProgress& p) -> Opt { return load(p.retry_after_ms) / 1000.0; }));
  const auto now = unix_now();
  per_source("siem_source_lag_seconds", Type::gauge,
             "Seconds between now and the end of the committed checkpoint.",
             progress([now](const SourceProgress& p) -> Opt {
               const auto end = p.checkpoint_end.load(std::memory_order_relaxed);
               if (end <= 0) return std::nullopt;
               return static_cast<double>(std::max<std::int64_t>(0, now - end));
             }));
  per_source("siem_source_last_window_timestamp_seconds", Type::gauge,
             "When a time window was last completed (Unix time).",
             progress([](const SourceProgress& p) -> Opt {
               const auto t = p.last_window_ok.load(std::memory_order_relaxed);
               return t > 0 ? Opt(static_cast<double>(t)) : std::nullopt;
             }));

  write_stream_metrics(x);

  // Per sink.
  auto per_sink = [&](std::string_view name, Type type, std::string_view help, auto value) {
    x.family(name, type, help);
    for (const auto& s : sinks_)
      if (auto v = value(*s)) x.sample({{"sink", s->name()}}, *v);
  };
  per_sink("siem_sink_events_sent", Type::counter, "Events handed to the sink (a resent event counts again).",
           [](const SinkRunner& s) -> Opt { return load(s.counters().sent); });
  per_sink("siem_sink_events_acked", Type::counter, "Events the peer acknowledged.",
           [](const SinkRunner& s) -> Opt { return load(s.counters().acked); });
  per_sink("siem_sink_retries", Type::counter, "Deliveries retried (transient failures).",
           [](const SinkRunner& s) -> Opt { return load(s.counters().retried); });
  per_sink("siem_sink_failures", Type::counter, "Fatal delivery results and failed sink starts.",
           [](const SinkRunner& s) -> Opt { return load(s.counters().failed); });
  per_sink("siem_sink_events_dead_lettered", Type::counter,
           "Events the peer refused for good (dead-letter file).",
           [](const SinkRunner& s) -> Opt { return load(s.counters().dead_lettered); });
  per_sink("siem_sink_acked_bytes", Type::counter, "Payload bytes acknowledged.",
           [](const SinkRunner& s) -> Opt { return load(s.counters().bytes); });
  per_sink("siem_sink_events_in_flight", Type::gauge, "Events in the delivery under way.",
           [](const SinkRunner& s) -> Opt { return load(s.counters().in_flight); });
  per_sink("siem_sink_queue_events", Type::gauge, "Events waiting in the sink's memory queue.",
           [](const SinkRunner& s) -> Opt { return num(s.queued()); });
  per_sink("siem_sink_queue_bytes", Type::gauge, "Bytes the sink's memory queue holds.",
           [](const SinkRunner& s) -> Opt { return num(s.queued_bytes()); });
  per_sink("siem_sink_buffer_bytes", Type::gauge, "Bytes in the sink's disk buffer (sinks with one).",
           [](const SinkRunner& s) -> Opt {
             const auto b = disk_buffer_bytes(s);
             return b ? Opt(num(*b)) : std::nullopt;
           });
  per_sink("siem_sink_buffer_io_errors", Type::counter,
           "Disk buffer writes that failed (a record's write or fsync, or a new segment) since start (sinks with one).",
           [](const SinkRunner& s) -> Opt {
             const auto b = s.buffer_stats();
             return b ? Opt(num(b->io_errors)) : std::nullopt;
           });
  per_sink("siem_sink_connected", Type::gauge, "1 while the sink is started and its last delivery succeeded.",
           [](const SinkRunner& s) -> Opt { return sink_connected(s) ? 1.0 : 0.0; });
  x.family("siem_sink_send_duration_seconds", Type::histogram, "Duration of successful send calls.");
  for (const auto& s : sinks_) x.histogram({{"sink", s->name()}}, s->counters().latency.snapshot());
  write_routing_metrics(x);

  // Per mapping kind (a fixed set) and per detection tag (the catalogue's tags).
  x.family("siem_mapping_events", Type::counter, "Events mapped, by record kind.");
  for (std::size_t k = 0; k < kKinds; ++k)
    x.sample({{"kind", to_string(static_cast<SourceKind>(k))}}, load(mapped_by_kind_[k]));
  x.family("siem_mapping_dead_lettered", Type::counter,
           "Records dead-lettered by the mapping stage, by kind and reason.");
  for (std::size_t k = 0; k < kKinds; ++k)
    for (std::size_t r = 0; r < 2; ++r)
      x.sample({{"kind", to_string(static_cast<SourceKind>(k))}, {"reason", r == 0 ? "read" : "map"}},
               load(dead_by_kind_[k][r]));
  for (const auto& p : processors_) p->write_metrics(x);
  x.family("siem_detection_events_tagged", Type::counter, "Events tagged by a detection, by tag.");
  for (const auto& [tag, n] : tag_counts_.totals()) x.sample({{"tag", tag}}, num(n));
}

// Per stream of the sources that have streams (the pull sources).
void Pipeline::write_stream_metrics(Exposition& x) const {
  auto per_stream = [&](std::string_view name, Type type, std::string_view help, auto value) {
    x.family(name, type, help);
    for (const auto& s : sources_)
      if (const auto* p = s->source->progress())
        for (const auto& st : p->streams()) x.sample({{"source", s->name}, {"stream", st.stream}}, value(st));
  };
  using Stream = SourceProgress::StreamStatus;
  per_stream("siem_source_stream_refused", Type::gauge,
             "1 while the service refuses the stream (a 4xx: a permission or licence missing; the other streams go "
             "on), until it completes a window again.",
             [](const Stream& st) { return st.refusals > 0 ? 1.0 : 0.0; });
  per_stream("siem_source_stream_refusals", Type::counter, "Requests of the stream the service refused (4xx).",
             [](const Stream& st) { return num(st.refusals_total); });
}

Pipeline::Readiness Pipeline::readiness() const {
  Readiness r;
  r.ready = true;
  for (const auto& s : sources_) {
    const bool ok = s->polled_ok.load(std::memory_order_relaxed);
    r.ready = r.ready && ok;
    r.text += fmt::format("source {}: {}\n", s->name,
                          ok ? "ok" : "not ready (no successful poll yet: authenticating or unreachable)");
    // A refused stream does not make the source unready (it reads its other streams), but is named,
    // with the HTTP status and the service's error code only: /readyz has no authentication, and
    // the answer's text (in the logs) can name the client, principals and subscription scope.
    if (const auto refused = s->refused_streams(/*brief=*/true); !refused.empty())
      r.text += fmt::format("source {}: degraded: refused by the service, not read: {}\n", s->name, refused);
  }
  for (const auto& s : sinks_) {
    const bool connected = sink_connected(*s);
    const bool ok = connected || disk_buffer_accepting(*s);
    r.ready = r.ready && ok;
    r.text += fmt::format(
        "sink {}: {}\n", s->name(),
        connected ? "ok"
        : ok      ? "buffering (peer unreachable, disk buffer accepting)"
                  : fmt::format("not ready ({}; {} event(s) queued)",
                           s->healthy() ? "last delivery failed, retrying" : "not started or failing",
                                s->queued() + s->counters().in_flight.load(std::memory_order_relaxed)));
  }
  return r;
}

bool Pipeline::alive(std::chrono::milliseconds max_age) const {
  const auto beat = heartbeat_.load(std::memory_order_relaxed);
  if (beat == 0) return true;  // not running yet: start-up is alive
  return Clock::now().time_since_epoch() - Clock::duration(beat) <= max_age;
}

Pipeline::StreamStatusBySource Pipeline::stream_status() const {
  StreamStatusBySource out;
  for (const auto& s : sources_)
    if (const auto* p = s->source->progress()) out[s->name] = p->streams();
  return out;
}

void Pipeline::carry_stream_status(const StreamStatusBySource& earlier) {
  for (const auto& s : sources_)
    if (const auto it = earlier.find(s->name); it != earlier.end())
      if (auto* p = s->source->progress()) p->carry_over(it->second);
}

Pipeline::Progress Pipeline::progress() const {
  Progress p;
  for (const auto& s : sources_) {
    p.read += s->read.load(std::memory_order_relaxed);
    // A source that failed is not catching up (its errors are logged; the display would only repeat
    // itself while it retries).
    if (!s->caught_up.load(std::memory_order_relaxed) && !s->finished.load(std::memory_order_relaxed) &&
        !s->failed.load(std::memory_order_relaxed))
      ++p.catching_up;
    const auto* sp = s->source->progress();
    if (const auto end = sp ? sp->checkpoint_end.load(std::memory_order_relaxed) : 0; end > 0)
      p.oldest_checkpoint_end = p.oldest_checkpoint_end ? std::min(*p.oldest_checkpoint_end, end) : end;
  }
  return p;
}

}  // namespace siem
