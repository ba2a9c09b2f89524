// The control loop's checkpoint cadence: while the pipeline runs, acknowledged positions are saved
// (a state file write with fsync and rename, then Source::on_committed) every
// `pipeline.checkpoint_interval`, not on every pass of the loop; draining saves the last one.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "connector/core/pipeline.h"
#include "connector/state/state_store.h"
#include "tests/support/wait.h"

namespace siem {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// One batch of `total` records with checkpoint "t1", then nothing more (never caught up).
class OneBatchSource : public Source {
 public:
  explicit OneBatchSource(int total) : total_(total) {}
  std::atomic<int> commits{0};
  void start(const std::optional<std::string>&) override {}
  SourceBatch poll(std::stop_token stop) override {
    SourceBatch b;
    if (!sent_) {
      sent_ = true;
      for (int i = 0; i < total_; ++i) {
        RawRecord r;
        r.json = fmt::format("{{\"n\":{}}}", i);
        r.origin = fmt::format("line {}", i + 1);
        b.records.push_back(std::move(r));
      }
      b.checkpoint = "t1";
      return b;
    }
    for (int i = 0; i < 20 && !stop.stop_requested(); ++i) std::this_thread::sleep_for(5ms);
    return b;
  }
  void on_committed(const std::string&) override { ++commits; }

 private:
  int total_;
  bool sent_ = false;
};

class CountingSink : public Sink {
 public:
  std::atomic<int> received{0};
  void start() override {}
  SendResult send(std::span<const EventPtr> batch) override {
    received += static_cast<int>(batch.size());
    return SendResult::success();
  }
};

class PassProcessor : public Processor {
 public:
  std::string_view name() const override { return "pass"; }
  Verdict process(const RawRecord& rec, const ProcessContext&, MappedEvent& ev, std::string&) override {
    ev.raw = rec.json;
    return Verdict::deliver;
  }
};

struct CadenceRun {
  int commits_while_running = 0;
  int commits_at_end = 0;
  std::optional<std::string> saved;
};

// Runs until the sink has every record, then waits up to `settle` for a checkpoint while running,
// then stops the pipeline (a drain) and reports.
CadenceRun run_with_interval(std::chrono::milliseconds interval, std::chrono::milliseconds settle) {
  constexpr int kRecords = 200;
  const fs::path dir = fs::temp_directory_path() / fmt::format("siem-cadence-{}-{}", ::getpid(), interval.count());
  fs::remove_all(dir);
  CadenceRun out;
  {
    StateStore state(dir / "state");
    DeadLetterWriter dead(dir / "dead.ndjson");
    auto source = std::make_unique<OneBatchSource>(kRecords);
    auto* src = source.get();
    auto sink = std::make_unique<CountingSink>();
    auto* snk = sink.get();
    std::vector<SourceSlot> sources;
    sources.push_back(SourceSlot{"s", std::move(source)});
    std::vector<SinkSlot> sinks;
    SinkSlot slot;
    slot.name = "out";
    slot.sink = std::move(sink);
    slot.format = OutputFormat::raw;
    sinks.push_back(std::move(slot));
    PipelineOptions o;
    o.workers = 1;
    o.drain_timeout = 30s;
    o.checkpoint_interval = interval;
    std::vector<std::unique_ptr<Processor>> chain;
    chain.push_back(std::make_unique<PassProcessor>());
    Pipeline p(o, std::move(sources), std::move(sinks), std::move(chain), state, dead);
    std::stop_source stop;
    std::thread runner([&] { p.run(stop.get_token()); });
    EXPECT_TRUE(test::wait_until([&] { return snk->received.load() == kRecords; }, 30s)) << snk->received.load();
    test::wait_until([&] { return src->commits.load() > 0; }, settle);
    out.commits_while_running = src->commits.load();
    stop.request_stop();
    runner.join();
    out.commits_at_end = src->commits.load();
    out.saved = state.get(StateStore::checkpoint_key("s"));
  }
  fs::remove_all(dir);
  return out;
}

TEST(CheckpointCadence, NothingIsSavedBeforeTheIntervalAndTheDrainSavesTheLast) {
  // Delivered and acknowledged within a second; an hour's interval has not passed, so no save yet.
  const CadenceRun r = run_with_interval(1h, 1500ms);
  EXPECT_EQ(r.commits_while_running, 0) << "a checkpoint was saved before checkpoint_interval passed";
  EXPECT_EQ(r.commits_at_end, 1);
  EXPECT_EQ(r.saved, std::optional<std::string>("t1"));
}

TEST(CheckpointCadence, AShortIntervalSavesWhileRunning) {
  const CadenceRun r = run_with_interval(100ms, 30s);
  EXPECT_GE(r.commits_while_running, 1) << "no checkpoint saved while running";
  EXPECT_EQ(r.saved, std::optional<std::string>("t1"));
}

}  // namespace
}  // namespace siem
