// The dedupe processor: verdicts on mapped events, what it leaves alone, its state persisted through
// the state store across instances (a restart), a damaged state file refused, and its config keys.
#include "connector/processors/dedupe_processor.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "connector/config/config_node.h"
#include "connector/core/metrics.h"
#include "connector/state/state_store.h"

namespace siem {
namespace {

namespace fs = std::filesystem;

class DedupeProcessorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("siem-dedupe-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<DedupeProcessor> make(StateStore* state, std::vector<std::string> sources = {"graph", "hub"}) {
    DedupeOptions o;
    o.window = std::chrono::hours(1);
    o.max_ids = 1000;
    return std::make_unique<DedupeProcessor>(o, state, sources, [this] { return now_; });
  }
  static Verdict run(DedupeProcessor& p, std::uint32_t source, SourceKind kind, std::string id) {
    RawRecord rec;
    MappedEvent ev;
    ev.kind = kind;
    ev.set_id(std::move(id));
    std::string reason;
    const std::string_view name = source == 0 ? "graph" : "hub";
    return p.process(rec, ProcessContext{name, source, 0}, ev, reason);
  }

  fs::path dir_;
  std::int64_t now_ = 1'000'000'000'000;
};

TEST_F(DedupeProcessorTest, TheCopyFromTheOtherPathIsConsumedAndCounted) {
  auto p = make(nullptr);
  EXPECT_EQ(run(*p, 0, SourceKind::graph_sign_in, "s-1"), Verdict::deliver);
  EXPECT_EQ(run(*p, 1, SourceKind::eventhub_sign_in, "s-1"), Verdict::consumed);
  EXPECT_EQ(run(*p, 0, SourceKind::graph_sign_in, "s-1"), Verdict::deliver);  // graph's own re-read
  EXPECT_EQ(run(*p, 1, SourceKind::eventhub_audit, "a-1"), Verdict::deliver);
  EXPECT_EQ(run(*p, 0, SourceKind::graph_directory_audit, "a-1"), Verdict::consumed);
  EXPECT_EQ(p->dropped(), 2u);
  EXPECT_EQ(p->ids(), 2u);
  Exposition x(false);
  p->write_metrics(x);
  const auto text = x.finish();
  EXPECT_NE(text.find(R"(siem_dedupe_duplicates_dropped_total{source="hub",family="sign_in"} 1)"), std::string::npos)
      << text;
  EXPECT_NE(text.find(R"(siem_dedupe_duplicates_dropped_total{source="graph",family="directory_audit"} 1)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("siem_dedupe_ids 2"), std::string::npos) << text;
  EXPECT_NE(p->summary().find("2 duplicate(s) dropped"), std::string::npos);
}

TEST_F(DedupeProcessorTest, RecordsWithoutAnOwnIdOrOutsideTheFamiliesPass) {
  auto p = make(nullptr);
  for (std::uint32_t s : {0u, 1u}) {
    EXPECT_EQ(run(*p, s, SourceKind::eventhub_activity, "siem-0123456789abcdef"), Verdict::deliver);
    EXPECT_EQ(run(*p, s, SourceKind::graph_pim_request, "req-1"), Verdict::deliver);
    EXPECT_EQ(run(*p, s, SourceKind::unknown, "u-1"), Verdict::deliver);
    EXPECT_EQ(run(*p, s, SourceKind::graph_sign_in, ""), Verdict::deliver);
  }
  EXPECT_EQ(p->ids(), 0u);
}

TEST_F(DedupeProcessorTest, TheTableSurvivesARestartThroughTheStateStore) {
  {
    StateStore state(dir_);
    auto p = make(&state);
    EXPECT_EQ(run(*p, 0, SourceKind::graph_sign_in, "s-1"), Verdict::deliver);
    EXPECT_EQ(run(*p, 1, SourceKind::eventhub_audit, "a-1"), Verdict::deliver);
    p->save_state();
  }
  StateStore state(dir_);
  auto p = make(&state);
  EXPECT_EQ(p->ids(), 2u);
  EXPECT_EQ(run(*p, 1, SourceKind::eventhub_sign_in, "s-1"), Verdict::consumed);
  EXPECT_EQ(run(*p, 0, SourceKind::graph_sign_in, "s-1"), Verdict::deliver);
  EXPECT_EQ(run(*p, 0, SourceKind::graph_directory_audit, "a-1"), Verdict::consumed);
  EXPECT_EQ(run(*p, 1, SourceKind::eventhub_audit, "a-1"), Verdict::deliver);
}

TEST_F(DedupeProcessorTest, AfterARestartASourceNoLongerConfiguredSuppressesNothing) {
  {
    StateStore state(dir_);
    auto p = make(&state);
    EXPECT_EQ(run(*p, 0, SourceKind::graph_sign_in, "s-1"), Verdict::deliver);
    p->save_state();
  }
  StateStore state(dir_);
  auto p = make(&state, {"other", "hub"});  // "graph" is gone: its copy may never have been delivered
  EXPECT_EQ(run(*p, 1, SourceKind::eventhub_sign_in, "s-1"), Verdict::deliver);
}

TEST_F(DedupeProcessorTest, IdsOlderThanTheWindowAreNotRestored) {
  {
    StateStore state(dir_);
    auto p = make(&state);
    EXPECT_EQ(run(*p, 0, SourceKind::graph_sign_in, "s-1"), Verdict::deliver);
    p->save_state();
  }
  now_ += 3'600'000;
  StateStore state(dir_);
  auto p = make(&state);
  EXPECT_EQ(p->ids(), 0u);
  EXPECT_EQ(run(*p, 1, SourceKind::eventhub_sign_in, "s-1"), Verdict::deliver);
}

TEST_F(DedupeProcessorTest, ADamagedStateFileIsRefusedWithItsName) {
  {
    StateStore state(dir_);
    state.put(DedupeProcessor::kStateKey, "siem-dedupe/1\n\x05");
  }
  StateStore state(dir_);
  try {
    make(&state);
    FAIL() << "no error";
  } catch (const StateCorruptError& e) {
    EXPECT_NE(std::string(e.what()).find("processor.dedupe"), std::string::npos) << e.what();
  }
}

TEST(DedupeOptions, OffByDefaultAndValidatedWithFileAndLine) {
  auto load = [](std::string_view yaml, Diagnostics& d) { return ConfigDocument::load_string(yaml, "c.yaml", d); };
  {
    Diagnostics d;
    auto doc = load("pipeline:\n  queue_events: 10\n", d);
    EXPECT_FALSE(DedupeOptions::from_config(doc->root().child("pipeline")));
  }
  {
    Diagnostics d;
    auto doc = load("pipeline:\n  dedupe: {window: 2h}\n", d);
    EXPECT_FALSE(DedupeOptions::from_config(doc->root().child("pipeline")));  // enabled: false by default
    EXPECT_FALSE(d.has_errors());
  }
  {
    Diagnostics d;
    auto doc = load("pipeline:\n  dedupe: {enabled: true, window: 2h, max_ids: 500}\n", d);
    const auto o = DedupeOptions::from_config(doc->root().child("pipeline"));
    ASSERT_TRUE(o);
    EXPECT_EQ(o->window, std::chrono::hours(2));
    EXPECT_EQ(o->max_ids, 500u);
  }
  {
    Diagnostics d;
    auto doc = load("pipeline:\n  dedupe:\n    enabled: true\n    window: 10s\n    max_ids: 0\n", d);
    DedupeOptions::from_config(doc->root().child("pipeline"));
    const auto text = d.format();
    EXPECT_NE(text.find("c.yaml:4"), std::string::npos) << text;  // window
    EXPECT_NE(text.find("c.yaml:5"), std::string::npos) << text;  // max_ids
  }
}

}  // namespace
}  // namespace siem
