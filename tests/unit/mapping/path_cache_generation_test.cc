// The per-record path cache stamps each slot with the record's generation and reads a slot as this
// record's only when the stamps match. The counter is bumped once per record for the life of the
// process: it must not wrap, or a slot last set 2^32 records ago (a path the newer records never
// asked for) reads as found again, its element pointing into a long-gone record's document.
// PathCache::generation is a plain member: the tests start it near where a 32-bit counter wraps.
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <simdjson.h>

#include "connector/mapping/enrichment_interface.h"
#include "connector/mapping/mapping_rules.h"
#include "connector/record/json_access.h"

namespace siem::mapping {
namespace {

using simdjson::dom::element;

struct Fixture {
  simdjson::dom::parser old_parser, parser;
  element old_record, record;
  json::Path path{"user"};
  json::PathSet set;
  PathCache cache;
  const std::vector<int> slots{0};

  Fixture() {
    EXPECT_EQ(old_parser.parse(std::string(R"({"user":"alice"})")).get(old_record), simdjson::SUCCESS);
    EXPECT_EQ(parser.parse(std::string(R"({"other":1})")).get(record), simdjson::SUCCESS);
    path.slot = 0;
    set.add(path, 0);
    set.finish();
    cache.entries.resize(1);
  }
  // A record whose paths are all resolved up front (an ECS pipeline): slot 0 found.
  void resolve_old_record() {
    cache.next_record();
    cache.resolve_also(set, old_record);
    ASSERT_TRUE(cache.find(path, old_record).has_value());
  }
  RecordPaths record_paths() const {
    return RecordPaths{cache.entries.data(), slots.data(), slots.size(), {}, std::nullopt, cache.generation};
  }
};

TEST(PathCacheGeneration, ASlotStampedOneCounterPeriodAgoIsNotReadAsThisRecords) {
  Fixture f;
  f.resolve_old_record();
  const auto stamped = f.cache.generation;
  // 2^32 - 1 records later, none of which asked for slot 0 (e.g. a raw-only pipeline, which looks
  // paths up on demand), the next record starts.
  f.cache.generation = stamped + std::numeric_limits<std::uint32_t>::max();
  f.cache.next_record();
  EXPECT_FALSE(f.record_paths().value(0).has_value()) << "the enrichment read an earlier record's element";
  EXPECT_FALSE(f.cache.find(f.path, f.record).has_value()) << "a rule read an earlier record's element";
}

TEST(PathCacheGeneration, TheCounterNeverComesBackToZeroTheUncheckedValue) {
  Fixture f;
  f.resolve_old_record();
  // At 32 bits the next record's generation would be 0, which RecordPaths reads as "not checked".
  f.cache.generation = std::numeric_limits<std::uint32_t>::max();
  f.cache.next_record();
  EXPECT_NE(f.cache.generation, 0u);
  EXPECT_FALSE(f.record_paths().value(0).has_value()) << "the enrichment read an earlier record's element";
  EXPECT_FALSE(f.cache.find(f.path, f.record).has_value());
  // And the slot works as before once this record resolves it.
  f.cache.resolve_also(f.set, f.old_record);
  EXPECT_TRUE(f.record_paths().value(0).has_value());
}

}  // namespace
}  // namespace siem::mapping
