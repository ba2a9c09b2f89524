// Hostile input for the file source: a line or document over max_record_bytes is dead-lettered with
// its PATH:LINE and size, passed over without growing the read buffer past the limit, and the
// records around it are read with exact positions; non-regular files are refused.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "connector/sources/file/file_source.h"

namespace siem {
namespace {

constexpr std::size_t kMiB = 1u << 20;

class FileSourceLimits : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("siem-fsl-" + std::to_string(::getpid()) + "-" +
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    path_ = dir_ / "in.ndjson";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void append(const std::string& s) { std::ofstream(path_, std::ios::app | std::ios::binary) << s; }
  void make_source(std::size_t read_chunk = 4 * kMiB, bool once = false) {
    FileSourceOptions o;
    o.path = path_;
    o.poll_interval = std::chrono::milliseconds(1);
    o.read_chunk = read_chunk;
    o.max_record_bytes = kMiB;
    bound_ = std::max(read_chunk, kMiB + 1);
    source_ = std::make_unique<FileSource>("f", o);
    if (once) source_->set_run_once();
    source_->start(std::nullopt);
  }
  // Polls until the source is caught up (at most `max_polls` polls), collecting records and the
  // last checkpoint; the read buffer must stay within the bound after every poll.
  void drain(int max_polls = 200) {
    std::stop_source stop;
    for (int i = 0; i < max_polls; ++i) {
      auto b = source_->poll(stop.get_token());
      ASSERT_LE(source_->read_buffer_bytes(), bound_) << "poll " << i;
      for (auto& r : b.records) records_.push_back(std::move(r));
      if (b.checkpoint) checkpoint_ = *b.checkpoint;
      if (b.caught_up) return;
    }
    FAIL() << "not caught up after " << max_polls << " polls";
  }
  std::string origin(int line) const { return path_.string() + ":" + std::to_string(line); }
  std::string oversize(int line, std::size_t size) const {
    return "record at " + origin(line) + " exceeds max_record_bytes (1048576): " + std::to_string(size) + " bytes";
  }
  void expect_checkpoint(std::uint64_t line) {
    const auto p = FileSource::decode(checkpoint_);
    EXPECT_EQ(p.offset, std::filesystem::file_size(path_));
    EXPECT_EQ(p.line, line);
  }

  std::filesystem::path dir_, path_;
  std::unique_ptr<FileSource> source_;
  std::size_t bound_ = 0;
  std::vector<RawRecord> records_;
  std::string checkpoint_;
};

// {"blob":"xxx…"} of `size` bytes on one line.
std::string huge_line(std::size_t size) { return "{\"blob\":\"" + std::string(size - 11, 'x') + "\"}"; }

void expect_record(const RawRecord& r, const std::string& json, const std::string& origin) {
  EXPECT_EQ(r.json, json);
  EXPECT_EQ(r.origin, origin);
  EXPECT_TRUE(r.read_error.empty()) << r.read_error;
}

void expect_dead_letter(const RawRecord& r, const std::string& reason_start, const std::string& origin) {
  EXPECT_EQ(r.origin, origin);
  EXPECT_EQ(r.read_error.substr(0, reason_start.size()), reason_start) << r.read_error;
  EXPECT_NE(r.read_error.find("only its first 4096 bytes are kept here"), std::string::npos) << r.read_error;
  EXPECT_EQ(r.json.size(), 4096u);
}

TEST_F(FileSourceLimits, HugeLineBetweenTwoRecordsIsDeadLetteredAndPassedOver) {
  const std::string line = huge_line(40 * kMiB);
  append("{\"id\":1}\n" + line + "\n{\"id\":3}\n");
  for (std::size_t chunk : {4 * kMiB, 64 * std::size_t{1024}}) {  // a read larger, and smaller, than the limit
    SCOPED_TRACE(chunk);
    records_.clear();
    make_source(chunk);
    drain(500);
    ASSERT_EQ(records_.size(), 3u);
    expect_record(records_[0], "{\"id\":1}", origin(1));
    expect_dead_letter(records_[1], oversize(2, line.size()), origin(2));
    EXPECT_EQ(records_[1].json, line.substr(0, 4096));
    expect_record(records_[2], "{\"id\":3}", origin(3));
    expect_checkpoint(4);
  }
}

TEST_F(FileSourceLimits, HugeLineWrittenInPiecesWhileTheFileGrows) {
  make_source();
  const std::string line = huge_line(12 * kMiB);
  append("{\"id\":1}\n");
  std::size_t written = 0;
  for (std::size_t piece : {3 * kMiB, 2 * kMiB, 5 * kMiB, 2 * kMiB}) {
    append(line.substr(written, piece));
    written += piece;
    drain();
    // Nothing of the long line is committed or reported before its end.
    ASSERT_EQ(records_.size(), 1u);
    EXPECT_EQ(FileSource::decode(checkpoint_).offset, 9u);
  }
  ASSERT_EQ(written, line.size());
  append("\n{\"id\":3}\n");
  drain();
  ASSERT_EQ(records_.size(), 3u);
  expect_record(records_[0], "{\"id\":1}", origin(1));
  expect_dead_letter(records_[1], oversize(2, line.size()), origin(2));
  expect_record(records_[2], "{\"id\":3}", origin(3));
  expect_checkpoint(4);
}

// A one-line Graph page over the limit (passed over in pieces) and a smaller one read whole, and a
// pretty-printed page over the limit, which ends where its brackets close, not at its first line.
TEST_F(FileSourceLimits, OversizeListDocumentsAreDeadLetteredWhole) {
  auto one_line_page = [](std::size_t size) {
    std::string page = "{\"@odata.context\":\"x\",\"value\":[";
    while (page.size() < size) page += "{\"id\":\"" + std::string(100, 'a') + "\"},";
    return page + "{\"id\":\"last\"}]}";
  };
  const std::string page = one_line_page(6 * kMiB);
  const std::string small_page = one_line_page(2 * kMiB);
  std::string pretty = "{\n  \"value\": [\n";
  int pretty_lines = 2;
  while (pretty.size() < 6 * kMiB) {
    pretty += "    {\"id\": \"" + std::string(200, 'b') + "\", \"text\": \"a ] } in a string\"},\n";
    ++pretty_lines;
  }
  pretty += "    {\"id\": \"last\"}\n  ]\n}";
  pretty_lines += 3;
  append("{\"id\":1}\n" + page + "\n" + small_page + "\n" + pretty + "\n{\"id\":5}\n");
  make_source();
  drain();
  ASSERT_EQ(records_.size(), 5u);
  expect_record(records_[0], "{\"id\":1}", origin(1));
  expect_dead_letter(records_[1], oversize(2, page.size()), origin(2));
  expect_dead_letter(records_[2], oversize(3, small_page.size()), origin(3));
  expect_dead_letter(records_[3], oversize(4, pretty.size()), origin(4));
  expect_record(records_[4], "{\"id\":5}", origin(4 + pretty_lines));
  expect_checkpoint(5 + static_cast<std::uint64_t>(pretty_lines));
}

// A pretty-printed page over the limit that lacks its closing brackets ends before the next line
// that starts a document, instead of swallowing the rest of the file.
TEST_F(FileSourceLimits, BrokenOversizePrettyDocumentDoesNotSwallowTheRest) {
  std::string pretty = "{\n  \"value\": [\n";
  int lines = 2;
  while (pretty.size() < 6 * kMiB) {
    pretty += "    {\"id\": \"" + std::string(200, 'b') + "\"},\n";
    ++lines;
  }
  append("{\"id\":1}\n" + pretty + "{\"id\":3}\n{\"id\":4}\n");
  make_source();
  drain();
  ASSERT_EQ(records_.size(), 4u);
  expect_dead_letter(records_[1], oversize(2, pretty.size() - 1), origin(2));
  expect_record(records_[2], "{\"id\":3}", origin(2 + lines));
  expect_record(records_[3], "{\"id\":4}", origin(3 + lines));
  expect_checkpoint(4 + static_cast<std::uint64_t>(lines));
}

TEST_F(FileSourceLimits, OnceReportsAnOversizeUnterminatedLastLine) {
  const std::string line = huge_line(40 * kMiB);
  append("{\"id\":1}\n" + line);
  make_source(4 * kMiB, /*once=*/true);
  drain();
  ASSERT_EQ(records_.size(), 2u);
  expect_record(records_[0], "{\"id\":1}", origin(1));
  expect_dead_letter(records_[1],
                     oversize(2, line.size()) +
                         " (the file's last line, which has no newline: run --once reads the file as it is)",
                     origin(2));
  expect_checkpoint(2);
}

// Over the limit but within one read: found by the reader rather than passed over in pieces.
TEST_F(FileSourceLimits, OnceReportsAShorterOversizeUnterminatedLastLine) {
  const std::string line = "{\"blob\":\"" + std::string(2 * kMiB, 'x');  // unterminated
  append("{\"id\":1}\n" + line);
  make_source(4 * kMiB, /*once=*/true);
  drain();
  ASSERT_EQ(records_.size(), 2u);
  expect_dead_letter(records_[1],
                     oversize(2, line.size()) +
                         " (the file's last line, which has no newline: run --once reads the file as it is)",
                     origin(2));
  expect_checkpoint(2);
}

TEST_F(FileSourceLimits, RestartInsideAnOversizeLineStartsItAgainAndReportsItOnce) {
  const std::string line = huge_line(6 * kMiB);
  append("{\"id\":1}\n" + line.substr(0, 5 * kMiB));
  make_source();
  drain();
  ASSERT_EQ(records_.size(), 1u);
  const std::string at_line_start = checkpoint_;
  append(line.substr(5 * kMiB) + "\n{\"id\":3}\n");
  FileSourceOptions o;
  o.path = path_;
  o.max_record_bytes = kMiB;
  source_ = std::make_unique<FileSource>("f", o);
  source_->start(at_line_start);
  drain();
  ASSERT_EQ(records_.size(), 3u);
  expect_dead_letter(records_[1], oversize(2, line.size()), origin(2));
  expect_record(records_[2], "{\"id\":3}", origin(3));
  expect_checkpoint(4);
}

TEST_F(FileSourceLimits, AFifoIsRefusedWithoutBlocking) {
  ASSERT_EQ(::mkfifo(path_.c_str(), 0600), 0);
  FileSourceOptions o;
  o.path = path_;
  FileSource s("f", o);
  try {
    s.start(std::nullopt);
    FAIL() << "a FIFO was accepted";
  } catch (const SourceError& e) {
    EXPECT_EQ(std::string(e.what()), path_.string() + " is not a regular file (a FIFO, device, socket or directory); "
                                                      "the file source reads regular files only");
  }
}

// Decided: the configured path may be a symbolic link (log directories and Kubernetes mounts use
// them; the file is only read). What it names must be a regular file.
TEST_F(FileSourceLimits, ASymbolicLinkToARegularFileIsRead) {
  const auto target = dir_ / "real.ndjson";
  std::ofstream(target) << "{\"id\":1}\n";
  std::filesystem::create_symlink(target, path_);
  make_source();
  drain();
  ASSERT_EQ(records_.size(), 1u);
  expect_record(records_[0], "{\"id\":1}", origin(1));
  std::filesystem::remove(path_);
  std::filesystem::create_symlink("/dev/null", path_);
  FileSourceOptions o;
  o.path = path_;
  EXPECT_THROW(FileSource("f", o).start(std::nullopt), SourceError);
}

TEST(OversizePrefix, NeverEndsInsideAUtf8Sequence) {
  EXPECT_EQ(oversize_prefix(std::string(4095, 'a') + "\xC3\xA9" + "tail").size(), 4095u);       // é
  EXPECT_EQ(oversize_prefix(std::string(4094, 'a') + "\xE2\x82\xAC" + "tail").size(), 4094u);  // €
  EXPECT_EQ(oversize_prefix(std::string(5000, 'a')).size(), 4096u);
  EXPECT_EQ(oversize_prefix("short"), "short");
}

}  // namespace
}  // namespace siem
