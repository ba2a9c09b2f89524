#include "connector/core/sink_runner.h"

#include "connector/core/route.h"
#include "connector/core/footprint.h"

#include <algorithm>
#include <cmath>
#include <random>

#include <spdlog/spdlog.h>

#include "connector/config/config_node.h"

namespace siem {

bool RepeatedErrorLog::report(const std::string& message, const std::string& suffix) {
  const auto now = std::chrono::steady_clock::now();
  if (message == last_ && now - last_logged_ < interval_) {
    ++suppressed_;
    spdlog::debug("{}{}", message, suffix);
    return false;
  }
  if (message == last_ && suppressed_ > 0) {
    spdlog::error("{}{} (still failing: {} more time(s) since the last report)", message, suffix, suppressed_);
  } else {
    spdlog::error("{}{}", message, suffix);
  }
  last_ = message;
  last_logged_ = now;
  suppressed_ = 0;
  return true;
}

std::size_t SinkRunner::footprint(const MappedEvent& e) noexcept { return siem::footprint(e); }

namespace {

using config::Type;

const config::Section& batch_keys() {
  static const config::Section s{"sink.batch", "sinks[].batch", {}, {
      {"max_events", Type::integer, "500", "largest batch handed to the sink"},
      {"max_bytes", Type::size, "4MiB", "largest batch in bytes"},
      {"timeout", Type::duration, "200ms", "a partial batch is sent after this long"},
  }};
  return s;
}

const config::Section& retry_keys() {
  static const config::Section s{"sink.retry", "sinks[].retry", {}, {
      {"initial_backoff", Type::duration, "500ms", "retries use exponential backoff with full jitter"},
      {"max_backoff", Type::duration, "60s", "must not be below `initial_backoff`"},
  }};
  return s;
}

const config::Section& buffer_keys() {
  static const config::Section s{"sink.buffer", "sinks[].buffer", {}, {
      {"type", Type::choice, "memory", "`disk`: events for this sink wait in a disk buffer under `state_dir/buffers/<name>` (the sink name may then use only letters, digits, `.`, `_`, `-`); `max_events` / `max_bytes` then bound only the in-memory intake in front of it. See \"Disk buffer\" in `docs/sinks.md`", {"memory", "disk"}},
      {"max_events", Type::integer, "10000", "events queued for this sink; when it is full, the pipeline stops pulling"},
      {"max_bytes", Type::size, "6MiB", "the same bound in bytes: each event is charged its whole footprint (original record + every mapped payload, as allocated)"},
      {"max_size", Type::size, "1GiB", "`type: disk` only: bound on the buffer's segment files on disk"},
      {"when_full", Type::choice, "block", "`type: disk` only: what a full disk buffer does. `block` stops the sources (backpressure, nothing lost); `drop_newest` drops the incoming events, `drop_oldest` the oldest segment: every dropped event is counted and logged", {"block", "drop_newest", "drop_oldest"}},
  }};
  return s;
}

}  // namespace

// The common keys of every sink. `format` is read by read_sink_format() (registry.cc), once, by the
// pipeline builder with the type's default (PluginRegistry::add_sink), which hands it to the sink
// factory (PluginContext::format); the others by from_config() below.
const config::Section& SinkRunnerOptions::keys() {
  static const config::Section s{"sink_delivery", "sinks[] (every type)", {}, {
      {"format", Type::choice, "ecs", "*pinned.* the payload the sink sends (`syslog` defaults to `cef`; `ocsf`: OCSF 1.3.0 JSON events, [mapping.md](mapping.md#ocsf-output))", {"ecs", "cef", "ocsf", "raw"}},
      {"route", Type::section, "every event", "what the sink takes: `sources`, `kinds`, `tags`, `min_severity`, `max_severity`, `exclude`; see [Routing](#routing)", {}, &route_keys()},
      {"batch", Type::section, "", "batching in front of the sink", {}, &batch_keys()},
      {"retry", Type::section, "", "backoff between retries (retries never give up)", {}, &retry_keys()},
      {"buffer", Type::section, "", "the queue (memory or disk) in front of the sink", {}, &buffer_keys()},
  }};
  return s;
}

SinkRunnerOptions SinkRunnerOptions::from_config(const ConfigNode& cfg) {
  SinkRunnerOptions o;
  if (auto batch = cfg.child("batch"); batch.valid()) {
    o.batch_max_events = static_cast<std::size_t>(batch.integer("max_events", static_cast<std::int64_t>(o.batch_max_events), 1, 1'000'000));
    o.batch_max_bytes = batch.bytes("max_bytes", o.batch_max_bytes);
    o.batch_timeout = batch.duration("timeout", o.batch_timeout);
  }
  if (auto retry = cfg.child("retry"); retry.valid()) {
    o.initial_backoff = retry.duration("initial_backoff", o.initial_backoff);
    o.max_backoff = retry.duration("max_backoff", o.max_backoff);
    if (o.max_backoff < o.initial_backoff) retry.error_at("max_backoff", "must not be below initial_backoff");
  }
  if (auto buffer = cfg.child("buffer"); buffer.valid()) {
    o.disk = buffer.choice("type", {"memory", "disk"}, "memory") == "disk";
    if (o.disk) {
      o.disk_options.max_size = buffer.bytes("max_size", o.disk_options.max_size);
      const auto when_full = buffer.choice("when_full", {"block", "drop_newest", "drop_oldest"}, "block");
      o.disk_options.when_full = when_full == "drop_newest"   ? WhenFull::drop_newest
                                 : when_full == "drop_oldest" ? WhenFull::drop_oldest
                                                              : WhenFull::block;
    } else {
      for (const auto* key : {"max_size", "when_full"})
        if (buffer.has(key)) buffer.error_at(key, "applies to `type: disk` only");
    }
    o.queue_events = static_cast<std::size_t>(buffer.integer("max_events", static_cast<std::int64_t>(o.queue_events), 1, 100'000'000));
    o.queue_bytes = buffer.bytes("max_bytes", o.queue_bytes);
  }
  return o;
}

SinkRunner::SinkRunner(std::string name, std::unique_ptr<Sink> sink, OutputFormat format, SinkRunnerOptions options,
                       AckTracker& acks, DeadLetterWriter& dead_letters, std::function<void(const std::string&)> on_fatal,
                       std::unique_ptr<DiskBuffer> disk)
    : name_(std::move(name)),
      sink_(std::move(sink)),
      format_(format),
      options_(options),
      acks_(acks),
      dead_letters_(dead_letters),
      on_fatal_(std::move(on_fatal)),
      queue_(options.queue_events, options.queue_bytes),
      disk_(std::move(disk)) {}

SinkRunner::~SinkRunner() {
  abort();
  close();
  join();
}

void SinkRunner::start() {
  thread_ = std::thread([this] { run(); });
  if (disk_) spool_thread_ = std::thread([this] { spool(); });
}

bool SinkRunner::enqueue(EventPtr event) {
  const std::size_t bytes = footprint(*event);
  return queue_.push(std::move(event), bytes);
}

bool SinkRunner::enqueue_all(std::span<EventPtr> events, std::span<const std::size_t> bytes) {
  return queue_.push_all(events, bytes) == events.size();
}

void SinkRunner::close() {
  queue_.close();
  closed_ = true;
  std::lock_guard lock(sleep_mu_);
  sleep_cv_.notify_all();  // a start retry with nothing owed stops (start_sink)
}

bool SinkRunner::owes_nothing() const { return !disk_ && closed_.load() && queue_.size() == 0; }

void SinkRunner::abort() {
  aborted_ = true;
  sink_->interrupt();  // a send() waiting for its peer (acks, delivery reports) returns now
  if (disk_) disk_->interrupt();
  std::lock_guard lock(sleep_mu_);
  sleep_cv_.notify_all();
}

void SinkRunner::join() {
  if (spool_thread_.joinable()) spool_thread_.join();
  if (thread_.joinable()) thread_.join();
}

bool SinkRunner::sleep_for(std::chrono::milliseconds d, bool until_nothing_owed) {
  std::unique_lock lock(sleep_mu_);
  return !sleep_cv_.wait_for(lock, d, [&] { return aborted_.load() || (until_nothing_owed && owes_nothing()); });
}

std::chrono::milliseconds SinkRunner::next_backoff(int attempt) {
  // Full jitter: uniform in [0, min(cap, base * 2^attempt)], never below 10% of base.
  thread_local std::mt19937_64 rng{std::random_device{}()};
  const double cap = static_cast<double>(options_.max_backoff.count());
  const double exp = std::min(cap, static_cast<double>(options_.initial_backoff.count()) * std::pow(2.0, std::min(attempt, 30)));
  std::uniform_real_distribution<double> dist(static_cast<double>(options_.initial_backoff.count()) * 0.1, std::max(exp, 1.0));
  return std::chrono::milliseconds(static_cast<std::int64_t>(dist(rng)));
}

bool SinkRunner::start_sink() {
  int attempt = 0;
  RepeatedErrorLog log(options_.repeat_log_interval);
  while (!aborted_) {
    try {
      sink_->start();
      started_sink_ = true;
      healthy_ = true;
      if (attempt > 0) spdlog::info("sink {}: started after {} failed attempt(s)", name_, attempt);
      break;
    } catch (const std::exception& e) {
      ++counters_.failed;
      counters_.send_failing = true;
      const std::string msg = fmt::format("sink {}: {}", name_, e.what());
      const auto wait = next_backoff(attempt++);
      log.report(msg, "; events are held, retrying start");
      if (on_fatal_) on_fatal_(msg);
      // The pipeline closed this sink's queue and nothing was queued: no event is owed, so there
      // is nothing to start for (the pipeline reports the failure). Without this, a start that
      // failed only after the pipeline's last look at its sinks was retried forever at shutdown.
      if (!sleep_for(wait, true) || owes_nothing()) break;
    }
  }
  return started_sink_;
}

void SinkRunner::run() {
  start_sink();
  if (disk_) {
    if (started_sink_) send_from_disk();
  } else {
    while (true) {
      auto batch = queue_.pop_batch(options_.batch_max_events, options_.batch_max_bytes, options_.batch_timeout);
      if (batch.empty()) break;  // closed and drained
      if (aborted_) {
        // The drain deadline passed: these events stay unacknowledged, so their checkpoint does not
        // move and they are read again on the next run.
        continue;
      }
      deliver(std::move(batch));
    }
  }
  if (started_sink_) {
    try {
      sink_->stop();
    } catch (const std::exception& e) {
      spdlog::warn("sink {}: error while stopping: {}", name_, e.what());
    }
  }
}

bool SinkRunner::deliver(std::vector<EventPtr> batch, bool track_acks) {
  int attempt = 0;
  RepeatedErrorLog fatal_log(options_.repeat_log_interval);
  while (!batch.empty() && !aborted_) {
    std::span<const EventPtr> pending(batch);
    counters_.sent += pending.size();
    counters_.in_flight.store(pending.size(), std::memory_order_relaxed);
    const auto t0 = std::chrono::steady_clock::now();
    SendResult r;
    try {
      r = sink_->send(pending);
    } catch (const std::exception& e) {
      r = SendResult::retry_from(0, std::string("unexpected error: ") + e.what());
    }
    const auto elapsed = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0);

    // Events the peer refused for good go to the dead-letter file, then count as acknowledged.
    std::vector<bool> rejected(pending.size(), false);
    if (!r.rejected.empty()) {
      std::vector<DeadLetter> letters;
      const std::string stage = "sink:" + name_;
      for (const auto& rej : r.rejected) {
        if (rej.index >= pending.size() || rejected[rej.index]) continue;
        rejected[rej.index] = true;
        const auto& ev = *pending[rej.index];
        letters.push_back(DeadLetter{stage, ev.source_name, ev.origin(), rej.reason, ev.raw});
      }
      try {
        dead_letters_.write(letters);
      } catch (const std::exception& e) {
        spdlog::error("sink {}: {}; holding the refused events", name_, e.what());
        std::fill(rejected.begin(), rejected.end(), false);
        r = SendResult::retry_from(0, e.what());
      }
      counters_.dead_lettered += letters.size();
    }

    std::size_t done = 0;
    switch (r.status) {
      case SendStatus::ok: done = pending.size(); break;
      case SendStatus::retry: done = std::min(r.completed, pending.size()); break;
      case SendStatus::fatal: done = std::min(r.completed, pending.size()); break;
    }
    std::vector<AckHandle> handles;
    handles.reserve(pending.size());
    std::uint64_t acked_bytes = 0;
    for (std::size_t i = 0; i < pending.size(); ++i) {
      if (i < done || rejected[i]) {
        handles.push_back(pending[i]->ack);
        if (!rejected[i]) {
          ++counters_.acked;
          acked_bytes += pending[i]->payload(format_).size();
        }
      }
    }
    // Rejected events beyond `done` are acknowledged now but must not be sent again.
    if (track_acks) acks_.ack(handles);
    counters_.bytes += acked_bytes;

    counters_.send_failing.store(r.status != SendStatus::ok, std::memory_order_relaxed);
    if (r.status == SendStatus::ok) {
      ++counters_.batches;
      counters_.latency_us_total += static_cast<std::uint64_t>(elapsed.count());
      counters_.latency.observe_us(static_cast<std::uint64_t>(elapsed.count()));
      counters_.in_flight.store(0, std::memory_order_relaxed);
      healthy_ = true;
      return true;
    }
    // Keep the not-yet-done events, dropping rejected ones.
    std::vector<EventPtr> rest;
    for (std::size_t i = done; i < pending.size(); ++i)
      if (!rejected[i]) rest.push_back(pending[i]);
    batch = std::move(rest);
    counters_.in_flight.store(batch.size(), std::memory_order_relaxed);
    if (batch.empty()) return true;

    if (r.status == SendStatus::retry) {
      ++counters_.retried;
      if (aborted_) {  // abort(): the drain deadline passed, or the pipeline gave up on the sink; no retry follows
        spdlog::warn("sink {}: {} — {} event(s) left unacknowledged (drain deadline)", name_, r.error, batch.size());
        return false;
      }
      const auto wait = next_backoff(attempt++);
      spdlog::warn("sink {}: {} — retrying {} event(s) in {} ms", name_, r.error, batch.size(), wait.count());
      if (!sleep_for(wait)) return false;
      continue;
    }
    // Fatal: the sink cannot go on as configured. Hold the events (never drop them), report once
    // per streak (again at a slow cadence while it lasts), and try to start the sink again after a
    // growing pause.
    ++counters_.failed;
    healthy_ = false;
    const std::string msg = fmt::format("sink {}: {}", name_, r.error);
    fatal_log.report(msg, fmt::format(" — holding {} event(s)", batch.size()));
    if (on_fatal_) on_fatal_(msg);
    if (!sleep_for(next_backoff(attempt++))) return false;
    try {
      sink_->start();
    } catch (const std::exception& e) {
      spdlog::debug("sink {}: restart failed: {}", name_, e.what());
    }
  }
  return batch.empty();
}

}  // namespace siem
