// The enrichment's result is built after the ordered turn (Enricher::complete(), in the mapper's
// finish()), while later records' ordered parts change the roster: it must come from what its own
// record's ordered part found, never from the roster as later records left it.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "connector/config/config_node.h"
#include "connector/enrichment/mapping_stage.h"
#include "tests/support/wall_clock_mask.h"

namespace siem {
namespace {

using test::mask_wall_clock;
using test::wall_clock_ms;

std::vector<std::string> group_sequence() {
  std::vector<std::string> out;
  std::ifstream in(std::string(SIEM_TEST_DATA_DIR) + "/enrichment/role-group-membership-sequence.ndjson");
  for (std::string l; std::getline(in, l);)
    if (!l.empty()) out.push_back(l);
  return out;
}

bool has(const TagList& tags, std::string_view tag) {
  return tags.contains(tag);
}

// A role given to a group (10:15), Bob's sign-in at 10:21, then the audit of Bob's addition to the
// group at 10:18 (it arrives after the sign-in), then another sign-in of Bob: the first sign-in
// was enriched before the roster knew the membership (not privileged), the second after it
// (privileged, tier 0). As a worker late by the whole sequence runs them: every record prepared,
// then enriched in input order, then the finishes in reverse order, so each result is completed
// with the roster as the last record left it. The events are those of map(), one at a time.
TEST(EnricherPhases, TheResultIsTheRosterAsTheRecordFoundItNotAsLaterRecordsLeftIt) {
  const auto seq = group_sequence();
  ASSERT_EQ(seq.size(), 3u);
  const std::string late_sign_in = std::regex_replace(seq[2], std::regex("66ea54eb-0000-4ee5-be62-ff5a759b0201"),
                                                      "66ea54eb-0000-4ee5-be62-ff5a759b0202");
  const std::array<std::string, 4> input{seq[0], seq[2], seq[1], late_sign_in};
  Diagnostics diags;
  auto doc = ConfigDocument::load_string("{}", "test.yaml", diags, ".");
  auto whole = make_mapping_stage(doc->root(), nullptr);
  auto phased = make_mapping_stage(doc->root(), nullptr);
  ASSERT_FALSE(diags.has_errors()) << diags.format();
  const FormatSet formats = format_bit(OutputFormat::ecs) | format_bit(OutputFormat::cef);
  const std::int64_t started_ms = wall_clock_ms();

  std::array<RawRecord, 4> rec;
  std::array<MappedEvent, 4> ev, want;
  std::array<std::unique_ptr<Mapper::Scratch>, 4> scratch;
  for (std::size_t i = 0; i < input.size(); ++i) {
    rec[i].json = input[i];
    scratch[i] = phased->make_scratch();
    ASSERT_FALSE(phased->prepare(*scratch[i], rec[i], std::nullopt, formats, ev[i])) << i;
  }
  for (std::size_t i = 0; i < input.size(); ++i) phased->enrich(*scratch[i], rec[i], ev[i]);
  for (std::size_t i = input.size(); i-- > 0;) phased->finish(*scratch[i], rec[i], formats, ev[i]);

  for (std::size_t i = 0; i < input.size(); ++i) {
    RawRecord r;
    r.json = input[i];
    ASSERT_FALSE(whole->map(r, std::nullopt, formats, want[i])) << i;
  }
  // The detections that depend on the earlier records are there, and differ between the sign-ins.
  EXPECT_FALSE(has(want[1].tags(), "pa.signin.privileged")) << "the membership was not known yet";
  EXPECT_EQ(want[1].tier, -1);
  EXPECT_TRUE(has(want[3].tags(), "pa.signin.privileged"));
  EXPECT_TRUE(has(want[3].tags(), "pa.signin.no_mfa"));
  EXPECT_EQ(want[3].tier, 0);
  const std::int64_t now_ms = wall_clock_ms();
  for (std::size_t i = 0; i < input.size(); ++i) {
    EXPECT_EQ(ev[i].tags(), want[i].tags()) << i;
    EXPECT_EQ(ev[i].tier, want[i].tier) << i;
    EXPECT_EQ(ev[i].severity, want[i].severity) << i;
    EXPECT_EQ(mask_wall_clock(ev[i].cef, started_ms, now_ms), mask_wall_clock(want[i].cef, started_ms, now_ms)) << i;
    EXPECT_EQ(mask_wall_clock(std::regex_replace(ev[i].ecs, std::regex(R"("created":"[^"]*")"), ""), started_ms, now_ms),
              mask_wall_clock(std::regex_replace(want[i].ecs, std::regex(R"("created":"[^"]*")"), ""), started_ms, now_ms))
        << i;
  }
}

}  // namespace
}  // namespace siem
