// The processing workers: `pipeline.workers` threads run the processor chain over the input.
//
// The input is cut into chunks of one source batch (at most kChunkRecords records or kChunkBytes
// of record text), numbered in input order as they are handed out. A worker runs a chunk in four
// phases:
//   1. prepare   (any worker, concurrently): the first processor's prepare() per record (decoding,
//                the enrichment's reading of the record);
//   2. ordered   (the chunk's turn, chunks in input order): its ordered() (the enrichment's state),
//                or process() for a processor without phases;
//   3. finish    (any worker, concurrently): its finish() (the encoders);
//   4. hand-off  (chunks in input order): the later processors' process(), dead letters, consumed
//                records' acknowledgements and the routing to the sinks (one push per sink queue
//                for the chunk's events). A worker whose chunk finished before the earlier ones
//                does not wait: it leaves the chunk's outcomes
//                to the worker handing off, which hands off every finished chunk that is next in
//                order, and takes another chunk (each worker has kOutcomesPerWorker chunks' outcomes
//                to fill; it waits only when all are waiting for the hand-off).
// So every state a processor keeps changes in input order exactly as with one worker, and every
// sink receives its events in input order: the outputs do not depend on the number of workers.
// Saving the processors' state and a processor's live change (quiesced()) happen with nothing in
// flight: the dispenser stops handing out chunks until every chunk handed out was handed off.
#include <time.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <optional>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "connector/core/cpu_budget.h"
#include "connector/core/pipeline.h"
#include "connector/core/pipeline_source_state.h"

namespace siem {

namespace {

using Clock = std::chrono::steady_clock;

// A chunk: records of one batch up to kChunkBytes of record text or kChunkRecords records, at
// least one. A chunk is long against its ordered turn (a wait, and a futex wake-up when the other
// worker sleeps) and short enough that what prepare() leaves in the slots (a parsed document,
// tens of KiB per record of the realistic mix) is still in the core's cache when finish() reads
// it: 64 records of 2.6 KB cost 5-8 % more CPU per event than 32, with 1 worker as with 2; 64 KiB
// (24 such records) did best with 2 workers (docs/performance.md, "Mapping workers").
constexpr std::size_t kChunkRecords = 32;
constexpr std::size_t kChunkBytes = 64 * 1024;

// Chunks a worker may have between its hand-out and its hand-off: the one it runs and up to three
// finished before an earlier chunk was handed off. With two, a worker slept whenever the worker of
// an earlier chunk was held up for one chunk's time (preempted by the sink runner on 2 CPUs, or
// handing off into a full sink queue); the chunks in flight stay consecutive in input order, so
// the memory they hold grows by two chunks per worker (docs/performance.md, "Mapping workers").
constexpr std::size_t kOutcomesPerWorker = 4;

// The most a worker spins on a turn before it sleeps (Turn adapts it below this): a few times the
// ordered part of a chunk, far less than a futex sleep and wake-up costs on a virtual machine.
constexpr auto kTurnSpin = std::chrono::microseconds(50);

}  // namespace

struct Pipeline::Chunk {
  std::shared_ptr<InBatch> batch;
  const Worker* owner = nullptr;  // the worker running it
  std::size_t begin = 0;
  std::size_t end = 0;
  std::uint64_t seq = 0;
};

// A chunk's outcomes per record, from its prepare() to its hand-off (reused across chunks).
struct Pipeline::Outcomes {
  Chunk chunk;
  std::vector<std::shared_ptr<MappedEvent>> events;
  std::vector<Verdict> verdicts;
  std::vector<std::string> reasons;
  std::vector<bool> skip;  // no ordered() (a read error, or prepare() threw)
  // From before its hand-out to its hand-off. Only its worker sets it (free_outcomes(), no lock);
  // only the hand-off clears it (under handoff_mu_, release: the worker then reuses what the
  // hand-off left).
  std::atomic<bool> in_use{false};
};

// One worker: its per-record slots for the chunk it runs, its chunks' outcomes.
struct Pipeline::Worker {
  std::size_t index = 0;  // 0 .. workers - 1: its shard of the tag counts
  std::vector<std::unique_ptr<Processor::Slot>> slots;
  std::uint64_t slot_generation = 0;
  std::array<Outcomes, kOutcomesPerWorker> outcomes;
  std::uint64_t chunks = 0;
  std::array<std::uint64_t, 3> ordered_waits{};  // the ordered turn found ready, got spinning, slept for
  std::uint64_t handed_off = 0;                  // chunks this worker handed off (its own and others')
  std::uint64_t handed_off_others = 0;           // of which other workers' chunks
  std::uint64_t outcomes_waits = 0;              // waits for one of its outcomes to come back
  Clock::duration turn_wait{};                   // wall time waiting for the ordered turn
  Clock::duration outcomes_wait{};               // wall time waiting for an outcome
  Clock::duration handoff_time{};                // wall time handing off (blocked too, when a sink queue is full)
};

namespace {

// Runs `call` (a processor's phase); an exception dead-letters the record as "<name> failed: ...".
template <typename Call>
Verdict guarded(const Processor& p, std::string& reason, Call&& call) {
  try {
    return call();
  } catch (const std::exception& e) {
    reason = fmt::format("{} failed: {}", p.name(), e.what());
    return Verdict::dead_letter;
  }
}

}  // namespace

void Pipeline::processing_loop() {
  std::vector<std::string> names;
  for (const auto& s : sources_) names.push_back(s->name);
  try {
    for (auto& p : processors_) p->start(names);
  } catch (const std::exception& e) {
    spdlog::error("processing: cannot start: {}", e.what());
    fatal_error_ = true;
    for (auto& sink : sinks_) sink->close();
    return;
  }
  last_save_ = Clock::now();
  const std::size_t n = options_.worker_count();
  if (n > 1) spdlog::info("processing: {} workers", n);
  // More workers than CPUs: a spinning waiter would keep the turn's holder from running.
  ordered_turn_.set_spin(n <= usable_cpus() ? std::chrono::nanoseconds(kTurnSpin)
                                            : std::chrono::nanoseconds(0));
  ready_.assign(n * kOutcomesPerWorker, nullptr);
  std::vector<std::thread> others;
  for (std::size_t i = 1; i < n; ++i) others.emplace_back([this, i] { worker_loop(i); });
  worker_loop(0);
  for (auto& t : others) t.join();
  save_processor_state();  // every worker stopped: nothing in flight
  for (auto& sink : sinks_) sink->close();
}

namespace {
double thread_cpu_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}
}  // namespace

void Pipeline::worker_loop(std::size_t index) {
  const double cpu_before = thread_cpu_seconds();
  Worker w;
  w.index = index;
  while (true) {
    Outcomes& out = free_outcomes(w);
    if (!next_chunk(out.chunk)) {
      std::unique_lock lock(handoff_mu_);
      out.in_use.store(false, std::memory_order_relaxed);
      // A chunk this worker submitted may still wait in ready_ for an earlier one, to be handed
      // off by another worker: its outcomes live in `w`, so the worker stays until they are.
      ++outcome_waiters_;
      handoff_cv_.wait(lock, [&] {
        return std::none_of(w.outcomes.begin(), w.outcomes.end(),
                            [](const Outcomes& o) { return o.in_use.load(std::memory_order_acquire); });
      });
      --outcome_waiters_;
      break;
    }
    out.chunk.owner = &w;
    run_chunk(out, w);
    ++w.chunks;
    submit(out, w);
  }
  const double cpu = thread_cpu_seconds() - cpu_before;
  const auto seconds = [](Clock::duration d) { return std::chrono::duration<double>(d).count(); };
  spdlog::debug("processing worker: {} chunks in {:.3f} CPU s; ordered turn ready {}, got spinning {}, slept for {} "
                "({:.1f} ms waiting); handed off {} chunks ({} of other workers) in {:.1f} ms; waited {} times for a "
                "chunk's outcomes ({:.1f} ms)",
                w.chunks, cpu, w.ordered_waits[0], w.ordered_waits[1], w.ordered_waits[2], seconds(w.turn_wait) * 1e3,
                w.handed_off, w.handed_off_others, seconds(w.handoff_time) * 1e3, w.outcomes_waits,
                seconds(w.outcomes_wait) * 1e3);
  std::lock_guard lock(totals_mu_);
  auto& t = worker_totals_;
  t.chunks += w.chunks;
  t.turn_ready += w.ordered_waits[0];
  t.turn_spun += w.ordered_waits[1];
  t.turn_slept += w.ordered_waits[2];
  t.outcomes_waits += w.outcomes_waits;
  t.handed_off_others += w.handed_off_others;
  t.turn_wait_s += seconds(w.turn_wait);
  t.outcomes_wait_s += seconds(w.outcomes_wait);
  t.handoff_s += seconds(w.handoff_time);
  t.cpu_s += cpu;
}

Pipeline::WorkerTotals Pipeline::worker_totals() const {
  std::lock_guard lock(totals_mu_);
  return worker_totals_;
}

Pipeline::Outcomes& Pipeline::free_outcomes(Worker& w) {
  // Without the lock while one is free (every chunk but a worker's fifth in flight): the lock is
  // the one the hand-off takes, and a worker the hand-off had just woken ran into it here.
  const auto take = [&w]() -> Outcomes* {
    for (auto& o : w.outcomes) {
      if (o.in_use.load(std::memory_order_acquire)) continue;
      o.in_use.store(true, std::memory_order_relaxed);
      return &o;
    }
    return nullptr;
  };
  if (Outcomes* o = take()) return *o;
  // All in flight, waiting for an earlier chunk's hand-off: sleep, counted in outcome_waiters_ so
  // that a hand-off wakes only when someone sleeps (the count and the flags change under the lock).
  // A wait is counted (and timed) only when none is free under the lock either and the worker
  // sleeps: "waited N times" means slept N times, its time not the lock's contention.
  std::unique_lock lock(handoff_mu_);
  ++outcome_waiters_;
  Outcomes* o = take();
  if (o == nullptr) {
    ++w.outcomes_waits;
    outcome_sleeps_.fetch_add(1, std::memory_order_relaxed);
    const auto since = Clock::now();
    handoff_cv_.wait(lock, [&] { return (o = take()) != nullptr; });
    w.outcomes_wait += Clock::now() - since;
  }
  --outcome_waiters_;
  lock.unlock();
  return *o;
}

void Pipeline::submit(Outcomes& out, Worker& w) {
  std::unique_lock lock(handoff_mu_);
  ready_[out.chunk.seq % ready_.size()] = &out;
  // Someone hands off now (and takes this chunk when it is next), or an earlier chunk is still
  // running (its worker takes this one after it).
  if (handing_off_ || out.chunk.seq != handoff_next_) return;
  handing_off_ = true;
  std::uint64_t handed = 0;
  while (Outcomes* next = ready_[handoff_next_ % ready_.size()]) {
    if (next->chunk.seq != handoff_next_) break;  // a later chunk's (in the slot modulo the size)
    ready_[handoff_next_ % ready_.size()] = nullptr;
    lock.unlock();
    const auto began = Clock::now();
    hand_off(*next, w.index);
    w.handoff_time += Clock::now() - began;
    next->chunk.batch.reset();
    ++handed;
    if (next->chunk.owner != &w) ++w.handed_off_others;
    lock.lock();
    next->in_use.store(false, std::memory_order_release);
    ++handoff_next_;
  }
  handing_off_ = false;
  const bool sleepers = outcome_waiters_ > 0;
  lock.unlock();
  if (sleepers) handoff_cv_.notify_all();
  w.handed_off += handed;
  std::lock_guard done(done_mu_);
  done_ += handed;
  done_cv_.notify_all();
}

void Pipeline::quiesce() {
  std::unique_lock lock(done_mu_);
  done_cv_.wait(lock, [&] { return done_ == issued_; });
  lock.unlock();
  if (Clock::now() - last_save_ > options_.state_save_interval) {
    save_processor_state();
    last_save_ = Clock::now();
  }
  bool changed = false;
  for (auto& p : processors_) {
    if (!p->wants_quiesce()) continue;
    p->quiesced();
    changed = true;
  }
  if (changed) slot_generation_.fetch_add(1, std::memory_order_relaxed);
}

bool Pipeline::next_chunk(Chunk& chunk) {
  std::lock_guard lock(dispense_mu_);
  while (true) {
    if (closed_.load(std::memory_order_relaxed)) return false;
    bool pause = Clock::now() - last_save_ > options_.state_save_interval;
    for (const auto& p : processors_) pause = pause || p->wants_quiesce();
    if (pause) quiesce();
    if (dispensing_ && dispensed_ < dispensing_->records.size()) break;
    dispensing_.reset();
    auto batch = input_->pop();
    if (!batch) return false;
    dispensing_ = std::make_shared<InBatch>(std::move(*batch));
    dispensed_ = 0;
  }
  chunk.batch = dispensing_;
  chunk.begin = dispensed_;
  const auto& records = dispensing_->records;
  std::size_t end = dispensed_;
  for (std::size_t bytes = 0; end < records.size() && end - dispensed_ < kChunkRecords && bytes < kChunkBytes; ++end)
    bytes += records[end].json.size();
  chunk.end = end;
  chunk.seq = issued_++;
  dispensed_ = chunk.end;
  return true;
}

void Pipeline::run_chunk(Outcomes& o, Worker& w) {
  const Chunk& chunk = o.chunk;
  auto& batch = *chunk.batch;
  const auto& s = *sources_[batch.source];
  const ProcessContext ctx{s.name, batch.source, formats_};
  const std::size_t n = chunk.end - chunk.begin;
  Processor& first = *processors_.front();
  const bool phased = first.phased();
  if (w.slot_generation != slot_generation_.load(std::memory_order_relaxed)) {
    w.slots.clear();  // made before a processor changed itself
    w.slot_generation = slot_generation_.load(std::memory_order_relaxed);
  }
  if (w.slots.size() < n) w.slots.resize(n);
  o.events.resize(n);
  o.verdicts.assign(n, Verdict::deliver);
  o.reasons.resize(n);
  o.skip.assign(n, false);

  // 1. prepare: concurrently with the other workers.
  for (std::size_t i = 0; i < n; ++i) {
    const RawRecord& rec = batch.records[chunk.begin + i];
    o.events[i] = std::make_shared<MappedEvent>();
    o.reasons[i].clear();
    if (!rec.read_error.empty()) {
      o.verdicts[i] = Verdict::dead_letter;
      o.skip[i] = true;
      continue;
    }
    if (!phased) continue;
    if (!w.slots[i]) w.slots[i] = first.make_slot();
    bool threw = true;
    o.verdicts[i] = guarded(first, o.reasons[i], [&] {
      const Verdict v = first.prepare(*w.slots[i], rec, ctx, *o.events[i], o.reasons[i]);
      threw = false;
      return v;
    });
    o.skip[i] = threw;
  }

  // 2. ordered: the chunks one after the other, in input order.
  const auto turn_asked = Clock::now();
  const Turn::Waited waited = ordered_turn_.wait(chunk.seq);
  ++w.ordered_waits[static_cast<std::size_t>(waited)];
  if (waited != Turn::Waited::ready) w.turn_wait += Clock::now() - turn_asked;
  for (std::size_t i = 0; i < n; ++i) {
    if (o.skip[i]) continue;
    const RawRecord& rec = batch.records[chunk.begin + i];
    o.verdicts[i] = guarded(first, o.reasons[i], [&] {
      if (phased) return first.ordered(*w.slots[i], rec, ctx, *o.events[i], o.reasons[i], o.verdicts[i]);
      return first.process(rec, ctx, *o.events[i], o.reasons[i]);
    });
  }
  ordered_turn_.pass(chunk.seq);

  // 3. finish: concurrently again.
  if (phased) {
    for (std::size_t i = 0; i < n; ++i) {
      if (o.verdicts[i] != Verdict::deliver) continue;
      const RawRecord& rec = batch.records[chunk.begin + i];
      o.verdicts[i] = guarded(first, o.reasons[i], [&] {
        first.finish(*w.slots[i], rec, ctx, *o.events[i]);
        return Verdict::deliver;
      });
    }
  }

  // 4. hand-off: in input order (submit()).
}

void Pipeline::hand_off(Outcomes& o, std::size_t shard) {
  const Chunk& chunk = o.chunk;
  auto& batch = *chunk.batch;
  auto& s = *sources_[batch.source];
  const ProcessContext ctx{s.name, batch.source, formats_};
  std::vector<DeadLetter> letters;
  std::vector<AckHandle> failed;
  // The chunk's mapped events by kind, added to the counters once, before its events reach a sink
  // queue (so a counter never lags an event a sink could have acknowledged).
  std::array<std::uint64_t, kKinds> mapped_by_kind{};
  for (std::size_t i = 0; i < chunk.end - chunk.begin; ++i) {
    auto& rec = batch.records[chunk.begin + i];
    const AckHandle handle{batch.source, batch.first_seq + chunk.begin + i};
    std::shared_ptr<MappedEvent> ev = std::move(o.events[i]);
    Verdict verdict = o.verdicts[i];
    std::size_t by = 0;
    for (std::size_t p = 1; p < processors_.size() && verdict == Verdict::deliver; ++p) {
      auto& proc = *processors_[p];
      verdict = guarded(proc, o.reasons[i], [&] { return proc.process(rec, ctx, *ev, o.reasons[i]); });
      by = p;
    }
    if (verdict == Verdict::dead_letter) {
      const bool read = !rec.read_error.empty();
      dead_by_kind_[static_cast<std::size_t>(ev->kind) % kKinds][read ? 0 : 1].fetch_add(1, std::memory_order_relaxed);
      letters.push_back(DeadLetter{read ? std::string_view("read") : processors_[by]->dead_letter_stage(), s.name,
                                   rec.origin, read ? rec.read_error : o.reasons[i], rec.json});
      failed.push_back(handle);
      continue;
    }
    if (verdict == Verdict::consumed) {  // state only, or dropped on purpose: nothing to deliver
      acks_->complete(handle);
      s.consumed[by].fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    if (closed_.load(std::memory_order_relaxed)) continue;  // shutting down: read again after the restart
    ev->ack = handle;
    ev->source_name = s.name;
    // The mapping stage packs the record's origin with the event's other texts; a first
    // processor that does not (tests) leaves it to be set here.
    if (ev->origin().empty() && !rec.origin.empty()) ev->set_origin(rec.origin);
    // The mapper's finish() leaves the record's text to be moved here (a repaired record's text
    // is set already): nothing reads the record after this point.
    if (ev->raw.empty()) ev->raw = std::move(rec.json);
    ++mapped_by_kind[static_cast<std::size_t>(ev->kind) % kKinds];
    // The detection totals count the events some sink takes, not those dropped or unrouted (the
    // event stays alive in the routing's pending queue until flush_routed() below).
    const MappedEvent* routed = ev.get();
    if (route_event(std::move(ev)) && !routed->tags().empty()) tag_counts_.add(shard, routed->tags());
  }
  std::uint64_t mapped = 0;
  for (std::size_t k = 0; k < kKinds; ++k) {
    if (mapped_by_kind[k] == 0) continue;
    mapped_by_kind_[k].fetch_add(mapped_by_kind[k], std::memory_order_relaxed);
    mapped += mapped_by_kind[k];
  }
  if (mapped > 0) mapped_ += mapped;
  // The chunk's events, one push per sink queue (it blocks while a queue is full: backpressure).
  if (!flush_routed()) closed_ = true;
  if (letters.empty()) return;
  // Dead letters must be durable before their events count as done; if the file cannot be
  // written, the events stay unacknowledged (they will be read again), never lost.
  try {
    dead_letters_.write(letters);
    for (const auto& h : failed) acks_->complete(h);
    s.dead_lettered += letters.size();
    map_failed_ += letters.size();
    for (const auto& l : letters) spdlog::warn("source {}: {}: {}", s.name, l.origin, l.reason);
  } catch (const std::exception& e) {
    spdlog::error("source {}: {}; {} record(s) left unacknowledged", s.name, e.what(), letters.size());
    fatal_error_ = true;
  }
}

}  // namespace siem
