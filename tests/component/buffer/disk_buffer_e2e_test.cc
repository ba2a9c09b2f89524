// The real `siem-connector` binary with `buffer: {type: disk}` on a Splunk HEC sink (the HEC
// emulator over HTTPS), beside a file sink without one, fed by the file source:
// - HEC answers 503 for the whole of a steady load: the file sink keeps receiving, HEC's buffer
//   grows on disk within max_size, the process' RSS stays flat; once HEC is back it gets every
//   event, in the order of the source, exactly once;
// - kill -9 while events wait in the buffer: after the restart HEC gets them all, and the source is
//   not read again (its checkpoint had moved: the buffer alone carried them);
// - a torn tail and a corrupt record mid-segment in the buffer: one clear log line each, the rest
//   delivered (the records after the corrupt one in its segment included);
// - a buffer no configured sink owns is reported at start-up.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tests/support/audit_record.h"
#include "tests/support/connector_process.h"
#include "tests/support/loopback_server.h"
#include "tests/support/test_pki.h"
#include "tools/hec_emulator/hec_emulator.h"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using siem::test::ConnectorProcess;
using siem::test::eventually;
using siem::test::proc_stats;
using siem::test::slurp;

const std::string kToken = "00000000-0000-0000-0000-00000000cafe";
const std::string kPad(1024, 'p');

std::string record(int i) {
  nlohmann::json r = siem::test::directory_audit(fmt::format("Directory_buf_{:06}", i));
  r["resultReason"] = kPad;
  return r.dump();
}

// The record number of an id, -1 when it is not one of ours.
int number_of(const std::string& id) {
  if (id.rfind("Directory_buf_", 0) != 0) return -1;
  return std::stoi(id.substr(14));
}

std::uint64_t dir_bytes(const fs::path& d) {
  std::uint64_t n = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(d, ec))
    if (e.is_regular_file(ec)) n += e.file_size(ec);
  return n;
}

std::vector<fs::path> segments(const fs::path& d) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(d))
    if (e.path().extension() == ".seg") out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

std::size_t count_lines(const fs::path& p) {
  const auto s = slurp(p);
  return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n'));
}

struct Hec {
  siem::test::TestPki pki;
  std::unique_ptr<siem::test::LoopbackServer> server;
  std::unique_ptr<siem::hec::HecEmulator> hec;
  Hec() : server(siem::test::make_tls_server(pki, false)) {
    hec = std::make_unique<siem::hec::HecEmulator>(siem::hec::HecOptions{}, *server);
    server->start();
  }
  // The server stops (joining its connection threads) before the emulator they call is destroyed.
  ~Hec() { server->stop(); }
  Hec(const Hec&) = delete;
  Hec& operator=(const Hec&) = delete;
  // Record numbers in the order HEC stored them.
  std::vector<int> received() const {
    std::vector<int> out;
    for (const auto& e : hec->events()) out.push_back(number_of(e.envelope["event"]["event"]["id"].get<std::string>()));
    return out;
  }
};

class DiskBufferE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(SIEM_BINARY_DIR) / "disk-buffer-e2e" /
           fmt::format("{}-{}", ::testing::UnitTest::GetInstance()->current_test_info()->name(), ::getpid());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::ofstream(dir_ / "in.ndjson").flush();
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }

  // file source -> a file sink (no disk buffer) and HEC with a disk buffer of `max_size`.
  fs::path write_config(const Hec& h, const std::string& max_size) {
    const auto cfg = dir_ / "config.yaml";
    std::ofstream(cfg) << fmt::format(
        "state_dir: {0}/state\n"
        "dead_letter: {{path: {0}/dead-letter.ndjson}}\n"
        "pipeline: {{drain_timeout: 5s}}\n"
        "sources:\n"
        "  - {{name: audit, type: file, path: {0}/in.ndjson, poll_interval: 100ms}}\n"
        "sinks:\n"
        "  - {{name: file-out, type: file, format: ecs, path: {0}/out.ndjson}}\n"
        "  - name: hec-out\n    type: splunk_hec\n    format: ecs\n    url: {1}\n    token: {2}\n"
        "    tls: {{ca_file: {3}}}\n    batch: {{max_events: 200}}\n"
        "    retry: {{initial_backoff: 100ms, max_backoff: 500ms}}\n"
        "    buffer: {{type: disk, max_size: {4}}}\n",
        dir_.string(), h.server->base_url(), kToken, h.pki.ca_pem(), max_size);
    return cfg;
  }
  void append(int from, int to) {
    std::ofstream out(dir_ / "in.ndjson", std::ios::app);
    for (int i = from; i < to; ++i) out << record(i) << "\n";
  }
  fs::path buffer_dir() const { return dir_ / "state" / "buffers" / "hec-out"; }
  // The file source's checkpoint covers the whole input file.
  bool checkpoint_at_end() const {
    const auto cp = slurp(dir_ / "state" / "checkpoint.audit.state");
    return cp.find(fmt::format("\"offset\":{}", fs::file_size(dir_ / "in.ndjson"))) != std::string::npos;
  }
  // Events 0..n-1 in `hec` arrived once each and in order.
  static void expect_in_order(const std::vector<int>& got, int n) {
    ASSERT_EQ(got.size(), static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) ASSERT_EQ(got[static_cast<std::size_t>(i)], i) << "at position " << i;
  }

  fs::path dir_;
};

TEST_F(DiskBufferE2E, DeadSinkBuffersOnDiskWhileTheOtherSinkFlowsThenGetsEverythingInOrder) {
  Hec h;
  h.hec->fail_busy(1'000'000'000);  // HEC is down (503 "Server is busy") for the whole load
  const std::uint64_t max_size = 256ull << 20;
  const auto cfg = write_config(h, "256MiB");
  ConnectorProcess c(dir_, {"run", "-c", cfg.string()});
  ASSERT_TRUE(c.started());

  // Steady load: 40 000 records (about 3 KiB each in the buffer) in chunks every 150 ms, over 6 s;
  // SIEM_DISK_BUFFER_LOAD_SECONDS=600 spreads them over ten minutes (the long form).
  const int seconds = std::clamp(std::atoi(std::getenv("SIEM_DISK_BUFFER_LOAD_SECONDS") != nullptr
                                               ? std::getenv("SIEM_DISK_BUFFER_LOAD_SECONDS")
                                               : "6"),
                                 1, 3600);
  const int kChunks = std::max(4, seconds * 1000 / 150), kChunk = 40'000 / kChunks, kTotal = kChunks * kChunk;
  std::uint64_t rss_baseline = 0, rss_peak = 0, buffer_peak = 0;
  for (int k = 0; k < kChunks; ++k) {
    append(k * kChunk, (k + 1) * kChunk);
    std::this_thread::sleep_for(150ms);  // the load's pace, not a wait for a condition
    ASSERT_TRUE(c.running()) << c.err();
    buffer_peak = std::max(buffer_peak, dir_bytes(buffer_dir()));
    const auto rss = proc_stats(c.pid()).rss_kb;
    if (k == kChunks / 4) rss_baseline = rss;
    if (k > kChunks / 4) rss_peak = std::max(rss_peak, rss);
  }
  // The file sink kept receiving; HEC got nothing; the sources were not stopped by HEC.
  ASSERT_TRUE(eventually([&] { return count_lines(dir_ / "out.ndjson") == static_cast<std::size_t>(kTotal); }, 120s))
      << count_lines(dir_ / "out.ndjson") << "\n" << c.err();
  EXPECT_EQ(h.hec->event_count(), 0u);
  ASSERT_TRUE(eventually([&] { return checkpoint_at_end(); }, 30s)) << "the checkpoint waits for HEC";
  buffer_peak = std::max(buffer_peak, dir_bytes(buffer_dir()));
  EXPECT_GT(buffer_peak, static_cast<std::uint64_t>(kTotal) * 2048) << "the buffer holds the events";
  EXPECT_LE(buffer_peak, max_size);
  std::cout << "RSS " << rss_baseline << " KiB after a quarter of the load, peak " << rss_peak << " KiB after it; "
            << "disk buffer peak " << buffer_peak << " bytes\n";
  // Flat memory: far less growth than what went to the buffer.
  EXPECT_GT(rss_baseline, 0u);
  EXPECT_LT(rss_peak, rss_baseline + 48 * 1024)
      << "RSS grew from " << rss_baseline << " KiB to " << rss_peak << " KiB while " << buffer_peak
      << " bytes were buffered";

  h.hec->fail_busy(0);  // HEC is back
  ASSERT_TRUE(eventually([&] { return h.hec->event_count() >= static_cast<std::size_t>(kTotal); }, 180s))
      << h.hec->event_count() << "\n" << c.err();
  expect_in_order(h.received(), kTotal);
  // Delivered segments are deleted: at most the segment being written is left.
  EXPECT_TRUE(eventually([&] { return dir_bytes(buffer_dir()) <= max_size / 8 + 4096; }, 30s))
      << dir_bytes(buffer_dir());
  c.signal(SIGTERM);
  EXPECT_EQ(c.wait(60s), 0) << c.err();
  const auto err = c.err();
  EXPECT_NE(err.find("disk buffer: 0 event(s)"), std::string::npos) << err;
  EXPECT_EQ(count_lines(dir_ / "out.ndjson"), static_cast<std::size_t>(kTotal));
}

TEST_F(DiskBufferE2E, KillNineWhileBufferedLosesNothing) {
  Hec h;
  h.hec->fail_busy(1'000'000'000);
  const auto cfg = write_config(h, "64MiB");
  append(0, 2000);
  {
    ConnectorProcess c(dir_, {"run", "-c", cfg.string()});
    ASSERT_TRUE(c.started());
    ASSERT_TRUE(eventually([&] { return count_lines(dir_ / "out.ndjson") == 2000 && checkpoint_at_end(); }, 60s))
        << c.err();
    EXPECT_EQ(h.hec->event_count(), 0u);
    c.kill9();
  }
  h.hec->fail_busy(0);
  ConnectorProcess c(dir_, {"run", "-c", cfg.string()});
  ASSERT_TRUE(c.started());
  ASSERT_TRUE(eventually([&] { return h.hec->event_count() >= 2000; }, 90s)) << c.err();
  expect_in_order(h.received(), 2000);
  c.signal(SIGTERM);
  EXPECT_EQ(c.wait(60s), 0) << c.err();
  EXPECT_NE(c.err().find("disk buffer hec-out: 2000 event(s) from an earlier run to deliver"), std::string::npos)
      << c.err();
  // The source was not read again: the buffer alone carried the 2000 events across the crash.
  EXPECT_EQ(count_lines(dir_ / "out.ndjson"), 2000u);
}

TEST_F(DiskBufferE2E, TornTailAndCorruptSegmentAreLoggedAndTheRestDelivered) {
  Hec h;
  h.hec->fail_busy(1'000'000'000);
  const auto cfg = write_config(h, "2MiB");  // 256 KiB segments
  constexpr int kTotal = 400;
  append(0, kTotal);
  {
    ConnectorProcess c(dir_, {"run", "-c", cfg.string()});
    ASSERT_TRUE(c.started());
    ASSERT_TRUE(eventually([&] { return count_lines(dir_ / "out.ndjson") == kTotal && checkpoint_at_end(); }, 60s))
        << c.err();
    c.kill9();
  }
  auto segs = segments(buffer_dir());
  ASSERT_GE(segs.size(), 4u);
  // A torn tail: the last record of the last segment cut short.
  fs::resize_file(segs.back(), fs::file_size(segs.back()) - 100);
  // A corrupt segment: one byte flipped in the middle of the second.
  {
    std::fstream f(segs[1], std::ios::in | std::ios::out | std::ios::binary);
    const auto at = static_cast<std::streamoff>(fs::file_size(segs[1]) / 2);
    f.seekg(at);
    char ch = 0;
    f.get(ch);
    f.seekp(at);
    f.put(static_cast<char>(ch ^ 0x01));
  }
  h.hec->fail_busy(0);
  ConnectorProcess c(dir_, {"run", "-c", cfg.string()});
  ASSERT_TRUE(c.started());
  ASSERT_TRUE(eventually([&] {
    const auto got = h.received();
    return !got.empty() && got.back() == kTotal - 2;  // the last intact record
  }, 90s)) << c.err();
  c.signal(SIGTERM);
  EXPECT_EQ(c.wait(60s), 0) << c.err();
  const auto err = c.err();
  EXPECT_NE(err.find(fmt::format("segment {}: ", segs.back().string())), std::string::npos) << err;
  EXPECT_NE(err.find("a torn tail"), std::string::npos) << err;
  EXPECT_NE(err.find(fmt::format("segment {}: ", segs[1].string())), std::string::npos) << err;
  EXPECT_NE(err.find("(corrupt): skipping the"), std::string::npos) << err;
  EXPECT_NE(err.find("up to the next valid record at offset"), std::string::npos) << err;

  // What arrived is in order, once; what is missing is the last record and the one corrupt record
  // from the middle of the second segment (the scan resynchronises on the record after it).
  const auto got = h.received();
  ASSERT_TRUE(std::is_sorted(got.begin(), got.end()));
  ASSERT_EQ(std::set<int>(got.begin(), got.end()).size(), got.size());
  std::vector<int> missing;
  for (int i = 0, j = 0; i < kTotal; ++i) {
    if (j < static_cast<int>(got.size()) && got[static_cast<std::size_t>(j)] == i) ++j;
    else missing.push_back(i);
  }
  ASSERT_GE(missing.size(), 2u);
  EXPECT_EQ(missing.back(), kTotal - 1);
  missing.pop_back();
  EXPECT_EQ(missing.size(), 1u) << "the records after the corrupt one in its segment are delivered";
  EXPECT_GT(missing.front(), 0);
  EXPECT_NE(err.find("holding 1 event(s) not delivered to this sink; the records before and after them are delivered"),
            std::string::npos)
      << err;
}

TEST_F(DiskBufferE2E, ABufferNoSinkOwnsIsReportedAtStart) {
  Hec h;
  append(0, 5);
  fs::create_directories(dir_ / "state" / "buffers" / "old-siem");
  for (const auto& d : {dir_ / "state", dir_ / "state" / "buffers", dir_ / "state" / "buffers" / "old-siem"})
    fs::permissions(d, fs::perms::owner_all, fs::perm_options::replace);  // state_dir must be private
  std::ofstream(dir_ / "state" / "buffers" / "old-siem" / "00000000000000000001.seg") << std::string(1234, 'x');
  ConnectorProcess c(dir_, {"run", "--once", "-c", write_config(h, "64MiB").string()});
  EXPECT_EQ(c.wait(60s), 0) << c.err();
  const auto err = c.err();
  EXPECT_NE(err.find(fmt::format("disk buffer {} belongs to no configured sink",
                                 (dir_ / "state" / "buffers" / "old-siem").string())),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("1234 byte(s) of it are not delivered"), std::string::npos) << err;
  EXPECT_EQ(h.hec->event_count(), 5u);
}

}  // namespace
