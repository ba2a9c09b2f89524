// The file source's records as views into its read blocks (record_text.h): parsed in place, kept
// alive by the records and events that point into them, and bounded in what they may pin.
#include <gtest/gtest.h>
#include <simdjson.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include "connector/core/footprint.h"
#include "connector/sources/file/file_source.h"

namespace siem {
namespace {

class FileSourceBlocksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("siem-fsb-" + std::to_string(::getpid()) + "-" +
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    path_ = dir_ / "in.ndjson";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  // `n` records of 100 bytes each (with their newline), numbered from `first`.
  void append_records(std::size_t first, std::size_t n) {
    std::ofstream out(path_, std::ios::app);
    for (std::size_t i = first; i < first + n; ++i) out << line(i) << '\n';
  }
  static std::string line(std::size_t i) {
    std::string id = std::to_string(i);
    return "{\"id\":\"" + id + "\",\"pad\":\"" + std::string(81 - id.size(), 'p') + "\"}";
  }
  std::unique_ptr<FileSource> source(std::size_t read_chunk, std::size_t blocks_bytes) {
    FileSourceOptions o;
    o.path = path_;
    o.poll_interval = std::chrono::milliseconds(1);
    o.read_chunk = read_chunk;
    o.shared_blocks_bytes = blocks_bytes;
    return std::make_unique<FileSource>("f", o);
  }
  std::filesystem::path dir_, path_;
  std::stop_source stop_;
};

TEST_F(FileSourceBlocksTest, RecordsAreViewsIntoTheReadBlockAndParseWhereTheyAre) {
  append_records(0, 30);
  auto s = source(1000, 16u << 20);
  s->start(std::nullopt);
  const auto b = s->poll(stop_.get_token());
  ASSERT_EQ(b.records.size(), 10u);  // 1000 bytes read: ten whole records
  simdjson::dom::parser parser;
  for (std::size_t i = 0; i < b.records.size(); ++i) {
    const RecordText& t = b.records[i].json;
    EXPECT_TRUE(t.shares_block()) << i;
    EXPECT_TRUE(t.padded()) << i;
    EXPECT_EQ(t, line(i));
    if (i > 0) {
      EXPECT_EQ(t.data(), b.records[i - 1].json.data() + 100) << "not a view into one block";
    }
    // Without a padded copy (realloc_if_needed false): the last record ends at the last byte read.
    simdjson::dom::element root;
    ASSERT_EQ(parser.parse(t.data(), t.size(), false).get(root), simdjson::SUCCESS) << i;
    EXPECT_EQ(std::string_view(root["id"].get_string().value()), std::to_string(i));
    // Queues charge a view its length (the records of a block share its bytes).
    EXPECT_EQ(footprint(b.records[i]), sizeof(RawRecord) + 100 - 1 + heap_bytes(b.records[i].origin));
  }
}

TEST_F(FileSourceBlocksTest, AReadThatFillsLessThanHalfItsBlockCopiesItsRecords) {
  append_records(0, 4);  // 400 bytes into a 1000-byte block
  auto s = source(1000, 16u << 20);
  s->start(std::nullopt);
  const auto b = s->poll(stop_.get_token());
  ASSERT_EQ(b.records.size(), 4u);
  for (std::size_t i = 0; i < b.records.size(); ++i) {
    EXPECT_FALSE(b.records[i].json.shares_block()) << i;
    EXPECT_TRUE(b.records[i].json.padded()) << i;
    EXPECT_EQ(b.records[i].json, line(i));
  }
}

// A record (or the event its text moved into) keeps its block: the text stays valid after its
// batch, the source and later reads are gone, and the block is counted until the last view goes.
TEST_F(FileSourceBlocksTest, AViewKeepsItsBlockAliveAndTheBlocksAliveAreBounded) {
  append_records(0, 40);
  auto s = source(1000, 1000);  // one block alive at most
  s->start(std::nullopt);
  RecordText held;
  {
    auto b1 = s->poll(stop_.get_token());
    ASSERT_EQ(b1.records.size(), 10u);
    ASSERT_TRUE(b1.records[3].json.shares_block());
    held = b1.records[3].json;  // a slow event: one view of the block
  }
  // The block is still alive (held), so the next read may not make another shared one: its
  // records are copies of their own.
  auto b2 = s->poll(stop_.get_token());
  ASSERT_EQ(b2.records.size(), 10u);
  for (std::size_t i = 0; i < b2.records.size(); ++i) {
    EXPECT_FALSE(b2.records[i].json.shares_block()) << i;
    EXPECT_EQ(b2.records[i].json, line(10 + i));
  }
  EXPECT_EQ(held, line(3));  // the block was not freed or reused under the view
  held.clear();               // the last view of the first block: it is freed
  auto b3 = s->poll(stop_.get_token());
  ASSERT_EQ(b3.records.size(), 10u);
  for (std::size_t i = 0; i < b3.records.size(); ++i) {
    EXPECT_TRUE(b3.records[i].json.shares_block()) << i;
    EXPECT_EQ(b3.records[i].json, line(20 + i));
  }
  held = b3.records[9].json;
  s.reset();  // the source goes; the view still holds its block
  b3.records.clear();
  EXPECT_EQ(held, line(29));
}

// A read block larger than the budget is never shared, not even when no other block is alive:
// neither the configured read size nor the one grown after a long record can exceed the budget.
TEST_F(FileSourceBlocksTest, ABlockLargerThanTheBudgetIsNeverShared) {
  append_records(0, 30);
  auto s = source(1000, 999);
  s->start(std::nullopt);
  const auto b = s->poll(stop_.get_token());
  ASSERT_EQ(b.records.size(), 10u);
  for (std::size_t i = 0; i < b.records.size(); ++i) {
    EXPECT_FALSE(b.records[i].json.shares_block()) << i;
    EXPECT_EQ(b.records[i].json, line(i));
  }
}

TEST_F(FileSourceBlocksTest, AReadGrownByALongRecordStaysWithinTheBudget) {
  {
    std::ofstream out(path_);
    out << "{\"id\":\"long\",\"pad\":\"" << std::string(1400, 'q') << "\"}\n";
  }
  append_records(0, 60);
  auto s = source(1000, 1000);  // the long record grows the read to 2000 bytes
  s->start(std::nullopt);
  std::vector<RecordText> held;
  std::size_t seen = 0;
  for (int polls = 0; polls < 20 && seen < 61; ++polls) {
    auto b = s->poll(stop_.get_token());
    for (auto& r : b.records) {
      if (seen > 0) {
        EXPECT_EQ(r.json, line(seen - 1));
      }
      EXPECT_FALSE(r.json.shares_block()) << seen << ": a 2000-byte block over a 1000-byte budget";
      held.push_back(r.json);  // slow events: every view kept
      ++seen;
    }
  }
  EXPECT_EQ(seen, 61u);
}

TEST_F(FileSourceBlocksTest, WithoutSharingEveryRecordIsACopy) {
  append_records(0, 10);
  FileSourceOptions o;
  o.path = path_;
  o.read_chunk = 1000;
  o.share_blocks = false;
  FileSource s("f", o);
  s.start(std::nullopt);
  const auto b = s.poll(stop_.get_token());
  ASSERT_EQ(b.records.size(), 10u);
  for (const auto& r : b.records) EXPECT_FALSE(r.json.shares_block());
}

TEST(RecordText, OwnedTextAndCopies) {
  RecordText t = std::string(10, 'x');
  EXPECT_FALSE(t.shares_block());
  EXPECT_EQ(t, "xxxxxxxxxx");
  t.assign("{\"a\":1}");
  EXPECT_TRUE(t.padded());
  const RecordText copy = t;
  EXPECT_EQ(copy, "{\"a\":1}");
  EXPECT_NE(copy.data(), t.data());  // an owned text is copied, not shared
  auto block = std::make_shared<ReadBlock>(16, nullptr);
  std::memcpy(block->data(), "{\"b\":2}{\"c\":3}", 14);
  block->seal(14);
  const RecordText view(block, std::string_view(block->data() + 7, 7));
  const RecordText shared = view;
  EXPECT_EQ(shared.data(), view.data());  // a view is shared
  EXPECT_EQ(shared, "{\"c\":3}");
}

}  // namespace
}  // namespace siem
