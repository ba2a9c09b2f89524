// A continuous run's exit status reflects the sources at the end of the run: a source that failed
// and then polled successfully again ends the run with 0, one still failing at the end with 2
// (like a stream the service still refuses).
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>

#include "connector/core/pipeline.h"
#include "connector/state/state_store.h"
#include "tests/support/wait.h"

namespace siem {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Polls number `fail_from` and later throw until poll `recover_at` (0: never recovers); others read nothing.
class FlakySource : public Source {
 public:
  FlakySource(int fail_from, int recover_at) : fail_from_(fail_from), recover_at_(recover_at) {}
  std::atomic<int> polls{0};
  void start(const std::optional<std::string>&) override {}
  SourceBatch poll(std::stop_token stop) override {
    const int n = ++polls;
    if (n >= fail_from_ && (recover_at_ == 0 || n < recover_at_)) throw std::runtime_error("service unreachable");
    for (int i = 0; i < 10 && !stop.stop_requested(); ++i) std::this_thread::sleep_for(5ms);
    return {};
  }

 private:
  int fail_from_;
  int recover_at_;
};

class NullSink : public Sink {
 public:
  void start() override {}
  SendResult send(std::span<const EventPtr>) override { return SendResult::success(); }
};

class PassProcessor : public Processor {
 public:
  std::string_view name() const override { return "pass"; }
  Verdict process(const RawRecord& rec, const ProcessContext&, MappedEvent& ev, std::string&) override {
    ev.raw = rec.json;
    return Verdict::deliver;
  }
};

// Runs continuously until the source has been polled `polls` times, stops (as at SIGTERM) and
// returns the exit status.
int run_until_polled(int fail_from, int recover_at, int polls) {
  const fs::path dir = fs::temp_directory_path() / fmt::format("siem-recovery-{}-{}-{}", ::getpid(), fail_from, recover_at);
  fs::remove_all(dir);
  int rc = -1;
  {
    StateStore state(dir / "state");
    DeadLetterWriter dead(dir / "dead.ndjson");
    auto source = std::make_unique<FlakySource>(fail_from, recover_at);
    auto* src = source.get();
    std::vector<SourceSlot> sources;
    sources.push_back(SourceSlot{"s", std::move(source)});
    std::vector<SinkSlot> sinks;
    SinkSlot slot;
    slot.name = "out";
    slot.sink = std::make_unique<NullSink>();
    slot.format = OutputFormat::raw;
    sinks.push_back(std::move(slot));
    PipelineOptions o;
    o.workers = 1;
    o.drain_timeout = 30s;
    o.source_retry_max = 10ms;  // the pause after a source error (bounded by it)
    std::vector<std::unique_ptr<Processor>> chain;
    chain.push_back(std::make_unique<PassProcessor>());
    Pipeline p(o, std::move(sources), std::move(sinks), std::move(chain), state, dead);
    std::stop_source stop;
    std::thread runner([&] { rc = p.run(stop.get_token()); });
    EXPECT_TRUE(test::wait_until([&] { return src->polls.load() >= polls; }, 30s)) << src->polls.load();
    stop.request_stop();
    runner.join();
  }
  fs::remove_all(dir);
  return rc;
}

TEST(SourceRecovery, ASourceThatFailedAndRecoveredEndsTheRunWithZero) {
  EXPECT_EQ(run_until_polled(/*fail_from=*/2, /*recover_at=*/4, /*polls=*/6), kExitOk);
}

TEST(SourceRecovery, ASourceStillFailingAtTheEndEndsTheRunWithTwo) {
  EXPECT_EQ(run_until_polled(/*fail_from=*/2, /*recover_at=*/0, /*polls=*/4), kExitUndelivered);
}

}  // namespace
}  // namespace siem
