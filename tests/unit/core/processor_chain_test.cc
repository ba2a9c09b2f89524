// The pipeline's processor chain (core/processor.h) with processors, a source and a sink that are
// all test doubles: processors run in order, `consumed` records are acknowledged and sent nowhere,
// `dead_letter` and exceptions go to the dead-letter file with the processor's stage and reason,
// every record counts for the checkpoint, save_state() runs at shutdown, and the source's record
// attributes reach the processors untouched. Also the attribute bag itself.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

#include "connector/core/metrics.h"
#include "connector/core/pipeline.h"
#include "tests/support/collecting_sink.h"
#include "connector/state/state_store.h"

namespace siem {
namespace {

namespace fs = std::filesystem;

// One batch of records (json = its text), then caught up.
class OneBatchSource : public Source {
 public:
  explicit OneBatchSource(std::vector<RawRecord> records) : records_(std::move(records)) {}
  void start(const std::optional<std::string>&) override {}
  SourceBatch poll(std::stop_token) override {
    SourceBatch b;
    if (!done_) {
      b.records = std::move(records_);
      b.checkpoint = "token-1";
      done_ = true;
    }
    b.caught_up = true;
    return b;
  }

 private:
  std::vector<RawRecord> records_;
  bool done_ = false;
};

using test::CollectingSink;
using test::Received;

// First processor: the event's id is the record's text; records carrying attribute 7 get its value
// appended, to show the attributes arrive.
class IdProcessor : public Processor {
 public:
  std::string_view name() const override { return "ids"; }
  Verdict process(const RawRecord& rec, const ProcessContext& ctx, MappedEvent& ev, std::string&) override {
    EXPECT_EQ(ctx.source_name, "src");
    std::string id(rec.json);
    if (auto v = rec.attributes.get(7)) id += "#" + std::to_string(*v);
    ev.set_id(id);
    return Verdict::deliver;
  }
};

// Second processor: drops "drop*", dead-letters "bad*", throws on "boom*"; counts its saves.
class FilterProcessor : public Processor {
 public:
  int* saves;
  explicit FilterProcessor(int* s) : saves(s) {}
  std::string_view name() const override { return "filter"; }
  std::string_view dead_letter_stage() const override { return "filter-stage"; }
  std::string_view consumed_label() const override { return "filtered"; }
  Verdict process(const RawRecord&, const ProcessContext&, MappedEvent& ev, std::string& reason) override {
    if (ev.id().rfind("drop", 0) == 0) return Verdict::consumed;
    if (ev.id().rfind("bad", 0) == 0) {
      reason = "bad record";
      return Verdict::dead_letter;
    }
    if (ev.id().rfind("boom", 0) == 0) throw std::runtime_error("exploded");
    return Verdict::deliver;
  }
  void save_state() override { ++*saves; }
  std::string summary() const override { return "  filter: summary line\n"; }
};

TEST(ProcessorChain, VerdictsAckEveryRecordAndOnlyDeliveredEventsReachTheSinks) {
  const fs::path dir = fs::temp_directory_path() / ("siem-chain-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  int saves = 0;
  Received received;
  {
    StateStore state(dir / "state");
    DeadLetterWriter dead(dir / "dead.ndjson");
    std::vector<RawRecord> recs(6);
    const char* texts[] = {"a", "drop1", "bad1", "b", "boom1", "c"};
    for (std::size_t i = 0; i < recs.size(); ++i) {
      recs[i].json = texts[i];
      recs[i].origin = std::string("line ") + std::to_string(i + 1);
    }
    recs[3].attributes.set(7, 42);
    std::vector<SourceSlot> sources;
    sources.push_back(SourceSlot{"src", std::make_unique<OneBatchSource>(std::move(recs))});
    std::vector<SinkSlot> sinks;
    SinkSlot sink;
    sink.name = "out";
    sink.sink = std::make_unique<CollectingSink>(received, [](const MappedEvent& e) { return std::string(e.id()); });
    sink.format = OutputFormat::raw;
    sinks.push_back(std::move(sink));
    std::vector<std::unique_ptr<Processor>> chain;
    chain.push_back(std::make_unique<IdProcessor>());
    chain.push_back(std::make_unique<FilterProcessor>(&saves));
    PipelineOptions o;
    o.once = true;
    o.drain_timeout = std::chrono::seconds(20);
    Pipeline p(o, std::move(sources), std::move(sinks), std::move(chain), state, dead);
    EXPECT_EQ(p.run(std::stop_token{}), kExitDeadLettered);
    const auto summary = p.summary();
    EXPECT_NE(summary.find("filtered 1"), std::string::npos) << summary;
    EXPECT_NE(summary.find("  filter: summary line\n"), std::string::npos) << summary;
    // Every record, delivered, consumed or dead-lettered, is acknowledged: the checkpoint moved.
    EXPECT_EQ(state.get(StateStore::checkpoint_key("src")), std::optional<std::string>("token-1"));
  }
  EXPECT_EQ(received.events, (std::vector<std::string>{"a", "b#42", "c"}));
  EXPECT_GE(saves, 1);  // at shutdown
  std::ifstream in(dir / "dead.ndjson");
  std::stringstream ss;
  ss << in.rdbuf();
  const auto letters = ss.str();
  EXPECT_NE(letters.find(R"("stage":"filter-stage")"), std::string::npos) << letters;
  EXPECT_NE(letters.find(R"("reason":"bad record")"), std::string::npos) << letters;
  EXPECT_NE(letters.find(R"("reason":"filter failed: exploded")"), std::string::npos) << letters;
  EXPECT_EQ(letters.find("drop1"), std::string::npos) << letters;
  fs::remove_all(dir);
}

// Tags every event "pa.seen", and "pa.noise" / "pa.elsewhere" when its record's text starts with
// 'n' / 'x'.
class TaggingProcessor : public Processor {
 public:
  std::string_view name() const override { return "tags"; }
  Verdict process(const RawRecord& rec, const ProcessContext&, MappedEvent& ev, std::string&) override {
    ev.set_id(rec.json);
    ev.set_tags({"pa.seen"});
    if (ev.id().rfind('n', 0) == 0) ev.add_tag("pa.noise");
    if (ev.id().rfind('x', 0) == 0) ev.add_tag("pa.elsewhere");
    return Verdict::deliver;
  }
};

// The summary's detection totals: tag -> count ("    <tag>   <n>" lines after "  detections:").
std::map<std::string, int> detection_totals(const std::string& summary) {
  std::map<std::string, int> out;
  const auto at = summary.find("  detections:\n");
  if (at == std::string::npos) return out;
  std::istringstream in(summary.substr(at));
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line) && line.rfind("    ", 0) == 0) {
    std::istringstream l(line);
    std::string tag;
    int n = 0;
    l >> tag >> n;
    out[tag] = n;
  }
  return out;
}

// /metrics' siem_detection_events_tagged_total of `tag`, -1 when there is no sample of it.
double tagged_total(const Pipeline& p, const std::string& tag) {
  Exposition x(false);
  p.write_metrics(x);
  std::istringstream in(x.finish());
  const std::string prefix = "siem_detection_events_tagged_total{tag=\"" + tag + "\"} ";
  for (std::string l; std::getline(in, l);)
    if (l.rfind(prefix, 0) == 0) return std::stod(l.substr(prefix.size()));
  return -1;
}

// Events `pipeline.drop` drops, or no sink's route takes, reach no SIEM: the detection totals (the
// summary's and /metrics' siem_detection_events_tagged_total) count only the events a sink takes.
TEST(ProcessorChain, DetectionTotalsCountNeitherDroppedNorUnroutedEvents) {
  const fs::path dir = fs::temp_directory_path() / ("siem-chain-tags-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  Received received;
  {
    StateStore state(dir / "state");
    DeadLetterWriter dead(dir / "dead.ndjson");
    std::vector<RawRecord> recs;
    for (const char* t : {"a", "noise1", "b", "x-unrouted", "noise2", "c"}) {
      RawRecord r;
      r.json = t;
      recs.push_back(std::move(r));
    }
    std::vector<SourceSlot> sources;
    sources.push_back(SourceSlot{"src", std::make_unique<OneBatchSource>(std::move(recs))});
    std::vector<SinkSlot> sinks;
    SinkSlot sink;
    sink.name = "out";
    sink.sink = std::make_unique<CollectingSink>(received, [](const MappedEvent& e) { return std::string(e.id()); });
    sink.format = OutputFormat::raw;
    EventMatch elsewhere;  // the only sink's route leaves these out: unrouted
    elsewhere.tags = {"pa.elsewhere"};
    sink.route.exclude.push_back(elsewhere);
    sinks.push_back(std::move(sink));
    std::vector<std::unique_ptr<Processor>> chain;
    chain.push_back(std::make_unique<TaggingProcessor>());
    PipelineOptions o;
    o.once = true;
    o.drain_timeout = std::chrono::seconds(20);
    EventMatch noise;
    noise.tags = {"pa.noise"};
    o.drop.push_back(noise);
    Pipeline p(o, std::move(sources), std::move(sinks), std::move(chain), state, dead);
    EXPECT_EQ(p.run(std::stop_token{}), kExitOk);
    const auto totals = detection_totals(p.summary());
    EXPECT_EQ(totals, (std::map<std::string, int>{{"pa.seen", 3}})) << p.summary();
    EXPECT_EQ(tagged_total(p, "pa.seen"), 3) << p.summary();
    EXPECT_EQ(tagged_total(p, "pa.noise"), -1) << p.summary();
  }
  EXPECT_EQ(received.events, (std::vector<std::string>{"a", "b", "c"}));
  fs::remove_all(dir);
}

TEST(RecordAttributes, SetReplaceGetAndABoundedCapacity) {
  RecordAttributes a;
  EXPECT_TRUE(a.empty());
  EXPECT_FALSE(a.get(1));
  a.set(1, 10);
  a.set(2, 20);
  a.set(1, 11);  // replaces
  a.set(3, 30);
  EXPECT_EQ(a.get(1), 11);
  EXPECT_EQ(a.get(2), 20);
  EXPECT_EQ(a.get(3), 30);
  EXPECT_FALSE(a.has(4));
  EXPECT_THROW(a.set(4, 40), std::logic_error);  // never silently dropped
  EXPECT_EQ(a.get(3), 30);
  static_assert(sizeof(RecordAttributes) <= 32, "kept inline and small");
}

}  // namespace
}  // namespace siem
