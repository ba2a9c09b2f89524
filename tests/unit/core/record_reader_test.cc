#include "connector/core/record_reader.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <vector>

namespace siem {
namespace {

struct Split {
  std::vector<std::pair<std::string, std::size_t>> records;
  std::vector<std::pair<std::size_t, std::string>> errors;
  std::size_t consumed = 0;
};

Split split(std::string_view text, RecordReader::Tail tail = RecordReader::Tail::complete) {
  Split s;
  s.consumed = RecordReader::split(
      text, [&](const RecordSlice& r) { s.records.emplace_back(std::string(r.json), r.line); },
      [&](const ReadError& e) { s.errors.emplace_back(e.line, e.reason); }, 1, tail);
  return s;
}

std::string read(const std::string& name) {
  std::ifstream in(std::string(SIEM_TEST_DATA_DIR) + "/" + name);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(RecordReader, NdjsonLinesWithLineNumbers) {
  auto s = split("{\"a\":1}\n\n{\"b\":2}\n{\"c\":3}");
  ASSERT_EQ(s.records.size(), 3u);
  EXPECT_EQ(s.records[1].first, "{\"b\":2}");
  EXPECT_EQ(s.records[1].second, 3u);
  EXPECT_EQ(s.records[2].second, 4u);
  EXPECT_TRUE(s.errors.empty());
}

TEST(RecordReader, BrokenLineIsReportedAndTheRestStillRead) {
  auto s = split("{\"a\":1}\n{\"b\": tru\nnot json\n{\"c\":3}\n{\"d\":4\n{\"e\":5}\n");
  std::vector<std::string> got;
  for (auto& r : s.records) got.push_back(r.first);
  EXPECT_NE(std::find(got.begin(), got.end(), "{\"a\":1}"), got.end());
  EXPECT_NE(std::find(got.begin(), got.end(), "{\"c\":3}"), got.end());
  EXPECT_NE(std::find(got.begin(), got.end(), "{\"e\":5}"), got.end());
  std::map<std::size_t, std::string> errors(s.errors.begin(), s.errors.end());
  EXPECT_TRUE(errors.count(2)) << "line 2 is unterminated";
  EXPECT_TRUE(errors.count(3)) << "line 3 is not JSON";
  EXPECT_TRUE(errors.count(5)) << "line 5 is unterminated";
  EXPECT_EQ(s.records.size(), 3u);
  // A delimited but invalid line is handed on as a record: the mapper repairs or reports it.
  auto t = split("{\"b\": tru}\n");
  ASSERT_EQ(t.records.size(), 1u);
  EXPECT_TRUE(t.errors.empty());
}

// Windows tools start files with a UTF-8 byte-order mark, and concatenated exports carry one per
// file: it is skipped like blank space, in NDJSON and before a pretty-printed document.
TEST(RecordReader, Utf8ByteOrderMarksAreSkipped) {
  auto s = split("\xEF\xBB\xBF{\"a\":1}\n{\"b\":2}\n\xEF\xBB\xBF{\"c\":3}\n");
  EXPECT_TRUE(s.errors.empty());
  ASSERT_EQ(s.records.size(), 3u);
  EXPECT_EQ(s.records[0].first, "{\"a\":1}");
  EXPECT_EQ(s.records[2].first, "{\"c\":3}");
  EXPECT_EQ(s.records[2].second, 3u);
  auto pretty = split("\xEF\xBB\xBF{\n  \"value\": [\n    {\"id\": \"x\"},\n    {\"id\": \"y\"}\n  ]\n}\n");
  EXPECT_TRUE(pretty.errors.empty());
  ASSERT_EQ(pretty.records.size(), 2u);
  EXPECT_EQ(pretty.records[1].second, 4u);
}

// UTF-16 text (Windows PowerShell's Out-File) is one error naming the encoding, not one per line.
TEST(RecordReader, Utf16TextIsOneClearError) {
  const std::string utf16le("\xFF\xFE{\0\"\0a\0\"\0:\0001\0}\0\n\0{\0}\0\n\0", 22);
  auto s = split(utf16le);
  EXPECT_TRUE(s.records.empty());
  ASSERT_EQ(s.errors.size(), 1u);
  EXPECT_EQ(s.errors[0].first, 1u);
  EXPECT_NE(s.errors[0].second.find("UTF-16"), std::string::npos) << s.errors[0].second;
  EXPECT_EQ(s.consumed, utf16le.size());
}

TEST(RecordReader, GraphListDocumentSplitsIntoRecordsWithTheirLines) {
  auto s = split(read("graph-signins-list-beta-failed-50126.json"));
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_TRUE(s.errors.empty());
  EXPECT_EQ(s.records[0].first.front(), '{');
  EXPECT_GT(s.records[0].second, 1u);
  auto env = split(read("eventhub-activitylog-records-envelope.json"));
  EXPECT_EQ(env.records.size(), 1u);
  auto list = split("{\"@odata.context\":\"x\",\"value\":[{\"id\":\"1\"},\n  {\"id\":\"2\"}],\"@odata.nextLink\":\"y\"}\n");
  ASSERT_EQ(list.records.size(), 2u);
  EXPECT_EQ(list.records[1].first, "{\"id\":\"2\"}");
  EXPECT_EQ(list.records[1].second, 2u);
}

// Found by fuzz_record_reader: the lines between the keys before the list (pretty-printed Graph
// responses put "@odata.context" first) were not counted, so every record reported a line too low.
TEST(RecordReader, PrettyListAfterOtherKeysReportsEachRecordsOwnLine) {
  auto s = split("{\n  \"@odata.context\": \"x\",\n\n  \"value\": [\n    {\"id\": \"1\"},\n    {\"id\": \"2\"}\n  ]\n}\n");
  ASSERT_EQ(s.records.size(), 2u);
  EXPECT_TRUE(s.errors.empty());
  EXPECT_EQ(s.records[0].second, 5u);
  EXPECT_EQ(s.records[1].second, 6u);
  auto env = split("{\"@odata.nextLink\": \"y\",\n\"records\":\n[\n{\"a\":1}]}\n");
  ASSERT_EQ(env.records.size(), 1u);
  EXPECT_EQ(env.records[0].second, 4u);
}

TEST(RecordReader, RecordWithAValueFieldIsNotAList) {
  auto s = split("{\"id\":\"x\",\"value\":[1,2],\"other\":true}\n");
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_EQ(s.records[0].first, "{\"id\":\"x\",\"value\":[1,2],\"other\":true}");
}

// One-line documents are parsed by the reader only when a `value` or `records` key is followed by
// an array: list documents are found whatever their spacing or key order, with a key written
// with \u escapes too, and records with such a field of another type are handed on untouched.
TEST(RecordReader, OneLineListDocumentsAreFoundWhateverTheirSpelling) {
  EXPECT_EQ(split("{\"value\" :\t[ {\"id\":\"1\"} , {\"id\":\"2\"} ] }\n").records.size(), 2u);
  EXPECT_EQ(split("{\"@odata.nextLink\":\"n\",\"records\":[{\"a\":1},{\"b\":[2]},{\"c\":3}]}\n").records.size(), 3u);
  // A list key written with \u escapes: the document was found to be a list, but its records were
  // looked for under the key as written, and none was reported; it is now handed on whole.
  const std::string escaped_list = "{\"v\\u0061lue\":[{\"a\":1},{\"b\":2}],\"@odata.context\":\"value\"}";
  auto escaped = split(escaped_list + "\n");
  ASSERT_EQ(escaped.records.size(), 1u);
  EXPECT_EQ(escaped.records[0].first, escaped_list);
  for (const std::string& record : std::vector<std::string>{
           "{\"id\":\"x\",\"value\":\"v\",\"tags\":[\"a\"],\"records\":\"r\"}", "{\"value\":\"x\",\"records\":[{\"a\":1}]}",
        "{\"additionalDetails\":[{\"key\":\"k\",\"value\":\"v\"}],\"name\":\"\\\"value\\\":[1]\"}",
        "{\"" + std::string(60, 'k') + "\\\"value\":[{\"a\":1}]}"}) {
    auto s = split(record + "\n");
    ASSERT_EQ(s.records.size(), 1u) << record;
    EXPECT_EQ(s.records[0].first, record);
    EXPECT_TRUE(s.errors.empty()) << record;
  }
}

TEST(RecordReader, EverySampleFileSplitsWithoutErrors) {
  const std::map<std::string, std::size_t> expected = {
      {"graph-directoryaudits-list-v1.json", 1}, {"graph-signins-list-v1-nextlink.json", 1},
      {"elastic-eventhub-signinlogs-categories.ndjson", 5}, {"elastic-eventhub-auditlogs.ndjson", 3},
      {"elastic-eventhub-activitylogs.ndjson", 3}, {"arm-activitylog-values-filtered.json", 1},
      {"eventhub-auditlogs-records-envelope.json", 1}, {"eventhub-auditlogs-pim-record.json", 1},
      {"graph-roleassignmentschedulerequests-list-v1.json", 1}, {"arm-pim-roleassignmentschedulerequests-list.json", 1}};
  for (const auto& [file, n] : expected) {
    auto s = split(read(file));
    EXPECT_EQ(s.records.size(), n) << file;
    EXPECT_TRUE(s.errors.empty()) << file;
  }
}

TEST(RecordReader, GrowingFileWaitsForAnUnterminatedTail) {
  const std::string text = "{\"a\":1}\n{\"b\":";
  auto s = split(text, RecordReader::Tail::growing_file);
  EXPECT_EQ(s.records.size(), 1u);
  EXPECT_TRUE(s.errors.empty());
  EXPECT_EQ(s.consumed, 8u);
  // ...but a broken line followed by complete lines is an error, not a wait.
  auto t = split("{\"b\":\n{\"c\":3}\n", RecordReader::Tail::growing_file);
  EXPECT_EQ(t.errors.size(), 1u);
  EXPECT_EQ(t.records.size(), 1u);
  // A cut chunk always waits.
  auto u = split("{\"b\":\n{\"c\":3}\n", RecordReader::Tail::cut_chunk);
  EXPECT_TRUE(u.errors.empty());
  EXPECT_EQ(u.consumed, 0u);
}

// split()'s end_line is the line at the offset it returns (the file source checkpoints it instead
// of counting the consumed text's newlines again): for every shape, read in pieces from each
// consumed offset on as the file source does (resuming inside top-level arrays), under each Tail
// and with and without a size limit, it equals the line at the start plus those newlines.
TEST(RecordReader, EndLineIsTheLineAtTheConsumedOffset) {
  std::vector<std::pair<std::string, std::string>> inputs = {
      {"ndjson", "{\"a\":1}\n\n{\"b\":2}\r\n  {\"c\":3}\n\n\n"},
      {"bom", "\xEF\xBB\xBF{\"a\":1}\n\xEF\xBB\xBF{\"b\":2}\n"},
      {"pretty list", "{\n  \"value\": [\n    {\"id\": 1},\n    {\"id\":\n 2}\n  ]\n}\n{\"x\":1}\n"},
      {"array", "[\n {\"a\":1},\n {\"b\":\n  2}\n]\n{\"c\":1}\n[{\"d\":1},{\"e\":2}]\n"},
      {"broken array", "[1, {\"a\":1}, ,]\n[{\"a\":1} {\"b\":2}]\n{\"c\":1}\n[\n{\"z\":\n"},
      {"broken lines", "not json\n{\"a\":\n{\"b\":1}\n{\"c\":1} trailing\n{\n\"d\": [1,\n"},
      {"unterminated tail", "{\"a\":1}\n{\"b\":"},
      {"oversize", "{\"a\":\"" + std::string(200, 'x') + "\"}\n{\"b\":1}\n{\n\"c\":\"" + std::string(150, 'y') +
                       "\"\n}\n"},
      {"utf16", [] {
         static constexpr char kText[] = "\xFF\xFE{\0\"\0a\0\"\0:\0" "1\0}\0\n\0\n\0";
         return std::string(kText, sizeof kText - 1);  // the BOM and 9 UTF-16 units: 20 bytes
       }()},
  };
  for (const auto& entry : std::filesystem::directory_iterator(SIEM_TEST_DATA_DIR)) {
    const auto ext = entry.path().extension();
    if (ext == ".json" || ext == ".ndjson") inputs.emplace_back(entry.path().filename().string(), read(entry.path().filename().string()));
  }
  const auto ignore_record = [](const RecordSlice&) {};
  const auto ignore_error = [](const ReadError&) {};
  std::size_t checked = 0;
  for (const auto& [name, text] : inputs) {
    for (const auto tail : {RecordReader::Tail::complete, RecordReader::Tail::growing_file, RecordReader::Tail::cut_chunk}) {
      for (const std::size_t limit : {std::size_t{SIZE_MAX}, std::size_t{64}}) {
        for (const std::size_t piece : {std::size_t{13}, std::size_t{97}, std::size_t{1000}, text.size()}) {
          std::size_t offset = 0, line = 1;
          ArrayCursor cursor;
          for (std::size_t step = 0; step <= text.size() && offset < text.size(); ++step) {
            const std::string_view chunk = std::string_view(text).substr(offset, piece);
            const bool last = offset + chunk.size() >= text.size();
            std::size_t end_line = 0;
            const std::size_t consumed = RecordReader::split(chunk, ignore_record, ignore_error, line,
                                                             last ? tail : RecordReader::Tail::cut_chunk, limit,
                                                             &cursor, &end_line);
            ASSERT_EQ(end_line, line + count_newlines(chunk.substr(0, consumed)))
                << name << ": piece " << piece << ", limit " << limit << ", offset " << offset;
            ++checked;
            if (consumed == 0) break;  // a document longer than the piece: the source would read more
            line = end_line;
            offset += consumed;
          }
        }
      }
    }
  }
  EXPECT_GT(checked, 1000u);
}

}  // namespace
}  // namespace siem
