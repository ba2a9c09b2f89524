// The processor interface: the stage between the sources and the sinks. The pipeline runs a chain
// of processors over every record, in order, on its processing thread. The first (the mapper with
// enrichment, connector/enrichment/mapping_processor.h) fills the MappedEvent; later ones see it
// and may pass, consume or dead-letter the record. Core knows nothing of what a processor does.
#pragma once

#include <cstdint>
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
  // (ProcessContext::source), on the thread that will call process(). An exception stops the
  // pipeline (exit status 1): check what can fail (config, state) when the processor is built.
  virtual void start(const std::vector<std::string>& source_names) { (void)source_names; }

  // One record. `event` is what the earlier processors produced (default-constructed for the
  // first). On dead_letter, `reason` says why. Exceptions are dead-lettered as "<name> failed:
  // what()". Called from one thread: a processor needs no locking for its own state, except for
  // what write_metrics() and summary() read.
  virtual Verdict process(const RawRecord& record, const ProcessContext& ctx, MappedEvent& event,
                          std::string& reason) = 0;

  // Persists learned state; called every `pipeline.state_save_interval` and once at shutdown, on
  // the processing thread, after every record handed to process() so far. Throws on failure (the
  // pipeline logs it and tries again at the next interval).
  virtual void save_state() {}

  // Its /metrics families and its run-summary lines (each ending in '\n'; may be empty). Called
  // from other threads while process() runs: read only atomics or state under a lock.
  virtual void write_metrics(Exposition& out) const { (void)out; }
  virtual std::string summary() const { return {}; }
};

}  // namespace siem
