#include "connector/sources/file/file_source.h"

#include <gtest/gtest.h>
#include <simdjson.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace siem {
namespace {

class FileSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("siem-fs-" + std::to_string(::getpid()) + "-" +
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    path_ = dir_ / "in.ndjson";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void append(const std::string& s) { std::ofstream(path_, std::ios::app) << s; }
  std::unique_ptr<FileSource> source() {
    FileSourceOptions o;
    o.path = path_;
    o.poll_interval = std::chrono::milliseconds(1);
    return std::make_unique<FileSource>("f", o);
  }
  std::filesystem::path dir_, path_;
};

TEST_F(FileSourceTest, RestartFromCheckpointNeitherRepeatsNorSkips) {
  append("{\"id\":1}\n{\"id\":2}\n");
  std::stop_source stop;
  auto s = source();
  s->start(std::nullopt);
  auto b = s->poll(stop.get_token());
  ASSERT_EQ(b.records.size(), 2u);
  ASSERT_TRUE(b.checkpoint);
  EXPECT_EQ(b.records[1].origin, path_.string() + ":2");
  append("{\"id\":3}\n");
  auto s2 = source();
  s2->start(b.checkpoint);
  auto b2 = s2->poll(stop.get_token());
  ASSERT_EQ(b2.records.size(), 1u);
  EXPECT_EQ(b2.records[0].json, "{\"id\":3}");
  EXPECT_EQ(b2.records[0].origin, path_.string() + ":3");
  auto b3 = s2->poll(stop.get_token());
  EXPECT_TRUE(b3.records.empty());
  EXPECT_TRUE(b3.caught_up);
}

TEST_F(FileSourceTest, PartialLastLineWaitsForItsNewline) {
  append("{\"id\":1}\n{\"id\":");
  std::stop_source stop;
  auto s = source();
  s->start(std::nullopt);
  auto b = s->poll(stop.get_token());
  ASSERT_EQ(b.records.size(), 1u);
  append("2}\n");
  auto b2 = s->poll(stop.get_token());
  ASSERT_EQ(b2.records.size(), 1u);
  EXPECT_EQ(b2.records[0].json, "{\"id\":2}");
}

TEST_F(FileSourceTest, RotationAndTruncationRestartAtTheBeginning) {
  append("{\"id\":1}\n{\"id\":2}\n");
  std::stop_source stop;
  auto s = source();
  s->start(std::nullopt);
  auto b = s->poll(stop.get_token());
  ASSERT_EQ(b.records.size(), 2u);
  // Rotation: the file is replaced by a new one (new inode).
  std::filesystem::rename(path_, dir_ / "in.ndjson.1");
  append("{\"id\":10}\n");
  auto s2 = source();
  s2->start(b.checkpoint);
  auto b2 = s2->poll(stop.get_token());
  ASSERT_EQ(b2.records.size(), 1u);
  EXPECT_EQ(b2.records[0].json, "{\"id\":10}");
  // Truncation: the same file, shorter than the checkpoint offset.
  {
    std::ofstream(path_, std::ios::trunc) << "{\"x\":1}\n";
  }
  auto b3 = s2->poll(stop.get_token());
  ASSERT_EQ(b3.records.size(), 1u);
  EXPECT_EQ(b3.records[0].json, "{\"x\":1}");
}

// A UTF-16 file larger than one read chunk: one error naming the file and the encoding, nothing
// read (so nothing is lost once it is converted), not one error per line of each chunk.
TEST_F(FileSourceTest, Utf16FileIsOneErrorAndNothingIsRead) {
  std::string text("\xFF\xFE", 2);
  for (int i = 0; i < 20'000; ++i) text += std::string("{\0}\0\n\0", 6);
  append(text);
  FileSourceOptions o;
  o.path = path_;
  o.poll_interval = std::chrono::milliseconds(1);
  o.read_chunk = 4096;
  FileSource s("f", o);
  s.start(std::nullopt);
  std::stop_source stop;
  for (int attempt = 0; attempt < 2; ++attempt) {  // and again on the retry
    try {
      (void)s.poll(stop.get_token());
      FAIL() << "no error for a UTF-16 file";
    } catch (const SourceError& e) {
      EXPECT_NE(std::string(e.what()).find(path_.string()), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("UTF-16"), std::string::npos) << e.what();
    }
  }
}

// Each record is handed on with room after its text for the mapping stage's parser, which then
// reads it where it is instead of copying it into a padded buffer of its own (record_text.h).
static_assert(kRecordParseSlack >= simdjson::SIMDJSON_PADDING, "simdjson needs more room after a record");

TEST_F(FileSourceTest, RecordsLeaveRoomForTheParserAfterTheirText) {
  const std::string big = "{\"id\":\"" + std::string(3000, 'x') + "\"}";
  append(big + "\n{\"id\":2}\n" + big + "\n");
  std::stop_source stop;
  auto s = source();
  s->start(std::nullopt);
  const auto b = s->poll(stop.get_token());
  ASSERT_EQ(b.records.size(), 3u);
  EXPECT_EQ(b.records[0].json, big);
  EXPECT_EQ(b.records[1].json, "{\"id\":2}");
  for (const auto& r : b.records) EXPECT_TRUE(r.json.padded()) << r.origin;
}

// Replaces `text` at `offset` in the file, keeping its inode and size (a rewrite in place).
void overwrite(const std::filesystem::path& path, std::size_t offset, const std::string& text) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(static_cast<std::streamoff>(offset));
  f << text;
}

// Records of 32 bytes with their newline: {"id":N,"pad":"xxx..."}.
std::string records(int first, int n) {
  std::string out;
  for (int i = first; i < first + n; ++i) {
    std::string r = "{\"id\":" + std::to_string(i) + ",\"pad\":\"";
    r += std::string(29 - r.size(), 'x') + "\"}\n";
    out += r;
  }
  return out;
}

// The fingerprint grows with the bytes read until it covers its first 256 bytes: a rewrite of
// bytes a later read reached (here bytes 64-95, read by the second poll) is still found.
TEST_F(FileSourceTest, RewriteInPlaceWithinTheFingerprintedBytesRestartsAtTheBeginning) {
  append(records(0, 2));  // 64 bytes
  std::stop_source stop;
  auto s = source();
  s->start(std::nullopt);
  ASSERT_EQ(s->poll(stop.get_token()).records.size(), 2u);
  append(records(2, 10));  // 384 bytes in all
  ASSERT_EQ(s->poll(stop.get_token()).records.size(), 10u);
  overwrite(path_, 64, records(50, 1));
  append(records(12, 1));
  const auto b = s->poll(stop.get_token());
  ASSERT_EQ(b.records.size(), 13u);  // read again from the start
  EXPECT_EQ(b.records[2].json, records(50, 1).substr(0, 31));
}

// Once the fingerprint covers its 256 bytes it is kept from read to read: it still matches the
// file (a restart from the checkpoint neither repeats nor skips) and still finds a rewrite.
TEST_F(FileSourceTest, FullFingerprintIsKeptAndStillFindsARewriteInPlace) {
  append(records(0, 10));  // 320 bytes
  std::stop_source stop;
  auto s = source();
  s->start(std::nullopt);
  ASSERT_EQ(s->poll(stop.get_token()).records.size(), 10u);
  append(records(10, 2));
  const auto b = s->poll(stop.get_token());
  ASSERT_EQ(b.records.size(), 2u);
  ASSERT_TRUE(b.checkpoint);
  append(records(12, 1));
  auto s2 = source();
  s2->start(b.checkpoint);
  const auto b2 = s2->poll(stop.get_token());
  ASSERT_EQ(b2.records.size(), 1u);
  EXPECT_EQ(b2.records[0].origin, path_.string() + ":13");
  overwrite(path_, 0, records(60, 1));
  append(records(13, 1));
  const auto b3 = s2->poll(stop.get_token());
  ASSERT_EQ(b3.records.size(), 14u);  // read again from the start
  EXPECT_EQ(b3.records[0].json, records(60, 1).substr(0, 31));
}

TEST_F(FileSourceTest, MalformedCheckpointIsAnError) {
  append("{\"id\":1}\n");
  auto s = source();
  EXPECT_THROW(s->start(std::string("garbage")), SourceError);
}

}  // namespace
}  // namespace siem
