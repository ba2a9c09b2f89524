// The fast paths of the mapping engine (Rule::append_json, string_view, integer_constant) against
// Rule::evaluate() for every rule of every shipped mapping, over every sample record under every
// kind's mapping, and over variants of the records whose values change type (a string where a
// number was, null, {}, [], escapes, an object where a string was): byte for byte the same.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <simdjson.h>

#include "connector/config/config_node.h"
#include "connector/mapping/kind_detect.h"
#include "connector/mapping/mapping_rules.h"
#include "connector/record/shipped_files.h"
#include "tests/support/fast_path_check.h"
#include "tests/support/record_variants.h"
#include "tests/support/sample_records.h"

namespace siem {
namespace {

class FastPaths : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    Diagnostics diags;
    set_ = new mapping::MappingSet(mapping::MappingSet::load(shipped_mapping_files(find_mappings_dir()), diags));
    ASSERT_FALSE(diags.has_errors()) << diags.format();
  }
  static void TearDownTestSuite() {
    delete set_;
    set_ = nullptr;
  }
  // Both paths for every rule of `m` on `json`; the first disagreements are reported.
  void check(const mapping::KindMapping& m, const std::string& json, bool with_enrichment) {
    const std::size_t before = report_.disagreements.size();
    testing::check_fast_paths(*set_, m, json, with_enrichment, report_);
    for (std::size_t i = before; i < report_.disagreements.size() && i < before + 5; ++i)
      ADD_FAILURE() << report_.disagreements[i];
  }

  static mapping::MappingSet* set_;
  simdjson::dom::parser parser_;
  testing::FastPathReport report_;
};

mapping::MappingSet* FastPaths::set_ = nullptr;

TEST_F(FastPaths, AgreeWithEvaluateOnEverySampleUnderEveryKind) {
  const auto records = testing::sample_records();
  ASSERT_GT(records.size(), 30u);
  std::vector<SourceKind> kinds(all_source_kinds().begin(), all_source_kinds().end());
  kinds.push_back(SourceKind::unknown);
  for (const auto& sample : records)
    for (auto kind : kinds)
      for (bool enriched : {false, true}) check(set_->for_kind(kind), sample.json, enriched);
  EXPECT_GT(report_.compared, 10'000u);  // the fast paths were really taken
}

TEST_F(FastPaths, AgreeWithEvaluateWhenValuesChangeType) {
  std::size_t n = 0;
  for (const auto& sample : testing::sample_records()) {
    simdjson::dom::element root;
    ASSERT_EQ(parser_.parse(sample.json).get(root), simdjson::SUCCESS) << sample.file;
    const auto& m = set_->for_kind(detect_kind(root));
    for (const auto& variant : testing::record_variants(sample.json)) {
      check(m, variant, ++n % 2 == 0);
      if (HasFailure()) return;  // one record's report is enough to act on
    }
  }
  EXPECT_GT(n, 1'000u);
  EXPECT_GT(report_.compared, 50'000u);
}

}  // namespace
}  // namespace siem
