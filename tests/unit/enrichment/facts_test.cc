// The enrichment extracts each record's facts into one reused Facts object (strings keep their
// buffers); every member must be reset between records. Extracting a record into a Facts that
// held any other record's facts must give exactly what a new Facts gives: a member added to
// Facts but not to its reset fails here as soon as a sample fills it.
#include "connector/enrichment/facts.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <simdjson.h>

#include "connector/mapping/json_access.h"
#include "connector/mapping/kind_detect.h"
#include "tests/support/sample_records.h"

namespace siem {
namespace {

TEST(Facts, ReusedFactsEqualNewFactsForEveryPairOfSamples) {
  const auto all = testing::sample_records();
  ASSERT_GT(all.size(), 30u);
  simdjson::dom::parser parser;
  std::size_t records = 0;  // samples of a known kind (the others are token responses and the like)
  for (const auto& current : all) {
    simdjson::dom::element root;
    ASSERT_EQ(parser.parse(current.json).get(root), simdjson::SUCCESS) << current.file;
    const SourceKind kind = detect_kind(root);
    const json::Fields fields(root);
    const Facts fresh = extract_facts(kind, root, &fields);
    if (kind != SourceKind::unknown) {
      ++records;
      EXPECT_FALSE(fresh == Facts{}) << current.file << ": no facts extracted";
    }
    for (const auto& previous : all) {
      // The reused object holds the previous record's facts first.
      simdjson::dom::parser other;
      simdjson::dom::element prev_root;
      ASSERT_EQ(other.parse(previous.json).get(prev_root), simdjson::SUCCESS);
      Facts reused;
      extract_facts(detect_kind(prev_root), prev_root, nullptr, reused);
      extract_facts(kind, root, &fields, reused);
      ASSERT_TRUE(reused == fresh) << current.file << " after " << previous.file;
    }
  }
  EXPECT_GT(records, 25u);
}

}  // namespace
}  // namespace siem
