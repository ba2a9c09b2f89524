// The pipeline: sources -> bounded input queue -> processor chain -> per-sink runners, with end-to-end
// acknowledgement (AckTracker) driving the source checkpoints, and a bounded graceful drain.
//
// Memory bound: input queue (queue_events records / queue_bytes) + per sink (buffer.max_events /
// buffer.max_bytes) + one batch in flight per source, per processing worker and per sink (with the
// sink's encoded copy of it), + one entry over a limit that arrives at an empty queue. Queues charge
// what an entry holds on the heap (footprint.h), so the bound is on resident bytes; the figure for
// the defaults is in docs/configuration.md ("Memory bound"). A slow or dead sink fills its queue,
// then the processing workers block, then the input queue fills, then sources stop polling.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "connector/core/ack_tracker.h"
#include "connector/core/dead_letter.h"
#include "connector/core/metrics.h"
#include "connector/core/processor.h"
#include "connector/core/route.h"
#include "connector/core/sink_runner.h"
#include "connector/core/source.h"
#include "connector/core/tag_counts.h"
#include "connector/core/turn.h"

namespace siem {

class StateStore;
class ConfigNode;
namespace config { class Section; }

struct PipelineOptions {
  std::size_t queue_events = 10'000;
  std::size_t queue_bytes = 8ull << 20;
  std::chrono::milliseconds drain_timeout{30'000};
  std::chrono::milliseconds checkpoint_interval{1'000};
  std::chrono::milliseconds state_save_interval{30'000};
  std::chrono::milliseconds source_retry_max{600'000};  // backoff cap after a source error
  // How long the other sources wait at start-up for the sources that feed the enrichment's state
  // to catch up once (see Source::startup_order); they start anyway after it.
  std::chrono::milliseconds state_warmup_max{120'000};
  // `pipeline.workers`: threads running the processor chain (pipeline_workers.cc). From the
  // configuration the default is default_workers(): the CPUs the process may use, less one.
  std::size_t workers = 1;
  static constexpr std::size_t kMaxWorkers = 64;
  // The number of processing threads a Pipeline runs for these options: `workers` within
  // [1, kMaxWorkers]. The only place that number is computed: the tag counts' shards (one per
  // worker) and the workers started both come from it.
  std::size_t worker_count() const { return std::clamp<std::size_t>(workers, 1, kMaxWorkers); }
  bool once = false;
  // `pipeline.drop`: events any of these match are acknowledged and sent to no sink (route.h;
  // read by the app, connector/app/route_config.cc).
  std::vector<EventMatch> drop;

  // Reads the `pipeline:` section.
  static PipelineOptions from_config(const ConfigNode& pipeline_cfg);
  // The default of `workers`: the usable CPUs (cpu_budget.h) less one, at least 1.
  static std::size_t default_workers();
  static const config::Section& keys();  // the table of `pipeline:` (pipeline.cc)
};

struct SourceSlot {
  std::string name;
  std::unique_ptr<Source> source;
};

struct SinkSlot {
  std::string name;
  std::unique_ptr<Sink> sink;
  OutputFormat format = OutputFormat::ecs;
  SinkRunnerOptions options;
  std::unique_ptr<DiskBuffer> buffer;  // with options.disk (opened by the builder)
  Route route;                         // what the sink takes (`route:`); default: everything
};

// Process exit statuses of `run`.
enum ExitStatus : int {
  kExitOk = 0,
  kExitError = 1,          // configuration / start-up error
  kExitUndelivered = 2,    // events could not be delivered (sink fatal, drain deadline, source failed)
  kExitDeadLettered = 3,   // everything was handled, but some records went to the dead-letter file
};

class Pipeline {
 public:
  // `processors` run in order over every record (at least one: the first produces the event).
  Pipeline(PipelineOptions options, std::vector<SourceSlot> sources, std::vector<SinkSlot> sinks,
           std::vector<std::unique_ptr<Processor>> processors, StateStore& state, DeadLetterWriter& dead_letters);
  ~Pipeline();

  // Runs until `stop` is requested (or, with options.once, until every source is caught up and
  // everything read was delivered). Returns an ExitStatus.
  int run(std::stop_token stop);

  // A short human-readable summary: events per source, per detection tag, per sink.
  std::string summary() const;

  // For the observability endpoint (pipeline_metrics.cc); safe to call from any thread while run()
  // runs, and before it.
  // The pipeline's families of /metrics: per source, sink, detection tag and mapping kind.
  void write_metrics(Exposition& out) const;
  struct Readiness {
    bool ready = false;
    std::string text;  // one line per source and sink: "ok" or what it waits for
  };
  // Ready once every source has polled successfully at least once (it authenticated and read) and
  // every sink is connected: started, and its last delivery did not fail.
  Readiness readiness() const;
  // The pipeline's control loop ran within `max_age` (it ticks at least every 50 ms while running).
  bool alive(std::chrono::milliseconds max_age) const;
  // For the progress display of `run` (pipeline_metrics.cc; any thread): records read, sources still
  // catching up (not caught up once, not stopped, not failed), and the oldest committed checkpoint end (Unix
  // seconds) of the sources that keep one.
  struct Progress {
    std::uint64_t read = 0;
    std::size_t catching_up = 0;
    std::optional<std::int64_t> oldest_checkpoint_end;
  };
  Progress progress() const;
  // A live reload that restarts the pipeline (connector/app/cmd_run.cc): the status of every
  // source's streams (SourceProgress::streams()), by source name, after run() returned; and, before
  // run(), each source of the same name in the next pipeline takes its streams' status over
  // (SourceProgress::carry_over: a refused stream stays refused until it reads again). A source the
  // reload removed or renamed leaves its status behind.
  using StreamStatusBySource = std::map<std::string, std::vector<SourceProgress::StreamStatus>>;
  StreamStatusBySource stream_status() const;
  void carry_stream_status(const StreamStatusBySource& earlier);
  // What the processing workers did, summed over the workers and every run() so far (read after
  // run() returned; for the workers benchmark and the debug log).
  struct WorkerTotals {
    std::uint64_t chunks = 0;
    std::uint64_t turn_ready = 0, turn_spun = 0, turn_slept = 0;  // how the ordered turn was got
    std::uint64_t outcomes_waits = 0;     // a worker waited for one of its chunks' outcomes
    std::uint64_t handed_off_others = 0;  // chunks handed off by a worker that did not run them
    double turn_wait_s = 0;               // wall time waiting for the ordered turn
    double outcomes_wait_s = 0;           // wall time waiting for outcomes
    double handoff_s = 0;                 // wall time handing off, blocked on a full sink queue too
    double cpu_s = 0;                     // the workers' thread CPU time
  };
  WorkerTotals worker_totals() const;
  // How many times a processing worker went to sleep for one of its outcomes so far (any time,
  // from any thread; a test waits on it to know a worker is asleep before it lets the hand-off run).
  std::uint64_t outcome_sleeps() const noexcept { return outcome_sleeps_.load(std::memory_order_relaxed); }

 private:
  struct SourceState;
  struct InBatch {
    std::uint32_t source = 0;
    std::uint64_t first_seq = 0;
    std::vector<RawRecord> records;
  };

  void source_loop(std::stop_token stop, SourceState& s);
  // Start-up order (Source::startup_order): a source marks itself warm once it caught up (or failed,
  // or stopped; a waiting source also counts one in error backoff as warm); a source waits until
  // every source with a smaller number is warm, at most state_warmup_max in all.
  void mark_warm(SourceState& s);
  bool earlier_sources_warm(int order) const;  // warm_mu_ held
  void wait_for_state_sources(std::stop_token stop, const SourceState& s);
  // The processing workers (pipeline_workers.cc): `options_.workers` threads take chunks of the
  // input in order and run the processor chain over them; what must see the records in input
  // order (the first processor's ordered part, the other processors, the hand-off to the sinks)
  // runs in each chunk's turn.
  struct Chunk;
  struct Outcomes;
  struct Worker;
  void processing_loop();
  void worker_loop(std::size_t index);
  bool next_chunk(Chunk& chunk);  // false once the input is closed and drained, or the sinks closed
  void run_chunk(Outcomes& out, Worker& worker);
  // A finished chunk goes to the hand-off: handed off now when it is the next in input order and
  // nobody is handing off, else left to the worker handing off (which goes on with every later
  // chunk already finished), so that a worker never waits for an earlier chunk's end.
  void submit(Outcomes& out, Worker& worker);
  Outcomes& free_outcomes(Worker& worker);  // one of the worker's, once the hand-off returned it
  // The chunk's outcomes, in input order, by the worker whose tag-count shard is `shard`.
  void hand_off(Outcomes& out, std::size_t shard);
  void quiesce();                           // dispense_mu_ held
  // Routes a processed event to the sinks its routes select (pipeline_routing.cc): its
  // acknowledgements are settled now, the event waits in routing_.pending until flush_routed()
  // queues the chunk's events, one push per sink queue. flush_routed() is false once a sink
  // queue is closed (shutting down): the events it did not queue are never acknowledged.
  // Returns whether a sink takes it (false: dropped by `pipeline.drop`, or no route takes it).
  bool route_event(EventPtr event);
  bool flush_routed();
  void write_routing_metrics(Exposition& out) const;
  void write_stream_metrics(Exposition& out) const;
  std::string routing_summary() const;
  void save_processor_state();
  std::string consumed_counts(const SourceState& s) const;  // "  <label> N" per processor that consumed
  void commit_ready();
  bool wait_until_drained(std::chrono::steady_clock::time_point deadline);
  // True when waiting for the sinks can no longer help the drain: with --once, a sink that failed
  // fatally during the run was routed at least one event; otherwise a sink is failing right now
  // (did not start, or its last delivery failed fatally). A checkpoint needs every sink's
  // acknowledgement, so the other sinks' deliveries cannot move it either; the held events are
  // read again after the restart. A failing sink no event was routed to owes nothing: it cannot
  // hold a checkpoint, so it neither ends a --once run early nor fails its exit status.
  bool sinks_cannot_drain() const;
  // Sink i is failing (did not start, or its last delivery failed fatally) and was routed at least
  // one event in this run.
  bool failing_sink_took_events(std::size_t i) const;
  // After the drain: stops the runners of the sinks that are failing (their start() retries would
  // otherwise keep join() waiting) and logs, at error level, each one that no event was routed to.
  void stop_failing_sinks();
  void report_idle_failed_sinks() const;
  // At shutdown, sinks with a disk buffer deliver from it until it is empty, their sink fails, or
  // `deadline`; what is left stays on disk for the next start.
  void drain_disk_buffers(std::chrono::steady_clock::time_point deadline);
  // Every minute while running: size and age of each disk buffer that is not empty.
  void log_disk_buffers() const;

  PipelineOptions options_;
  std::vector<std::unique_ptr<SourceState>> sources_;
  std::vector<std::unique_ptr<SinkRunner>> sinks_;
  std::vector<std::unique_ptr<Processor>> processors_;
  StateStore& state_;
  DeadLetterWriter& dead_letters_;
  std::unique_ptr<AckTracker> acks_;
  std::unique_ptr<BoundedQueue<InBatch>> input_;
  FormatSet formats_ = 0;
  RoutingState routing_;

  // The workers' dispenser of chunks, and the turns that keep the ordered parts in input order.
  std::mutex dispense_mu_;
  std::shared_ptr<InBatch> dispensing_;  // the batch chunks are cut from (dispense_mu_)
  std::size_t dispensed_ = 0;            // its records handed out (dispense_mu_)
  std::uint64_t issued_ = 0;             // chunks handed out (dispense_mu_)
  std::chrono::steady_clock::time_point last_save_;  // dispense_mu_
  std::mutex done_mu_;
  std::condition_variable done_cv_;
  std::uint64_t done_ = 0;  // chunks finished (done_mu_)
  std::atomic<std::uint64_t> slot_generation_{0};  // bumped when a processor changed itself (quiesced())
  Turn ordered_turn_;  // the chunk whose ordered part runs now (a cache line of its own)
  // The hand-off: finished chunks waiting for the earlier ones, by sequence number modulo its size
  // (at most every worker's every Outcomes in flight); the next chunk due; whether a worker is
  // handing off now. handoff_cv_: a worker waits there for one of its Outcomes to come back.
  alignas(64) std::mutex handoff_mu_;
  std::condition_variable handoff_cv_;
  std::vector<Outcomes*> ready_;     // handoff_mu_
  std::uint64_t handoff_next_ = 0;   // handoff_mu_
  bool handing_off_ = false;         // handoff_mu_
  std::size_t outcome_waiters_ = 0;  // workers asleep on handoff_cv_ (handoff_mu_)
  std::atomic<std::uint64_t> outcome_sleeps_{0};  // added to under handoff_mu_ before a worker sleeps
  alignas(64) std::atomic<bool> closed_{false};    // the sink queues closed: shutting down
  mutable std::mutex totals_mu_;
  WorkerTotals worker_totals_;  // totals_mu_

  TagCounts tag_counts_;  // a shard per worker (the worker handing off counts in its own)
  std::atomic<std::uint64_t> mapped_{0};
  std::atomic<std::uint64_t> map_failed_{0};
  std::atomic<bool> sink_fatal_{false};
  // Per mapping kind (SourceKind): events mapped, and dead-lettered as [kind][0 read, 1 map].
  static constexpr std::size_t kKinds = static_cast<std::size_t>(kLastSourceKind) + 1;
  std::array<std::atomic<std::uint64_t>, kKinds> mapped_by_kind_{};
  std::array<std::array<std::atomic<std::uint64_t>, 2>, kKinds> dead_by_kind_{};
  std::atomic<std::int64_t> heartbeat_{0};  // steady-clock ticks of the last control-loop pass
  std::mutex warm_mu_;
  std::condition_variable_any warm_cv_;
  std::atomic<bool> fatal_error_{false};
  std::chrono::steady_clock::time_point started_;
  std::chrono::steady_clock::time_point finished_;
};

}  // namespace siem
