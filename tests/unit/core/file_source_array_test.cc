// The file source over a top-level JSON array larger than max_record_bytes: read element by
// element in pieces, checkpointed inside the array, resumed exactly.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "connector/sources/file/file_source.h"

namespace siem {
namespace {

class FileSourceArrayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("siem-fsa-" + std::to_string(::getpid()) + "-" +
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    path_ = dir_ / "export.json";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void write(const std::string& s) { std::ofstream(path_, std::ios::trunc) << s; }
  std::unique_ptr<FileSource> source() {
    FileSourceOptions o;
    o.path = path_;
    o.poll_interval = std::chrono::milliseconds(1);
    o.read_chunk = 64;         // many reads per array
    o.max_record_bytes = 200;  // the array is far larger; each element is not
    return std::make_unique<FileSource>("f", o);
  }
  // Polls until caught up (bounded), returning every record; `checkpoints` gets, after each batch
  // with one, the number of records read so far and the checkpoint.
  std::vector<RawRecord> drain(FileSource& s, std::vector<std::pair<std::size_t, std::string>>* checkpoints = nullptr) {
    std::vector<RawRecord> out;
    std::stop_source stop;
    for (int i = 0; i < 10'000; ++i) {
      auto b = s.poll(stop.get_token());
      for (auto& r : b.records) out.push_back(std::move(r));
      if (b.checkpoint && checkpoints) checkpoints->emplace_back(out.size(), *b.checkpoint);
      if (b.caught_up) return out;
    }
    ADD_FAILURE() << "the source never caught up";
    return out;
  }
  std::filesystem::path dir_, path_;
};

TEST_F(FileSourceArrayTest, LargeArrayIsReadInPiecesAndResumesExactlyFromEveryCheckpoint) {
  std::string text = "[\n";
  const std::size_t n = 40;
  for (std::size_t i = 0; i < n; ++i)
    text += "  {\n    \"id\": \"r" + std::to_string(i) + "\",\n    \"pad\": \"" + std::string(i % 7 * 10, 'p') +
            "\"\n  }" + (i + 1 < n ? ",\n" : "\n");
  text += "]\n";
  ASSERT_GT(text.size(), 10 * 200u);
  write(text);
  auto s = source();
  s->start(std::nullopt);
  std::vector<std::pair<std::size_t, std::string>> checkpoints;
  const auto all = drain(*s, &checkpoints);
  ASSERT_EQ(all.size(), n);
  for (std::size_t i = 0; i < n; ++i) {
    EXPECT_TRUE(all[i].read_error.empty()) << all[i].read_error;
    EXPECT_NE(std::string_view(all[i].json).find("\"r" + std::to_string(i) + "\""), std::string::npos);
    EXPECT_EQ(all[i].origin, path_.string() + ":" + std::to_string(2 + 4 * i) + "#" + std::to_string(i));
  }
  ASSERT_GT(checkpoints.size(), 5u);  // committed inside the array, not only at its end
  EXPECT_NE(checkpoints.front().second.find("\"array\""), std::string::npos);
  EXPECT_EQ(checkpoints.back().second.find("\"array\""), std::string::npos);  // past its end
  for (const auto& [read, checkpoint] : checkpoints) {
    auto again = source();
    again->start(checkpoint);
    const auto rest = drain(*again);
    ASSERT_EQ(read + rest.size(), n) << checkpoint;
    for (std::size_t i = 0; i < rest.size(); ++i) {
      EXPECT_EQ(rest[i].json, all[read + i].json);
      EXPECT_EQ(rest[i].origin, all[read + i].origin);
    }
  }
}

TEST_F(FileSourceArrayTest, OversizeElementIsOneDeadLetterAndTheNextElementsOnItsLineAreRead) {
  for (const std::string& sep : {std::string(","), std::string(",\n  ")}) {
    SCOPED_TRACE(sep);
    write("[{\"id\":1}" + sep + "{\"id\":\"" + std::string(500, 'x') + "\"}" + sep + "{\"id\":3}" + sep + "7]\n");
    auto s = source();
    s->start(std::nullopt);
    const auto got = drain(*s);
    ASSERT_EQ(got.size(), 4u);
    EXPECT_EQ(got[0].json, "{\"id\":1}");
    const std::string second = sep == "," ? ":1#1" : ":2#1";
    EXPECT_EQ(got[1].origin, path_.string() + second);
    EXPECT_EQ(got[1].read_error, "record at " + path_.string() + second +
                                     " exceeds max_record_bytes (200): 509 bytes; only its first " +
                                     std::to_string(got[1].json.size()) + " bytes are kept here");
    EXPECT_EQ(got[2].json, "{\"id\":3}");
    EXPECT_TRUE(got[2].read_error.empty());
    EXPECT_EQ(got[2].origin.substr(got[2].origin.find('#')), "#2");
    EXPECT_EQ(got[3].read_error, "element 3 of the JSON array opened at line 1 is a number, not a JSON object (a record)");
  }
}

// Under --once the end of the file ends the array: a missing ']' is one dead letter with its
// reason (not taken for an unterminated last line), after the elements that are there.
TEST_F(FileSourceArrayTest, UnclosedArrayUnderOnceIsOneDeadLetterAfterItsElements) {
  write("[\n  {\"id\":1},\n  {\"id\":2}\n");
  auto s = source();
  s->set_run_once();
  s->start(std::nullopt);
  const auto got = drain(*s);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[1].json, "{\"id\":2}");
  EXPECT_EQ(got[1].origin, path_.string() + ":3#1");
  EXPECT_EQ(got[2].read_error,
            "invalid JSON: the JSON array opened at line 1 is not closed (the input ends after 2 elements)");
  EXPECT_EQ(got[2].origin, path_.string() + ":1");
}

TEST_F(FileSourceArrayTest, EmptyArrayFileGivesNothingAndCatchesUp) {
  write("[\n]\n");
  auto s = source();
  s->start(std::nullopt);
  EXPECT_TRUE(drain(*s).empty());
}

}  // namespace
}  // namespace siem
