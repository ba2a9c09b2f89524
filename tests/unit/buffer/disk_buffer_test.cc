// The disk buffer's segment format and queue: round trip, restart, torn tails at every byte of the
// last record, corrupt records and segments, rotation, max_size under each when_full policy, the
// file rules (0700 / 0600, no symlinks) and the report of buffers no sink owns.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "connector/buffer/buffer_dir.h"
#include "connector/buffer/disk_buffer.h"
#include "connector/buffer/segment_format.h"
#include "tests/unit/buffer/buffer_test_support.h"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using siem::AppendResult;
using siem::DiskBuffer;
using siem::DiskBufferOptions;
using siem::WhenFull;

constexpr std::uint64_t kHeader = 8, kRecordHeader = 16;

std::string rec(int i) { return fmt::format("record-{:04}-{}", i, std::string(static_cast<std::size_t>(i % 7), 'x')); }

std::vector<std::string> recs(int from, int to) {
  std::vector<std::string> out;
  for (int i = from; i < to; ++i) out.push_back(rec(i));
  return out;
}

using siem::testing::LogCapture;

class DiskBufferTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::path(SIEM_BINARY_DIR) / "disk-buffer-test" /
            fmt::format("{}-{}", ::testing::UnitTest::GetInstance()->current_test_info()->name(), ::getpid());
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(root_);
  }
  std::unique_ptr<DiskBuffer> open(DiskBufferOptions o = {}) {
    return DiskBuffer::open_for_sink(root_, "hec", o);
  }
  fs::path dir() const { return root_ / "buffers" / "hec"; }
  std::vector<fs::path> segments() const {
    std::vector<fs::path> out;
    for (const auto& e : fs::directory_iterator(dir()))
      if (e.path().extension() == ".seg") out.push_back(e.path());
    std::sort(out.begin(), out.end());
    return out;
  }
  // Reads everything left (commits as it goes).
  static std::vector<std::string> drain(DiskBuffer& b) {
    std::vector<std::string> out;
    for (int guard = 0; guard < 10'000 && b.pending() > 0; ++guard) {
      auto got = b.read(7, 1 << 20, 0ms);
      if (got.empty()) break;
      for (auto& r : got) out.push_back(r.data);
      b.commit(got.back().end);
    }
    return out;
  }

  fs::path root_;
};

TEST_F(DiskBufferTest, RoundTripInOrderAndCommitForgets) {
  auto b = open();
  const auto in = recs(0, 50);
  const AppendResult r = b->append(in);
  EXPECT_EQ(r.handled, 50u);
  EXPECT_EQ(r.dropped, 0u);
  EXPECT_EQ(b->pending(), 50u);
  EXPECT_EQ(drain(*b), in);
  EXPECT_EQ(b->pending(), 0u);
  EXPECT_EQ(b->stats().records, 0u);
}

TEST_F(DiskBufferTest, FilesAreOwnerOnly) {
  auto b = open();
  b->append(recs(0, 3));
  b->commit(b->read(1, 1 << 20, 0ms).back().end);  // writes the cursor
  struct stat st {};
  ASSERT_EQ(::stat(dir().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(::stat((root_ / "buffers").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  for (const auto& p : segments()) {
    ASSERT_EQ(::stat(p.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u) << p;
  }
  ASSERT_EQ(::stat((dir() / "cursor").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(DiskBufferTest, ReopenResumesAfterTheLastCommit) {
  {
    auto b = open();
    b->append(recs(0, 10));
    auto got = b->read(4, 1 << 20, 0ms);
    ASSERT_EQ(got.size(), 4u);
    b->commit(got.back().end);
    ASSERT_EQ(b->read(3, 1 << 20, 0ms).size(), 3u);  // read, never committed: delivered again
  }
  auto b = open();
  EXPECT_EQ(b->pending(), 6u);
  b->append(recs(10, 12));
  EXPECT_EQ(drain(*b), recs(4, 12));
  b.reset();
  EXPECT_EQ(open()->pending(), 0u);
}

TEST_F(DiskBufferTest, ACursorOffRecordBoundariesRedeliversTheSegmentInsteadOfLosingIt) {
  {
    auto b = open();
    b->append(recs(0, 6));
    b->commit(b->read(2, 1 << 20, 0ms).back().end);
  }
  const auto seg = segments().at(0);
  std::ofstream(dir() / "cursor", std::ios::trunc)
      << fmt::format("SIEMBUFCURSOR 1 {} {} 2\n", std::stoull(seg.stem().string()), kHeader + 5);
  LogCapture log;
  auto b = open();
  EXPECT_NE(log.text().find("the cursor is not a record boundary"), std::string::npos) << log.text();
  EXPECT_EQ(drain(*b), recs(0, 6));
}

TEST_F(DiskBufferTest, NewSegmentsSortAfterTheCursorOfAnEmptiedBuffer) {
  open().reset();
  std::ofstream(dir() / "cursor") << "SIEMBUFCURSOR 1 7 8 0\n";  // every segment up to 7 delivered
  open()->append(recs(0, 3));
  auto b = open();
  EXPECT_EQ(b->pending(), 3u);
  EXPECT_EQ(drain(*b), recs(0, 3));
}

TEST_F(DiskBufferTest, SegmentsRotateAndDeliveredOnesAreDeleted) {
  DiskBufferOptions o;
  o.segment_size = 256;
  auto b = open(o);
  b->append(recs(0, 60));
  const auto before = segments().size();
  EXPECT_GT(before, 3u);
  EXPECT_EQ(b->stats().segments, before);
  auto got = b->read(30, 1 << 20, 0ms);
  b->commit(got.back().end);
  EXPECT_LT(segments().size(), before);
  EXPECT_EQ(drain(*b), recs(30, 60));
  EXPECT_LE(segments().size(), 1u);
}

TEST_F(DiskBufferTest, TornTailAtEveryByteOfTheLastRecordKeepsTheOthers) {
  const auto in = recs(0, 5);
  std::uint64_t last_start = kHeader;
  for (int i = 0; i < 4; ++i) last_start += kRecordHeader + in[static_cast<std::size_t>(i)].size();
  const std::uint64_t full = last_start + kRecordHeader + in[4].size();
  for (std::uint64_t cut = last_start + 1; cut < full; ++cut) {
    SCOPED_TRACE(cut);
    fs::remove_all(dir());
    open()->append(in);
    ASSERT_EQ(segments().size(), 1u);
    ASSERT_EQ(fs::file_size(segments()[0]), full);
    fs::resize_file(segments()[0], cut);
    LogCapture log;
    auto b = open();
    EXPECT_NE(log.text().find(fmt::format("at offset {}", last_start)), std::string::npos) << log.text();
    EXPECT_NE(log.text().find(fmt::format("skipping the {} byte(s)", cut - last_start)), std::string::npos);
    EXPECT_NE(log.text().find("torn tail"), std::string::npos);
    EXPECT_NE(log.text().find("holding 1 event(s) not delivered"), std::string::npos) << log.text();
    EXPECT_EQ(b->pending(), 4u);
    b->append(recs(5, 7));  // appending after a torn tail goes on cleanly
    auto expected = recs(0, 4);
    for (auto& r : recs(5, 7)) expected.push_back(r);
    EXPECT_EQ(drain(*b), expected);
  }
}

// Flips one byte of the file at `offset`.
void flip(const fs::path& p, std::uint64_t offset) {
  std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  f.get(c);
  f.seekp(static_cast<std::streamoff>(offset));
  f.put(static_cast<char>(c ^ 0x20));
}

// A corrupt record in the middle of a segment: the scan at start-up resynchronises on the next
// valid record of that segment, so exactly that record is lost (and logged with its count); every
// later record of the segment is delivered, in order.
TEST_F(DiskBufferTest, CorruptRecordMidSegmentIsSkippedAndTheRestOfTheSegmentDelivered) {
  DiskBufferOptions o;
  o.segment_size = 200;
  open(o)->append(recs(0, 30));
  const auto segs = segments();
  ASSERT_GE(segs.size(), 3u);
  // The second record of the second segment (record sizes differ: its offset is read from the file).
  std::ifstream in(segs[1], std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  const auto len0 = static_cast<std::uint64_t>(static_cast<unsigned char>(bytes[kHeader]));
  const std::uint64_t second = kHeader + kRecordHeader + len0;
  const auto len1 = static_cast<std::uint64_t>(static_cast<unsigned char>(bytes[second]));
  const std::uint64_t third = second + kRecordHeader + len1;
  ASSERT_LT(third + kRecordHeader, bytes.size()) << "the segment must hold a record after the corrupt one";
  flip(segs[1], second + kRecordHeader + 2);
  LogCapture log;
  auto b = open(o);
  EXPECT_NE(log.text().find(fmt::format("{}: a checksum mismatch at offset {} (corrupt): skipping the {} byte(s) up to "
                                        "the next valid record at offset {}, holding 1 event(s) not delivered",
                                        segs[1].filename().string(), second, third - second, third)),
            std::string::npos)
      << log.text();
  const auto got = drain(*b);
  // Everything but that one record arrives, in order: the rest of its segment included.
  std::vector<std::string> missing;
  std::size_t j = 0;
  for (const auto& r : recs(0, 30)) {
    if (j < got.size() && got[j] == r) ++j;
    else missing.push_back(r);
  }
  EXPECT_EQ(j, got.size()) << "out of order";
  ASSERT_EQ(missing.size(), 1u);
  EXPECT_EQ(got.size(), 29u);
  // A restart (cursor inside that segment, after the skipped bytes) delivers nothing again.
  b.reset();
  EXPECT_TRUE(drain(*open(o)).empty());
}

// Bytes inside a payload that form a valid record (length, checksum) but whose append time is
// implausible (ten days ahead) are not taken for the next record: the scan goes on to the real one.
TEST_F(DiskBufferTest, ResyncIgnoresARecordWithAnImplausibleTime) {
  const std::vector<std::string> in{"first", std::string(64, 'p'), "third"};
  open()->append(in);
  const auto seg = segments().at(0);
  const std::uint64_t second = kHeader + kRecordHeader + in[0].size();
  const std::uint64_t third = second + kRecordHeader + in[1].size();
  {
    std::array<char, kRecordHeader> fake{};
    namespace sf = siem::segment_format;
    sf::put_le(fake.data() + 8, static_cast<std::uint64_t>(sf::now_ms() + 10LL * 86'400'000), 8);
    sf::put_le(fake.data() + 4, sf::record_crc(fake.data() + 8, ""), 4);  // a valid empty record
    std::fstream f(seg, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(second));
    f.write("\xff\xff\xff\x00", 4);  // the second record's length: beyond the segment
    f.seekp(static_cast<std::streamoff>(second + kRecordHeader + 8));
    f.write(fake.data(), fake.size());
  }
  LogCapture log;
  auto b = open();
  EXPECT_NE(log.text().find(fmt::format("up to the next valid record at offset {}", third)), std::string::npos)
      << log.text();
  EXPECT_EQ(drain(*b), (std::vector<std::string>{in[0], in[2]}));
}

TEST_F(DiskBufferTest, ImpossibleLengthIsCorruptionNotAnAllocation) {
  open()->append(recs(0, 3));
  const auto seg = segments().at(0);
  const std::uint64_t second = kHeader + kRecordHeader + rec(0).size();
  {
    std::fstream f(seg, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(second));
    f.write("\xff\xff\xff\xff", 4);
  }
  LogCapture log;
  auto b = open();
  EXPECT_NE(log.text().find("impossible record length 4294967295"), std::string::npos) << log.text();
  // Its length is unusable, so the count of what was lost is unknown; the next record is found.
  EXPECT_NE(log.text().find("holding an unknown number of event(s)"), std::string::npos) << log.text();
  EXPECT_EQ(drain(*b), (std::vector<std::string>{rec(0), rec(2)}));
}

TEST_F(DiskBufferTest, UnknownFormatVersionIsSetAsideAndTheRestDelivered) {
  DiskBufferOptions o;
  o.segment_size = 200;
  open(o)->append(recs(0, 30));
  const auto segs = segments();
  ASSERT_GE(segs.size(), 3u);
  flip(segs[0], 7);  // version byte 1 -> 0x21
  LogCapture log;
  auto b = open(o);
  EXPECT_NE(log.text().find("format version 33"), std::string::npos) << log.text();
  EXPECT_TRUE(fs::exists(segs[0].string() + ".skipped"));
  const auto got = drain(*b);
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got.back(), rec(29));
  EXPECT_NE(got.front(), rec(0));
}

TEST_F(DiskBufferTest, SymlinksAreNotFollowed) {
  fs::create_directories(root_ / "elsewhere");
  fs::create_directories(root_ / "buffers");
  fs::create_directory_symlink(root_ / "elsewhere", dir());
  EXPECT_THROW(open(), std::runtime_error);
  fs::remove(dir());
  open()->append(recs(0, 2));
  const auto seg = segments().at(0);
  fs::rename(seg, root_ / "elsewhere" / "target.seg");
  fs::create_symlink(root_ / "elsewhere" / "target.seg", seg);
  LogCapture log;
  auto b = open();
  EXPECT_EQ(b->pending(), 0u);
  EXPECT_NE(log.text().find("cannot open segment"), std::string::npos) << log.text();
}

TEST_F(DiskBufferTest, InvalidSinkNamesAreRefused) {
  for (const char* name : {"..", "a/b", "", "x y"})
    EXPECT_THROW(DiskBuffer::open_for_sink(root_, name, {}), std::runtime_error) << name;
}

DiskBufferOptions small(WhenFull policy) {
  DiskBufferOptions o;
  o.max_size = 2000;
  o.segment_size = 300;
  o.when_full = policy;
  return o;
}

// Appends until the buffer refuses (drops) or would block; returns how many records went in.
int fill(DiskBuffer& b, const DiskBufferOptions& o) {
  int n = 0;
  while (b.stats().bytes + kRecordHeader + rec(n).size() + kHeader <= o.max_size && n < 1000) {
    b.append(recs(n, n + 1));
    ++n;
  }
  return n;
}

TEST_F(DiskBufferTest, WhenFullBlockWaitsForDeliveryThenAppends) {
  const auto o = small(WhenFull::block);
  auto b = open(o);
  const int n = fill(*b, o);
  ASSERT_GT(n, 10);
  AppendResult r;
  std::thread writer([&] { r = b->append(recs(n, n + 1)); });
  bool blocked = false;
  for (int i = 0; i < 3000 && !blocked; ++i) {  // bounded: 30 s (the writer thread may start late under load)
    blocked = b->stats().blocked;
    if (!blocked) std::this_thread::sleep_for(10ms);
  }
  EXPECT_TRUE(blocked);
  EXPECT_EQ(b->stats().dropped, 0u);
  auto got = b->read(static_cast<std::size_t>(n / 2), 1 << 20, 0ms);
  b->commit(got.back().end);  // frees at least one segment
  writer.join();
  EXPECT_EQ(r.handled, 1u);
  EXPECT_LE(b->stats().bytes, o.max_size);
  auto rest = drain(*b);
  EXPECT_EQ(rest.back(), rec(n));
}

TEST_F(DiskBufferTest, WhenFullBlockEndsOnInterruptWithoutTakingTheRecord) {
  const auto o = small(WhenFull::block);
  auto b = open(o);
  const int n = fill(*b, o);
  AppendResult r{99, 99};
  std::thread writer([&] { r = b->append(recs(n, n + 3)); });
  for (int i = 0; i < 3000 && !b->stats().blocked; ++i) std::this_thread::sleep_for(10ms);  // at most 30 s
  EXPECT_TRUE(b->stats().blocked);
  b->interrupt();
  writer.join();
  EXPECT_EQ(r.handled, 0u);
  EXPECT_EQ(b->pending(), static_cast<std::uint64_t>(n));
}

TEST_F(DiskBufferTest, WhenFullDropNewestCountsAndKeepsTheOld) {
  const auto o = small(WhenFull::drop_newest);
  auto b = open(o);
  const int n = fill(*b, o);
  LogCapture log;
  const AppendResult r = b->append(recs(n, n + 3));
  EXPECT_EQ(r.handled, 3u);
  EXPECT_EQ(r.dropped, 3u);
  EXPECT_EQ(b->stats().dropped, 3u);
  EXPECT_NE(log.text().find("drop_newest: dropped 3 new event(s) (3 in all)"), std::string::npos) << log.text();
  EXPECT_LE(b->stats().bytes, o.max_size);
  EXPECT_EQ(drain(*b), recs(0, n));
}

TEST_F(DiskBufferTest, WhenFullDropOldestDeletesTheOldestSegmentAndCountsIt) {
  const auto o = small(WhenFull::drop_oldest);
  auto b = open(o);
  const int n = fill(*b, o);
  LogCapture log;
  const AppendResult r = b->append(recs(n, n + 3));
  EXPECT_EQ(r.handled, 3u);
  EXPECT_EQ(r.dropped, 0u);
  const auto dropped = b->stats().dropped;
  EXPECT_GT(dropped, 0u);
  EXPECT_NE(log.text().find(fmt::format("drop_oldest: dropping segment 00000000000000000001.seg with {} undelivered",
                                        dropped)),
            std::string::npos)
      << log.text();
  EXPECT_LE(b->stats().bytes, o.max_size);
  EXPECT_EQ(drain(*b), recs(static_cast<int>(dropped), n + 3));
}

TEST_F(DiskBufferTest, StatsShowSizeAndTheOldestAge) {
  auto b = open();
  EXPECT_TRUE(b->read(10, 1 << 20, 0ms).empty());
  EXPECT_EQ(b->stats().oldest_age_ms, 0);
  b->append(recs(0, 2));
  const auto st = b->stats();
  EXPECT_EQ(st.records, 2u);
  EXPECT_GE(st.oldest_age_ms, 0);
  EXPECT_LT(st.oldest_age_ms, 60'000);
  EXPECT_GT(st.bytes, kHeader);
}

TEST_F(DiskBufferTest, StaleBuffersAreReported) {
  open()->append(recs(0, 2));
  LogCapture log;
  EXPECT_EQ(siem::buffer_files::report_stale(root_, {"hec"}), 0u);
  EXPECT_EQ(siem::buffer_files::report_stale(root_, {"syslog"}), 1u);
  EXPECT_NE(log.text().find("sink 'hec' removed"), std::string::npos) << log.text();
}

}  // namespace
