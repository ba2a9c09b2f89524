// The mapping processor's phased path (what the pipeline's workers run) against the mapper's
// one-call path, and the room it reserves for an event's texts.
#include "connector/enrichment/mapping_processor.h"

#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <sstream>

#include "connector/config/config_node.h"
#include "connector/enrichment/mapping_stage.h"

namespace siem {
namespace {

std::string sample(const std::string& file) {
  std::ifstream in(std::string(SIEM_TEST_DATA_DIR) + "/" + file);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Fixture {
  Diagnostics diags;
  std::shared_ptr<ConfigDocument> doc = ConfigDocument::load_string("{}", "test.yaml", diags, ".");
  std::unique_ptr<Mapper> mapper() { return make_mapping_stage(doc->root(), nullptr); }
};

// event.created is the time of mapping.
std::string without_created(const std::string& ecs) {
  return std::regex_replace(ecs, std::regex(R"("created":"[^"]*")"), R"("created":"")");
}

// prepare -> ordered -> finish, as one worker runs them.
MappedEvent run_phases(MappingProcessor& p, Processor::Slot& slot, const RawRecord& rec, FormatSet formats) {
  const ProcessContext ctx{"in", 0, formats};
  MappedEvent ev;
  std::string reason;
  const Verdict prepared = p.prepare(slot, rec, ctx, ev, reason);
  EXPECT_EQ(p.ordered(slot, rec, ctx, ev, reason, prepared), Verdict::deliver) << reason;
  p.finish(slot, rec, ctx, ev);
  return ev;
}

// Each event is a new MappedEvent: once an event of the kind was written, the next one's texts get
// the room it needed (plus a quarter) before the encoders write, so an ECS document or CEF line is
// written into one allocation instead of growing by doubling. The texts are the mapper's own.
TEST(MappingProcessor, ReservesWhatTheLastEventOfTheKindNeededAndWritesTheSameTexts) {
  Fixture f;
  MappingProcessor p(f.mapper());
  auto slot = p.make_slot();
  RawRecord rec;
  rec.json = sample("eventhub-signinlogs-record.json");
  const FormatSet formats = format_bit(OutputFormat::ecs) | format_bit(OutputFormat::cef);

  const MappedEvent first = run_phases(p, *slot, rec, formats);
  const MappedEvent second = run_phases(p, *slot, rec, formats);
  MappedEvent whole;
  const auto mapper = f.mapper();
  ASSERT_FALSE(mapper->map(rec, std::nullopt, formats, whole));
  // This sign-in's ECS document is over 2 KiB: reserved; its CEF line is under (the encoder's own
  // first reservation serves: reserving less would only make it grow).
  ASSERT_GT(first.ecs.size() + first.ecs.size() / 4, 2048u);
  ASSERT_LT(first.cef.size() + first.cef.size() / 4, 2048u);
  EXPECT_EQ(second.ecs.capacity(), first.ecs.size() + first.ecs.size() / 4);
  EXPECT_EQ(second.cef.capacity(), whole.cef.capacity());
  EXPECT_TRUE(second.ocsf.empty());  // not asked for: nothing written, nothing reserved
  EXPECT_EQ(second.ocsf.capacity(), std::string().capacity());

  for (const MappedEvent* e : {&first, &second}) {
    EXPECT_EQ(e->cef, whole.cef);
    EXPECT_EQ(without_created(e->ecs), without_created(whole.ecs));
  }
}

// The phases leave a valid record's text for the pipeline to move into the event once nothing
// reads the record any more (its hand-off): no copy of it here. A repaired record's repaired text
// is the event's own and is set. map(), whose caller keeps the record, copies it.
TEST(MappingProcessor, LeavesTheRecordTextToBeMovedAndSetsARepairedOne) {
  Fixture f;
  MappingProcessor p(f.mapper());
  auto slot = p.make_slot();
  const FormatSet formats = format_bit(OutputFormat::ecs);
  RawRecord rec;
  rec.json = sample("eventhub-signinlogs-record.json");
  const MappedEvent phased = run_phases(p, *slot, rec, formats);
  EXPECT_TRUE(phased.raw.empty());
  EXPECT_FALSE(phased.ecs.empty());
  MappedEvent whole;
  whole.raw = "left from an earlier record";
  const auto mapper = f.mapper();
  ASSERT_FALSE(mapper->map(rec, std::nullopt, formats, whole));
  EXPECT_EQ(whole.raw, rec.json);

  RawRecord bad;  // a trailing comma: repaired, the raw output is the repaired text
  bad.json = R"({"id":"x1","activityDisplayName":"Add user","activityDateTime":"2026-01-01T00:00:00Z","initiatedBy":{},})";
  const MappedEvent repaired = run_phases(p, *slot, bad, formats);
  ASSERT_FALSE(repaired.raw.empty());
  EXPECT_NE(repaired.raw, bad.json);
  MappedEvent whole_repaired;
  ASSERT_FALSE(mapper->map(bad, std::nullopt, formats, whole_repaired));
  EXPECT_EQ(whole_repaired.raw, repaired.raw);
}

}  // namespace
}  // namespace siem
