// The fast paths of the mapping engine (Rule::append_json, string_view, integer_constant) against
// Rule::evaluate() for every rule of every shipped mapping, over every sample record under every
// kind's mapping, and over variants of the records whose values change type (a string where a
// number was, null, {}, [], escapes, an object where a string was): byte for byte the same.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <simdjson.h>

#include "connector/config/config_node.h"
#include "connector/mapping/kind_detect.h"
#include "connector/mapping/mapping_rules.h"
#include "connector/mapping/shipped_files.h"
#include "tests/support/fast_path_check.h"
#include "tests/support/sample_records.h"

namespace siem {
namespace {

// Values a field may hold instead of what the sample has.
const std::vector<nlohmann::json>& replacements() {
  static const std::vector<nlohmann::json> values = {
      "", "Ünïcode \"quoted\" back\\slash\nnew line\ttab \x01 ctl", 0, -7, 3.25, 1e300, true, false, nullptr,
      nlohmann::json::object(), nlohmann::json::array(), "10.0.0.1", "2001:db8::1", "2026-03-04T10:15:30.1234567Z",
      "not-an-ip", nlohmann::json::array({"a", "b"}), nlohmann::json({{"k", 1}}), 18446744073709551615ull, "4294967296",
      "Global Administrator", "62e90394-69f5-4237-9190-012177145e10", "MFA"};
  return values;
}

// Variants of `record`: for each i, every scalar field gets replacements()[(k + i) % n] (k: the
// field's position), so every field takes every replacement once; then variants where every
// n-th object or array is replaced by a scalar or an empty container.
std::vector<std::string> variants(const std::string& record) {
  std::vector<std::string> out;
  const auto original = nlohmann::json::parse(record, nullptr, false);
  if (original.is_discarded()) return out;
  const auto& values = replacements();
  for (std::size_t shift = 0; shift < values.size(); ++shift) {
    auto copy = original;
    std::size_t k = 0;
    std::function<void(nlohmann::json&)> walk = [&](nlohmann::json& j) {
      if (j.is_object() || j.is_array()) {
        for (auto& child : j) walk(child);
      } else {
        j = values[(k++ + shift) % values.size()];
      }
    };
    walk(copy);
    out.push_back(copy.dump());
  }
  const std::vector<nlohmann::json> containers = {"x", 5, nullptr, nlohmann::json::array(), nlohmann::json::object(), true};
  constexpr std::size_t kEvery = 3;
  for (std::size_t phase = 0; phase < kEvery * containers.size(); ++phase) {
    auto copy = original;
    std::size_t k = 0;
    std::function<void(nlohmann::json&, bool)> walk = [&](nlohmann::json& j, bool root) {
      if (!j.is_object() && !j.is_array()) return;
      if (!root && k++ % kEvery == phase % kEvery) {
        j = containers[phase / kEvery];
        return;
      }
      for (auto& child : j) walk(child, false);
    };
    walk(copy, true);
    out.push_back(copy.dump());
  }
  return out;
}

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
    for (const auto& variant : variants(sample.json)) {
      check(m, variant, ++n % 2 == 0);
      if (HasFailure()) return;  // one record's report is enough to act on
    }
  }
  EXPECT_GT(n, 1'000u);
  EXPECT_GT(report_.compared, 50'000u);
}

}  // namespace
}  // namespace siem
