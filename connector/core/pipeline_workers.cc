// The processing workers: `pipeline.workers` threads run the processor chain over the input.
//
// The input is cut into chunks of at most kChunkRecords records of one source batch, numbered in
// input order as they are handed out. A worker runs a chunk in four phases:
//   1. prepare   (any worker, concurrently): the first processor's prepare() per record (decoding,
//                the enrichment's reading of the record);
//   2. ordered   (the chunk's turn, chunks in input order): its ordered() (the enrichment's state),
//                or process() for a processor without phases;
//   3. finish    (any worker, concurrently): its finish() (the encoders);
//   4. hand-off  (the chunk's turn again): the later processors' process(), dead letters, consumed
//                records' acknowledgements and the routing to the sinks, in input order.
// So every state a processor keeps changes in input order exactly as with one worker, and every
// sink receives its events in input order: the outputs do not depend on the number of workers.
// Saving the processors' state and a processor's live change (quiesced()) happen with nothing in
// flight: the dispenser stops handing out chunks until every chunk handed out is done.
#include <algorithm>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "connector/core/pipeline.h"
#include "connector/core/pipeline_source_state.h"

namespace siem {

namespace {

using Clock = std::chrono::steady_clock;

// Records per chunk: large enough that the turns cost nothing per record, small enough that the
// workers' slots (one parsed document each) stay small and a chunk's turn is short.
constexpr std::size_t kChunkRecords = 32;

void wait_turn(const std::atomic<std::uint64_t>& turn, std::uint64_t seq) {
  for (auto now = turn.load(std::memory_order_acquire); now != seq; now = turn.load(std::memory_order_acquire))
    turn.wait(now, std::memory_order_acquire);
}

void pass_turn(std::atomic<std::uint64_t>& turn, std::uint64_t seq) {
  turn.store(seq + 1, std::memory_order_release);
  turn.notify_all();
}

}  // namespace

struct Pipeline::Chunk {
  std::shared_ptr<InBatch> batch;
  std::size_t begin = 0;
  std::size_t end = 0;
  std::uint64_t seq = 0;
};

// One worker's per-record state for the chunk it runs (reused across chunks).
struct Pipeline::Worker {
  std::vector<std::unique_ptr<Processor::Slot>> slots;
  std::uint64_t slot_generation = 0;
  std::vector<std::shared_ptr<MappedEvent>> events;
  std::vector<Verdict> verdicts;
  std::vector<std::string> reasons;
  std::vector<std::size_t> by;  // the processor that decided a record's verdict
  std::vector<bool> skip;       // no ordered() (a read error, or prepare() threw)
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
  const std::size_t n = std::clamp<std::size_t>(options_.workers, 1, PipelineOptions::kMaxWorkers);
  if (n > 1) spdlog::info("processing: {} workers", n);
  std::vector<std::thread> others;
  for (std::size_t i = 1; i < n; ++i) others.emplace_back([this] { worker_loop(); });
  worker_loop();
  for (auto& t : others) t.join();
  save_processor_state();  // every worker stopped: nothing in flight
  for (auto& sink : sinks_) sink->close();
}

void Pipeline::worker_loop() {
  Worker w;
  Chunk chunk;
  while (next_chunk(chunk)) {
    run_chunk(chunk, w);
    chunk.batch.reset();
    std::lock_guard lock(done_mu_);
    ++done_;
    done_cv_.notify_all();
  }
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
  chunk.end = std::min(dispensed_ + kChunkRecords, dispensing_->records.size());
  chunk.seq = issued_++;
  dispensed_ = chunk.end;
  return true;
}

void Pipeline::run_chunk(Chunk& chunk, Worker& w) {
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
  w.events.resize(n);
  w.verdicts.assign(n, Verdict::deliver);
  w.reasons.resize(n);
  w.by.assign(n, 0);
  w.skip.assign(n, false);

  // 1. prepare: concurrently with the other workers.
  for (std::size_t i = 0; i < n; ++i) {
    const RawRecord& rec = batch.records[chunk.begin + i];
    w.events[i] = std::make_shared<MappedEvent>();
    w.reasons[i].clear();
    if (!rec.read_error.empty()) {
      w.verdicts[i] = Verdict::dead_letter;
      w.skip[i] = true;
      continue;
    }
    if (!phased) continue;
    if (!w.slots[i]) w.slots[i] = first.make_slot();
    bool threw = true;
    w.verdicts[i] = guarded(first, w.reasons[i], [&] {
      const Verdict v = first.prepare(*w.slots[i], rec, ctx, *w.events[i], w.reasons[i]);
      threw = false;
      return v;
    });
    w.skip[i] = threw;
  }

  // 2. ordered: the chunks one after the other, in input order.
  wait_turn(ordered_turn_, chunk.seq);
  for (std::size_t i = 0; i < n; ++i) {
    if (w.skip[i]) continue;
    const RawRecord& rec = batch.records[chunk.begin + i];
    w.verdicts[i] = guarded(first, w.reasons[i], [&] {
      if (phased) return first.ordered(*w.slots[i], rec, ctx, *w.events[i], w.reasons[i], w.verdicts[i]);
      return first.process(rec, ctx, *w.events[i], w.reasons[i]);
    });
  }
  pass_turn(ordered_turn_, chunk.seq);

  // 3. finish: concurrently again.
  if (phased) {
    for (std::size_t i = 0; i < n; ++i) {
      if (w.verdicts[i] != Verdict::deliver) continue;
      const RawRecord& rec = batch.records[chunk.begin + i];
      w.verdicts[i] = guarded(first, w.reasons[i], [&] {
        first.finish(*w.slots[i], rec, ctx, *w.events[i]);
        return Verdict::deliver;
      });
    }
  }

  // 4. hand-off: in input order.
  wait_turn(handoff_turn_, chunk.seq);
  hand_off(chunk, w);
  pass_turn(handoff_turn_, chunk.seq);
}

void Pipeline::hand_off(Chunk& chunk, Worker& w) {
  auto& batch = *chunk.batch;
  auto& s = *sources_[batch.source];
  const ProcessContext ctx{s.name, batch.source, formats_};
  std::vector<DeadLetter> letters;
  std::vector<AckHandle> failed;
  for (std::size_t i = 0; i < chunk.end - chunk.begin; ++i) {
    auto& rec = batch.records[chunk.begin + i];
    const AckHandle handle{batch.source, batch.first_seq + chunk.begin + i};
    std::shared_ptr<MappedEvent> ev = std::move(w.events[i]);
    Verdict verdict = w.verdicts[i];
    std::size_t by = 0;
    for (std::size_t p = 1; p < processors_.size() && verdict == Verdict::deliver; ++p) {
      auto& proc = *processors_[p];
      verdict = guarded(proc, w.reasons[i], [&] { return proc.process(rec, ctx, *ev, w.reasons[i]); });
      by = p;
    }
    if (verdict == Verdict::dead_letter) {
      const bool read = !rec.read_error.empty();
      dead_by_kind_[static_cast<std::size_t>(ev->kind) % kKinds][read ? 0 : 1].fetch_add(1, std::memory_order_relaxed);
      letters.push_back(DeadLetter{read ? std::string_view("read") : processors_[by]->dead_letter_stage(), s.name,
                                   rec.origin, read ? rec.read_error : w.reasons[i], rec.json});
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
    ev->origin = std::move(rec.origin);
    if (ev->raw.empty()) ev->raw = std::move(rec.json);
    ++mapped_;
    mapped_by_kind_[static_cast<std::size_t>(ev->kind) % kKinds].fetch_add(1, std::memory_order_relaxed);
    if (!ev->tags.empty()) {
      std::lock_guard lock(stats_mu_);
      for (const auto& t : ev->tags) ++tag_counts_[t];
    }
    if (!route_event(std::move(ev))) closed_ = true;
  }
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
