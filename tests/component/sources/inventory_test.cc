// The privileged-identity inventory end to end: the real `siem-connector` binary against the
// Graph emulator over HTTPS (pull_fixture.h). The `inventory` command lists the seeded scenario's
// privileged principals with the role-assignable groups' members read page by page; `run --once`
// with `inventory:` delivers the inventory, then, a day later (its checkpoint moved back) and in a
// new process, the changes since with their pa.inventory.* tags, and nothing while not due.
#include "tests/component/sources/pull_fixture.h"

#include "connector/state/state_store.h"

namespace siem::pulltest {
namespace {

const std::string kGa = "62e90394-69f5-4237-9190-012177145e10";
const std::string kPra = "e8611ab8-c189-46e8-94e1-60213ab1f814";
const std::string kGroupsAdmin = "fdd7a751-b60b-444a-984c-02652fe8fa1c";
const std::string kAlice = "5d6f3a2e-1b0c-4e8f-9a7d-2c4b6e8f0a11";
const std::string kBob = "728309ae-1a37-4937-9afe-e35d964db09b";
const std::string kEve = "9f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0";
const std::string kCarol = "5eed7000-0000-4000-a000-000000000003";    // in the nested group "Tier0 On-call"
const std::string kAutomation = "5eed7000-0000-4000-a000-000000000004";  // a service principal member
const std::string kOperators = "5eed7000-0000-4000-a000-000000000001";   // role-assignable group
const std::string kDan = "d4a1c0de-0000-4000-a000-000000000001";

class InventoryE2E : public PullRunOnce {
 protected:
  Result inventory(const std::vector<std::string>& extra) {
    std::vector<std::string> args{"inventory", "-c", (dir_ / "config.yaml").string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_binary(args, dir_, std::chrono::seconds(60));
  }

  void write_ecs_config(const std::string& sources) const {
    std::ofstream(dir_ / "config.yaml") << "state_dir: " << (dir_ / "state").string() << "\n"
                                        << "dead_letter: {path: " << (dir_ / "dead-letter.ndjson").string() << "}\n"
                                        << "enrichment: {break_glass_accounts: [breakglass01@contoso.onmicrosoft.com]}\n"
                                        << "sources:\n"
                                        << sources << "sinks:\n  - {name: out, type: file, format: ecs, path: "
                                        << (dir_ / "out.ndjson").string() << "}\n";
  }

  // The inventory events delivered from line `from` on.
  std::vector<json> inventory_events(std::size_t from, std::size_t* lines) const {
    std::vector<json> out;
    std::ifstream in(dir_ / "out.ndjson");
    std::string line;
    std::size_t n = 0;
    while (std::getline(in, line)) {
      if (n++ < from) continue;
      auto j = json::parse(line);
      if (j["event"].value("dataset", "") == "azure.privileged_inventory") out.push_back(std::move(j));
    }
    *lines = n;
    return out;
  }
};

const json* principal(const json& list, const std::string& id) {
  for (const auto& r : list)
    if (r["principal"]["id"] == id) return &r;
  return nullptr;
}

// The command lists every principal holding a privileged role: a nested group's member and a
// service principal through the role-assignable group (its members read in pages of 2), the
// groups themselves not; a principal holding roles directly and through the group says both.
TEST_F(InventoryE2E, CommandListsPrivilegedPrincipalsWithGroupMembersAcrossPages) {
  start_emulator();
  write_ecs_config(source("pim", "graph_pim", "inventory: {page_size: 2}"));
  // Graph throttles the first members request once: it is retried after its Retry-After.
  emu_->add_fault({{"path_prefix", "/v1.0/groups/"}, {"count", 1}, {"status", 429}, {"retry_after", "1"}});
  auto r = inventory({"--format", "json", "-o", (dir_ / "inventory.json").string()});
  ASSERT_EQ(r.status, 0) << r.err;
  const json list = json::parse(slurp(dir_ / "inventory.json"));
  ASSERT_TRUE(list.is_array());
  EXPECT_EQ(list.size(), 6u) << list.dump(1);  // break-glass, Alice, Carol, Automation, Bob, Eve
  EXPECT_EQ(principal(list, kOperators), nullptr);
  const json* carol = principal(list, kCarol);
  ASSERT_NE(carol, nullptr) << list.dump(1);
  EXPECT_EQ((*carol)["membership"], "group");
  EXPECT_EQ((*carol)["roles"][0]["groupName"], "Tier0 Operators");
  EXPECT_EQ((*carol)["roles"][0]["roleName"], "Privileged Authentication Administrator");
  const json* sp = principal(list, kAutomation);
  ASSERT_NE(sp, nullptr);
  EXPECT_EQ((*sp)["principal"]["type"], "servicePrincipal");
  const json* alice = principal(list, kAlice);
  ASSERT_NE(alice, nullptr);
  EXPECT_EQ((*alice)["membership"], "direct+group");
  const json* bg = principal(list, "0b6c1f5e-9d8a-4c3b-8e2f-7a1d5c9b3e00");
  ASSERT_NE(bg, nullptr);
  EXPECT_EQ((*bg)["breakGlass"], true);
  // The group's 4 transitive members (the nested group, the service principal, Carol, Alice) in
  // pages of 2, after the throttled attempt.
  const auto members = endpoint_stats("graph.transitiveMembers");
  EXPECT_EQ(members["statuses"], json({429, 200, 200})) << members.dump();

  // ECS: one event per principal.
  r = inventory({"--format", "ecs"});
  ASSERT_EQ(r.status, 0) << r.err;
  std::istringstream lines(slurp(dir_ / "stdout"));
  std::string line;
  std::set<std::string> users;
  while (std::getline(lines, line)) {
    const auto ev = json::parse(line);
    EXPECT_EQ(ev["event"]["dataset"], "azure.privileged_inventory");
    users.insert(ev["user"]["id"].get<std::string>());
  }
  EXPECT_EQ(users.size(), 6u);
}

// Clear exit statuses: 2 when Graph refuses (wrong secret), 1 without a graph_pim source.
TEST_F(InventoryE2E, CommandExitStatuses) {
  start_emulator();
  setenv("SIEM_PULL_TEST_SECRET", "not-the-secret", 1);
  write_ecs_config(source("pim", "graph_pim", ""));
  auto r = inventory({});
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("cannot read the role assignments"), std::string::npos) << r.err;
  setenv("SIEM_PULL_TEST_SECRET", kSecret, 1);
  write_ecs_config(source("audits", "graph_directory_audits", ""));
  r = inventory({});
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_NE(r.err.find("no graph_pim source"), std::string::npos) << r.err;
  // validate checks the inventory keys (named with file:line) and lists the companion source.
  write_ecs_config(source("pim", "graph_pim", "inventory: {interval: 10s, max_group_membrs: 5}"));
  r = run_binary({"validate", "-c", (dir_ / "config.yaml").string()}, dir_, std::chrono::seconds(30));
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_NE(r.err.find("inventory.interval must be at least 1m"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("did you mean 'max_group_members'"), std::string::npos) << r.err;
  write_ecs_config(source("pim", "graph_pim", "inventory: {}"));
  r = run_binary({"validate", "-c", (dir_ / "config.yaml").string()}, dir_, std::chrono::seconds(30));
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(slurp(dir_ / "stdout").find("pim.inventory"), std::string::npos);
}

// run --once: the first inventory (no changes), then a day later in a new process the changes
// since the inventory the state store kept, with their tags; then nothing (not due).
TEST_F(InventoryE2E, ChangesBetweenInventoriesAreEventsAcrossRestarts) {
  start_emulator();
  write_ecs_config(source("pim", "graph_pim", "requests_per_10s: 1000\ninventory: {interval: 24h}") +
                   source("sign-ins", "graph_sign_ins", "requests_per_10s: 1000"));
  auto r = run();
  ASSERT_EQ(r.status, 0) << r.err;
  std::size_t lines = 0;
  auto events = inventory_events(0, &lines);
  ASSERT_EQ(events.size(), 6u) << r.err;
  for (const auto& e : events) EXPECT_EQ(e["event"]["action"], "privileged-principal") << e.dump();

  // A day later: Dan becomes Global Administrator, Eve's Privileged Role Administrator eligibility
  // becomes an active assignment with no end, Bob's Groups Administrator assignment is removed.
  {
    StateStore state(dir_ / "state");
    const auto key = StateStore::checkpoint_key("pim.inventory");
    auto cp = json::parse(state.get(key).value_or("{}"));
    ASSERT_EQ(cp["previous"]["principals"].size(), 6u) << cp.dump();
    cp["last_run_ms"] = cp["last_run_ms"].get<std::int64_t>() - 25LL * 3600 * 1000;
    state.put(key, cp.dump());
  }
  emu_->add_record("directoryObjects", {{"@odata.type", "#microsoft.graph.user"}, {"id", kDan},
                                        {"displayName", "Dan New"}, {"userPrincipalName", "dan@contoso.com"}});
  auto assignment = [](const std::string& id, const std::string& who, const std::string& role) {
    return json{{"id", id}, {"principalId", who}, {"roleDefinitionId", role}, {"directoryScopeId", "/"},
                {"startDateTime", "2026-01-01T00:00:00Z"}, {"endDateTime", nullptr}, {"memberType", "Direct"},
                {"assignmentType", "Assigned"}};
  };
  emu_->add_record("roleAssignmentScheduleInstances", assignment("d4a1c0de-0000-4000-a000-0000000000a1", kDan, kGa));
  emu_->add_record("roleAssignmentScheduleInstances", assignment("d4a1c0de-0000-4000-a000-0000000000a2", kEve, kPra));
  auto is = [](const std::string& who, const std::string& role) {
    return [who, role](const json& x) { return x.value("principalId", "") == who && x.value("roleDefinitionId", "") == role; };
  };
  EXPECT_EQ(emu_->remove_records("roleEligibilityScheduleInstances", is(kEve, kPra)), 1u);
  EXPECT_EQ(emu_->remove_records("roleAssignmentScheduleInstances", is(kBob, kGroupsAdmin)), 1u);

  r = run();
  ASSERT_EQ(r.status, 0) << r.err;
  events = inventory_events(lines, &lines);
  std::map<std::string, std::vector<std::string>> changes;  // "user change role" -> pa.* tags
  std::size_t principals = 0;
  std::set<std::string> signed_in;  // principals with a last privileged sign-in (the roster run 1 saved)
  for (const auto& e : events) {
    const auto& inv = e["azure"]["privileged_access"]["inventory"];
    if (inv["record_type"] == "principal") {
      ++principals;
      if (inv.contains("last_privileged_sign_in")) signed_in.insert(e["user"]["id"].get<std::string>());
      continue;
    }
    std::vector<std::string> tags;
    for (const auto& t : e["tags"]) tags.push_back(t.get<std::string>());
    const std::string role = inv.contains("role") ? inv["role"]["role_name"].get<std::string>() : "";
    changes[e["user"]["id"].get<std::string>() + " " + inv["change_type"].get<std::string>() + " " + role] = tags;
  }
  EXPECT_EQ(principals, 6u);  // Dan in, Bob out
  const std::map<std::string, std::vector<std::string>> expected = {
      {kDan + " principalAdded ", {"pa.inventory.new_principal"}},
      {kDan + " roleAdded Global Administrator", {"pa.inventory.new_global_admin", "pa.inventory.new_tier0", "pa.role.tier0"}},
      {kEve + " madePermanent Privileged Role Administrator", {"pa.inventory.made_permanent", "pa.role.tier0"}},
      {kBob + " roleRemoved Groups Administrator", {"pa.inventory.role_removed", "pa.role.tier1"}},
  };
  EXPECT_EQ(changes, expected) << r.err;
  EXPECT_TRUE(signed_in.count(kAlice)) << "Alice's privileged sign-ins (run 1) are not reported";

  // Not due again: a third run (a new process) delivers no inventory.
  r = run();
  ASSERT_EQ(r.status, 0) << r.err;
  events = inventory_events(lines, &lines);
  EXPECT_TRUE(events.empty()) << events.size();
}

}  // namespace
}  // namespace siem::pulltest
