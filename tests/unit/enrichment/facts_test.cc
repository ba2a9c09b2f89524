// The enrichment extracts each record's facts into one reused Facts object (strings keep their
// buffers); every member must be reset between records. Extracting a record into a Facts that
// held any other record's facts must give exactly what a new Facts gives: a member added to
// Facts but not to its reset fails here as soon as a sample fills it.
#include "connector/enrichment/facts.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <simdjson.h>

#include "connector/core/record_reader.h"
#include "connector/mapping/json_access.h"
#include "connector/mapping/kind_detect.h"

namespace siem {
namespace {

struct Sample {
  std::string json;
  std::string origin;
};

std::vector<Sample> samples() {
  std::vector<Sample> out;
  for (const auto& entry : std::filesystem::directory_iterator(SIEM_TEST_DATA_DIR)) {
    const auto ext = entry.path().extension();
    if (ext != ".json" && ext != ".ndjson") continue;
    std::ifstream in(entry.path());
    std::stringstream ss;
    ss << in.rdbuf();
    const auto name = entry.path().filename().string();
    RecordReader::split(ss.str(), [&](const RecordSlice& s) { out.push_back(Sample{std::string(s.json), name}); },
                        [](const ReadError&) {});
  }
  return out;
}

TEST(Facts, ReusedFactsEqualNewFactsForEveryPairOfSamples) {
  const auto all = samples();
  ASSERT_GT(all.size(), 30u);
  simdjson::dom::parser parser;
  std::size_t records = 0;  // samples of a known kind (the others are token responses and the like)
  for (const auto& current : all) {
    simdjson::dom::element root;
    ASSERT_EQ(parser.parse(current.json).get(root), simdjson::SUCCESS) << current.origin;
    const SourceKind kind = detect_kind(root);
    const json::Fields fields(root);
    const Facts fresh = extract_facts(kind, root, &fields);
    if (kind != SourceKind::unknown) {
      ++records;
      EXPECT_FALSE(fresh == Facts{}) << current.origin << ": no facts extracted";
    }
    for (const auto& previous : all) {
      // The reused object holds the previous record's facts first.
      simdjson::dom::parser other;
      simdjson::dom::element prev_root;
      ASSERT_EQ(other.parse(previous.json).get(prev_root), simdjson::SUCCESS);
      Facts reused;
      extract_facts(detect_kind(prev_root), prev_root, nullptr, reused);
      extract_facts(kind, root, &fields, reused);
      ASSERT_TRUE(reused == fresh) << current.origin << " after " << previous.origin;
    }
  }
  EXPECT_GT(records, 25u);
}

}  // namespace
}  // namespace siem
