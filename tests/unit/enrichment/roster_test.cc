// The privileged-principal roster: holds that end (PIM activations, time-bound assignments), an
// eligibility that outlives its activation, and the state format across versions.
#include "connector/enrichment/roster.h"

#include <gtest/gtest.h>

#include <cctype>

#include "connector/record/json_access.h"

namespace siem {
namespace {

constexpr std::int64_t kHour = 3'600'000;
constexpr std::int64_t kT0 = 1'772'619'330'000;  // 2026-03-04T10:15:30Z
const std::string kGa = "62e90394-69f5-4237-9190-012177145e10";
const std::string kHelpdesk = "729827e3-9c14-49f7-bb1b-9608f156bbb8";

TEST(Roster, ATimeBoundActivationCountsUntilItEnds) {
  Roster r;
  r.grant({"id-1", "Frank@Contoso.example"}, kGa, 0, kT0, false, kT0 + 2 * kHour);
  EXPECT_TRUE(r.contains("frank@contoso.example", kT0 + kHour));
  EXPECT_TRUE(r.holds_active("id-1", kT0 + kHour));
  EXPECT_EQ(r.tier_of("id-1", kT0 + kHour), 0);
  EXPECT_FALSE(r.contains("id-1", kT0 + 2 * kHour));  // ends at (not after) its end time
  EXPECT_FALSE(r.holds_active("id-1", kT0 + 3 * kHour));
  EXPECT_EQ(r.tier_of("id-1", kT0 + 3 * kHour), std::nullopt);
}

// The index finds a principal by any spelling's case of any of its keys (UPNs and ids of every
// length around the word size), and never another principal's: with the process's hash seed and
// with any other.
void finds_every_key_in_any_case(Roster& r) {
  std::vector<std::string> upns, ids;
  for (int i = 0; i < 300; ++i) {
    upns.push_back(std::string(static_cast<std::size_t>(i % 23), 'x') + "User" + std::to_string(i) + "@Contoso.example");
    ids.push_back("ID-" + std::to_string(i));
    r.grant({ids.back(), upns.back()}, kGa, i % 3, kT0, false);
  }
  const auto upper = [](std::string s) {
    for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
  };
  for (int i = 0; i < 300; ++i) {
    const auto u = static_cast<std::size_t>(i);
    for (const std::string& key : {upns[u], json::to_lower(upns[u]), upper(upns[u]), ids[u], json::to_lower(ids[u])}) {
      ASSERT_NE(r.entry(key), nullptr) << key;
      EXPECT_EQ(r.entry(key), r.entry(ids[u])) << key;
      EXPECT_EQ(r.tier_of(key, kT0 + 1), i % 3) << key;
    }
    EXPECT_EQ(r.entry(upns[u] + "."), nullptr);
    EXPECT_EQ(r.entry(ids[u] + "0"), i >= 1 && i < 30 ? r.entry(ids[u * 10]) : nullptr);  // "ID-50" is another principal's
  }
  EXPECT_EQ(r.entry(""), nullptr);
}

TEST(Roster, FindsEveryKeyInAnyCase) {
  Roster r;
  finds_every_key_in_any_case(r);
}

TEST(Roster, FindsEveryKeyInAnyCaseWhateverTheHashSeed) {
  const std::uint64_t seeds[] = {0, 1, ~std::uint64_t{0}, json::ihash_seed(), 0x9E3779B97F4A7C15ULL,
                                 0x8000000000000000ULL};
  for (const std::uint64_t seed : seeds) {
    SCOPED_TRACE(seed);
    Roster r(seed);
    finds_every_key_in_any_case(r);
  }
}

// The roster's index hash is keyed: the same key hashes differently under another seed (keys of
// every length from empty to several words), keys equal but for case hash alike under any seed,
// and the process's seed is drawn once.
TEST(Roster, TheIndexHashIsKeyedBySeed) {
  EXPECT_EQ(json::ihash_seed(), json::ihash_seed());
  std::string key;
  for (std::size_t len = 0; len <= 40; ++len) {
    if (len > 0) key += static_cast<char>((len % 2 ? 'a' : 'A') + len % 26);
    SCOPED_TRACE(key);
    EXPECT_EQ(json::ihash(key), json::ihash(key, json::ihash_seed()));
    EXPECT_NE(json::ihash(key, 1), json::ihash(key, 2));
    EXPECT_NE(json::ihash(key, 0), json::ihash(key, json::ihash_seed() == 0 ? 1 : json::ihash_seed()));
    for (const std::uint64_t seed : {std::uint64_t{1}, std::uint64_t{2}, json::ihash_seed()})
      EXPECT_EQ(json::ihash(key, seed), json::ihash(json::to_lower(key), seed));
  }
}

// A service principal made privileged by its object id is found by its application id once a record
// names both (link_keys); a key that already names another principal stays with it, a principal
// not on the roster is not added, keys per principal are bounded, and the link is saved.
TEST(Roster, LinkedKeysFindTheSamePrincipal) {
  Roster r;
  r.grant({"sp-object-1"}, kGa, 0, kT0);
  r.grant({"other-sp", "app-of-other"}, kHelpdesk, 1, kT0);
  EXPECT_FALSE(r.contains("app-1", kT0 + kHour));
  r.link_keys({"SP-OBJECT-1", "App-1", "app-of-other"});
  EXPECT_EQ(r.tier_of("app-1", kT0 + kHour), 0);
  EXPECT_EQ(r.tier_of("app-of-other", kT0 + kHour), 1);  // still the other principal's
  r.link_keys({"not-on-roster", "app-2"});
  EXPECT_FALSE(r.contains("app-2", kT0 + kHour));
  EXPECT_EQ(r.size(), 2u);
  for (int i = 0; i < 40; ++i) r.link_keys({"sp-object-1", "alias-" + std::to_string(i)});
  EXPECT_EQ(r.entry("sp-object-1")->keys.size(), Roster::kMaxKeysPerPrincipal);
  Roster back;
  back.deserialize(r.serialize());
  EXPECT_EQ(back.tier_of("app-1", kT0 + kHour), 0);
  // A privileged sign-in links its keys as well.
  r.note_privileged_sign_in({"other-sp", "app-3"}, kT0 + kHour);
  EXPECT_EQ(r.last_privileged_sign_in("app-3"), kT0 + kHour);
}

// A multi-tenant application has one application id in every tenant: a principal known to belong
// to tenant A is found by it, and learns keys from it, only for tenant A's records (or any record
// when its tenant is not known).
TEST(Roster, AnApplicationIdCountsOnlyInItsPrincipalsTenant) {
  Roster r;
  r.grant({"sp-in-a", "app-1"}, kGa, 0, kT0, false, RoleHold::kForever, false, "Tenant-A");
  r.grant({"static-sp", "app-2"}, kHelpdesk, 1, kT0);  // tenant not known
  EXPECT_EQ(r.tier_in_tenant("app-1", kT0 + kHour, "tenant-a"), 0);
  EXPECT_EQ(r.tier_in_tenant("app-1", kT0 + kHour, "tenant-b"), std::nullopt);
  EXPECT_EQ(r.tier_in_tenant("app-1", kT0 + kHour, ""), std::nullopt);
  EXPECT_TRUE(r.contains_in_tenant("app-1", kT0 + kHour, "TENANT-A"));
  EXPECT_FALSE(r.contains_in_tenant("app-1", kT0 + kHour, "tenant-b"));
  EXPECT_EQ(r.tier_in_tenant("app-2", kT0 + kHour, "tenant-b"), 1);
  r.link_keys({"sp-in-b", "app-1"}, "tenant-b");
  EXPECT_FALSE(r.contains("sp-in-b", kT0 + kHour));
  r.note_privileged_sign_in({"sp-in-b", "app-1"}, kT0 + kHour, "tenant-b");
  EXPECT_FALSE(r.contains("sp-in-b", kT0 + kHour));
  EXPECT_EQ(r.last_privileged_sign_in("app-1"), std::nullopt);
  r.link_keys({"sp-in-a-alias", "app-1"}, "tenant-a");
  EXPECT_TRUE(r.contains("sp-in-a-alias", kT0 + kHour));
  r.link_keys({"sp-2-alias", "app-2"}, "tenant-b");
  EXPECT_TRUE(r.contains("sp-2-alias", kT0 + kHour));
}

TEST(Roster, AnEligibilityOutlivesItsActivation) {
  Roster r;
  r.grant({"id-1"}, kGa, 0, kT0, true);                        // eligible, no end
  r.grant({"id-1"}, kGa, 0, kT0, false, kT0 + 8 * kHour);      // activated for 8 hours
  EXPECT_TRUE(r.holds_active("id-1", kT0 + kHour));
  r.end_active({"id-1"}, kGa, kT0 + 2 * kHour);                // deactivated early
  EXPECT_TRUE(r.holds_active("id-1", kT0 + kHour));            // events of the active period still see it
  EXPECT_FALSE(r.holds_active("id-1", kT0 + 3 * kHour));
  EXPECT_TRUE(r.contains("id-1", kT0 + 3 * kHour));            // still eligible: privileged
  EXPECT_EQ(r.tier_of("id-1", kT0 + 3 * kHour), 0);
  r.revoke({"id-1"}, kGa);                                     // eligibility removed as well
  EXPECT_FALSE(r.contains("id-1", kT0 + 3 * kHour));
  EXPECT_EQ(r.size(), 0u);
}

// Several sources report the same role changes and records arrive late: the latest event decides.
TEST(Roster, OlderEventsDoNotUndoNewerOnes) {
  Roster r;
  r.grant({"id-1"}, kGa, 0, kT0 + kHour, false, kT0 + 10 * kHour);  // extended until +10 h (the newer request)
  r.grant({"id-1"}, kGa, 0, kT0, false, kT0 + 2 * kHour);            // the original activation, read later
  EXPECT_TRUE(r.holds_active("id-1", kT0 + 5 * kHour));
  r.end_active({"id-1"}, kGa, kT0 + 6 * kHour);                      // deactivated
  r.grant({"id-1"}, kGa, 0, kT0 + kHour, false, kT0 + 10 * kHour);  // the extension again, from another source
  EXPECT_FALSE(r.holds_active("id-1", kT0 + 7 * kHour));
  EXPECT_TRUE(r.holds_active("id-1", kT0 + 5 * kHour));
  r.grant({"id-1"}, kGa, 0, kT0 + 8 * kHour, false, kT0 + 9 * kHour); // activated again
  r.end_active({"id-1"}, kGa, kT0 + 6 * kHour);                      // the earlier deactivation, read late
  EXPECT_TRUE(r.holds_active("id-1", kT0 + 8 * kHour + 1));
  EXPECT_FALSE(r.holds_active("id-1", kT0 + 9 * kHour));
  Roster back;  // the order survives a restart
  back.deserialize(r.serialize());
  back.grant({"id-1"}, kGa, 0, kT0, false, kT0 + 20 * kHour);
  EXPECT_FALSE(back.holds_active("id-1", kT0 + 10 * kHour));
}

TEST(Roster, TheBestTierAmongHoldsThatStillCount) {
  Roster r;
  r.grant({"id-1"}, kHelpdesk, 1, kT0, false);                 // permanent tier 1
  r.grant({"id-1"}, kGa, 0, kT0, false, kT0 + kHour);          // tier 0 for an hour
  EXPECT_EQ(r.tier_of("id-1", kT0), 0);
  EXPECT_EQ(r.tier_of("id-1", kT0 + 2 * kHour), 1);
  r.grant({"id-1"}, kGa, 0, kT0 + 3 * kHour, false);           // assigned permanently later
  EXPECT_EQ(r.tier_of("id-1", kT0 + 30 * 24 * kHour), 0);
}

TEST(Roster, StaticEntriesCountWithoutRoles) {
  Roster r;
  r.add_static("Admin@Contoso.example");
  EXPECT_TRUE(r.contains("admin@contoso.example", kT0));
  EXPECT_TRUE(r.holds_active("admin@contoso.example", kT0));
  EXPECT_EQ(r.tier_of("admin@contoso.example", kT0), -1);
  r.grant({"admin@contoso.example"}, kGa, 0, kT0, false, kT0 + kHour);
  EXPECT_EQ(r.tier_of("admin@contoso.example", kT0 + 2 * kHour), -1);  // ended; still listed
  EXPECT_TRUE(r.contains("admin@contoso.example", kT0 + 2 * kHour));
}

TEST(Roster, HoldsThatEndedLongBeforeTheLatestEventAreForgotten) {
  Roster r;
  r.grant({"id-1"}, kGa, 0, kT0, false, kT0 + kHour);
  r.grant({"id-1"}, kHelpdesk, 1, kT0 + 6 * 24 * kHour, true);  // 6 days later: the GA hold is kept
  ASSERT_NE(r.entry("id-1"), nullptr);
  EXPECT_EQ(r.entry("id-1")->roles.count(kGa), 1u);
  EXPECT_TRUE(r.contains("id-1", kT0 + kHour / 2));              // a late record of that hour
  r.grant({"id-1"}, kHelpdesk, 1, kT0 + 9 * 24 * kHour, true);  // 9 days later: forgotten
  EXPECT_EQ(r.entry("id-1")->roles.count(kGa), 0u);
  EXPECT_EQ(r.tier_of("id-1", kT0 + kHour / 2), 1);
  // A principal left with nothing is no entry at all (entries count toward kMaxPrincipals).
  r.grant({"id-2"}, kGa, 0, kT0 + 9 * 24 * kHour, false, kT0 + kHour);  // already ended 9 days before
  EXPECT_EQ(r.entry("id-2"), nullptr);
  EXPECT_EQ(r.size(), 1u);
}

TEST(Roster, ACompleteSnapshotEndsTheHoldsItNoLongerLists) {
  const auto entra = [](const std::string& id) { return id != "azure-owner"; };
  Roster r;
  r.add_static("static@contoso.example");
  r.grant({"static@contoso.example"}, kGa, 0, kT0, false);                  // learned for a static entry
  r.grant({"listed"}, kGa, 0, kT0, false, RoleHold::kForever, true);         // in the snapshot
  r.grant({"stale"}, kGa, 0, kT0, false);                                    // removed, no event seen
  r.grant({"stale"}, kHelpdesk, 1, kT0, true);                               // its eligibility: other snapshot
  r.grant({"azure"}, "azure-owner", 0, kT0, false);                          // Azure RBAC: not in the snapshot
  const std::int64_t read = kT0 + 10 * kHour;
  r.grant({"newer"}, kGa, 0, read + 1, false);  // an event newer than the snapshot's read time
  r.clear_dirty();
  EXPECT_EQ(r.complete_snapshot(false, read, entra), 2u);  // stale's GA, and the static entry's GA
  EXPECT_TRUE(r.dirty());
  EXPECT_TRUE(r.holds_active("listed", read + kHour));
  EXPECT_TRUE(r.holds_active("newer", read + kHour));
  EXPECT_TRUE(r.holds_active("azure", read + kHour));
  EXPECT_FALSE(r.holds_active("stale", read + kHour));
  EXPECT_TRUE(r.holds_active("stale", read - kHour));     // late records of before the snapshot
  EXPECT_TRUE(r.contains("stale", read + kHour));          // still eligible for Helpdesk
  EXPECT_EQ(r.tier_of("stale", read + kHour), 1);
  EXPECT_TRUE(r.contains("static@contoso.example", read + kHour));
  EXPECT_EQ(r.tier_of("static@contoso.example", read + kHour), -1);
  // The next snapshot: "listed" is not in it any more.
  EXPECT_EQ(r.complete_snapshot(false, read + 2 * kHour, entra), 2u);  // listed, newer
  EXPECT_FALSE(r.contains("listed", read + 3 * kHour));
  // The eligibility snapshot lists nobody: stale's Helpdesk eligibility ends too.
  EXPECT_EQ(r.complete_snapshot(true, read + 2 * kHour, entra), 1u);
  EXPECT_FALSE(r.contains("stale", read + 3 * kHour));
}

// Snapshots prune: a hold a snapshot ended is kept for late records (kEndedRetentionMs), then a
// later snapshot forgets it, and the principal with it once nothing is left (also in the saved
// state). A hold an event granted after that snapshot was read is kept.
TEST(Roster, SnapshotsPruneRolesThatAreGone) {
  const auto entra = [](const std::string&) { return true; };
  Roster r;
  r.grant({"gone", "gone@contoso.example"}, kGa, 0, kT0, false);    // learned from an event
  r.grant({"kept"}, kGa, 0, kT0, false, RoleHold::kForever, true);  // in snapshot 1
  r.add_static("static@contoso.example");
  r.grant({"static@contoso.example"}, kGa, 0, kT0, false);
  const std::int64_t read1 = kT0 + kHour;
  r.grant({"kept"}, kGa, 0, read1 + 1, false);  // listed again by an event after snapshot 1 was read
  EXPECT_EQ(r.complete_snapshot(false, read1, entra), 2u);  // gone's GA and the static entry's GA end
  EXPECT_EQ(r.size(), 3u);                                   // ended holds stay for late records
  EXPECT_TRUE(r.holds_active("gone", read1 - 1));
  EXPECT_NE(r.serialize().find("gone@contoso.example"), std::string::npos);
  // Past the retention: the next snapshot (listing nobody) forgets gone's role and gone.
  const std::int64_t read2 = read1 + Roster::kEndedRetentionMs + kHour;
  r.grant({"later"}, kGa, 0, read2 + 5, false);  // an event newer than snapshot 2's read time
  r.clear_dirty();
  r.complete_snapshot(false, read2, entra);
  EXPECT_TRUE(r.dirty());
  EXPECT_EQ(r.entry("gone"), nullptr);
  EXPECT_EQ(r.entry("gone@contoso.example"), nullptr);
  EXPECT_EQ(r.serialize().find("gone@contoso.example"), std::string::npos);
  EXPECT_TRUE(r.holds_active("later", read2 + kHour));        // granted after the read: kept
  EXPECT_TRUE(r.contains("static@contoso.example", read2));   // static entries stay listed
  EXPECT_EQ(r.tier_of("static@contoso.example", read2), -1);  // without the role that is gone
  EXPECT_NE(r.entry("kept"), nullptr);  // ended at read2 (not listed), within the retention
  EXPECT_FALSE(r.holds_active("kept", read2 + 1));
  Roster back;
  back.deserialize(r.serialize());
  EXPECT_EQ(back.entry("gone"), nullptr);
  EXPECT_TRUE(back.holds_active("later", read2 + kHour));
}

// The latest privileged sign-in of a roster principal is kept (by any key) and saved.
TEST(Roster, KeepsTheLastPrivilegedSignIn) {
  Roster r;
  r.grant({"id-1", "admin@contoso.example"}, kGa, 0, kT0, false);
  r.note_privileged_sign_in({"", "ADMIN@contoso.example"}, kT0 + kHour);
  r.note_privileged_sign_in({"id-1"}, kT0 + 10);  // older: ignored
  r.note_privileged_sign_in({"stranger"}, kT0);   // not on the roster: not added
  EXPECT_EQ(r.last_privileged_sign_in("id-1"), kT0 + kHour);
  EXPECT_EQ(r.entry("stranger"), nullptr);
  Roster back;
  back.deserialize(r.serialize());
  EXPECT_EQ(back.last_privileged_sign_in("admin@contoso.example"), kT0 + kHour);
}

// Several graph_pim sources read several tenants: a tenant's snapshot ends holds of its own
// principals (and of principals whose tenant is not known), never another tenant's, also after a
// restart.
TEST(Roster, ASnapshotEndsOnlyItsOwnTenantsHolds) {
  const auto entra = [](const std::string&) { return true; };
  const std::string kA = "aaaaaaaa-0000-0000-0000-00000000000a", kB = "BBBBBBBB-0000-0000-0000-00000000000B";
  Roster r;
  r.grant({"a-listed"}, kGa, 0, kT0, false, RoleHold::kForever, true, kA);
  r.grant({"a-stale"}, kGa, 0, kT0, false, RoleHold::kForever, false, kA);  // learned from tenant A's audit
  r.grant({"b-listed"}, kGa, 0, kT0, false, RoleHold::kForever, true, kB);
  r.grant({"b-event"}, kGa, 0, kT0, false, RoleHold::kForever, false, kB);
  r.grant({"unknown"}, kGa, 0, kT0, false);  // a record without a tenant
  const std::int64_t read = kT0 + kHour;
  EXPECT_EQ(r.complete_snapshot(false, read, entra, kA), 2u);  // a-stale, unknown
  EXPECT_TRUE(r.holds_active("a-listed", read + 1));
  EXPECT_FALSE(r.holds_active("a-stale", read + 1));
  EXPECT_FALSE(r.holds_active("unknown", read + 1));
  EXPECT_TRUE(r.holds_active("b-listed", read + 1));  // tenant B's snapshot is not complete yet
  EXPECT_TRUE(r.holds_active("b-event", read + 1));
  Roster back;  // the tenants survive a restart; snapshot numbers do not (the next snapshot decides)
  back.deserialize(r.serialize());
  back.grant({"b-listed"}, kGa, 0, read, false, RoleHold::kForever, true, "bbbbbbbb-0000-0000-0000-00000000000b");
  EXPECT_EQ(back.complete_snapshot(false, read + kHour, entra, kB), 1u);  // b-event
  EXPECT_TRUE(back.holds_active("b-listed", read + 2 * kHour));
  EXPECT_FALSE(back.holds_active("b-event", read + 2 * kHour));
  EXPECT_TRUE(back.holds_active("a-listed", read + 2 * kHour));
}

TEST(Roster, StateRoundTripKeepsEnds) {
  Roster r;
  r.grant({"id-1", "frank@contoso.example"}, kGa, 0, kT0, true);
  r.grant({"id-1"}, kGa, 0, kT0, false, kT0 + 2 * kHour);
  r.grant({"id-2"}, kHelpdesk, 1, kT0, false);
  r.add_static("static@contoso.example");  // config's: not written
  Roster back;
  back.deserialize(r.serialize());
  EXPECT_FALSE(back.dirty());
  EXPECT_EQ(back.size(), 2u);
  EXPECT_TRUE(back.holds_active("frank@contoso.example", kT0 + kHour));
  EXPECT_FALSE(back.holds_active("id-1", kT0 + 3 * kHour));
  EXPECT_TRUE(back.contains("id-1", kT0 + 3 * kHour));  // the eligibility has no end
  EXPECT_EQ(back.tier_of("id-2", kT0 + 1000 * kHour), 1);
  EXPECT_FALSE(back.contains("static@contoso.example", kT0));
  EXPECT_EQ(back.serialize(), r.serialize());  // nothing lost or added on the way
}

TEST(Roster, ReadsTheVersionOneStateOfEarlierReleases) {
  Roster r;
  r.deserialize(R"({"version":1,"principals":[{"keys":["id-1","frank@contoso.example"],)"
                R"("roles":{")" + kGa + R"(":0,")" + kHelpdesk + R"(":1},"eligible":[")" + kGa + R"("],"updated_ms":1}]})");
  EXPECT_EQ(r.size(), 1u);
  EXPECT_EQ(r.tier_of("frank@contoso.example", kT0), 0);
  EXPECT_TRUE(r.holds_active("id-1", kT0));  // Helpdesk is active; GA only eligible
  r.revoke({"id-1"}, kHelpdesk);
  EXPECT_FALSE(r.holds_active("id-1", kT0));
  EXPECT_TRUE(r.contains("id-1", kT0));
  EXPECT_THROW(r.deserialize("{\"principals\": 5"), std::exception);
}

}  // namespace
}  // namespace siem
