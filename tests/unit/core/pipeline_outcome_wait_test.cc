// A processing worker whose chunks' outcomes are all waiting for an earlier chunk's hand-off sleeps,
// and the hand-off that returns them wakes it (pipeline_workers.cc: free_outcomes() takes a free
// one without the hand-off's lock and sleeps only when none is free; the hand-off wakes only when
// a worker sleeps). With two workers, the first chunk's finish() is held until the other worker
// has finished the chunks after it and gone to sleep for an outcome (Pipeline::outcome_sleeps(),
// counted under the hand-off's lock before it sleeps: the hand-off that record "0" starts takes
// that lock only once the worker sleeps); a hand-off that did not wake it would leave it asleep and
// the run would never end (the watchdog below fails the test after 60 s). The sink receives every
// event, in input order.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>

#include <fmt/format.h>

#include "connector/core/pipeline.h"
#include "tests/support/collecting_sink.h"
#include "connector/state/state_store.h"

namespace siem {
namespace {

namespace fs = std::filesystem;

constexpr int kBatch = 32;  // one chunk per batch (pipeline_workers.cc cuts chunks of 32 records)
constexpr int kBatches = 40;

// `kBatches` batches of `kBatch` records "<i>", then caught up.
class ChunkSource : public Source {
 public:
  void start(const std::optional<std::string>&) override {}
  SourceBatch poll(std::stop_token) override {
    SourceBatch b;
    if (batch_ < kBatches) {
      for (int i = 0; i < kBatch; ++i) {
        RawRecord r;
        r.json = std::to_string(batch_ * kBatch + i);
        b.records.push_back(std::move(r));
      }
      b.checkpoint = fmt::format("token-{}", ++batch_);
    }
    b.caught_up = batch_ >= kBatches;
    return b;
  }

 private:
  int batch_ = 0;
};

using test::CollectingSink;
using test::Received;

// Phased; record "0"'s finish() waits (at most 20 s) until a worker sleeps for an outcome.
class HoldFirstProcessor : public Processor {
 public:
  std::atomic<const Pipeline*> pipeline{nullptr};  // set before run()
  std::atomic<bool> held{false};  // a worker slept for an outcome while record "0" was held

  std::string_view name() const override { return "hold"; }
  bool phased() const override { return true; }
  std::unique_ptr<Slot> make_slot() override { return std::make_unique<Slot>(); }
  Verdict process(const RawRecord&, const ProcessContext&, MappedEvent&, std::string&) override {
    return Verdict::dead_letter;
  }
  Verdict prepare(Slot&, const RawRecord&, const ProcessContext&, MappedEvent&, std::string&) override {
    return Verdict::deliver;
  }
  Verdict ordered(Slot&, const RawRecord&, const ProcessContext&, MappedEvent&, std::string&,
                  Verdict prepared) override {
    return prepared;
  }
  void finish(Slot&, const RawRecord& rec, const ProcessContext&, MappedEvent& ev) override {
    ev.raw = rec.json;
    if (rec.json != "0") return;
    const Pipeline* p = pipeline.load();
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    for (int i = 0; i < 20'000 && p->outcome_sleeps() == 0 && std::chrono::steady_clock::now() < until; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    held = p->outcome_sleeps() > 0;
  }
};

TEST(PipelineOutcomeWait, AWorkerAsleepForAnOutcomeIsWokenByTheHandOffThatReturnsIt) {
  const fs::path dir = fs::temp_directory_path() / fmt::format("siem-outcome-wait-{}", ::getpid());
  fs::remove_all(dir);
  Received received;
  Pipeline::WorkerTotals totals;
  bool held = false;
  std::uint64_t p_sleeps = 0;
  {
    StateStore state(dir / "state");
    DeadLetterWriter dead(dir / "dead.ndjson");
    std::vector<SourceSlot> sources;
    sources.push_back(SourceSlot{"a", std::make_unique<ChunkSource>()});
    std::vector<SinkSlot> sinks;
    SinkSlot sink;
    sink.name = "collect";
    sink.sink = std::make_unique<CollectingSink>(received, [](const MappedEvent& e) { return std::string(e.raw); });
    sink.format = OutputFormat::raw;
    sinks.push_back(std::move(sink));
    auto proc = std::make_unique<HoldFirstProcessor>();
    auto* hold = proc.get();
    std::vector<std::unique_ptr<Processor>> chain;
    chain.push_back(std::move(proc));
    PipelineOptions o;
    o.once = true;
    o.workers = 2;
    Pipeline p(o, std::move(sources), std::move(sinks), std::move(chain), state, dead);
    hold->pipeline = &p;
    // A worker never woken keeps run() from returning: fail loudly instead of hanging.
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    std::thread watchdog([&] {
      std::unique_lock l(mu);
      if (!cv.wait_for(l, std::chrono::seconds(60), [&] { return done; })) {
        fmt::print(stderr, "run() did not end in 60 s: a worker asleep for an outcome was not woken\n");
        std::abort();
      }
    });
    EXPECT_EQ(p.run(std::stop_token{}), 0);
    {
      std::lock_guard l(mu);
      done = true;
    }
    cv.notify_all();
    watchdog.join();
    totals = p.worker_totals();
    p_sleeps = p.outcome_sleeps();
    held = hold->held.load();
  }
  fs::remove_all(dir);
  EXPECT_TRUE(held) << "no worker slept for an outcome while the first chunk was held";
  EXPECT_GE(totals.outcomes_waits, 1u) << "the sleep was not counted as a wait";
  EXPECT_EQ(totals.outcomes_waits, p_sleeps) << "a wait counted without a sleep";
  ASSERT_EQ(received.events.size(), static_cast<std::size_t>(kBatch * kBatches));
  for (std::size_t i = 0; i < received.events.size(); ++i)
    ASSERT_EQ(received.events[i], std::to_string(i)) << "the sink received the events out of input order";
}

}  // namespace
}  // namespace siem
