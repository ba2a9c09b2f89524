// The processor interface: the stage between the sources and the sinks. The pipeline runs a chain
// of processors over every record, in input order, on its processing workers (`pipeline.workers`).
// The first (the mapper with enrichment, connector/enrichment/mapping_processor.h) fills the
// MappedEvent; later ones see it and may pass, consume or dead-letter the record. Core knows
// nothing of what a processor does.
//
// Several workers: the pipeline cuts the input into chunks numbered in input order; a worker takes
// a chunk and runs, for each record of it, the first processor's phases (below). What a processor
// does in process() or ordered() happens one record at a time, in input order across all
// workers, so its shared state needs no lock; prepare() and finish() of different records run at
// the same time on different workers. The processors after the first run process() in the
// chunk's hand-off turn, in input order, right before the events go to the sinks.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "connector/core/event.h"

namespace siem {

class Exposition;

// What a processor decided about one record.
enum class Verdict : std::uint8_t {
  deliver,      // pass the event on: to the next processor, after the last one to the sinks
  consumed,     // state only, or dropped on purpose: acknowledged, sent nowhere
  dead_letter,  // cannot be processed: written to the dead-letter file with the reason, acknowledged
};

// Where the record comes from and what the sinks want, for the processors.
struct ProcessContext {
  std::string_view source_name;  // configured source name
  std::uint32_t source = 0;      // the source's index in the pipeline (stable for one run)
  FormatSet formats = 0;         // output formats some sink asked for (raw is always kept)
};

class Processor {
 public:
  virtual ~Processor() = default;

  // Short name for logs, the dead-letter reason of an exception ("<name> failed: ...") and metrics.
  virtual std::string_view name() const = 0;
  // The `stage` of this processor's dead letters in the dead-letter file.
  virtual std::string_view dead_letter_stage() const { return name(); }
  // How the run summary calls the records this processor consumed ("<label> N" on the source line).
  virtual std::string_view consumed_label() const { return "consumed"; }

  // Called once before the first record, with the names of the pipeline's sources in index order
  // (ProcessContext::source), before any worker starts. An exception stops the
  // pipeline (exit status 1): check what can fail (config, state) when the processor is built.
  virtual void start(const std::vector<std::string>& source_names) { (void)source_names; }

  // One record. `event` is what the earlier processors produced (default-constructed for the
  // first). On dead_letter, `reason` says why. Exceptions are dead-lettered as "<name> failed:
  // what()". Called in input order, one record at a time (from any worker thread, each call
  // ordered after the previous one): a processor needs no locking for its own state, except for
  // what write_metrics() and summary() read.
  virtual Verdict process(const RawRecord& record, const ProcessContext& ctx, MappedEvent& event,
                          std::string& reason) = 0;

  // Persists learned state; called every `pipeline.state_save_interval` and once at shutdown, with
  // the workers quiesced: every record handed in so far is processed and none is in flight. Throws
  // on failure (the pipeline logs it and tries again at the next interval).
  virtual void save_state() {}

  // ---- The phase split, for several workers (used when it is the first processor) ----
  // A processor that can do part of its work on several records at once returns true from
  // phased(); the pipeline then calls, instead of process(), for each record:
  //   prepare()  on any worker, at the same time as other records' prepare()/finish(): it may read
  //              only what does not change while the pipeline runs, and write only its Slot;
  //   ordered()  in input order, one record at a time across the workers (like process()), for
  //              every record prepare() returned from (whatever its verdict, given as `prepared`;
  //              not after it threw): the part that reads or changes shared state; returns the
  //              record's verdict;
  //   finish()   on any worker again, when ordered() delivered: the rest (encoding). An exception
  //              dead-letters the record.
  // A Slot carries one record through the three (the pipeline keeps one per record in flight, per
  // worker, and reuses it for later records).
  struct Slot {
    virtual ~Slot() = default;
  };
  virtual bool phased() const { return false; }
  virtual std::unique_ptr<Slot> make_slot() { return nullptr; }
  virtual Verdict prepare(Slot& slot, const RawRecord& record, const ProcessContext& ctx, MappedEvent& event,
                          std::string& reason) {
    (void)slot, (void)record, (void)ctx, (void)event, (void)reason;
    return Verdict::deliver;
  }
  virtual Verdict ordered(Slot& slot, const RawRecord& record, const ProcessContext& ctx, MappedEvent& event,
                          std::string& reason, Verdict prepared) {
    (void)slot;
    return prepared == Verdict::deliver ? process(record, ctx, event, reason) : prepared;
  }
  virtual void finish(Slot& slot, const RawRecord& record, const ProcessContext& ctx, MappedEvent& event) {
    (void)slot, (void)record, (void)ctx, (void)event;
  }

  // True when the processor wants to change itself (a live reload of its configuration) with
  // nothing in flight. The pipeline checks it before it hands out more records; when true it lets
  // every record handed out so far finish, then calls quiesced() before the next one.
  virtual bool wants_quiesce() const { return false; }
  virtual void quiesced() {}

  // Its /metrics families and its run-summary lines (each ending in '\n'; may be empty). Called
  // from other threads while process() runs: read only atomics or state under a lock.
  virtual void write_metrics(Exposition& out) const { (void)out; }
  virtual std::string summary() const { return {}; }
};

}  // namespace siem
