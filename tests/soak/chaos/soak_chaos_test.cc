// Chaos soak: the real `siem-connector` binary under a storm of faults at once, checked by reading
// what every peer actually received.
//
// Sources: a file source (NDJSON appended to while the connector runs) and a Graph directory-audits
// source against the Graph emulator served in-process over HTTPS (paging, injected 429 with
// Retry-After and 503, records arriving late inside the lookback). Sinks, every one getting every
// record: Splunk HEC (the HEC emulator, indexer acks on, random 503 bursts, stalled responses and
// slow acks, a dead phase), syslog TCP into a real rsyslogd (stopped and restarted), Kafka
// (librdkafka's mock cluster: a broker down, all brokers down, partition leader changes).
// The connector is SIGKILLed at random moments and restarted, and once stopped with SIGTERM while
// it drains. An independent checker then reads rsyslog's output file, the HEC emulator's store and
// the topic (kcat) and reports per sink delivered/expected, duplicates and every missing id.
// Resources of the connector are sampled every second from /proc: RSS under a ceiling (also while
// a sink is dead), open file descriptors back to their start count after reconnect storms, no
// thread growth.
//
// Parameters (environment; defaults are the short form that runs in CI, scripts/soak.sh --long
// sets the release form): SIEM_SOAK_SEED, SIEM_SOAK_FILE_RECORDS, SIEM_SOAK_GRAPH_RECORDS,
// SIEM_SOAK_WRITE_SECONDS, SIEM_SOAK_KILLS, SIEM_SOAK_DEAD_SECONDS, SIEM_SOAK_RSS_CEILING_MB,
// SIEM_SOAK_DRAIN_SECONDS (bound of the final catch-up), SIEM_SOAK_HEC_BUFFER_MB (max_size of HEC's
// disk buffer). docs/testing.md describes the soak and keeps its figures.
#include "tests/soak/chaos/soak_fixture.h"

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <string>

#include <fmt/format.h>

namespace siem::soak {
namespace {

using siem::test::eventually;
using siem::test::proc_stats;

TEST_F(Soak, ChaosLosesNothing) {
  start_run();
  if (HasFatalFailure()) return;
  ASSERT_TRUE(all_sinks_reach(1, 60s)) << "nothing delivered to some sink\n" << err_tail();

  // ---- phase 1: SIGKILL at random moments, peer faults in between -------------------------------
  for (int k = 0; k < kills_; ++k) {
    const auto until = Clock::now() + std::chrono::milliseconds(uniform(2000, 6000));
    for (int f = 0; f < 20 && Clock::now() < until; ++f) {
      if (uniform(0, 1) == 0) random_fault();
      std::this_thread::sleep_for(std::chrono::milliseconds(uniform(200, 1000)));
    }
    ASSERT_TRUE(connector_->running()) << "the connector exited on its own\n" << err_tail();
    if (k == 0 && disk_buffered("hec-out")) {  // the first kill tears HEC's buffer tail
      kill_and_tear_hec_buffer();
      if (HasFatalFailure()) return;
      continue;
    }
    connector_->signal(SIGKILL);
    EXPECT_EQ(connector_->wait(10s), 128 + SIGKILL);
    ++sigkills_;
    note(fmt::format("connector SIGKILLed ({} of {}), {} records written so far", sigkills_, kills_, written()));
    start_connector();
    if (HasFatalFailure()) return;
  }

  // ---- phase 2: SIGTERM while draining --------------------------------------------------------------
  // HEC refuses everything for 2 s, so a backlog builds up behind it; then its next requests stall
  // and acks are slow, and SIGTERM arrives: the connector must deliver the backlog within
  // drain_timeout (20 s) or give up on it (exit 2, read again at the next start), never hang.
  hec_->fail_busy(1'000'000'000);
  std::this_thread::sleep_for(std::chrono::milliseconds(uniform(2000, 3000)));
  hec_->fail_busy(0);
  // SIGTERM only comes once HEC took events again, so that the slow requests below are a drain in
  // progress. Two things can hold events back after the restarts above: the drain does not wait for
  // a sink whose last delivery failed (docs/architecture.md, "Shutdown"), and the file source waits
  // at start-up for the Graph source to catch up (start-up order; no longer once that one is in
  // error backoff, e.g. from 503s, but a 429 Retry-After is throttling, not an error), at most
  // PipelineOptions::state_warmup_max (120 s); the bound covers both.
  const auto hec_recovering = hec_count();
  ASSERT_TRUE(eventually([&] { return hec_count() > hec_recovering; }, 130s, 50ms))
      << "HEC received nothing after it stopped refusing\n" << err_tail();
  hec_server_->add_fault(siem::httpd::Fault::slow("/services/collector/event", 1500ms, 2));
  hec_->set_slow_acks(1000ms, 2);
  faults_ += 2;
  std::this_thread::sleep_for(300ms);
  ASSERT_TRUE(connector_->running()) << err_tail();
  const auto hec_at_term = hec_count();
  const auto term_at = Clock::now();
  connector_->signal(SIGTERM);
  const int term_status = connector_->wait(40s);
  const double term_seconds = std::chrono::duration<double>(Clock::now() - term_at).count();
  ++sigterms_;
  note(fmt::format("connector SIGTERMed mid-drain: exit {} after {:.1f} s, HEC received {} event(s) during the drain",
                   term_status, term_seconds, hec_count() - hec_at_term));
  EXPECT_TRUE(term_status == 0 || term_status == 2) << "SIGTERM: exit " << term_status << "\n" << err_tail();
  EXPECT_LT(term_seconds, 35.0) << "the drain overran drain_timeout";
  // Whether HEC still had events in flight at SIGTERM depends on timing (the disk buffer may hold
  // the rest for the next start, which is also correct): the run says which it was, and the
  // checks that matter hold either way (exit 0 or 2 within drain_timeout above; every record
  // delivered at the end).
  if (hec_count() == hec_at_term) note("SIGTERM found nothing in flight to HEC this time (the drain had nothing to wait for)");
  hec_->set_slow_acks(0ms, 0);
  start_connector();
  if (HasFatalFailure()) return;

  // ---- phase 3: one process through a dead sink and reconnect storms: RSS, fds, threads -----------
  // Steady state first: this process delivers to every sink (its connections are all open).
  const auto h0 = hec_count(), s0 = syslog_count();
  const auto k0 = kafka_count();
  ASSERT_TRUE(eventually([&] { return (hec_count() > h0 && syslog_count() > s0 && kafka_count() > k0) || writers_done_; },
                         60s, 250ms))
      << err_tail();
  siem::test::ProcStats baseline;
  for (int i = 0; i < 5; ++i) {  // start counts: the largest of five samples in steady state
    const auto s = proc_stats(pid_.load());
    baseline.fds = std::max(baseline.fds, s.fds);
    baseline.threads = std::max(baseline.threads, s.threads);
    std::this_thread::sleep_for(400ms);
  }
  ASSERT_GT(baseline.fds, 0u) << err_tail();
  note(fmt::format("baseline: {} fds, {} threads", baseline.fds, baseline.threads));

  // The HEC sink is dead (every request refused) for dead_seconds_ under the steady load. Sampled
  // every second: the segment bytes of HEC's disk buffer, and (by the sampler) the connector's RSS;
  // every minute (a quarter of a phase shorter than two minutes) the other sinks' counts.
  const fs::path hec_buffer = dir_ / "state" / "buffers" / "hec-out";
  dead_started_ = Clock::now();
  dead_phase_ = true;
  hec_->fail_busy(1'000'000'000);
  ++faults_;
  note(fmt::format("hec: dead for {} s", dead_seconds_));
  const auto dead_until = Clock::now() + std::chrono::seconds(dead_seconds_);
  std::this_thread::sleep_for(1s);  // a request already past the fault hook may still store
  const auto hec_before = hec_count();
  hec_dead_from_ = hec_before;
  const auto syslog_before = syslog_count();
  const auto kafka_before = kafka_count();
  const int check_every = dead_seconds_ >= 120 ? 60 : std::max(1, dead_seconds_ / 4);
  struct Mark {
    double seconds;  // since the sampling started
    std::size_t syslog;
    std::int64_t kafka;
    std::uint64_t buffer;
  };
  const auto sampled_from = Clock::now();
  const auto since = [&] { return std::chrono::duration<double>(Clock::now() - sampled_from).count(); };
  const auto mark = [&] { return Mark{since(), syslog_count(), kafka_count(), siem::soak::segment_bytes(hec_buffer)}; };
  std::vector<Mark> marks{{0.0, syslog_before, kafka_before, siem::soak::segment_bytes(hec_buffer)}};
  buffer_first_ = buffer_peak_ = marks.front().buffer;
  for (int i = 1; i <= 2 * dead_seconds_ + 2 && Clock::now() < dead_until; ++i) {
    std::this_thread::sleep_until(std::min(dead_until, sampled_from + i * 1s));
    buffer_peak_ = std::max(buffer_peak_, siem::soak::segment_bytes(hec_buffer));
    if (i % check_every == 0) marks.push_back(mark());
  }
  // The rest of the phase is an interval of its own when it is at least half a one long.
  if (since() - marks.back().seconds >= check_every / 2.0) marks.push_back(mark());
  buffer_last_ = siem::soak::segment_bytes(hec_buffer);
  buffer_peak_ = std::max(buffer_peak_, buffer_last_);
  EXPECT_EQ(hec_count(), hec_before) << "the dead HEC stored events";
  std::string per_interval;
  bool every_interval_rose = true, buffer_grew = true;
  for (std::size_t m = 1; m < marks.size(); ++m) {
    per_interval += fmt::format("\n[soak]   {:.0f}-{:.0f} s: syslog +{}, kafka +{}, hec buffer {:.1f} MiB",
                                marks[m - 1].seconds, marks[m].seconds, marks[m].syslog - marks[m - 1].syslog,
                                marks[m].kafka - marks[m - 1].kafka, marks[m].buffer / 1048576.0);
    every_interval_rose = every_interval_rose && marks[m].syslog > marks[m - 1].syslog && marks[m].kafka > marks[m - 1].kafka;
    buffer_grew = buffer_grew && marks[m].buffer > marks[m - 1].buffer;
  }
  note(fmt::format("during the dead phase, every {} s:{}", check_every, per_interval));
  if (disk_buffered("hec-out")) {
    if (dead_seconds_ >= 120) {
      // The long form: the other sinks received in every minute of the outage, and the buffer grew.
      EXPECT_TRUE(every_interval_rose) << "syslog or kafka stalled in some minute of HEC's outage:" << per_interval;
      EXPECT_TRUE(buffer_grew) << "HEC's disk buffer did not grow in some minute of its outage:" << per_interval;
    }
    // The other sinks keep receiving while the dead one buffers, and its buffer grows. HEC stays
    // dead until they have (bounded), for a phase too short to show it by itself: a connector
    // restarted just before it starts its file source once the Graph source caught up.
    EXPECT_TRUE(eventually(
        [&] {
          buffer_last_ = siem::soak::segment_bytes(hec_buffer);
          buffer_peak_ = std::max(buffer_peak_, buffer_last_);
          return syslog_count() > syslog_before && kafka_count() > kafka_before && buffer_last_ > buffer_first_;
        },
        90s, 250ms))
        << "syslog or kafka stalled behind the dead HEC sink, or its buffer did not grow: syslog +"
        << syslog_count() - syslog_before << ", kafka +" << kafka_count() - kafka_before << ", buffer " << buffer_first_
        << " -> " << buffer_last_ << " byte(s)";
    EXPECT_LE(buffer_peak_, hec_buffer_max_bytes()) << "HEC's disk buffer went over its max_size";
    EXPECT_EQ(hec_count(), hec_before) << "the dead HEC stored events";
  }
  note(fmt::format("during the dead phase: syslog +{}, kafka +{}", syslog_count() - syslog_before,
                   kafka_count() - kafka_before));
  hec_->fail_busy(0);
  dead_phase_ = false;
  note("hec: back");

  // Reconnect storm: every peer connection broken, several times.
  for (int round = 0; round < 3; ++round) {
    rsyslog_->stop();
    std::this_thread::sleep_for(300ms);
    rsyslog_->start();
    ++rsyslog_restarts_;
    hec_->drop_connections(3);
    for (int b = 1; b <= 3; ++b) rd_kafka_mock_broker_set_down(kafka_->get(), b);
    std::this_thread::sleep_for(1500ms);
    for (int b = 1; b <= 3; ++b) rd_kafka_mock_broker_set_up(kafka_->get(), b);
    ++kafka_outages_;
    // (No leader moves here: the producer keeps connections to the leaders it needs, so moving
    // them would change the fd count for a reason other than a leak. Phase 1 moves leaders.)
    faults_ += 3;
    note(fmt::format("reconnect storm round {}: rsyslog restarted, 3 HEC connections dropped, all brokers down 1.5 s",
                     round + 1));
    std::this_thread::sleep_for(std::chrono::milliseconds(uniform(500, 1500)));
  }
  // Recovered: everything written by now arrives, then fds and threads return to their start counts.
  // (Not fatal when it fails: the checker below still reports what each peer lacks.)
  const std::size_t target = written();
  const bool caught_up = all_sinks_reach(target, std::chrono::seconds(drain_seconds_));
  EXPECT_TRUE(caught_up) << "after the storms: hec " << hec_count() << " syslog " << syslog_count() << " kafka "
                         << kafka_count() << " of " << target << "\n"
                         << err_tail();
  ASSERT_TRUE(connector_->running()) << err_tail();
  siem::test::ProcStats after;
  // librdkafka may come back from "all brokers down" holding a connection to one broker more than
  // before (a bootstrap connection next to the leaders'), seen once under a loaded CI run. A leak
  // per reconnect grows by at least 9 over the three rounds (3 HEC drops, 1 rsyslog restart and
  // 1 Kafka outage each), far above this slack.
  constexpr std::size_t kFdSlack = 2;
  if (caught_up) {
    const bool fds_back = eventually(
        [&] {
          after = proc_stats(pid_.load());
          return after.fds <= baseline.fds + kFdSlack && after.threads <= baseline.threads;
        },
        30s, 500ms);
    note(fmt::format("after the storms: {} fds, {} threads", after.fds, after.threads));
    EXPECT_TRUE(fds_back) << "fds " << baseline.fds << " -> " << after.fds << ", threads " << baseline.threads << " -> "
                          << after.threads << "\n"
                          << "ls -l /proc/" << pid_.load() << "/fd:\n"
                          << siem::testing::run_command("ls -l /proc/" + std::to_string(pid_.load()) + "/fd 2>&1");
  }

  // ---- phase 4: the rest of the load, then everything must be there -----------------------------
  ASSERT_TRUE(eventually([&] { return writers_done_.load(); }, std::chrono::seconds(write_seconds_ + 60), 250ms));
  // (Once a catch-up failed, records are known to be missing: a short final wait is enough.)
  const bool done = eventually([&] { return complete(); }, std::chrono::seconds(caught_up ? drain_seconds_ : 15), 2000ms);
  connector_->signal(SIGTERM);
  const int final_status = connector_->wait(40s);
  ++sigterms_;
  stop_sampler();
  EXPECT_TRUE(done) << "not everything arrived within " << drain_seconds_ << " s";
  EXPECT_EQ(final_status, 0) << err_tail();

  // ---- the checker's report -----------------------------------------------------------------------
  const auto received = received_ids();
  const auto report = check(received);
  const std::size_t expected = written();
  // Documented bound (docs/testing.md): a restart re-sends at most the in-flight window, a peer fault
  // at most the batches in flight when it struck.
  // One poll batch per source is queued as a single entry whatever its size: a Graph page, and for
  // the file source one read of 4 MiB (FileSourceOptions::read_chunk) worth of records.
  const std::size_t file_read_records = (4u << 20) / (audit_record(file_id(0), "2026-03-04T10:15:30Z").dump().size() + 1) + 1;
  const std::size_t window = kQueueEvents + kSinkBufferEvents + 2 * kBatchEvents + kGraphPageSize + file_read_records;
  const std::size_t restarts = static_cast<std::size_t>(sigkills_ + sigterms_);
  const std::size_t peer_faults = static_cast<std::size_t>(faults_);
  const std::size_t dup_bound = restarts * window + peer_faults * kBatchEvents;
  // And per record: each restart and each peer fault may send it once more, nothing else may.
  const int copies_bound = 1 + static_cast<int>(restarts + peer_faults);
  std::cout << "[soak] ---------------------------------------------------------------- figures\n"
            << fmt::format("[soak] seed {}  records {} ({} file, {} graph)  connector starts {}  SIGKILL {}  SIGTERM {}  "
                           "peer faults {} (rsyslog restarts {}, kafka outages {}, leader changes {})\n",
                           seed_, expected, files_written_.load(), graph_written_.load(), starts_, sigkills_, sigterms_,
                           faults_, rsyslog_restarts_, kafka_outages_, leader_changes_);
  for (const auto& sink : kSinks) {
    const auto& r = report.at(sink);
    std::cout << fmt::format("[soak] {:<11} delivered {}/{}  duplicates {} (bound {}), at most {} copies of one record "
                             "(bound {})  dead-lettered {}  missing {}  unexpected {}\n",
                             sink, r.counts.size(), expected, r.duplicates, dup_bound, r.max_copies, copies_bound,
                             r.dead_lettered, r.missing.size(), r.unexpected.size());
    for (const auto& id : r.missing)
      std::cout << "[soak]   missing " << sink << " " << id << (may_be_torn(sink, id) ? " (the torn record)" : "") << "\n";
    for (std::size_t i = 0; i < r.unexpected.size() && i < 20; ++i)
      std::cout << "[soak]   unexpected " << sink << " " << r.unexpected[i] << "\n";
  }
  for (const auto& id : torn_ids_)
    std::cout << fmt::format("[soak] torn HEC buffer tail: {} {}\n", id,
                             report.at("hec-out").counts.count(id) ? "delivered (its source read it again)"
                                                                   : "lost after its checkpoint, reported in the log");
  {
    std::lock_guard lock(figures_mu_);
    std::cout << fmt::format("[soak] RSS peak {:.1f} MiB (dead-sink phase {:.1f} MiB, ceiling {} MiB) over {} samples\n",
                             figures_.peak_rss_kb / 1024.0, figures_.peak_rss_dead_phase_kb / 1024.0,
                             rss_ceiling_kb_ / 1024, figures_.samples)
              << fmt::format("[soak] fds start {} after storms {} peak {}; threads start {} after storms {} peak {}\n",
                             baseline.fds, after.fds, figures_.peak_fds, baseline.threads, after.threads,
                             figures_.peak_threads)
              << fmt::format("[soak] wall time {:.0f} s", std::chrono::duration<double>(Clock::now() - t0_).count())
              << std::endl;
    EXPECT_FALSE(rss_over_ceiling_.load()) << "RSS went over the ceiling";
    EXPECT_GT(figures_.peak_rss_dead_phase_kb, 0u) << "no RSS sample during the dead-sink phase";
    // Flat RSS while HEC is dead: the events go to its disk buffer, not to memory. The trend over
    // the phase (least squares over the 1 s samples) must not add up to more than 12 MiB; a buffer
    // held in memory would grow by the buffer's size (56 MiB in the long form).
    const auto& rss = figures_.dead_phase_rss;
    const double slope = siem::soak::slope_kib_per_minute(rss);
    const double minutes = rss.empty() ? 0.0 : (rss.back().first - rss.front().first) / 60.0;
    double low = 0, high = 0;
    for (std::size_t i = 0; i < rss.size(); ++i) {
      low = i == 0 ? rss[i].second : std::min(low, rss[i].second);
      high = std::max(high, rss[i].second);
    }
    std::cout << fmt::format("[soak] RSS while HEC was dead: {} samples over {:.1f} min, min {:.1f} MiB, max {:.1f} MiB, "
                             "slope {:+.1f} KiB/min ({:+.2f} MiB over the phase)\n",
                             rss.size(), minutes, low / 1024.0, high / 1024.0, slope, slope * minutes / 1024.0)
              << fmt::format("[soak] hec-out disk buffer while HEC was dead: {:.1f} MiB -> {:.1f} MiB, peak {:.1f} MiB "
                             "(max_size {} MiB)",
                             buffer_first_ / 1048576.0, buffer_last_ / 1048576.0, buffer_peak_ / 1048576.0,
                             hec_buffer_max_bytes() >> 20)
              << std::endl;
    if (dead_seconds_ >= 120) {
      EXPECT_LT(slope * minutes, 12.0 * 1024) << "RSS grew while HEC was dead";
    }
  }
  // When HEC came back it got the backlog of its outage and everything after it in order per source.
  const auto order = hec_order(received, hec_dead_from_);
  print_order("from the outage on", order);
  EXPECT_EQ(order.violation_count, 0u) << "HEC received records of a source out of order";
  EXPECT_GT(order.checked.count("soak-file") ? order.checked.at("soak-file") : 0, 0u) << "no order was checked";
  EXPECT_GE(sigkills_, std::min(kills_, 3));
  EXPECT_GE(rsyslog_restarts_, 1);
  for (const auto& sink : kSinks) {
    const auto& r = report.at(sink);
    std::size_t torn_lost = 0;
    for (const auto& id : r.missing) {
      EXPECT_TRUE(may_be_torn(sink, id)) << sink << ": " << id << " neither delivered nor dead-lettered";
      torn_lost += may_be_torn(sink, id) ? 1 : 0;
    }
    EXPECT_TRUE(r.unexpected.empty()) << sink << ": " << r.unexpected.size() << " message(s) that were never written";
    EXPECT_EQ(r.counts.size() + r.dead_lettered + torn_lost, expected) << sink;
    EXPECT_LE(r.duplicates, dup_bound) << sink << ": duplicates beyond the documented bound";
    EXPECT_LE(r.max_copies, copies_bound) << sink << ": a record was sent more often than restarts and faults explain";
    EXPECT_EQ(r.dead_lettered, 0u) << sink << ": valid records were dead-lettered\n" << slurp(dir_ / "dead-letter.ndjson").substr(0, 4000);
  }
}

}  // namespace
}  // namespace siem::soak
