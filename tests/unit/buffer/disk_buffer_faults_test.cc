// Disk full and I/O errors while appending to a disk buffer (the StateFileOps seam of
// connector/state, DiskBufferOptions::file_ops): ENOSPC on a record's write, on its fdatasync and
// on creating a new segment. Each time append() throws naming the file, counts the error, handles
// none of the call's records (the caller keeps them unacknowledged and appends them again), leaves
// no partial record and no stray file behind, and the buffer works again once space is back.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <memory>
#include <stdexcept>

#include <fmt/format.h>

#include "connector/buffer/disk_buffer.h"
#include "tests/unit/buffer/buffer_test_support.h"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using siem::DiskBuffer;
using siem::DiskBufferOptions;
using siem::testing::FailingFileOps;
using siem::testing::LogCapture;

std::vector<std::string> recs(int from, int to) {
  std::vector<std::string> out;
  for (int i = from; i < to; ++i) out.push_back(fmt::format("event-{:04}", i));
  return out;
}

class DiskBufferFaults : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::path(SIEM_BINARY_DIR) / "disk-buffer-faults-test" /
            fmt::format("{}-{}", ::testing::UnitTest::GetInstance()->current_test_info()->name(), ::getpid());
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(root_);
  }
  std::unique_ptr<DiskBuffer> open(bool faulty = true) {
    DiskBufferOptions o;
    o.segment_size = 4096;
    if (faulty) o.file_ops = ops_;
    return DiskBuffer::open_for_sink(root_, "hec", o);
  }
  std::vector<fs::path> segments() const {
    std::vector<fs::path> out;
    for (const auto& e : fs::directory_iterator(root_ / "buffers" / "hec"))
      if (e.path().extension() == ".seg") out.push_back(e.path());
    std::sort(out.begin(), out.end());
    return out;
  }
  // The message of the exception append() throws, empty when it does not throw.
  static std::string append_error(DiskBuffer& b, const std::vector<std::string>& records) {
    try {
      b.append(records);
    } catch (const std::runtime_error& e) {
      return e.what();
    }
    return {};
  }
  static std::vector<std::string> drain(DiskBuffer& b) {
    std::vector<std::string> out;
    for (int guard = 0; guard < 1000 && b.pending() > 0; ++guard) {
      auto got = b.read(7, 1 << 20, 0ms);
      if (got.empty()) break;
      for (auto& r : got) out.push_back(r.data);
      b.commit(got.back().end);
    }
    return out;
  }
  // Opens the buffer again as the next start would, and checks that it finds no damage.
  std::vector<std::string> reopen_and_drain() {
    LogCapture log;
    auto b = open(false);
    EXPECT_EQ(log.text().find("skipping"), std::string::npos) << log.text();
    return drain(*b);
  }

  fs::path root_;
  std::shared_ptr<FailingFileOps> ops_ = std::make_shared<FailingFileOps>();
  const std::string enospc_ = std::strerror(ENOSPC);
};

TEST_F(DiskBufferFaults, EnospcOnWriteHandlesNothingLeavesNoPartialRecordAndRecovers) {
  auto b = open();
  ASSERT_EQ(b->append(recs(0, 3)).handled, 3u);
  const auto seg = segments().at(0);
  const auto size = fs::file_size(seg);
  ops_->write_errno = ENOSPC;
  for (int attempt = 1; attempt <= 3; ++attempt) {  // the runner retries with the same records
    const auto err = append_error(*b, recs(3, 6));
    EXPECT_NE(err.find(seg.string()), std::string::npos) << err;
    EXPECT_NE(err.find(enospc_), std::string::npos) << err;
    EXPECT_EQ(b->stats().io_errors, static_cast<std::uint64_t>(attempt));
    EXPECT_EQ(fs::file_size(seg), size) << "a partial record stayed";
    EXPECT_EQ(segments().size(), 1u) << "a retry left a new file";
  }
  EXPECT_EQ(b->pending(), 3u);
  ops_->write_errno = 0;  // space is back
  EXPECT_EQ(b->append(recs(3, 6)).handled, 3u);
  b.reset();
  EXPECT_EQ(reopen_and_drain(), recs(0, 6));
}

TEST_F(DiskBufferFaults, EnospcOnFsyncHandlesNothingAndTheRetryGoesToANewSegment) {
  auto b = open();
  ASSERT_EQ(b->append(recs(0, 2)).handled, 2u);
  ops_->fdatasync_errno = ENOSPC;
  const auto err = append_error(*b, recs(2, 5));
  EXPECT_NE(err.find("cannot sync"), std::string::npos) << err;
  EXPECT_NE(err.find((root_ / "buffers" / "hec").string()), std::string::npos) << err;
  EXPECT_NE(err.find(enospc_), std::string::npos) << err;
  EXPECT_EQ(b->stats().io_errors, 1u);
  ops_->fdatasync_errno = 0;
  EXPECT_EQ(b->append(recs(2, 5)).handled, 3u);
  EXPECT_EQ(segments().size(), 2u);  // the segment whose sync failed is not written to again
  b.reset();
  // At least once: the records of the failed call may come twice (they were never acknowledged,
  // and the page cache may still hold them), the retried ones follow, in order.
  const auto got = reopen_and_drain();
  ASSERT_GE(got.size(), 5u);
  EXPECT_EQ(std::vector<std::string>(got.begin(), got.begin() + 2), recs(0, 2));
  EXPECT_EQ(std::vector<std::string>(got.end() - 3, got.end()), recs(2, 5));
}

TEST_F(DiskBufferFaults, EnospcOnANewSegmentLeavesNoFileAndRetriesTheSameName) {
  auto b = open();
  ops_->create_errno = ENOSPC;
  const auto err = append_error(*b, recs(0, 2));
  EXPECT_NE(err.find("cannot create " + (root_ / "buffers" / "hec" / "00000000000000000001.seg").string()),
            std::string::npos)
      << err;
  EXPECT_NE(err.find(enospc_), std::string::npos) << err;
  EXPECT_EQ(append_error(*b, recs(0, 2)), err) << "a retry must report the same file (logged once)";
  EXPECT_TRUE(segments().empty());
  ops_->create_errno = 0;
  ops_->write_errno = ENOSPC;  // created, but its header cannot be written
  EXPECT_NE(append_error(*b, recs(0, 2)).find(enospc_), std::string::npos);
  EXPECT_TRUE(segments().empty()) << "a segment without its header stayed";
  EXPECT_EQ(b->stats().io_errors, 3u);
  ops_->write_errno = 0;
  EXPECT_EQ(b->append(recs(0, 2)).handled, 2u);
  b.reset();
  EXPECT_EQ(reopen_and_drain(), recs(0, 2));
}

}  // namespace
