#include "connector/core/sink_runner.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>

#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include "tests/support/wait.h"

namespace siem {
namespace {

// A scripted sink: returns the queued results in order, then ok; records what it was sent.
class ScriptedSink : public Sink {
 public:
  std::vector<SendResult> script;
  std::vector<std::vector<std::string>> calls;
  int starts = 0;
  bool fail_start = false;
  std::mutex mu;
  void start() override {
    std::lock_guard l(mu);
    ++starts;
    if (fail_start) throw SinkError("bad token");
  }
  SendResult send(std::span<const EventPtr> batch) override {
    std::lock_guard l(mu);
    std::vector<std::string> ids;
    for (const auto& e : batch) ids.emplace_back(e->id());
    calls.push_back(ids);
    if (script.empty()) return SendResult::success();
    auto r = script.front();
    script.erase(script.begin());
    return r;
  }
};

// Captures what the runner logs, per level, while it is installed as the default logger.
class CapturedLog {
 public:
  CapturedLog() : sink_(std::make_shared<Sink>()), previous_(spdlog::default_logger()) {
    auto logger = std::make_shared<spdlog::logger>("capture", sink_);
    logger->set_level(spdlog::level::trace);
    spdlog::set_default_logger(logger);
  }
  ~CapturedLog() { spdlog::set_default_logger(previous_); }
  std::vector<std::string> at(spdlog::level::level_enum level) {
    std::lock_guard l(sink_->lines_mu);
    std::vector<std::string> out;
    for (const auto& [lvl, text] : sink_->lines)
      if (lvl == level) out.push_back(text);
    return out;
  }

 private:
  struct Sink : spdlog::sinks::base_sink<std::mutex> {
    std::mutex lines_mu;
    std::vector<std::pair<spdlog::level::level_enum, std::string>> lines;
    void sink_it_(const spdlog::details::log_msg& msg) override {
      std::lock_guard l(lines_mu);
      lines.emplace_back(msg.level, std::string(msg.payload.data(), msg.payload.size()));
    }
    void flush_() override {}
  };
  std::shared_ptr<Sink> sink_;
  std::shared_ptr<spdlog::logger> previous_;
};

EventPtr event(std::uint64_t seq) {
  auto e = std::make_shared<MappedEvent>();
  e->ack = AckHandle{0, seq};
  e->set_id("e" + std::to_string(seq));
  e->ecs = "{}";
  e->raw = "{\"id\":\"" + std::string(e->id()) + "\"}";
  return e;
}

// The tests that assert on the batches a sink was sent queue their events before start(): the
// runner takes a batch after lingering `batch_timeout` (5 ms here), and a test thread preempted
// between two enqueues on a loaded machine would otherwise split the batch.
class SinkRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dl_path_ = std::filesystem::temp_directory_path() / ("siem-dl-" + std::to_string(::getpid()) + ".ndjson");
    std::filesystem::remove(dl_path_);
  }
  void TearDown() override { std::filesystem::remove(dl_path_); }
  SinkRunnerOptions fast() {
    SinkRunnerOptions o;
    o.batch_max_events = 10;
    o.batch_timeout = std::chrono::milliseconds(5);
    o.initial_backoff = std::chrono::milliseconds(1);
    o.max_backoff = std::chrono::milliseconds(5);
    return o;
  }
  std::filesystem::path dl_path_;
};

TEST_F(SinkRunnerTest, RetriesFromTheFirstUndeliveredEvent) {
  AckTracker acks(1);
  const auto s = acks.add_source();
  acks.begin_batch(s, 5, std::string("cp"));
  DeadLetterWriter dl(dl_path_);
  auto sink = std::make_unique<ScriptedSink>();
  auto* raw = sink.get();
  raw->script.push_back(SendResult::retry_from(2, "503 busy"));
  SinkRunner runner("test", std::move(sink), OutputFormat::ecs, fast(), acks, dl, nullptr);
  for (std::uint64_t i = 0; i < 5; ++i) runner.enqueue(event(i));  // queued first: one batch of 5
  runner.start();
  runner.close();
  runner.join();
  ASSERT_EQ(raw->calls.size(), 2u);
  EXPECT_EQ(raw->calls[0].size(), 5u);
  EXPECT_EQ(raw->calls[1], (std::vector<std::string>{"e2", "e3", "e4"}));
  EXPECT_EQ(acks.outstanding(), 0u);
  EXPECT_EQ(runner.counters().retried.load(), 1u);
  EXPECT_EQ(runner.counters().acked.load(), 5u);
}

TEST_F(SinkRunnerTest, RejectedEventsAreDeadLetteredAndNotResent) {
  AckTracker acks(1);
  const auto s = acks.add_source();
  acks.begin_batch(s, 3, std::string("cp"));
  DeadLetterWriter dl(dl_path_);
  auto sink = std::make_unique<ScriptedSink>();
  auto* raw = sink.get();
  SendResult r = SendResult::retry_from(1, "invalid event 1");
  r.rejected.push_back(Rejection{1, "Invalid data format (code 6)"});
  raw->script.push_back(r);
  SinkRunner runner("hec", std::move(sink), OutputFormat::ecs, fast(), acks, dl, nullptr);
  for (std::uint64_t i = 0; i < 3; ++i) runner.enqueue(event(i));  // queued first: one batch of 3
  runner.start();
  runner.close();
  runner.join();
  ASSERT_EQ(raw->calls.size(), 2u);
  EXPECT_EQ(raw->calls[1], (std::vector<std::string>{"e2"}));
  EXPECT_EQ(acks.outstanding(), 0u);
  EXPECT_EQ(dl.count(), 1u);
  std::ifstream in(dl_path_);
  std::string line;
  std::getline(in, line);
  EXPECT_NE(line.find("Invalid data format"), std::string::npos);
  EXPECT_NE(line.find("sink:hec"), std::string::npos);
  EXPECT_NE(line.find("e1"), std::string::npos);
}

// A refused event counts as done only once its dead letter is durable: while the dead-letter file
// cannot be written (/dev/full: every write fails with ENOSPC), the whole batch is held and resent.
TEST_F(SinkRunnerTest, RefusedEventsAreHeldWhileTheDeadLetterFileCannotBeWritten) {
  AckTracker acks(1);
  const auto s = acks.add_source();
  acks.begin_batch(s, 3, std::string("cp"));
  DeadLetterWriter dl("/dev/full");
  auto sink = std::make_unique<ScriptedSink>();
  auto* raw = sink.get();
  for (int i = 0; i < 1000; ++i) {
    SendResult r = SendResult::success();
    r.rejected.push_back(Rejection{1, "Incorrect index (code 7)"});
    raw->script.push_back(r);
  }
  SinkRunner runner("hec", std::move(sink), OutputFormat::ecs, fast(), acks, dl, nullptr);
  for (std::uint64_t i = 0; i < 3; ++i) runner.enqueue(event(i));  // queued first: one batch of 3
  runner.start();
  ASSERT_TRUE(test::wait_until([&] {
    std::lock_guard l(raw->mu);
    return raw->calls.size() >= 3;
  }, std::chrono::seconds(10)));
  runner.abort();
  runner.close();
  runner.join();
  EXPECT_EQ(acks.outstanding(), 3u);  // nothing acknowledged, the delivered ones neither
  EXPECT_TRUE(acks.take_ready().empty());
  std::lock_guard l(raw->mu);
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(raw->calls[i], (std::vector<std::string>{"e0", "e1", "e2"})) << i;
  EXPECT_EQ(runner.counters().acked.load(), 0u);
}

TEST_F(SinkRunnerTest, FatalHoldsEventsAndReportsUntilTheSinkRecovers) {
  AckTracker acks(1);
  const auto s = acks.add_source();
  acks.begin_batch(s, 2, std::string("cp"));
  DeadLetterWriter dl(dl_path_);
  auto sink = std::make_unique<ScriptedSink>();
  auto* raw = sink.get();
  raw->script.push_back(SendResult::fatal_error("401 invalid token"));
  raw->script.push_back(SendResult::fatal_error("401 invalid token"));
  std::atomic<int> fatals{0};
  SinkRunner runner("hec", std::move(sink), OutputFormat::ecs, fast(), acks, dl, [&](const std::string& msg) {
    EXPECT_NE(msg.find("sink hec"), std::string::npos);
    ++fatals;
  });
  for (std::uint64_t i = 0; i < 2; ++i) runner.enqueue(event(i));  // queued first: one batch of 2
  runner.start();
  runner.close();
  runner.join();
  EXPECT_EQ(fatals.load(), 2);
  EXPECT_EQ(raw->calls.size(), 3u);  // two fatal attempts, then delivered
  EXPECT_GE(raw->starts, 3);         // restarted after each fatal result
  EXPECT_EQ(acks.outstanding(), 0u);
  EXPECT_EQ(dl.count(), 0u);         // held, never dropped or dead-lettered
}

TEST_F(SinkRunnerTest, StartFailureIsLoggedOnceThenAtASlowCadence) {
  CapturedLog log;
  AckTracker acks(1);
  acks.add_source();
  DeadLetterWriter dl(dl_path_);
  auto sink = std::make_unique<ScriptedSink>();
  auto* raw = sink.get();
  raw->fail_start = true;
  auto opts = fast();
  opts.initial_backoff = std::chrono::milliseconds(1);
  opts.max_backoff = std::chrono::milliseconds(2);
  opts.repeat_log_interval = std::chrono::milliseconds(400);
  std::atomic<int> fatals{0};
  SinkRunner runner("hec", std::move(sink), OutputFormat::ecs, opts, acks, dl, [&](const std::string&) { ++fatals; });
  const auto started = std::chrono::steady_clock::now();
  runner.start();
  // Many attempts, and until the repeat interval has passed, one error line.
  ASSERT_TRUE(test::wait_until([&] { return fatals.load() >= 20; }, std::chrono::seconds(10)))
      << "the runner stopped retrying start()";
  auto errors = log.at(spdlog::level::err);
  ASSERT_GE(errors.size(), 1u);
  EXPECT_NE(errors[0].find("sink hec: bad token"), std::string::npos) << errors[0];
  EXPECT_NE(errors[0].find("retrying"), std::string::npos) << errors[0];
  EXPECT_GE(log.at(spdlog::level::debug).size(), 10u);  // every attempt stays visible at debug level
  // After the interval, the still-failing sink is reported again, with the count in between.
  ASSERT_TRUE(test::wait_until([&] { return log.at(spdlog::level::err).size() >= 2; }, std::chrono::seconds(10)));
  runner.abort();
  runner.close();
  runner.join();
  const auto elapsed = std::chrono::steady_clock::now() - started;
  errors = log.at(spdlog::level::err);
  // One line per started 400 ms interval (however slow the machine), not one per attempt.
  const auto intervals = static_cast<std::size_t>(elapsed / opts.repeat_log_interval) + 1;
  EXPECT_LE(errors.size(), intervals) << "after " << std::chrono::duration<double>(elapsed).count() << " s";
  EXPECT_LT(errors.size() * 5, static_cast<std::size_t>(fatals.load()));
  EXPECT_NE(errors[1].find("still failing"), std::string::npos) << errors[1];
  EXPECT_EQ(runner.counters().failed.load(), static_cast<std::uint64_t>(fatals.load()));
}

// A sink whose start fails only after the pipeline closed its queue with nothing in it (its thread
// ran late): no event is owed, so the runner stops retrying and its thread ends without an abort.
// With events queued it keeps retrying: they are owed.
TEST_F(SinkRunnerTest, StartFailingAfterAnEmptyCloseEndsButQueuedEventsKeepItRetrying) {
  AckTracker acks(1);
  const auto s = acks.add_source();
  DeadLetterWriter dl(dl_path_);
  auto opts = fast();
  opts.initial_backoff = std::chrono::milliseconds(60'000);  // a sleeping retry must be woken, not waited out
  opts.max_backoff = std::chrono::milliseconds(60'000);
  {
    auto sink = std::make_unique<ScriptedSink>();
    sink->fail_start = true;
    SinkRunner runner("idle", std::move(sink), OutputFormat::ecs, opts, acks, dl, nullptr);
    runner.close();  // before the thread's first start attempt
    runner.start();
    auto joined = std::async(std::launch::async, [&] { runner.join(); });
    EXPECT_EQ(joined.wait_for(std::chrono::seconds(30)), std::future_status::ready) << "retried start with nothing owed";
    runner.abort();
    joined.wait();
    EXPECT_GE(runner.counters().failed.load(), 1u);  // tried once, and the failure shows
  }
  {
    acks.begin_batch(s, 1, std::string("cp"));
    auto sink = std::make_unique<ScriptedSink>();
    auto* raw = sink.get();
    raw->fail_start = true;
    std::atomic<int> fatals{0};
    opts.initial_backoff = std::chrono::milliseconds(1);
    opts.max_backoff = std::chrono::milliseconds(2);
    SinkRunner runner("owed", std::move(sink), OutputFormat::ecs, opts, acks, dl, [&](const std::string&) { ++fatals; });
    runner.enqueue(event(0));
    runner.close();
    runner.start();
    ASSERT_TRUE(test::wait_until([&] { return fatals.load() >= 5; }, std::chrono::seconds(30)))
        << "stopped retrying start with an event owed";
    {
      std::lock_guard l(raw->mu);
      raw->fail_start = false;
    }
    ASSERT_TRUE(test::wait_until([&] { return runner.counters().acked.load() == 1; }, std::chrono::seconds(30)));
    runner.join();
    EXPECT_EQ(acks.outstanding(), 0u);
  }
}

TEST_F(SinkRunnerTest, QueueChargesTheWholeEventFootprintAndBlocksAtTheBound) {
  AckTracker acks(1);
  const auto s = acks.add_source();
  acks.begin_batch(s, 100, std::string("cp"));
  DeadLetterWriter dl(dl_path_);
  auto sink = std::make_unique<ScriptedSink>();
  for (int i = 0; i < 10'000; ++i) sink->script.push_back(SendResult::retry_from(0, "peer down"));
  auto opts = fast();
  opts.queue_events = 1'000;
  opts.queue_bytes = 64 * 1024;
  opts.batch_max_events = 1;
  opts.initial_backoff = std::chrono::milliseconds(50);
  opts.max_backoff = std::chrono::milliseconds(50);
  SinkRunner runner("slow", std::move(sink), OutputFormat::cef, opts, acks, dl, nullptr);
  runner.start();
  auto big = [](std::uint64_t seq) {
    auto e = std::make_shared<MappedEvent>();
    e->ack = AckHandle{0, seq};
    e->set_id("e" + std::to_string(seq));
    e->raw = std::string(4000, 'r');
    e->ecs = std::string(4000, 'j');
    e->cef = "CEF:0|x";  // the sink's own payload is tiny; the event is not
    return e;
  };
  EXPECT_GE(SinkRunner::footprint(*big(0)), 8000u);
  std::atomic<int> pushed{0};
  std::thread producer([&] {
    for (std::uint64_t i = 0; i < 100; ++i) {
      if (!runner.enqueue(big(i))) return;
      ++pushed;
    }
  });
  // The sink never takes a batch beyond the first (always "peer down"), so once the queue holds
  // as many bytes as the next event would overflow, the producer stays blocked: the count is final.
  const std::size_t one = SinkRunner::footprint(*big(0));
  ASSERT_TRUE(test::wait_until([&] { return runner.queued_bytes() + one > opts.queue_bytes; }, std::chrono::seconds(10)))
      << runner.queued_bytes();
  // 64 KiB / ~8 KiB per event: the producer is blocked after a handful (+1 batch in flight).
  EXPECT_LE(pushed.load(), 10);
  EXPECT_GE(pushed.load(), 5);
  EXPECT_LE(runner.queued_bytes(), opts.queue_bytes);
  runner.abort();
  runner.close();
  producer.join();
  runner.join();
  EXPECT_EQ(acks.outstanding(), 100u);  // held, not acknowledged, not dropped
}

TEST_F(SinkRunnerTest, AbortLeavesEventsUnacknowledged) {
  AckTracker acks(1);
  const auto s = acks.add_source();
  acks.begin_batch(s, 1, std::string("cp"));
  DeadLetterWriter dl(dl_path_);
  auto sink = std::make_unique<ScriptedSink>();
  auto* raw = sink.get();
  for (int i = 0; i < 1000; ++i) sink->script.push_back(SendResult::retry_from(0, "down"));
  auto opts = fast();
  opts.initial_backoff = std::chrono::milliseconds(20);
  SinkRunner runner("down", std::move(sink), OutputFormat::ecs, opts, acks, dl, nullptr);
  runner.start();
  runner.enqueue(event(0));
  ASSERT_TRUE(test::wait_until([&] {
    std::lock_guard l(raw->mu);
    return raw->calls.size() >= 3;
  }, std::chrono::seconds(10)));  // retried a few times
  runner.abort();
  runner.close();
  runner.join();
  EXPECT_EQ(acks.outstanding(), 1u);
  EXPECT_TRUE(acks.take_ready().empty());
}

}  // namespace
}  // namespace siem
