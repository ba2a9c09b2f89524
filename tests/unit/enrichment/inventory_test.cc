// The privileged-identity inventory (connector/enrichment/inventory.h): one record per privileged
// principal from Graph's schedule instances with role-assignable groups expanded, and the changes
// between two inventories.
#include "connector/enrichment/inventory.h"

#include <gtest/gtest.h>

#include "connector/enrichment/roster.h"

namespace siem {
namespace {

using nlohmann::json;

const std::string kGa = "62e90394-69f5-4237-9190-012177145e10";
const std::string kPra = "e8611ab8-c189-46e8-94e1-60213ab1f814";
const std::string kReader = "88d8e3e3-8f55-4a1e-953a-9b9898b8876b";  // Directory Readers: not privileged
const std::string kGroup = "aaaaaaaa-0000-4000-a000-000000000001";
const std::string kNested = "aaaaaaaa-0000-4000-a000-000000000002";
constexpr std::int64_t kNow = 1'796'606'913'000;  // 2026-12-07T01:28:33Z

RoleTable table() {
  RoleTable t;
  t.add(RoleInfo{kGa, "Global Administrator", "entra", 0, true});
  t.add(RoleInfo{kPra, "Privileged Role Administrator", "entra", 0, true});
  t.add(RoleInfo{kReader, "Directory Readers", "entra", 2, false});
  return t;
}

json user(const std::string& id, const std::string& upn) {
  return {{"@odata.type", "#microsoft.graph.user"}, {"id", id}, {"displayName", upn}, {"userPrincipalName", upn}};
}

json instance(const std::string& principal, const std::string& role, json expanded, json end = nullptr) {
  return {{"principalId", principal}, {"roleDefinitionId", role}, {"directoryScopeId", "/"}, {"memberType", "Direct"},
          {"startDateTime", "2026-11-01T00:00:00Z"}, {"endDateTime", end}, {"assignmentType", "Assigned"},
          {"principal", std::move(expanded)}};
}

struct Fixture {
  RoleTable roles = table();
  InventoryContext ctx() const {
    InventoryContext c;
    c.roles = &roles;
    c.break_glass = {"bg@contoso.example"};
    c.tenant = "tenant-1";
    c.now_ms = kNow;
    return c;
  }
};

const json* find_principal(const std::vector<json>& records, const std::string& id) {
  for (const auto& r : records)
    if (r["principal"]["id"] == id) return &r;
  return nullptr;
}

// A role-assignable group's transitive members (a nested group's members among them, as Graph
// lists them) hold its role through it; the nested group itself is not a principal; a service
// principal member is one; a user holding the role directly as well says both.
TEST(Inventory, ExpandsRoleAssignableGroups) {
  Fixture f;
  const json graph = {
      {"assignments",
       {instance(kGroup, kGa, {{"@odata.type", "#microsoft.graph.group"}, {"id", kGroup}, {"displayName", "Tier0"}}),
        instance("u-direct", kGa, user("u-direct", "direct@contoso.example"))}},
      {"eligibilities", json::array()},
      {"groups",
       {{kGroup,
         {{"members",
           {{{"@odata.type", "#microsoft.graph.group"}, {"id", kNested}, {"displayName", "Nested"}},
            user("u-nested", "nested@contoso.example"),
            {{"@odata.type", "#microsoft.graph.servicePrincipal"}, {"id", "sp-1"}, {"displayName", "Automation"}, {"appId", "app-1"}},
            user("u-direct", "direct@contoso.example")}},
          {"truncated", false}}}}}};
  const auto records = build_inventory(graph, f.ctx());
  ASSERT_EQ(records.size(), 3u);  // u-direct, u-nested, sp-1; neither group
  EXPECT_EQ(find_principal(records, kGroup), nullptr);
  EXPECT_EQ(find_principal(records, kNested), nullptr);
  const json* nested = find_principal(records, "u-nested");
  ASSERT_NE(nested, nullptr);
  EXPECT_EQ((*nested)["membership"], "group");
  EXPECT_EQ((*nested)["roles"][0]["heldVia"], "group");
  EXPECT_EQ((*nested)["roles"][0]["groupId"], kGroup);
  EXPECT_EQ((*nested)["roles"][0]["groupName"], "Tier0");
  const json* sp = find_principal(records, "sp-1");
  ASSERT_NE(sp, nullptr);
  EXPECT_EQ((*sp)["principal"]["type"], "servicePrincipal");
  EXPECT_EQ((*sp)["principal"]["appId"], "app-1");
  const json* direct = find_principal(records, "u-direct");
  ASSERT_NE(direct, nullptr);
  EXPECT_EQ((*direct)["membership"], "direct+group");
  EXPECT_EQ((*direct)["roles"].size(), 2u);
  EXPECT_EQ((*direct)["tier"], 0);
  EXPECT_EQ((*direct)["tenantId"], "tenant-1");
}

// Only privileged roles, only holds still running, and entries without a principal or role id, or
// with an end that is not a time, are skipped (counted).
TEST(Inventory, ListsRunningPrivilegedHoldsOnly) {
  Fixture f;
  json eligible = instance("u-elig", kPra, user("u-elig", "elig@contoso.example"), "2027-01-01T00:00:00Z");
  eligible.erase("assignmentType");
  const json graph = {
      {"assignments",
       {instance("u-reader", kReader, user("u-reader", "reader@contoso.example")),
        instance("u-over", kGa, user("u-over", "over@contoso.example"), "2026-12-01T00:00:00Z"),
        instance("", kGa, json::object()), instance("u-bad", kGa, json::object(), "yesterday"),
        instance("u-bg", kGa, user("u-bg", "BG@contoso.example"))}},
      {"eligibilities", {eligible}}};
  std::size_t skipped = 0;
  const auto records = build_inventory(graph, f.ctx(), &skipped);
  EXPECT_EQ(skipped, 2u);
  ASSERT_EQ(records.size(), 2u);
  const json* elig = find_principal(records, "u-elig");
  ASSERT_NE(elig, nullptr);
  EXPECT_EQ((*elig)["roles"][0]["assignment"], "eligible");
  EXPECT_EQ((*elig)["roles"][0]["permanent"], false);
  EXPECT_EQ((*elig)["roles"][0]["end"], "2027-01-01T00:00:00.000Z");
  EXPECT_EQ((*elig)["breakGlass"], false);
  const json* bg = find_principal(records, "u-bg");
  ASSERT_NE(bg, nullptr);
  EXPECT_EQ((*bg)["breakGlass"], true);  // enrichment.break_glass_accounts, any case
  EXPECT_EQ((*bg)["roles"][0]["permanent"], true);
  EXPECT_TRUE((*bg)["lastPrivilegedSignIn"].is_null());
}

// The last privileged sign-in the roster saw is reported.
TEST(Inventory, ReportsTheLastPrivilegedSignIn) {
  Fixture f;
  Roster roster;
  roster.grant({"u-1", "one@contoso.example"}, kGa, 0, kNow - 1000, false);
  roster.note_privileged_sign_in({"one@contoso.example"}, kNow - 500);
  auto ctx = f.ctx();
  ctx.roster = &roster;
  const json graph = {{"assignments", {instance("u-1", kGa, user("u-1", "one@contoso.example"))}}};
  const auto records = build_inventory(graph, ctx);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0]["lastPrivilegedSignIn"], "2026-12-07T01:28:32.500Z");
}

std::vector<std::string> change_types(const std::vector<json>& changes, const std::string& principal) {
  std::vector<std::string> out;
  for (const auto& c : changes)
    if (c["principal"]["id"] == principal) out.push_back(c["changeType"].get<std::string>() + ":" + c.value("role", json::object()).value("roleName", ""));
  return out;
}

// Between two inventories: a new principal holding Global Administrator, an eligibility made an
// active assignment with no end, a role that is gone (and a principal that is gone); the first
// inventory reports none. The previous inventory survives a round trip through its saved text.
TEST(Inventory, ChangesBetweenTwoInventories) {
  Fixture f;
  json elig = instance("u-eve", kPra, user("u-eve", "eve@contoso.example"));
  elig.erase("assignmentType");
  const json before = {{"assignments",
                        {instance("u-bob", kGa, user("u-bob", "bob@contoso.example")),
                         instance("u-gone", kPra, user("u-gone", "gone@contoso.example")),
                         instance("u-eve", kGa, user("u-eve", "eve@contoso.example"), "2026-12-08T00:00:00Z")}},
                       {"eligibilities", {elig}}};
  const auto first = build_inventory(before, f.ctx());
  EXPECT_TRUE(inventory_changes(json::object(), first, kNow).empty());  // no previous inventory
  const json saved = json::parse(inventory_summary(first, kNow).dump());

  auto ctx = f.ctx();
  ctx.now_ms = kNow + 86'400'000;
  const json after = {{"assignments",
                       {instance("u-dan", kGa, user("u-dan", "dan@contoso.example")),
                        instance("u-eve", kPra, user("u-eve", "eve@contoso.example")),
                        instance("u-eve", kGa, user("u-eve", "eve@contoso.example"), "2026-12-09T00:00:00Z")}},
                      {"eligibilities", json::array()}};
  const auto second = build_inventory(after, ctx);
  const auto changes = inventory_changes(saved, second, ctx.now_ms);
  EXPECT_EQ(change_types(changes, "u-dan"), (std::vector<std::string>{"principalAdded:", "roleAdded:Global Administrator"}));
  EXPECT_EQ(change_types(changes, "u-eve"), (std::vector<std::string>{"madePermanent:Privileged Role Administrator"}));
  EXPECT_EQ(change_types(changes, "u-bob"), (std::vector<std::string>{"roleRemoved:Global Administrator"}));
  EXPECT_EQ(change_types(changes, "u-gone"), (std::vector<std::string>{"roleRemoved:Privileged Role Administrator"}));
  EXPECT_EQ(changes.size(), 5u);
  for (const auto& c : changes) {
    EXPECT_EQ(c["recordType"], "change");
    EXPECT_EQ(c["previousInventoryTime"], "2026-12-07T01:28:33.000Z");
  }
  // The same inventory again: nothing changed.
  EXPECT_TRUE(inventory_changes(inventory_summary(second, ctx.now_ms), second, ctx.now_ms + 1).empty());
}

}  // namespace
}  // namespace siem
