// The HEC sink against the HEC emulator over real HTTPS on 127.0.0.1 with a test CA: the pipeline's
// drain deadline (SinkRunner close() + abort()) interrupting ack waits, pauses, POSTs and ack polls.
#include "tests/component/splunk_hec/hec_fixture.h"

using namespace siem;
using namespace siem::hec_test;
using namespace std::chrono_literals;

// SIGTERM drain with an indexer that never acknowledges: when the drain deadline passes, the
// runner's abort() interrupts the ack wait (ack_timeout is 2 minutes here), the runner thread ends
// at once and nothing is acknowledged, so the checkpoint does not move (the events are read again
// on the next run) and nothing is dead-lettered.
TEST_F(Fixture, DrainDeadlineInterruptsAnAckWaitWithoutAcknowledging) {
  auto s = start_hec_losing_acks();
  s.ack_timeout = std::chrono::minutes(2);
  const auto dl_path = std::filesystem::temp_directory_path() / ("siem-hec-dl-" + std::to_string(::getpid()) + ".ndjson");
  std::filesystem::remove(dl_path);
  AckTracker acks(1);
  const auto src = acks.add_source();
  const std::uint64_t first_seq = acks.begin_batch(src, 5, std::string("cp"));
  DeadLetterWriter dl(dl_path);
  SinkRunnerOptions ro;
  ro.batch_max_events = 5;
  ro.batch_timeout = 5ms;
  SinkRunner runner("siem", std::make_unique<SplunkHecSink>(s), OutputFormat::ecs, ro, acks, dl, nullptr);
  auto events = make_events(5);
  for (std::size_t i = 0; i < events.size(); ++i) {
    auto e = std::make_shared<MappedEvent>(*events[i]);
    e->ack = AckHandle{src, first_seq + i};
    runner.enqueue(std::move(e));
  }
  runner.start();
  ASSERT_TRUE(hec->wait_for_events(5, 10s));
  ASSERT_TRUE(test::wait_until([&] { return hec->ack_polls() >= 1; }, 10s));
  const auto t0 = std::chrono::steady_clock::now();
  runner.close();
  runner.abort();  // the drain deadline passed
  runner.join();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s) << "the runner waited out ack_timeout";
  EXPECT_EQ(acks.outstanding(), 5u);
  EXPECT_TRUE(acks.take_ready().empty());
  EXPECT_EQ(dl.count(), 0u);
  std::filesystem::remove(dl_path);
}

// A runner fed with 5 events of one batch (sequence numbers of one source), started, for the drain
// tests: the pipeline's shutdown is close() + abort() (the drain deadline passed) + join().
struct DrainRun {
  std::filesystem::path dl_path = std::filesystem::temp_directory_path() /
                                  ("siem-hec-drain-" + std::to_string(::getpid()) + ".ndjson");
  AckTracker acks{1};
  std::unique_ptr<DeadLetterWriter> dl;
  std::unique_ptr<SinkRunner> runner;
  explicit DrainRun(const HecSinkSettings& s) {
    std::filesystem::remove(dl_path);
    dl = std::make_unique<DeadLetterWriter>(dl_path);
    const auto src = acks.add_source();
    const std::uint64_t first_seq = acks.begin_batch(src, 5, std::string("cp"));
    SinkRunnerOptions ro;
    ro.batch_max_events = 5;
    ro.batch_timeout = 5ms;
    runner = std::make_unique<SinkRunner>("siem", std::make_unique<SplunkHecSink>(s), OutputFormat::ecs, ro, acks, *dl,
                                          nullptr);
    auto events = make_events(5);
    for (std::size_t i = 0; i < events.size(); ++i) {
      auto e = std::make_shared<MappedEvent>(*events[i]);
      e->ack = AckHandle{src, first_seq + i};
      runner->enqueue(std::move(e));
    }
    runner->start();
  }
  ~DrainRun() {
    runner.reset();
    dl.reset();
    std::filesystem::remove(dl_path);
  }
  // The drain deadline passes now; returns how long the runner took to end.
  std::chrono::steady_clock::duration shut_down() {
    const auto t0 = std::chrono::steady_clock::now();
    runner->close();
    runner->abort();
    runner->join();
    return std::chrono::steady_clock::now() - t0;
  }
};

// The same drain with a long pause between ack polls (ack_poll_interval 60 s): interrupt() wakes
// the pause, so the runner ends at once instead of sleeping out the interval, and nothing is
// acknowledged.
TEST_F(Fixture, DrainDeadlineCutsThePauseBetweenAckPolls) {
  auto s = start_hec_losing_acks();
  s.ack_timeout = std::chrono::minutes(2);
  s.ack_poll_interval = std::chrono::seconds(60);
  DrainRun run(s);
  ASSERT_TRUE(hec->wait_for_events(5, 10s));  // stored and answered with ackIds: the sink now pauses
  ASSERT_TRUE(test::wait_until([&] { return server->requests_served() >= 2; }, 10s));  // health + the POST
  // No ack poll comes for ack_poll_interval (this also lets the sink enter its pause).
  EXPECT_FALSE(test::wait_until([&] { return hec->ack_polls() > 0; }, 300ms));
  EXPECT_LT(run.shut_down(), 10s) << "the runner slept out ack_poll_interval";
  EXPECT_EQ(hec->ack_polls(), 0u);
  EXPECT_EQ(run.acks.outstanding(), 5u);
  EXPECT_TRUE(run.acks.take_ready().empty());
  EXPECT_EQ(run.dl->count(), 0u);
}

// An HEC that accepts the POST and never answers: interrupt() (the drain deadline) cancels the
// request under way (request_timeout is 2 minutes here), the runner ends without resending, and
// nothing is acknowledged or dead-lettered.
TEST_F(Fixture, DrainDeadlineCancelsAPostUnderWay) {
  start_hec();
  server->add_fault(siem::httpd::Fault::slow("/services/collector/event", std::chrono::minutes(10)));
  auto s = settings();
  s.http.request_timeout = std::chrono::minutes(2);
  DrainRun run(s);
  // The POST has reached the HEC and is held there: the interrupt lands while it is under way.
  ASSERT_TRUE(test::wait_until([&] { return hec->requests_held() == 1; }, 10s));
  EXPECT_EQ(hec->events().size(), 0u);
  EXPECT_LT(run.shut_down(), 10s) << "the drain waited for the POST under way (request_timeout)";
  EXPECT_EQ(hec->events().size(), 0u);
  EXPECT_EQ(hec->requests_held(), 1u);  // still held by the HEC: the sink did not wait for it
  EXPECT_EQ(run.acks.outstanding(), 5u);
  EXPECT_TRUE(run.acks.take_ready().empty());
  EXPECT_EQ(run.dl->count(), 0u);
}

// The same with the ack poll held by the HEC (the data POST was answered with an ackId): the poll
// under way is cancelled, and the events stay unacknowledged.
TEST_F(Fixture, DrainDeadlineCancelsAnAckPollUnderWay) {
  hec::HecOptions o;
  o.ack_enabled = true;
  start_hec(o);
  server->add_fault(siem::httpd::Fault::slow("/services/collector/ack", std::chrono::minutes(10)));
  auto s = settings();
  s.ack = true;
  s.ack_timeout = std::chrono::minutes(5);
  s.ack_poll_interval = 10ms;
  s.http.request_timeout = std::chrono::minutes(2);
  DrainRun run(s);
  ASSERT_TRUE(hec->wait_for_events(5, 10s));
  // The ack poll has reached the HEC and is held there: the interrupt lands while it is under way.
  ASSERT_TRUE(test::wait_until([&] { return hec->requests_held() == 1; }, 10s));
  EXPECT_EQ(hec->ack_polls(), 0u);
  EXPECT_LT(run.shut_down(), 10s) << "the drain waited for the ack poll under way (request_timeout)";
  EXPECT_EQ(hec->requests_held(), 1u);  // still held by the HEC: the sink did not wait for it
  EXPECT_EQ(run.acks.outstanding(), 5u);
  EXPECT_TRUE(run.acks.take_ready().empty());
  EXPECT_EQ(run.dl->count(), 0u);
}
