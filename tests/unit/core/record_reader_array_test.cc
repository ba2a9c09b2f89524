// Top-level JSON arrays of records (the Entra admin center's JSON download, `az monitor
// activity-log list`): split element by element, in one piece or in many.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "connector/core/record_reader.h"

namespace siem {
namespace {

struct Got {
  struct Rec {
    std::string json;
    std::size_t line, index;
  };
  std::vector<Rec> records;
  std::vector<ReadError> errors;  // (text views into the input)
  std::vector<std::string> error_texts;
  std::size_t consumed = 0;
};

Got split(std::string_view text, RecordReader::Tail tail = RecordReader::Tail::complete,
          std::size_t limit = SIZE_MAX, ArrayCursor* cursor = nullptr, std::size_t first_line = 1) {
  Got g;
  g.consumed = RecordReader::split(
      text, [&](const RecordSlice& r) { g.records.push_back({std::string(r.json), r.line, r.index}); },
      [&](const ReadError& e) {
        g.errors.push_back(e);
        g.error_texts.emplace_back(e.text);
      },
      first_line, tail, limit, cursor);
  return g;
}

TEST(RecordReaderArray, OneLineArrayGivesEachElementWithItsIndex) {
  const auto g = split(R"([{"id":"a","t":[{"x":1},{"y":"]}"}]},{"id":"b"}])" "\n");
  ASSERT_EQ(g.records.size(), 2u);
  EXPECT_TRUE(g.errors.empty());
  EXPECT_EQ(g.records[0].json, R"({"id":"a","t":[{"x":1},{"y":"]}"}]})");
  EXPECT_EQ(g.records[1].json, R"({"id":"b"})");
  EXPECT_EQ(g.records[0].line, 1u);
  EXPECT_EQ(g.records[1].line, 1u);
  EXPECT_EQ(g.records[0].index, 0u);
  EXPECT_EQ(g.records[1].index, 1u);
}

TEST(RecordReaderArray, PrettyArrayElementsKeepTheirLines) {
  const std::string text =
      "\xEF\xBB\xBF[\n"
      "  {\n"
      "    \"id\": \"a\",\n"
      "    \"targetResources\": [\n"
      "      {\"modifiedProperties\": [{\"newValue\": \"[\\\"x\\\"]\"}]}\n"
      "    ]\n"
      "  },\n"
      "  {\n"
      "    \"id\": \"b\"\n"
      "  }\n"
      "]\n"
      "{\"id\":\"after\"}\n";
  const auto g = split(text);
  ASSERT_EQ(g.records.size(), 3u);
  EXPECT_TRUE(g.errors.empty());
  EXPECT_EQ(g.records[0].line, 2u);
  EXPECT_EQ(g.records[0].index, 0u);
  EXPECT_EQ(g.records[1].line, 8u);
  EXPECT_EQ(g.records[1].index, 1u);
  EXPECT_EQ(g.records[1].json, "{\n    \"id\": \"b\"\n  }");
  EXPECT_EQ(g.records[2].json, "{\"id\":\"after\"}");  // a document after the array: not an element
  EXPECT_EQ(g.records[2].line, 12u);
  EXPECT_EQ(g.records[2].index, kNoElement);
  EXPECT_EQ(g.consumed, text.size());
}

TEST(RecordReaderArray, NonObjectElementsAreErrorsNamingLineAndIndex) {
  const auto g = split("[{\"id\":1}, 42, \"s\",\n [{\"id\":2}], null, true, {\"id\":3}]\n");
  ASSERT_EQ(g.records.size(), 2u);
  EXPECT_EQ(g.records[1].index, 6u);
  ASSERT_EQ(g.errors.size(), 5u);
  EXPECT_EQ(g.errors[0].reason, "element 1 of the JSON array opened at line 1 is a number, not a JSON object (a record)");
  EXPECT_EQ(g.errors[0].index, 1u);
  EXPECT_EQ(g.error_texts[0], "42");
  EXPECT_EQ(g.error_texts[1], "\"s\"");
  EXPECT_EQ(g.errors[2].line, 2u);
  EXPECT_EQ(g.errors[2].reason,
            "element 3 of the JSON array opened at line 1 is an array, not a JSON object (a record)");
  EXPECT_EQ(g.error_texts[2], "[{\"id\":2}]");
  EXPECT_EQ(g.error_texts[3], "null");
  EXPECT_EQ(g.errors[4].index, 5u);
}

TEST(RecordReaderArray, EmptyArrayGivesNoRecordAndNoError) {
  for (std::string_view text : {"[]", "[]\n", "[ ]\n", "[\n]\n", "\n[\n\n  ]\n"}) {
    const auto g = split(text);
    EXPECT_TRUE(g.records.empty()) << text;
    EXPECT_TRUE(g.errors.empty()) << text;
    EXPECT_EQ(g.consumed, text.size());
  }
}

TEST(RecordReaderArray, ElementOverTheLimitIsOneOversizeErrorAndTheOthersAreRead) {
  const std::string big = "{\"id\":\"" + std::string(300, 'x') + "\"}";
  const auto g = split("[{\"id\":1}," + big + ",{\"id\":3}]\n", RecordReader::Tail::complete, 100);
  ASSERT_EQ(g.records.size(), 2u);
  EXPECT_EQ(g.records[1].json, "{\"id\":3}");
  EXPECT_EQ(g.records[1].index, 2u);
  ASSERT_EQ(g.errors.size(), 1u);
  EXPECT_EQ(g.errors[0].oversize_bytes, big.size());
  EXPECT_EQ(g.errors[0].index, 1u);
  EXPECT_TRUE(g.errors[0].reason.empty());  // the caller names its limit
}

TEST(RecordReaderArray, TruncatedArrayAtTheEndOfTheInput) {
  // A cut element: an error naming it; the elements before it are records.
  auto g = split("[\n  {\"id\":1},\n  {\"id\":2,\"x\":[");
  ASSERT_EQ(g.records.size(), 1u);
  ASSERT_EQ(g.errors.size(), 1u);
  EXPECT_EQ(g.errors[0].line, 3u);
  EXPECT_EQ(g.errors[0].reason, "invalid JSON: element 1 of the JSON array opened at line 1 is cut off by the end of the input");
  // All elements complete, the closing bracket missing.
  g = split("[{\"id\":1},{\"id\":2},\n");
  ASSERT_EQ(g.records.size(), 2u);
  ASSERT_EQ(g.errors.size(), 1u);
  EXPECT_EQ(g.errors[0].reason, "invalid JSON: the JSON array opened at line 1 is not closed (the input ends after 2 elements)");
  // A file still being written: the cut element waits, and reading resumes there.
  const std::string text = "[{\"id\":1},\n {\"id\":2";
  ArrayCursor cursor;
  g = split(text, RecordReader::Tail::growing_file, SIZE_MAX, &cursor);
  ASSERT_EQ(g.records.size(), 1u);
  EXPECT_TRUE(g.errors.empty());
  EXPECT_EQ(g.consumed, text.find(" {") + 1);
  EXPECT_TRUE(cursor.inside);
  EXPECT_EQ(cursor.next_index, 1u);
  g = split("{\"id\":2}]\n", RecordReader::Tail::growing_file, SIZE_MAX, &cursor, 2);
  ASSERT_EQ(g.records.size(), 1u);
  EXPECT_EQ(g.records[0].index, 1u);
  EXPECT_EQ(g.records[0].line, 2u);
  EXPECT_FALSE(cursor.inside);
}

TEST(RecordReaderArray, MissingCommaIsReportedAndReadingGoesOn) {
  const auto g = split("[{\"id\":1} {\"id\":2}]\n{\"id\":3}\n");
  ASSERT_EQ(g.errors.size(), 2u);  // the missing ',', then the stray ']'
  EXPECT_EQ(g.errors[0].reason, "invalid JSON: expected ',' or ']' at element 1 of the JSON array opened at line 1");
  ASSERT_EQ(g.records.size(), 2u);
  EXPECT_EQ(g.records.back().json, "{\"id\":3}");
}

TEST(RecordReaderArray, HostileNestingIsOneErrorWithoutRecursion) {
  const std::size_t depth = 200'000;
  const std::string text = std::string(depth, '[') + std::string(depth, ']') + "\n";
  const auto g = split(text);
  EXPECT_TRUE(g.records.empty());
  ASSERT_EQ(g.errors.size(), 1u);
  EXPECT_EQ(g.errors[0].reason, "element 0 of the JSON array opened at line 1 is an array, not a JSON object (a record)");
  EXPECT_EQ(g.consumed, text.size());
}

// Read in two pieces cut at every byte (as the file source reads), with the cursor carried: the
// records are exactly those of the whole text, none lost, none repeated, with the same lines.
TEST(RecordReaderArray, ReadInPiecesAtAnyCutGivesTheSameRecords) {
  const std::string text = "[\n {\"id\":1,\"a\":[{\"b\":\"],\\\"\"}]},\n 7, {\"id\":2}, {\"id\":3}\n]\n{\"id\":4}\n";
  const auto whole = split(text);
  ASSERT_EQ(whole.records.size(), 4u);
  for (std::size_t cut = 0; cut <= text.size(); ++cut) {
    ArrayCursor cursor;
    auto a = split(std::string_view(text).substr(0, cut), RecordReader::Tail::cut_chunk, SIZE_MAX, &cursor);
    std::size_t line = 1;
    for (std::size_t i = 0; i < a.consumed; ++i) line += text[i] == '\n';
    const auto b = split(std::string_view(text).substr(a.consumed), RecordReader::Tail::complete, SIZE_MAX, &cursor, line);
    a.records.insert(a.records.end(), b.records.begin(), b.records.end());
    ASSERT_EQ(a.records.size(), whole.records.size()) << "cut at " << cut;
    for (std::size_t i = 0; i < a.records.size(); ++i) {
      EXPECT_EQ(a.records[i].json, whole.records[i].json) << "cut at " << cut;
      EXPECT_EQ(a.records[i].line, whole.records[i].line) << "cut at " << cut;
      EXPECT_EQ(a.records[i].index, whole.records[i].index) << "cut at " << cut;
    }
    EXPECT_EQ(a.errors.size() + b.errors.size(), 1u) << "cut at " << cut;  // the 7
  }
}

TEST(RecordReaderArray, OversizeSkipOfAnElementEndsAtItsClosingBracket) {
  const std::string rest = "{\"id\":\"" + std::string(100, 'x') + "}\\\"\"},{\"id\":2}]\n";
  OversizeSkip skip(rest, 16, true);
  const auto half = rest.size() / 3;
  EXPECT_FALSE(skip.feed(std::string_view(rest).substr(0, half)));
  const auto end = skip.feed(std::string_view(rest).substr(half));
  ASSERT_TRUE(end);
  EXPECT_EQ(half + *end, rest.find(",{\"id\":2}"));
  EXPECT_EQ(skip.bytes(), rest.find(",{\"id\":2}"));
  EXPECT_TRUE(skip.array_element());
  // A huge number element ends before the ',' or ']' after it.
  OversizeSkip number("123456789", 4, true);
  EXPECT_EQ(number.feed("123456789]"), 9u);
}

}  // namespace
}  // namespace siem
