// Roles held through role-assignable groups: a member holds the group's roles while a member, apart
// from its own holds; membership events arrive late and out of order; bounded; saved and restored.
#include <gtest/gtest.h>

#include "connector/enrichment/roster.h"

namespace siem {
namespace {

constexpr std::int64_t kHour = 3'600'000;
constexpr std::int64_t kT0 = 1'772'619'330'000;  // 2026-03-04T10:15:30Z
const std::string kGa = "62e90394-69f5-4237-9190-012177145e10";
const std::string kHelpdesk = "729827e3-9c14-49f7-bb1b-9608f156bbb8";
const std::string kGroup = "0b5c1a2e-7d1f-4c3e-9a40-3c1d2e4f5a60";
const std::vector<std::string> kBob{"9a7e0000-0000-0000-0000-0000000000b0", "Bob@Contoso.example"};

// A group holding Global Administrator (tier 0), as learned from a role event whose target is a group.
Roster with_ga_group() {
  Roster r;
  r.grant({kGroup}, kGa, 0, kT0);
  r.mark_group(kGroup);
  return r;
}

TEST(RosterGroups, AMemberHoldsTheGroupsRolesUntilRemoved) {
  Roster r = with_ga_group();
  EXPECT_TRUE(r.is_group(kGroup));
  EXPECT_EQ(r.tier_of("bob@contoso.example", kT0 + kHour), std::nullopt);
  EXPECT_TRUE(r.add_member(kGroup, kBob, kT0 + kHour));
  EXPECT_EQ(r.tier_of("bob@contoso.example", kT0 + 2 * kHour), 0);
  EXPECT_EQ(r.tier_of(kBob[0], kT0 + 2 * kHour), 0);
  EXPECT_TRUE(r.contains("BOB@contoso.example", kT0 + 2 * kHour));
  EXPECT_TRUE(r.holds_active(kBob[0], kT0 + 2 * kHour));
  EXPECT_TRUE(r.remove_member(kGroup, {kBob[0]}, kT0 + 3 * kHour));
  EXPECT_EQ(r.tier_of("bob@contoso.example", kT0 + 4 * kHour), std::nullopt);
  EXPECT_FALSE(r.contains(kBob[0], kT0 + 4 * kHour));
  EXPECT_FALSE(r.holds_active(kBob[0], kT0 + 4 * kHour));
  EXPECT_EQ(r.tier_of(kBob[0], kT0 + 2 * kHour), 0);  // a late sign-in of the membership's time still sees it
}

TEST(RosterGroups, AnEligibleGroupRoleIsHeldButNotActive) {
  Roster r;
  r.grant({kGroup}, kGa, 0, kT0, /*eligible=*/true);
  r.mark_group(kGroup);
  r.add_member(kGroup, kBob, kT0);
  EXPECT_TRUE(r.contains(kBob[0], kT0 + kHour));
  EXPECT_FALSE(r.holds_active(kBob[0], kT0 + kHour));
}

TEST(RosterGroups, LeavingTheGroupKeepsTheMembersOwnHolds) {
  Roster r = with_ga_group();
  r.grant(kBob, kHelpdesk, 1, kT0);  // held directly
  r.add_member(kGroup, kBob, kT0 + kHour);
  EXPECT_EQ(r.tier_of(kBob[1], kT0 + 2 * kHour), 0);
  r.remove_member(kGroup, kBob, kT0 + 3 * kHour);
  EXPECT_EQ(r.tier_of(kBob[1], kT0 + 4 * kHour), 1);
  // The same role held both ways: leaving the group does not end the direct hold.
  r.grant(kBob, kGa, 0, kT0 + 5 * kHour);
  r.add_member(kGroup, kBob, kT0 + 5 * kHour);
  r.remove_member(kGroup, kBob, kT0 + 6 * kHour);
  EXPECT_EQ(r.tier_of(kBob[1], kT0 + 7 * kHour), 0);
  // And revoking the direct hold does not end the group's.
  r.add_member(kGroup, kBob, kT0 + 8 * kHour);
  r.revoke(kBob, kGa);
  EXPECT_EQ(r.tier_of(kBob[1], kT0 + 9 * kHour), 0);
}

TEST(RosterGroups, TheGroupLosingTheRoleEndsItForItsMembers) {
  Roster r = with_ga_group();
  r.grant({kGroup}, kHelpdesk, 1, kT0);
  r.add_member(kGroup, kBob, kT0 + kHour);
  r.revoke({kGroup}, kGa);
  EXPECT_EQ(r.tier_of(kBob[0], kT0 + 2 * kHour), 1);
  r.revoke({kGroup}, kHelpdesk);
  EXPECT_EQ(r.tier_of(kBob[0], kT0 + 2 * kHour), std::nullopt);
  EXPECT_FALSE(r.is_group(kGroup));  // nothing held: off the roster
}

TEST(RosterGroups, MembershipsOfGroupsHoldingNothingAreNotKept) {
  Roster r;
  EXPECT_FALSE(r.add_member(kGroup, kBob, kT0));  // not on the roster
  EXPECT_FALSE(r.remove_member(kGroup, kBob, kT0));
  EXPECT_EQ(r.size(), 0u);
  EXPECT_EQ(r.tier_of(kBob[0], kT0), std::nullopt);
}

// Schedule instances (the roster snapshots) name a principal id only: a group holding a role is
// known as one from the first membership audit naming it.
TEST(RosterGroups, AMembershipAuditShowsAPrincipalOnTheRosterIsAGroup) {
  Roster r;
  r.grant({kGroup}, kGa, 0, kT0, false, RoleHold::kForever, /*from_snapshot=*/true);
  EXPECT_FALSE(r.is_group(kGroup));
  EXPECT_TRUE(r.add_member(kGroup, kBob, kT0 + kHour));
  EXPECT_TRUE(r.is_group(kGroup));
  EXPECT_EQ(r.tier_of(kBob[0], kT0 + 2 * kHour), 0);
}

// Several sources, late records: the latest membership event decides.
TEST(RosterGroups, OlderMembershipEventsDoNotUndoNewerOnes) {
  Roster r = with_ga_group();
  r.remove_member(kGroup, kBob, kT0 + 2 * kHour);  // nothing to remove yet: no effect
  r.add_member(kGroup, kBob, kT0 + 3 * kHour);
  r.remove_member(kGroup, kBob, kT0 + 2 * kHour);  // the earlier removal, read late
  EXPECT_EQ(r.tier_of(kBob[0], kT0 + 4 * kHour), 0);
  r.remove_member(kGroup, kBob, kT0 + 5 * kHour);
  r.add_member(kGroup, kBob, kT0 + 3 * kHour);     // the earlier add, from another source
  EXPECT_EQ(r.tier_of(kBob[0], kT0 + 6 * kHour), std::nullopt);
  r.add_member(kGroup, kBob, kT0 + 7 * kHour);     // added again
  EXPECT_EQ(r.tier_of(kBob[0], kT0 + 8 * kHour), 0);
}

TEST(RosterGroups, MembershipsAreBounded) {
  Roster r;
  for (std::size_t i = 0; i < Roster::kMaxGroupsPerPrincipal + 8; ++i) {
    const std::string g = "group-" + std::to_string(i);
    r.grant({g}, kHelpdesk, 1, kT0);
    r.mark_group(g);
    r.add_member(g, kBob, kT0);
  }
  ASSERT_NE(r.entry(kBob[0]), nullptr);
  EXPECT_EQ(r.entry(kBob[0])->groups.size(), Roster::kMaxGroupsPerPrincipal);
  // A full roster takes no new member.
  Roster full = with_ga_group();
  for (std::size_t i = full.size(); i < Roster::kMaxPrincipals; ++i) full.grant({"p-" + std::to_string(i)}, kHelpdesk, 1, kT0);
  ASSERT_EQ(full.size(), Roster::kMaxPrincipals);
  full.add_member(kGroup, kBob, kT0);
  EXPECT_EQ(full.size(), Roster::kMaxPrincipals);
  EXPECT_EQ(full.tier_of(kBob[0], kT0), std::nullopt);
}

TEST(RosterGroups, SnapshotsKeepMembersAndForgetOldRemovals) {
  Roster r = with_ga_group();
  r.add_member(kGroup, kBob, kT0);
  r.add_member(kGroup, {"carol-id"}, kT0);
  r.remove_member(kGroup, {"carol-id"}, kT0 + kHour);
  const auto none = [](const std::string&) { return false; };
  r.complete_snapshot(false, kT0 + 2 * kHour, none);
  EXPECT_EQ(r.tier_of(kBob[0], kT0 + 3 * kHour), 0);  // a member holding nothing directly stays
  EXPECT_NE(r.entry("carol-id"), nullptr);             // a recent removal: late records still see it
  r.complete_snapshot(false, kT0 + Roster::kEndedRetentionMs + 2 * kHour, none);
  EXPECT_EQ(r.entry("carol-id"), nullptr);
  EXPECT_EQ(r.tier_of(kBob[0], kT0 + Roster::kEndedRetentionMs + 3 * kHour), 0);
}

TEST(RosterGroups, StateRoundTripKeepsGroupsAndMemberships) {
  Roster r = with_ga_group();
  r.grant({"carol-id"}, kHelpdesk, 1, kT0);
  r.add_member(kGroup, kBob, kT0 + kHour);
  r.add_member(kGroup, {"carol-id"}, kT0 + kHour);
  r.remove_member(kGroup, {"carol-id"}, kT0 + 2 * kHour);
  Roster back;
  back.deserialize(r.serialize());
  EXPECT_TRUE(back.is_group(kGroup));
  EXPECT_EQ(back.tier_of("bob@contoso.example", kT0 + 3 * kHour), 0);
  EXPECT_EQ(back.tier_of("carol-id", kT0 + 3 * kHour), 1);
  back.add_member(kGroup, {"carol-id"}, kT0 + kHour + 1);  // older than the saved removal
  EXPECT_EQ(back.tier_of("carol-id", kT0 + 3 * kHour), 1);
  Roster again;
  again.deserialize(r.serialize());
  EXPECT_EQ(again.serialize(), r.serialize());
}

// The state saved before groups were known (version 2, no group fields) loads as it did: a group's
// own holds are there; it is known as a group again from its next role event.
TEST(RosterGroups, ReadsTheStateSavedBeforeGroups) {
  Roster r;
  r.deserialize(R"({"version":2,"principals":[{"keys":[")" + kGroup + R"("],"holds":{")" + kGa +
                R"(":{"tier":0,"active_until":null,"eligible_until":0,"active_granted_ms":1,"eligible_granted_ms":0,)"
                R"("active_ended_ms":0}},"updated_ms":1,"tenant":"t1"}]})");
  EXPECT_EQ(r.size(), 1u);
  EXPECT_EQ(r.tier_of(kGroup, kT0), 0);
  EXPECT_FALSE(r.is_group(kGroup));
  EXPECT_TRUE(r.add_member(kGroup, kBob, kT0));
  EXPECT_EQ(r.tier_of(kBob[1], kT0), 0);
  EXPECT_THROW(r.deserialize(R"({"version":2,"principals":[{"keys":["x"],"holds":{},"member_of":{"g":5}}]})"),
               std::exception);
}

}  // namespace
}  // namespace siem
