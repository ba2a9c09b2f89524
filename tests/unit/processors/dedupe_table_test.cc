// The cross-path dedupe table: first source wins, a source's own re-read passes, the age and count
// bounds, kind families, and the persisted form (round trip, hostile bytes, sources gone).
#include "connector/processors/dedupe_table.h"

#include <gtest/gtest.h>

namespace siem::dedupe {
namespace {

constexpr std::int64_t kHour = 3'600'000;
using R = Table::Result;

TEST(DedupeTable, TheFirstSourceWinsAndItsOwnReReadPasses) {
  Table t(24 * kHour, 100);
  const auto graph = t.owner("graph"), hub = t.owner("hub");
  EXPECT_EQ(t.check(Family::sign_in, "id-1", graph, 1000), R::first);
  EXPECT_EQ(t.check(Family::sign_in, "id-1", hub, 2000), R::duplicate);
  EXPECT_EQ(t.check(Family::sign_in, "id-1", graph, 3000), R::same_source);  // a redelivery must pass
  EXPECT_EQ(t.check(Family::sign_in, "id-1", hub, 4000), R::duplicate);
  EXPECT_EQ(t.size(), 1u);
}

TEST(DedupeTable, FamiliesKeepTheSameIdApart) {
  Table t(24 * kHour, 100);
  const auto a = t.owner("a"), b = t.owner("b");
  EXPECT_EQ(t.check(Family::sign_in, "same", a, 0), R::first);
  EXPECT_EQ(t.check(Family::directory_audit, "same", b, 0), R::first);
  EXPECT_EQ(t.check(Family::activity, "same", b, 0), R::first);
  EXPECT_EQ(t.check(Family::activity, "same", a, 0), R::duplicate);
}

TEST(DedupeTable, KindFamiliesPairTheGraphAndEventHubsKinds) {
  EXPECT_EQ(family_of(SourceKind::graph_directory_audit), family_of(SourceKind::eventhub_audit));
  EXPECT_EQ(family_of(SourceKind::graph_sign_in), family_of(SourceKind::eventhub_sign_in));
  EXPECT_EQ(family_of(SourceKind::azure_activity), family_of(SourceKind::eventhub_activity));
  EXPECT_NE(family_of(SourceKind::graph_sign_in), family_of(SourceKind::eventhub_audit));
  for (auto k : {SourceKind::unknown, SourceKind::graph_pim_request, SourceKind::graph_pim_instance,
                 SourceKind::arm_pim_request})
    EXPECT_EQ(family_of(k), Family::none) << to_string(k);
}

TEST(DedupeTable, AnIdIsForgottenOnceOlderThanTheWindow) {
  Table t(kHour, 100);
  const auto a = t.owner("a"), b = t.owner("b");
  EXPECT_EQ(t.check(Family::directory_audit, "x", a, 0), R::first);
  EXPECT_EQ(t.check(Family::directory_audit, "x", b, kHour - 1), R::duplicate);
  EXPECT_EQ(t.check(Family::directory_audit, "x", b, kHour), R::first);  // forgotten: b's copy passes
  EXPECT_EQ(t.evicted_by_age(), 1u);
  EXPECT_EQ(t.check(Family::directory_audit, "x", a, kHour + 1), R::duplicate);  // now b owns it
}

TEST(DedupeTable, TheOldestIdsMakeRoomBeyondMaxIds) {
  Table t(24 * kHour, 3);
  const auto a = t.owner("a"), b = t.owner("b");
  for (int i = 0; i < 4; ++i) EXPECT_EQ(t.check(Family::sign_in, "id" + std::to_string(i), a, i), R::first);
  EXPECT_EQ(t.size(), 3u);
  EXPECT_EQ(t.evicted_by_count(), 1u);
  EXPECT_EQ(t.check(Family::sign_in, "id0", b, 10), R::first);  // the oldest was forgotten
  EXPECT_EQ(t.check(Family::sign_in, "id3", b, 11), R::duplicate);
  EXPECT_EQ(t.size(), 3u);
}

TEST(DedupeTable, AClockStepBackDoesNotKeepAnIdForever) {
  Table t(kHour, 100);
  const auto a = t.owner("a"), b = t.owner("b");
  EXPECT_EQ(t.check(Family::sign_in, "late", a, 5 * kHour), R::first);
  EXPECT_EQ(t.check(Family::sign_in, "early", a, 1 * kHour), R::first);  // clock went back
  EXPECT_EQ(t.check(Family::sign_in, "late", b, 6 * kHour), R::first);
  EXPECT_EQ(t.check(Family::sign_in, "early", b, 6 * kHour), R::first);
}

TEST(DedupeTable, ThePersistedFormRoundTrips) {
  Table t(24 * kHour, 100);
  const auto a = t.owner("graph"), b = t.owner("hub");
  t.check(Family::sign_in, "s1", a, 1000);
  t.check(Family::directory_audit, "d1", b, 2000);
  const auto saved = t.serialize();
  Table u = Table::parse(saved, 24 * kHour, 100, {"hub", "graph"}, 3000);
  EXPECT_EQ(u.size(), 2u);
  const auto ua = u.owner("graph"), ub = u.owner("hub");
  EXPECT_EQ(u.check(Family::sign_in, "s1", ub, 4000), R::duplicate);
  EXPECT_EQ(u.check(Family::sign_in, "s1", ua, 4000), R::same_source);
  EXPECT_EQ(u.check(Family::directory_audit, "d1", ua, 4000), R::duplicate);
  EXPECT_EQ(u.serialize().size(), saved.size());
}

TEST(DedupeTable, LoadingLeavesOutSourcesNoLongerConfiguredAndExpiredIds) {
  Table t(kHour, 100);
  t.check(Family::sign_in, "gone-source", t.owner("old"), 0);
  t.check(Family::sign_in, "expired", t.owner("graph"), 0);
  t.check(Family::sign_in, "kept", t.owner("graph"), kHour / 2);
  Table u = Table::parse(t.serialize(), kHour, 100, {"graph", "hub"}, kHour + 1);
  EXPECT_EQ(u.size(), 1u);
  const auto hub = u.owner("hub");
  EXPECT_EQ(u.check(Family::sign_in, "gone-source", hub, kHour + 2), R::first);
  EXPECT_EQ(u.check(Family::sign_in, "expired", hub, kHour + 2), R::first);
  EXPECT_EQ(u.check(Family::sign_in, "kept", hub, kHour + 2), R::duplicate);
}

TEST(DedupeTable, AShrunkMaxIdsKeepsTheNewestOnLoad) {
  Table t(kHour, 100);
  for (int i = 0; i < 5; ++i) t.check(Family::sign_in, "id" + std::to_string(i), t.owner("a"), i);
  Table u = Table::parse(t.serialize(), kHour, 2, {"a", "b"}, 10);
  EXPECT_EQ(u.size(), 2u);
  EXPECT_EQ(u.check(Family::sign_in, "id4", u.owner("b"), 11), R::duplicate);
  EXPECT_EQ(u.check(Family::sign_in, "id2", u.owner("b"), 11), R::first);
}

TEST(DedupeTable, DamagedStateIsRefusedNeverHalfRead) {
  Table t(kHour, 100);
  t.check(Family::sign_in, "a", t.owner("graph"), 0);
  t.check(Family::sign_in, "b", t.owner("hub"), 0);
  const auto saved = t.serialize();
  for (std::size_t cut = 0; cut < saved.size(); ++cut)
    EXPECT_THROW(Table::parse(saved.substr(0, cut), kHour, 100, {"graph"}, 1), std::runtime_error) << cut;
  EXPECT_THROW(Table::parse(saved + "x", kHour, 100, {"graph"}, 1), std::runtime_error);
  EXPECT_THROW(Table::parse("not a table", kHour, 100, {"graph"}, 1), std::runtime_error);
  std::string bad_owner = saved;
  bad_owner[bad_owner.size() - 1] = '\x7f';  // the last entry's source index, out of range
  EXPECT_THROW(Table::parse(bad_owner, kHour, 100, {"graph"}, 1), std::runtime_error);
}

}  // namespace
}  // namespace siem::dedupe
