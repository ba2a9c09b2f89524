#include <gtest/gtest.h>

#include "connector/app/observability.h"
#include "connector/app/progress.h"
#include "connector/app/reloadable_mapper.h"

namespace siem::app {
namespace {

using Post = observability::HttpListener::PostRequest;

TEST(ReloadAccess, WhoMayPost) {
  int calls = 0;
  ObservabilityContext ctx;
  ctx.reload = [&calls] {
    ++calls;
    return ReloadController::Result{200, "reloaded\n"};
  };
  const Post local{"/-/reload", true, false}, remote{"/-/reload", false, false}, browser{"/-/reload", true, true};

  ctx.reload_access = ReloadAccess::loopback;
  EXPECT_EQ(observability_post(ctx, local).status, 200);
  EXPECT_EQ(observability_post(ctx, remote).status, 403);
  EXPECT_EQ(observability_post(ctx, browser).status, 403);
  EXPECT_EQ(calls, 1);

  ctx.reload_access = ReloadAccess::any;
  EXPECT_EQ(observability_post(ctx, remote).status, 200);
  EXPECT_EQ(observability_post(ctx, browser).status, 403);
  EXPECT_EQ(calls, 2);

  ctx.reload_access = ReloadAccess::off;
  EXPECT_EQ(observability_post(ctx, local).status, 403);
  EXPECT_EQ(calls, 2);

  ctx.reload_access = ReloadAccess::any;
  EXPECT_EQ(observability_post(ctx, Post{"/-/other", true, false}).status, 404);
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(reload_access_from_string("loopback"), ReloadAccess::loopback);
  EXPECT_FALSE(reload_access_from_string("yes"));
}

// A mapper that stamps its generation into the event's raw text and counts save_state calls.
class StampMapper final : public Mapper {
 public:
  StampMapper(std::string stamp, int& saves) : stamp_(std::move(stamp)), saves_(saves) {}
  std::optional<std::string> map(const RawRecord&, std::optional<SourceKind>, FormatSet, MappedEvent& out) override {
    out.raw = stamp_;
    ++mapped_;
    return std::nullopt;
  }
  std::unique_ptr<Scratch> make_scratch() const override { return std::make_unique<Scratch>(); }
  std::optional<std::string> prepare(Scratch&, const RawRecord&, std::optional<SourceKind>, FormatSet,
                                     MappedEvent&) const override {
    return std::nullopt;
  }
  void enrich(Scratch&, const RawRecord& rec, MappedEvent& out) override { map(rec, std::nullopt, 0, out); }
  void finish(Scratch&, const RawRecord&, FormatSet, MappedEvent&) const override {}
  MapperStats stats() const override { return MapperStats{mapped_, 0, 0, 0, 0, 0, 0}; }
  void save_state() override { ++saves_; }

 private:
  std::string stamp_;
  int& saves_;
  std::uint64_t mapped_ = 0;
};

TEST(ReloadableMapper, SwapsBeforeTheNextRecordAfterSavingState) {
  int old_saves = 0, new_saves = 0;
  ReloadableMapper m(std::make_unique<StampMapper>("old", old_saves));
  MappedEvent ev;
  RawRecord rec;
  m.map(rec, std::nullopt, 0, ev);
  EXPECT_EQ(ev.raw, "old");
  std::vector<bool> outcomes;
  m.request_swap([&](std::string&) { return std::make_unique<StampMapper>("new", new_saves); },
                 [&](bool applied, const std::string&) { outcomes.push_back(applied); });
  EXPECT_EQ(old_saves, 0) << "nothing happens before the next record";
  m.map(rec, std::nullopt, 0, ev);
  EXPECT_EQ(ev.raw, "new");
  EXPECT_EQ(old_saves, 1) << "the old stage saves its state before the new one is built";
  EXPECT_EQ(outcomes, std::vector<bool>{true});
  EXPECT_EQ(m.stats().mapped, 2u) << "stats carry over the swap";
  EXPECT_EQ(m.swaps(), 1u);

  // A replacement that cannot be built leaves the current one.
  m.request_swap([](std::string& error) -> std::unique_ptr<Mapper> {
    error = "mappings/x.yaml:3:1: error: bad";
    return nullptr;
  },
                 [&](bool applied, const std::string& error) {
                   outcomes.push_back(applied);
                   EXPECT_NE(error.find("x.yaml:3:1"), std::string::npos);
                 });
  m.map(rec, std::nullopt, 0, ev);
  EXPECT_EQ(ev.raw, "new");
  EXPECT_EQ(outcomes, (std::vector<bool>{true, false}));
  EXPECT_EQ(m.swaps(), 1u);
}

TEST(Progress, StatusText) {
  ProgressSample s;
  s.records = 1234567;
  EXPECT_EQ(ProgressReporter::format("map", s, 2500.4, std::nullopt), "map: 1,234,567 records, 2,500/s");
  s.done_bytes = 50;
  s.total_bytes = 200;
  EXPECT_EQ(ProgressReporter::format("map", s, 0, 75.0), "map: 1,234,567 records, 0/s, 25% of 0.2 KiB, ETA 1m15s");
  ProgressSample lag;
  lag.records = 12;
  lag.lag_seconds = 3 * 3600 + 12 * 60;
  EXPECT_EQ(ProgressReporter::format("catching up", lag, 1.0, 3700.0),
            "catching up: 12 records, 1/s, lag 3h12m, ETA 1h01m");
}

}  // namespace
}  // namespace siem::app
