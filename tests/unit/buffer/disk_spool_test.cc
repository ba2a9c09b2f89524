// A SinkRunner with a disk buffer: events are acknowledged to the pipeline once durable in the
// buffer (the sink may be down), delivered from it in order once the sink accepts them, and never
// acknowledged when they did not reach the buffer (a full buffer, or a disk full: ENOSPC).
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "connector/core/sink_runner.h"
#include "tests/unit/buffer/buffer_test_support.h"

namespace siem {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Answers `retry` (the peer is down) until `up`; records what it accepted.
class FlakySink : public Sink {
 public:
  std::atomic<bool> up{false};
  void start() override {}
  SendResult send(std::span<const EventPtr> batch) override {
    if (!up) return SendResult::retry_from(0, "503 busy");
    std::lock_guard l(mu_);
    for (const auto& e : batch) got_.push_back(std::string(e->id()) + "|" + e->ecs);
    return SendResult::success();
  }
  std::vector<std::string> got() {
    std::lock_guard l(mu_);
    return got_;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> got_;
};

// Polls `done` every 10 ms for at most 10 s.
bool eventually(const std::function<bool()>& done) {
  for (int i = 0; i < 1000; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return done();
}

class DiskSpoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::path(SIEM_BINARY_DIR) / "disk-spool-test" /
            fmt::format("{}-{}", ::testing::UnitTest::GetInstance()->current_test_info()->name(), ::getpid());
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(root_);
  }
  SinkRunnerOptions options(std::uint64_t max_size) const {
    SinkRunnerOptions o;
    o.batch_max_events = 8;
    o.batch_timeout = 5ms;
    o.initial_backoff = 5ms;
    o.max_backoff = 20ms;
    o.disk = true;
    o.disk_options.max_size = max_size;
    return o;
  }
  // Registers n events of one source with a checkpoint after them and enqueues them.
  void feed(SinkRunner& runner, AckTracker& acks, std::uint32_t source, int from, int to) {
    const auto first = acks.begin_batch(source, static_cast<std::size_t>(to - from), fmt::format("cp{}", to));
    for (int i = from; i < to; ++i) {
      auto e = std::make_shared<MappedEvent>();
      e->ack = AckHandle{source, first + static_cast<std::uint64_t>(i - from)};
      e->set_id(fmt::format("ev{:03}", i));
      e->ecs = fmt::format("{{\"n\":{}}}", i);
      e->raw = "{}";
      ASSERT_TRUE(runner.enqueue(std::move(e)));
    }
  }
  fs::path root_;
};

TEST_F(DiskSpoolTest, AcknowledgedOnceDurableWhileTheSinkIsDownThenDeliveredInOrder) {
  AckTracker acks(1);
  const auto source = acks.add_source();
  DeadLetterWriter dead(root_ / "dead.ndjson");
  auto sink = std::make_unique<FlakySink>();
  FlakySink& flaky = *sink;
  SinkRunner runner("hec", std::move(sink), OutputFormat::ecs, options(1 << 20), acks, dead, {},
                    DiskBuffer::open_for_sink(root_, "hec", options(1 << 20).disk_options));
  runner.start();
  feed(runner, acks, source, 0, 100);
  ASSERT_TRUE(eventually([&] { return acks.outstanding() == 0; })) << acks.outstanding();
  const auto ready = acks.take_ready();
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_EQ(ready[0].second, "cp100");  // the checkpoint moves with the sink down
  EXPECT_TRUE(flaky.got().empty());
  EXPECT_EQ(runner.buffered(), 100u);
  // The acknowledgement comes from the buffer's fsync, not from the sink: its first failed
  // delivery (and so the retry count) may come a moment later.
  EXPECT_TRUE(eventually([&] { return runner.counters().retried.load() > 0; }));
  EXPECT_TRUE(flaky.got().empty());

  flaky.up = true;
  ASSERT_TRUE(eventually([&] { return runner.buffered() == 0; })) << runner.buffered();
  std::vector<std::string> expected;
  for (int i = 0; i < 100; ++i) expected.push_back(fmt::format("ev{:03}|{{\"n\":{}}}", i, i));
  EXPECT_EQ(flaky.got(), expected);
  runner.close();
  runner.join();
}

TEST_F(DiskSpoolTest, EventsThatDidNotReachAFullBufferStayUnacknowledged) {
  AckTracker acks(1);
  const auto source = acks.add_source();
  DeadLetterWriter dead(root_ / "dead.ndjson");
  const auto o = options(4096);  // block when full; the sink stays down
  SinkRunner runner("hec", std::make_unique<FlakySink>(), OutputFormat::ecs, o, acks, dead, {},
                    DiskBuffer::open_for_sink(root_, "hec", o.disk_options));
  runner.start();
  feed(runner, acks, source, 0, 200);
  ASSERT_TRUE(eventually([&] { return runner.buffer_stats()->blocked; }));
  const auto buffered = runner.buffered();
  EXPECT_GT(buffered, 0u);
  EXPECT_LT(buffered, 200u);
  EXPECT_LE(runner.buffer_stats()->bytes, 4096u);
  runner.abort();  // shutting down with the buffer full
  runner.close();
  runner.join();
  EXPECT_EQ(acks.outstanding(), 200u - buffered);
  EXPECT_EQ(acks.watermark(source), buffered);  // the checkpoint covers only what is on disk
}

TEST_F(DiskSpoolTest, DiskFullHoldsTheCheckpointLogsOnceAndDeliversEverythingOnceSpaceIsBack) {
  AckTracker acks(1);
  const auto source = acks.add_source();
  DeadLetterWriter dead(root_ / "dead.ndjson");
  auto sink = std::make_unique<FlakySink>();
  FlakySink& flaky = *sink;
  flaky.up = true;
  auto ops = std::make_shared<testing::FailingFileOps>();
  ops->write_errno = ENOSPC;
  auto o = options(1 << 20);
  o.disk_options.file_ops = ops;
  testing::LogCapture log;
  SinkRunner runner("hec", std::move(sink), OutputFormat::ecs, o, acks, dead, {},
                    DiskBuffer::open_for_sink(root_, "hec", o.disk_options));
  runner.start();
  feed(runner, acks, source, 0, 20);
  ASSERT_TRUE(eventually([&] { return runner.buffer_stats()->io_errors >= 5; }));  // retried, still failing
  EXPECT_EQ(acks.outstanding(), 20u);
  EXPECT_EQ(acks.watermark(source), 0u);  // the checkpoint does not move past an event not on disk
  EXPECT_TRUE(acks.take_ready().empty());
  EXPECT_TRUE(flaky.got().empty());
  const auto text = log.text();
  const std::string line = "No space left on device";
  const auto first = text.find(line);
  ASSERT_NE(first, std::string::npos) << text;
  EXPECT_NE(text.find((root_ / "buffers" / "hec").string()), std::string::npos) << text;
  EXPECT_EQ(text.find(line, first + 1), std::string::npos) << "logged more than once:\n" << text;

  ops->write_errno = 0;  // space is back
  ASSERT_TRUE(eventually([&] { return acks.outstanding() == 0 && runner.buffered() == 0; })) << acks.outstanding();
  const auto ready = acks.take_ready();
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_EQ(ready[0].second, "cp20");
  std::vector<std::string> expected;
  for (int i = 0; i < 20; ++i) expected.push_back(fmt::format("ev{:03}|{{\"n\":{}}}", i, i));
  EXPECT_EQ(flaky.got(), expected);
  runner.close();
  runner.join();
}

}  // namespace
}  // namespace siem
