// Cross-path dedupe (pipeline.dedupe) through the real binary: the same directory audits and
// sign-ins pulled from Graph (the emulator) and read as Event Hubs records (diagnostic-settings
// `{"records":[...]}` envelopes, through the file source) are delivered once each, also across a
// restart of the process; a source's own re-read after a lost checkpoint is delivered again
// (at-least-once), while the other path's copies stay dropped.
#include "tests/component/sources/pull_fixture.h"

#include "connector/state/state_store.h"

namespace siem::pulltest {
namespace {

// The record's own id: Graph/ARM `id` / `eventDataId`, Event Hubs `properties.id`.
std::string own_id(const json& r) {
  if (r.contains("properties") && r["properties"].is_object() && r["properties"].contains("id"))
    return r["properties"]["id"].get<std::string>();
  return record_id(r);
}

// The diagnostic-settings (Event Hubs) form of a Graph directoryAudit or signIn: the envelope the
// export writes, with the Graph resource as its `properties` (sources.md, Event Hubs).
json hub_record(const json& graph, bool sign_in) {
  json r;
  r["resourceId"] = std::string("/tenants/") + kTenant + "/providers/Microsoft.aadiam";
  r["tenantId"] = kTenant;
  r["operationVersion"] = "1.0";
  r["Level"] = 4;
  r["properties"] = graph;
  if (sign_in) {
    r["time"] = graph["createdDateTime"];
    r["operationName"] = "Sign-in activity";
    std::string type = "interactiveUser";
    if (graph.contains("signInEventTypes") && graph["signInEventTypes"].is_array() && !graph["signInEventTypes"].empty())
      type = graph["signInEventTypes"][0].get<std::string>();
    r["category"] = type == "nonInteractiveUser"  ? "NonInteractiveUserSignInLogs"
                    : type == "servicePrincipal" ? "ServicePrincipalSignInLogs"
                    : type == "managedIdentity"  ? "ManagedIdentitySignInLogs"
                                                 : "SignInLogs";
  } else {
    r["time"] = graph["activityDateTime"];
    r["operationName"] = graph.value("activityDisplayName", "Update user");
    r["category"] = "AuditLogs";
  }
  return r;
}

class CrossPathDedupe : public PullRunOnce {
 protected:
  void write_dedupe_config() {
    const std::string common = "page_size: 7\nrequests_per_10s: 1000";
    write_config(source("graph-audit", "graph_directory_audits", common) +
                 source("graph-signins", "graph_sign_ins",
                        common + "\nevent_types: [interactiveUser, nonInteractiveUser, servicePrincipal, managedIdentity]") +
                 "  - {name: hub, type: file, path: " + (dir_ / "hub.ndjson").string() + ", poll_interval: 200ms}\n");
    std::ofstream(dir_ / "config.yaml", std::ios::app)
        << "pipeline:\n  dedupe: {enabled: true, window: 24h, max_ids: 100000}\n";
  }
  // Appends one `{"records":[...]}` envelope per record to the file the `hub` source reads.
  void append_hub(const std::vector<json>& records) const {
    std::ofstream out(dir_ / "hub.ndjson", std::ios::app);
    for (const auto& r : records) out << json{{"records", json::array({r})}}.dump() << "\n";
  }
  std::map<std::string, int> delivered_ids(std::size_t from, std::size_t* lines) const {
    std::map<std::string, int> ids;
    std::ifstream in(dir_ / "out.ndjson");
    std::string line;
    std::size_t n = 0;
    while (std::getline(in, line))
      if (n++ >= from) ids[own_id(json::parse(line))]++;
    *lines = n;
    return ids;
  }
  static std::uint64_t dropped(const std::string& err) {
    const auto at = err.find("dedupe: ");
    return at == std::string::npos ? ~0ull : std::stoull(err.substr(at + 8));
  }
};

TEST_F(CrossPathDedupe, OneEventPerRecordFromGraphAndEventHubsAcrossARestart) {
  start_emulator();
  const auto audits = emu_->records("directoryAudits");
  const auto sign_ins = emu_->records("signIns");
  ASSERT_GE(audits.size(), 4u);
  ASSERT_GE(sign_ins.size(), 4u);
  std::set<std::string> expected;
  std::vector<json> first_half, second_half;
  for (std::size_t i = 0; i < audits.size(); ++i) {
    expected.insert(own_id(audits[i]));
    (i % 2 ? second_half : first_half).push_back(hub_record(audits[i], false));
  }
  for (std::size_t i = 0; i < sign_ins.size(); ++i) {
    expected.insert(own_id(sign_ins[i]));
    (i % 2 ? second_half : first_half).push_back(hub_record(sign_ins[i], true));
  }
  // A record only the export has: delivered.
  json only_hub = hub_record(audits[0], false);
  only_hub["properties"]["id"] = "Directory_only-in-event-hubs_0001";
  expected.insert("Directory_only-in-event-hubs_0001");
  auto run1 = first_half;
  run1.push_back(only_hub);
  append_hub(run1);
  write_dedupe_config();

  auto r1 = run();
  ASSERT_EQ(r1.status, 0) << r1.err;
  std::size_t lines1 = 0;
  const auto first = delivered_ids(0, &lines1);
  for (const auto& id : expected) EXPECT_EQ(first.count(id) ? first.at(id) : 0, 1) << "record " << id;
  EXPECT_EQ(first.size(), expected.size());
  EXPECT_EQ(lines1, expected.size());
  // One copy of each pair dropped, whichever path was first.
  EXPECT_EQ(dropped(r1.err), first_half.size()) << r1.err;
  EXPECT_NE(r1.err.find("duplicates "), std::string::npos) << r1.err;

  // Restart: the export delivers the other half now. Graph delivered them in the first run; the
  // persisted table drops them.
  append_hub(second_half);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // a later second for Graph's re-read
  auto r2 = run();
  ASSERT_EQ(r2.status, 0) << r2.err;
  std::size_t lines2 = 0;
  const auto second = delivered_ids(lines1, &lines2);
  EXPECT_TRUE(second.empty()) << "delivered twice after the restart: " << second.begin()->first;
  EXPECT_EQ(dropped(r2.err), second_half.size()) << r2.err;
}

TEST_F(CrossPathDedupe, ASourcesOwnReReadPassesTheOtherPathsCopiesStayDropped) {
  start_emulator();
  const auto audits = emu_->records("directoryAudits");
  ASSERT_GE(audits.size(), 2u);
  std::vector<json> copies;
  for (const auto& a : audits) copies.push_back(hub_record(a, false));  // Graph reads audits first
  json only_hub = hub_record(audits[0], false);
  only_hub["properties"]["id"] = "Directory_only-in-event-hubs_0002";
  copies.push_back(only_hub);
  append_hub(copies);
  write_dedupe_config();
  auto r1 = run();
  ASSERT_EQ(r1.status, 0) << r1.err;
  std::size_t lines1 = 0;
  const auto first = delivered_ids(0, &lines1);
  EXPECT_EQ(first.count("Directory_only-in-event-hubs_0002"), 1u);
  for (const auto& a : audits) EXPECT_EQ(first.count(own_id(a)) ? first.at(own_id(a)) : 0, 1) << own_id(a);

  // The hub source's checkpoint is lost (as after a crash before it was committed): it reads its
  // file again. Its own record may never have been delivered, so it passes; the copies of Graph's
  // records are still dropped.
  {
    StateStore state(dir_ / "state");
    ASSERT_TRUE(state.get(StateStore::checkpoint_key("hub")).has_value());
    state.erase(StateStore::checkpoint_key("hub"));
  }
  auto r2 = run();
  ASSERT_EQ(r2.status, 0) << r2.err;
  std::size_t lines2 = 0;
  const auto second = delivered_ids(lines1, &lines2);
  EXPECT_EQ(second.size(), 1u);
  EXPECT_EQ(second.count("Directory_only-in-event-hubs_0002"), 1u);
  EXPECT_EQ(dropped(r2.err), audits.size()) << r2.err;
}

}  // namespace
}  // namespace siem::pulltest
