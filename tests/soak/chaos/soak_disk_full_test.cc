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

// The variant with a disk buffer too small for the outage, `when_full: block`: HEC dies, its buffer
// fills up to max_size and stays within it, the sources stop reading (their read counters on
// /metrics stand still while records wait in the input), and once HEC is back every record reaches
// every sink, HEC's in order per source. No SIGKILLs or other faults here.
TEST_F(Soak, DiskBufferFullBlocksTheSourcesAndLosesNothing) {
  constexpr std::uint64_t kMaxSize = 256 << 10;
  hec_buffer_yaml_ = "{type: disk, max_size: 256KiB, when_full: block, max_events: 100, max_bytes: 8MiB}";
  observability_ = true;
  file_records_ = 1800;
  graph_records_ = 450;
  write_seconds_ = 45;
  note(fmt::format("variant: {} file + {} graph records over {} s, HEC on {}, no SIGKILLs", file_records_, graph_records_,
                   write_seconds_, hec_buffer_yaml_));
  start_run();
  if (HasFatalFailure()) return;
  ASSERT_TRUE(all_sinks_reach(1, 60s)) << "nothing delivered to some sink\n" << err_tail();

  hec_->fail_busy(1'000'000'000);
  note("hec: dead until the sources stopped");
  const fs::path hec_buffer = dir_ / "state" / "buffers" / "hec-out";
  std::uint64_t buffer_peak = 0;
  // The sources stopped: their read counters stand still for 4 s while records wait unread.
  std::optional<double> file_read, graph_read;
  int still = 0;
  const bool stopped = eventually(
      [&] {
        buffer_peak = std::max(buffer_peak, siem::soak::segment_bytes(hec_buffer));
        const auto f = metric("siem_source_records_total", "source=\"soak-file\"");
        const auto g = metric("siem_source_records_total", "source=\"soak-graph\"");
        still = f && g && f == file_read && g == graph_read ? still + 1 : 0;
        file_read = f;
        graph_read = g;
        return still >= 4 && f && *f < static_cast<double>(files_written_.load());
      },
      90s, 1000ms);
  const auto buffer_metric = metric("siem_sink_buffer_bytes", "sink=\"hec-out\"");
  buffer_peak = std::max(buffer_peak, siem::soak::segment_bytes(hec_buffer));
  note(fmt::format("sources stopped: {}; file read {} of {} written, graph read {}; hec buffer {} byte(s) on disk, "
                   "{} on /metrics (max_size {})",
                   stopped, file_read.value_or(-1), files_written_.load(), graph_read.value_or(-1), buffer_peak,
                   buffer_metric.value_or(-1), kMaxSize));
  EXPECT_TRUE(stopped) << "the sources did not stop with HEC's disk buffer full\n" << err_tail();
  EXPECT_LE(buffer_peak, kMaxSize) << "the disk buffer went over its max_size";
  EXPECT_GT(buffer_peak, kMaxSize / 2) << "the disk buffer did not fill up";
  EXPECT_LE(buffer_metric.value_or(0), static_cast<double>(kMaxSize));
  hec_->fail_busy(0);
  note("hec: back");

  ASSERT_TRUE(eventually([&] { return writers_done_.load(); }, std::chrono::seconds(write_seconds_ + 60), 250ms));
  const bool done = eventually([&] { return complete(); }, std::chrono::seconds(drain_seconds_), 1000ms);
  connector_->signal(SIGTERM);
  const int final_status = connector_->wait(40s);
  stop_sampler();
  EXPECT_TRUE(done) << "not everything arrived within " << drain_seconds_ << " s\n" << err_tail();
  EXPECT_EQ(final_status, 0) << err_tail();

  const auto received = received_ids();
  const auto report = check(received);
  const std::size_t expected = written();
  std::cout << "[soak] ---------------------------------------------------------------- figures (disk buffer full)\n";
  for (const auto& sink : kSinks) {
    const auto& r = report.at(sink);
    std::cout << fmt::format("[soak] {:<11} delivered {}/{}  duplicates {}  dead-lettered {}  missing {}  unexpected {}\n",
                             sink, r.counts.size(), expected, r.duplicates, r.dead_lettered, r.missing.size(),
                             r.unexpected.size());
    for (std::size_t i = 0; i < r.missing.size() && i < 20; ++i) std::cout << "[soak]   missing " << sink << " " << r.missing[i] << "\n";
    EXPECT_TRUE(r.missing.empty()) << sink << ": " << r.missing.size() << " record(s) lost";
    EXPECT_TRUE(r.unexpected.empty()) << sink;
    EXPECT_EQ(r.counts.size(), expected) << sink;
    EXPECT_EQ(r.dead_lettered, 0u) << sink;
  }
  const auto order = hec_order(received, 0);
  print_order("over the whole run", order);
  EXPECT_EQ(order.violation_count, 0u) << "HEC received records of a source out of order";
  {
    std::lock_guard lock(figures_mu_);
    std::cout << fmt::format("[soak] hec buffer peak {} byte(s) of max_size {}; RSS peak {:.1f} MiB; wall time {:.0f} s",
                             buffer_peak, kMaxSize, figures_.peak_rss_kb / 1024.0,
                             std::chrono::duration<double>(Clock::now() - t0_).count())
              << std::endl;
    EXPECT_FALSE(rss_over_ceiling_.load()) << "RSS went over the ceiling";
  }
}

}  // namespace
}  // namespace siem::soak
