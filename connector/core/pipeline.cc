#include "connector/core/pipeline.h"

#include "connector/core/cpu_budget.h"
#include "connector/core/route.h"
#include "connector/core/pipeline_source_state.h"
#include "connector/core/footprint.h"

#include <algorithm>
#include <condition_variable>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "connector/config/config_node.h"
#include "connector/state/state_store.h"

namespace siem {

using Clock = std::chrono::steady_clock;

namespace {
// `pipeline.dedupe`: read by the cross-path dedupe processor (connector/processors/dedupe_processor.cc).
const config::Section& dedupe_keys() {
  using config::Type;
  static const config::Section s{"pipeline.dedupe", "pipeline.dedupe", {}, {
      {"enabled", Type::boolean, "false", "drop the second copy of a record that arrives by another source (below)"},
      {"window", Type::duration, "24h", "how long an id is remembered after it was first seen (1m to 30d)"},
      {"max_ids", Type::integer, "1000000", "at most this many ids are remembered; the oldest are forgotten first (1 to 50000000)"},
  }};
  return s;
}
}  // namespace

const config::Section& PipelineOptions::keys() {
  using config::Type;
  static const config::Section s{"pipeline", "pipeline", {}, {
      {"queue_events", Type::integer, "10000", "bound on records between the sources and the mapping stage; when it is full, sources stop pulling (backpressure, nothing is dropped)"},
      {"queue_bytes", Type::size, "8MiB", "the same bound in bytes: each record is charged the heap it holds (text capacity in allocator size classes + bookkeeping)"},
      {"drain_timeout", Type::duration, "30s", "on SIGTERM or at the end of `--once`: how long to wait for in-flight events. Keep it below the service manager's stop timeout"},
      {"checkpoint_interval", Type::duration, "1s", "how often acknowledged positions are committed to the sources and saved"},
      {"state_save_interval", Type::duration, "30s", "how often the processors' state (roster, dedupe table) is saved"},
      {"workers", Type::integer, "the CPUs the process may use, less one", "threads running the mapping stage (1 to 64). Default: the usable CPUs less one (left to the sources and sinks), at least 1; usable CPUs are the smaller of the CPU affinity and the cgroup's CPU quota (`cpu.max`, or v1 `cpu.cfs_quota_us`), rounded up. Outputs, their order and the enrichment's state are the same whatever the number: what depends on earlier records runs in input order"},
      {"mapping_workers", Type::integer, "`workers`", "the older name of `workers` (1 to 64); giving both with different values is an error"},
      {"drop", Type::sections, "none", "events any entry matches (`sources`, `kinds`, `tags`, `min_severity`, `max_severity`, `exclude`) are sent to no sink, acknowledged and counted; see [Routing](#routing)", {}, &route_match_keys()},
      {"dedupe", Type::section, "off", "cross-path dedupe, one event per record when the same logs arrive by two paths (below; the processor is connector/processors/dedupe_processor.cc)", {}, &dedupe_keys()},
  }};
  return s;
}

// The default of `pipeline.workers`: one CPU is left to the sources, the sink runners and
// librdkafka's threads. With 2 CPUs a second worker made the whole run slower, not faster (file ->
// syslog TCP, 200 000 records, quiet machine: CEF 175 k -> 163 k events/s wall, 137 k -> 112 k per
// CPU-second; docs/performance.md, "Mapping workers").
std::size_t PipelineOptions::default_workers() {
  const std::size_t cpus = usable_cpus();
  return std::clamp<std::size_t>(cpus > 1 ? cpus - 1 : 1, 1, kMaxWorkers);
}

PipelineOptions PipelineOptions::from_config(const ConfigNode& cfg) {
  PipelineOptions o;
  o.workers = default_workers();
  if (!cfg.valid()) return o;
  o.queue_events = static_cast<std::size_t>(cfg.integer("queue_events", static_cast<std::int64_t>(o.queue_events), 1, 100'000'000));
  o.queue_bytes = cfg.bytes("queue_bytes", o.queue_bytes);
  o.drain_timeout = cfg.duration("drain_timeout", o.drain_timeout);
  o.checkpoint_interval = cfg.duration("checkpoint_interval", o.checkpoint_interval);
  o.state_save_interval = cfg.duration("state_save_interval", o.state_save_interval);
  const auto max_workers = static_cast<std::int64_t>(PipelineOptions::kMaxWorkers);
  const bool has_workers = cfg.has("workers");
  const bool has_synonym = cfg.has("mapping_workers");
  std::int64_t workers = 0;
  if (has_workers) workers = cfg.integer("workers", 1, 1, max_workers);
  if (has_synonym) {
    const auto synonym = cfg.integer("mapping_workers", 1, 1, max_workers);
    if (!has_workers) workers = synonym;
    else if (synonym != workers)
      cfg.error_at("mapping_workers", fmt::format("mapping_workers ({}) is the older name of workers ({}): give one of them",
                                                  synonym, workers));
  }
  if (workers > 0) o.workers = static_cast<std::size_t>(workers);
  return o;
}

Pipeline::Pipeline(PipelineOptions options, std::vector<SourceSlot> sources, std::vector<SinkSlot> sinks,
                   std::vector<std::unique_ptr<Processor>> processors, StateStore& state, DeadLetterWriter& dead_letters)
    : options_(options),
      processors_(std::move(processors)),
      state_(state),
      dead_letters_(dead_letters),
      tag_counts_(options.worker_count()) {
  if (processors_.empty()) throw std::invalid_argument("pipeline: at least one processor is required");
  acks_ = std::make_unique<AckTracker>(static_cast<std::uint32_t>(sinks.size()));
  input_ = std::make_unique<BoundedQueue<InBatch>>(options_.queue_events, options_.queue_bytes);
  for (auto& slot : sources) {
    auto s = std::make_unique<SourceState>();
    s->name = std::move(slot.name);
    s->source = std::move(slot.source);
    s->index = acks_->add_source();
    s->startup_order = s->source->startup_order();
    s->consumed = std::make_unique<std::atomic<std::uint64_t>[]>(processors_.size());
    sources_.push_back(std::move(s));
  }
  std::vector<Route> routes;
  for (auto& slot : sinks) {
    routes.push_back(std::move(slot.route));
    formats_ |= format_bit(slot.format);
    sinks_.push_back(std::make_unique<SinkRunner>(
        slot.name, std::move(slot.sink), slot.format, slot.options, *acks_, dead_letters_,
        [this](const std::string&) { sink_fatal_ = true; }, std::move(slot.buffer)));
  }
  routing_.init(std::move(options_.drop), std::move(routes));
}

Pipeline::~Pipeline() {
  for (auto& s : sinks_) s->abort();
  input_->close();
  for (auto& s : sinks_) s->close();
}

void Pipeline::mark_warm(SourceState& s) {
  std::lock_guard lock(warm_mu_);
  if (s.warm) return;
  s.warm = true;
  warm_cv_.notify_all();
}

bool Pipeline::earlier_sources_warm(int order) const {
  for (const auto& other : sources_)
    if (other->startup_order < order && !other->warm) return false;
  return true;
}

void Pipeline::wait_for_state_sources(std::stop_token stop, const SourceState& s) {
  // An earlier source in error backoff (a request failed, it waits to retry: SourceProgress::
  // backing_off) counts as warm: an outage of its server must not hold this one back for
  // state_warmup_max. Its retries are not signalled, so the wait looks again every 200 ms.
  const auto release_backing_off = [&] {
    for (auto& other : sources_) {
      if (other->startup_order >= s.startup_order || other->warm) continue;
      const SourceProgress* p = other->source->progress();
      if (p == nullptr || !p->backing_off.load(std::memory_order_relaxed)) continue;
      other->warm = true;
      spdlog::info("source {}: no longer waiting for source {} (start-up order): it is in error backoff (its last "
                   "request failed and it waits to retry)",
                   s.name, other->name);
    }
    return earlier_sources_warm(s.startup_order);
  };
  std::unique_lock lock(warm_mu_);
  if (release_backing_off()) return;
  spdlog::info("source {}: waiting for the sources that feed the privileged-role roster to catch up", s.name);
  const auto deadline = Clock::now() + options_.state_warmup_max;
  while (!stop.stop_requested()) {
    const auto now = Clock::now();
    if (now >= deadline) {
      spdlog::warn("source {}: starting after {} ms although the roster sources have not caught up yet", s.name,
                   options_.state_warmup_max.count());
      return;
    }
    const auto slice = std::min<Clock::duration>(deadline - now, std::chrono::milliseconds(200));
    if (warm_cv_.wait_for(lock, stop, slice, release_backing_off)) return;
  }
}

void Pipeline::source_loop(std::stop_token stop, SourceState& s) {
  auto& src = *s.source;
  if (options_.once) src.set_run_once();
  wait_for_state_sources(stop, s);
  // The first pause after an error (doubling up to source_retry_max).
  const auto first_backoff = std::min(std::chrono::milliseconds{5'000}, options_.source_retry_max);
  std::chrono::milliseconds backoff = first_backoff;
  bool started = false;
  while (!stop.stop_requested()) {
    try {
      if (!started) {
        std::optional<std::string> checkpoint = state_.get(StateStore::checkpoint_key(s.name));
        src.start(checkpoint);
        started = true;
        if (auto* p = src.progress()) p->end_carry_over();  // the streams it no longer reads
        spdlog::info("source {}: started{}", s.name, checkpoint ? " from its checkpoint" : " (no checkpoint yet)");
      }
      SourceBatch batch = src.poll(stop);
      // A successful poll after errors: the source recovered, and the exit status of a continuous
      // run reflects the sources at its end (as for a refused stream), not an error long gone.
      if (!batch.read_failed) {
        s.polled_ok.store(true, std::memory_order_relaxed);
        s.failed.store(false, std::memory_order_relaxed);
      }
      const std::size_t n = batch.records.size();
      if (n > 0 || batch.checkpoint) {
        InBatch in;
        in.source = s.index;
        in.first_seq = acks_->begin_batch(s.index, n, std::move(batch.checkpoint));
        std::size_t bytes = 0;
        for (const auto& r : batch.records)
          bytes += footprint(r);
        in.records = std::move(batch.records);
        s.read += n;
        if (n > 0 && !input_->push(std::move(in), bytes, n)) break;  // closed: shutting down
      }
      if (batch.caught_up) {
        s.caught_up = true;
        mark_warm(s);  // after its records were queued: the processors see them first
        if (options_.once) break;
      }
      backoff = first_backoff;
    } catch (const StateCorruptError& e) {
      spdlog::error("source {}: {}", s.name, e.what());
      s.failed = true;
      fatal_error_ = true;
      break;
    } catch (const std::exception& e) {
      spdlog::error("source {}: {}", s.name, e.what());
      s.failed = true;
      mark_warm(s);  // the others do not wait for a failing source
      if (options_.once) break;
      // Permanent errors (bad credentials, missing file) are not retried in a busy loop: the pause
      // grows to source_retry_max, and the error is logged once per attempt.
      std::mutex m;
      std::condition_variable_any cv;
      std::unique_lock lock(m);
      cv.wait_for(lock, stop, backoff, [] { return false; });
      backoff = std::min(backoff * 2, options_.source_retry_max);
      if (!started) continue;
    }
  }
  try {
    if (started) src.stop();
  } catch (const std::exception& e) {
    spdlog::warn("source {}: error while stopping: {}", s.name, e.what());
  }
  mark_warm(s);
  s.finished = true;
}

// The hand-off of processed events to the sinks.
void Pipeline::save_processor_state() {
  for (auto& p : processors_) {
    try {
      p->save_state();
    } catch (const std::exception& e) {
      spdlog::error("{}: cannot save state: {}", p->name(), e.what());
    }
  }
}

void Pipeline::commit_ready() {
  heartbeat_.store(Clock::now().time_since_epoch().count(), std::memory_order_relaxed);
  for (auto& [index, token] : acks_->take_ready()) {
    auto& s = *sources_[index];
    try {
      state_.put(StateStore::checkpoint_key(s.name), token);
      ++s.committed;
      s.source->on_committed(token);
    } catch (const std::exception& e) {
      spdlog::error("source {}: cannot persist checkpoint: {}", s.name, e.what());
      fatal_error_ = true;
    }
  }
}

namespace {
bool failing(const SinkRunner& s) { return !s.healthy() && s.counters().failed > 0; }
}  // namespace

bool Pipeline::failing_sink_took_events(std::size_t i) const {
  return failing(*sinks_[i]) && routing_.routed[i].load(std::memory_order_relaxed) > 0;
}

bool Pipeline::sinks_cannot_drain() const {
  if (options_.once) {
    if (!sink_fatal_) return false;
    for (std::size_t i = 0; i < sinks_.size(); ++i)
      if (failing_sink_took_events(i)) return true;
    return false;
  }
  for (const auto& s : sinks_)
    if (!s->disk_buffered() && failing(*s)) return true;
  return false;
}

void Pipeline::stop_failing_sinks() {
  for (auto& s : sinks_)
    if (failing(*s)) s->abort();
}

// After the sinks' threads ended: a sink can also fail after stop_failing_sinks() looked (its
// first start attempt came late), and it stopped retrying then since nothing was owed.
void Pipeline::report_idle_failed_sinks() const {
  for (std::size_t i = 0; i < sinks_.size(); ++i)
    if (failing(*sinks_[i]) && routing_.routed[i].load(std::memory_order_relaxed) == 0)
      spdlog::error("sink {}: FAILED (see the error above) and was routed no event in this run: nothing was lost, but "
                    "it delivers nothing until it is fixed",
                    sinks_[i]->name());
}

void Pipeline::log_disk_buffers() const {
  for (const auto& s : sinks_) {
    const auto b = s->buffer_stats();
    if (!b || b->records == 0) continue;
    spdlog::info("sink {}: disk buffer holds {} event(s), {} of {} byte(s), oldest {} s{}", s->name(), b->records,
                 b->bytes, b->max_size, b->oldest_age_ms / 1000, b->blocked ? "; FULL: the sources wait" : "");
  }
}

void Pipeline::drain_disk_buffers(Clock::time_point deadline) {
  for (auto& s : sinks_) {
    if (!s->disk_buffered()) continue;
    while (s->buffered() > 0 && Clock::now() < deadline && (s->healthy() || s->counters().failed == 0))
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (const auto left = s->buffered(); left > 0)
      spdlog::info("sink {}: {} event(s) stay in its disk buffer, delivered after the next start", s->name(), left);
    s->abort();
  }
}

bool Pipeline::wait_until_drained(Clock::time_point deadline) {
  while (Clock::now() < deadline) {
    if (acks_->outstanding() == 0 && input_->size() == 0) return true;
    if (sinks_cannot_drain()) return false;  // fail fast: a misconfigured sink will not recover
    commit_ready();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return acks_->outstanding() == 0;
}

int Pipeline::run(std::stop_token stop) {
  started_ = Clock::now();
  for (auto& s : sinks_) s->start();
  std::thread processing([this] { processing_loop(); });
  for (auto& s : sources_) {
    SourceState* raw = s.get();
    s->thread = std::jthread([this, raw](std::stop_token st) { source_loop(st, *raw); });
  }

  // Steady state: commit checkpoints as acknowledgements arrive.
  auto all_sources_finished = [&] {
    for (auto& s : sources_)
      if (!s->finished) return false;
    return true;
  };
  auto buffers_logged = Clock::now();
  auto committed = Clock::now();
  while (!stop.stop_requested() && !fatal_error_) {
    if (options_.once && (all_sources_finished() || (sink_fatal_ && sinks_cannot_drain()))) break;
    // Checkpoints are saved every checkpoint_interval (each save is a file write, an fsync and a
    // rename), not on every pass; the loop itself keeps its 50 ms pace for the heartbeat and the
    // --once checks. Draining commits on every pass.
    if (const auto now = Clock::now(); now - committed >= options_.checkpoint_interval) {
      commit_ready();
      committed = now;
    } else {
      heartbeat_.store(now.time_since_epoch().count(), std::memory_order_relaxed);
    }
    if (Clock::now() - buffers_logged >= std::chrono::minutes(1)) {
      log_disk_buffers();
      buffers_logged = Clock::now();
    }
    std::this_thread::sleep_for(std::min(options_.checkpoint_interval, std::chrono::milliseconds(50)));
  }

  // Drain: stop reading, deliver what was read within the deadline, persist checkpoints.
  const auto deadline = Clock::now() + options_.drain_timeout;
  spdlog::info("pipeline: {}; draining (deadline {} ms)",
               stop.stop_requested() ? "stop requested" : (options_.once ? "sources caught up" : "stopping"),
               options_.drain_timeout.count());
  for (auto& s : sources_) s->thread.request_stop();
  while (!all_sources_finished() && Clock::now() < deadline && !sinks_cannot_drain()) {
    commit_ready();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  bool drained = !fatal_error_ && wait_until_drained(deadline);
  if (!drained) {
    for (auto& s : sinks_) s->abort();
  }
  stop_failing_sinks();
  input_->close();
  for (auto& s : sources_)
    if (s->thread.joinable()) s->thread.join();
  processing.join();
  drain_disk_buffers(deadline);
  for (auto& s : sinks_) s->join();
  report_idle_failed_sinks();
  commit_ready();
  finished_ = Clock::now();

  const auto undelivered = acks_->outstanding();
  bool any_failed_source = false;
  for (auto& s : sources_) {
    any_failed_source = any_failed_source || s->failed;
    // A stream the service still refuses was not read, as under `run --once` (whose source ends
    // failed, naming it): the exit status says so in a continuous run too.
    const auto refused = s->refused_streams();
    if (refused.empty()) continue;
    any_failed_source = true;
    if (!options_.once)
      spdlog::error("source {}: refused by the service, not read since (the other streams were read): {}", s->name,
                    refused);
  }
  if (fatal_error_) return kExitError;
  if (undelivered > 0 || any_failed_source || !drained) {
    if (undelivered > 0)
      spdlog::error("pipeline: {} event(s) were not delivered; their checkpoints did not move, so they will be read again",
                    undelivered);
    return kExitUndelivered;
  }
  if (dead_letters_.count() > 0) return kExitDeadLettered;
  return kExitOk;
}

std::string Pipeline::consumed_counts(const SourceState& s) const {
  std::string out;
  for (std::size_t p = 0; p < processors_.size(); ++p)
    if (const auto n = s.consumed[p].load(std::memory_order_relaxed))
      out += fmt::format("  {} {}", processors_[p]->consumed_label(), n);
  return out;
}

std::string Pipeline::summary() const {
  std::string out;
  const auto secs = std::chrono::duration<double>(finished_ - started_).count();
  out += fmt::format("summary: {} event(s) mapped, {} dead-lettered, in {:.2f} s\n", mapped_.load(),
                     dead_letters_.count(), secs);
  out += "  sources:\n";
  for (const auto& s : sources_) {
    const auto refused = s->refused_streams();
    out += fmt::format("    {:<24} read {:>8}  dead-lettered {:>6}  checkpoints {:>4}{}{}\n", s->name, s->read.load(),
                       s->dead_lettered.load(), s->committed.load(),
                       consumed_counts(*s),
                       s->failed || !refused.empty() ? "  FAILED" : "");
    if (!refused.empty()) out += fmt::format("    {:<24} refused by the service, not read: {}\n", "", refused);
  }
  out += "  sinks:\n";
  for (const auto& s : sinks_) {
    const auto& c = s->counters();
    const auto batches = c.batches.load();
    const double latency_ms =
        batches == 0 ? 0.0 : static_cast<double>(c.latency_us_total.load()) / 1000.0 / static_cast<double>(batches);
    out += fmt::format(
        "    {:<24} sent {:>8}  acked {:>8}  retried {:>4}  failed {:>4}  dead-lettered {:>4}  bytes {:>10}  "
        "latency {:.1f} ms/batch{}\n",
        s->name(), c.sent.load(), c.acked.load(), c.retried.load(), c.failed.load(), c.dead_lettered.load(),
        c.bytes.load(), latency_ms, c.failed.load() > 0 && !s->healthy() ? "  FAILED" : "");
    if (const auto b = s->buffer_stats())
      out += fmt::format("    {:<24} disk buffer: {} event(s), {} of {} byte(s) in {} segment(s), oldest {:.1f} s, "
                         "dropped {}, io errors {}{}\n",
                         "", b->records, b->bytes, b->max_size, b->segments,
                         static_cast<double>(b->oldest_age_ms) / 1000.0, b->dropped, b->io_errors,
                         b->blocked ? "  FULL" : "");
  }
  for (const auto& p : processors_) out += p->summary();
  out += routing_summary();
  if (const auto tags = tag_counts_.totals(); !tags.empty()) {
    out += "  detections:\n";
    for (const auto& [tag, n] : tags) out += fmt::format("    {:<40} {:>6}\n", tag, n);
  }
  return out;
}

}  // namespace siem
