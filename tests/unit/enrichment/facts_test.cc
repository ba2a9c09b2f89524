// The enrichment extracts each record's facts into one reused Facts object (strings keep their
// buffers); every member must be reset between records. Extracting a record into a Facts that
// held any other record's facts must give exactly what a new Facts gives: a member added to
// Facts but not to its reset fails here as soon as a sample fills it.
#include "connector/enrichment/facts.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <simdjson.h>

#include "connector/mapping/kind_detect.h"
#include "connector/record/encoding.h"
#include "connector/record/json_access.h"
#include "connector/record/time_parse.h"
#include "tests/support/sample_records.h"

namespace siem {
namespace {

TEST(Facts, ReusedFactsEqualNewFactsForEveryPairOfSamples) {
  const auto all = testing::sample_records();
  ASSERT_GT(all.size(), 30u);
  simdjson::dom::parser parser;
  std::size_t records = 0;  // samples of a known kind (the others are token responses and the like)
  for (const auto& current : all) {
    simdjson::dom::element root;
    ASSERT_EQ(parser.parse(current.json).get(root), simdjson::SUCCESS) << current.file;
    const SourceKind kind = detect_kind(root);
    const json::Fields fields(root);
    const Facts fresh = extract_facts(kind, root, &fields);
    if (kind != SourceKind::unknown) {
      ++records;
      EXPECT_FALSE(fresh == Facts{}) << current.file << ": no facts extracted";
    }
    for (const auto& previous : all) {
      // The reused object holds the previous record's facts first.
      simdjson::dom::parser other;
      simdjson::dom::element prev_root;
      ASSERT_EQ(other.parse(previous.json).get(prev_root), simdjson::SUCCESS);
      Facts reused;
      extract_facts(detect_kind(prev_root), prev_root, nullptr, reused);
      extract_facts(kind, root, &fields, reused);
      ASSERT_TRUE(reused == fresh) << current.file << " after " << previous.file;
    }
  }
  EXPECT_GT(records, 25u);
}

}  // namespace
}  // namespace siem

namespace siem {
namespace {

// The facts the application and service-principal detections read, from records no sample of
// tests/data has (a service principal's sign-in, an app role grant): extracted right, and reset
// when the reused Facts moves on to another record.
constexpr std::string_view kSpSignIn = R"({"id":"5e1f","createdDateTime":"2026-03-05T09:12:44Z",
  "appId":"B7E0E9A4-0000-0000-0000-0000000000A9","appDisplayName":"Contoso Backup","servicePrincipalId":"3c2a9b10-0000-0000-0000-0000000000c5",
  "servicePrincipalName":"Contoso Backup","userId":"","userPrincipalName":"","signInEventTypes":["servicePrincipal"],
  "riskLevelDuringSignIn":"high","riskState":"dismissed","status":{"errorCode":0}})";
constexpr std::string_view kAppRoleGrant = R"({"id":"Directory_1","activityDisplayName":"Add app role assignment to service principal",
  "activityDateTime":"2026-03-05T08:01:02Z","result":"success","initiatedBy":{"user":{"userPrincipalName":"alice@contoso.example"}},
  "additionalDetails":[{"key":"AppId","value":"b7e0e9a4-0000-0000-0000-0000000000a9"}],
  "targetResources":[{"id":"6f1c-graph","displayName":"Microsoft Graph","type":"ServicePrincipal","modifiedProperties":[
    {"displayName":"AppRole.Value","oldValue":null,"newValue":"\"RoleManagement.ReadWrite.Directory\""},
    {"displayName":"ServicePrincipal.ObjectID","oldValue":null,"newValue":"\"3c2a9b10-0000-0000-0000-0000000000c5\""},
    {"displayName":"ServicePrincipal.AppId","oldValue":null,"newValue":"\"b7e0e9a4-0000-0000-0000-0000000000a9\""},
    {"displayName":"ServicePrincipal.DisplayName","oldValue":"\"old name\"","newValue":"\"Contoso Backup\""}]}]})";
constexpr std::string_view kUserSignIn = R"({"id":"66ea","createdDateTime":"2026-03-05T10:21:07Z","userPrincipalName":"carol@contoso.example",
  "userId":"c1","appId":"c44b4083-3bb0-49c1-b47d-974e53cbdf3c","servicePrincipalId":"","riskLevelDuringSignIn":"none",
  "riskState":"atRisk","status":{"errorCode":0}})";

Facts facts_of(SourceKind kind, std::string_view json, Facts* reused = nullptr) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  EXPECT_EQ(parser.parse(std::string(json)).get(root), simdjson::SUCCESS);
  Facts f;
  extract_facts(kind, root, nullptr, reused ? *reused : f);
  return reused ? *reused : f;
}

TEST(Facts, AServicePrincipalSignInNamesTheServicePrincipal) {
  const Facts f = facts_of(SourceKind::graph_sign_in, kSpSignIn);
  EXPECT_TRUE(f.sp_sign_in);
  EXPECT_EQ(f.sp_id, "3c2a9b10-0000-0000-0000-0000000000c5");
  EXPECT_EQ(f.sp_name, "Contoso Backup");
  EXPECT_EQ(f.actor.id, f.sp_id);
  EXPECT_EQ(f.actor.app_id, "B7E0E9A4-0000-0000-0000-0000000000A9");
  EXPECT_EQ(f.risk_state, "dismissed");  // read: the risk is high
  // A user's sign-in is never a service principal's, whatever servicePrincipalId says; its
  // riskState is not read when no risk level is medium or high.
  const Facts u = facts_of(SourceKind::graph_sign_in, kUserSignIn);
  EXPECT_FALSE(u.sp_sign_in);
  EXPECT_TRUE(u.actor.app_id.empty());
  EXPECT_TRUE(u.risk_state.empty());
}

// The level of an Activity Log record's scope (read case-insensitively, in place): every level,
// in any case, with the role assignment's own path cut off, and trailing slashes and spaces.
TEST(Facts, ActivityScopesAreReadAtTheirLevel) {
  const std::vector<std::pair<std::string, std::string>> cases{
      {"/", "tenant"},
      {"", "tenant"},
      {"//", "tenant"},
      {"/providers/Microsoft.Authorization/roleAssignments/1", "tenant"},
      {"/providers/Microsoft.Management/managementGroups/mg1", "management_group"},
      {"/PROVIDERS/MICROSOFT.MANAGEMENT/MANAGEMENTGROUPS/mg1/", "management_group"},
      {"/subscriptions/s1", "subscription"},
      {"/Subscriptions/s1/ ", "subscription"},
      {"/subscriptions/s1/providers/microsoft.authorization/roleassignments/x", "subscription"},
      {"/subscriptions/s1/resourceGroups/rg1", "resource_group"},
      {"/subscriptions/s1/RESOURCEGROUPS/rg1/", "resource_group"},
      {"/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.Authorization/roleAssignments/x", "resource_group"},
      {"/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/vm1", "resource"},
      {"/subscriptions/s1/resourceGroups/", "subscription"},  // the trailing slash goes first
      {"subscriptions/s1", "resource"},
      {"/providers/Microsoft.Authorization", "resource"},
      {"/providers/microsoft.authorization/", "tenant"},
      {"/a/providers/microsoft.authorizatio/x", "resource"},
      {"/x/providers/Microsoft.Management/managementGroups/", "resource"},
  };
  for (const auto& [scope, level] : cases) {
    const std::string record = R"({"operationName":{"value":"Microsoft.Authorization/roleAssignments/write"},)"
                               R"("status":{"value":"Succeeded"},"authorization":{"scope":")" + scope + R"("}})";
    EXPECT_EQ(facts_of(SourceKind::azure_activity, record).scope_level, level) << scope;
  }
}

TEST(Facts, AnAppRoleGrantNamesItsGranteeAndKeepsOldAndNewValues) {
  const Facts f = facts_of(SourceKind::graph_directory_audit, kAppRoleGrant);
  EXPECT_EQ(f.app_role_value, "RoleManagement.ReadWrite.Directory");
  EXPECT_EQ(f.grantee.id, "3c2a9b10-0000-0000-0000-0000000000c5");
  EXPECT_EQ(f.grantee.app_id, "b7e0e9a4-0000-0000-0000-0000000000a9");
  EXPECT_EQ(f.grantee.name, "Contoso Backup");
  ASSERT_EQ(f.targets.size(), 1u);
  EXPECT_EQ(f.targets[0].name, "Microsoft Graph");
  EXPECT_EQ(f.targets[0].app_id, "b7e0e9a4-0000-0000-0000-0000000000a9");  // additionalDetails AppId
  ASSERT_EQ(f.modified_properties.size(), 4u);
  EXPECT_EQ(f.modified_properties[3].old_value, "old name");
  EXPECT_EQ(f.modified_properties[3].new_value, "Contoso Backup");
}

TEST(Facts, ReusedFactsForgetTheServicePrincipalAndGrantee) {
  for (const auto& [first, first_kind] : {std::pair{kSpSignIn, SourceKind::graph_sign_in},
                                          std::pair{kAppRoleGrant, SourceKind::graph_directory_audit}}) {
    for (const auto& [second, second_kind] : {std::pair{kUserSignIn, SourceKind::graph_sign_in},
                                              std::pair{kAppRoleGrant, SourceKind::graph_directory_audit},
                                              std::pair{kSpSignIn, SourceKind::graph_sign_in}}) {
      Facts reused = facts_of(first_kind, first);
      facts_of(second_kind, second, &reused);
      EXPECT_TRUE(reused == facts_of(second_kind, second)) << first << "\nthen\n" << second;
    }
  }
}

}  // namespace
}  // namespace siem

namespace siem {
namespace {

// Identity Protection risk detections and PIM alerts (alert_facts.cc).
TEST(Facts, RiskDetectionsNameTheirPrincipalAndPimAlertsTheirIncidents) {
  const Facts sp = facts_of(SourceKind::graph_risk_detection,
                            R"({"id":"r","riskEventType":"leakedCredentials","riskLevel":"high","riskState":"atRisk",
                                "detectedDateTime":"2026-03-05T09:00:00Z","servicePrincipalId":"sp1","appId":"app1",
                                "servicePrincipalDisplayName":"Backup"})");
  EXPECT_EQ(sp.family, Facts::Family::risk);
  EXPECT_EQ(sp.actor.id, "sp1");
  EXPECT_EQ(sp.actor.app_id, "app1");
  EXPECT_EQ(sp.actor.type, "ServicePrincipal");
  EXPECT_TRUE(sp.user_id.empty());
  EXPECT_EQ(sp.risk_level, "high");
  EXPECT_EQ(sp.risk_state, "atRisk");
  EXPECT_EQ(sp.risk_event_type, "leakedCredentials");
  Facts reused = sp;
  const Facts user = facts_of(SourceKind::graph_risk_detection,
                              R"({"id":"r2","riskEventType":"unlikelyTravel","riskLevel":"low","riskState":"remediated",
                                  "detectedDateTime":"2026-03-05T09:00:00Z","userId":"u1","userPrincipalName":"a@b.example"})",
                              &reused);
  EXPECT_EQ(user.actor.upn, "a@b.example");
  EXPECT_EQ(user.user_id, "u1");
  EXPECT_TRUE(user.actor.app_id.empty());
  EXPECT_TRUE(user.sp_id.empty());
  const Facts alert = facts_of(SourceKind::graph_pim_alert,
                               R"({"id":"a","alertDefinitionId":"a","scopeType":"DirectoryRole","isActive":true,"incidentCount":2,
                                   "alertDefinition":{"displayName":"Too many","severityLevel":"high"},
                                   "alertIncidents":[{"assigneeId":"u1","assigneeUserPrincipalName":"a@b.example",
                                                      "roleTemplateId":"62e90394-69f5-4237-9190-012177145e10","roleDisplayName":"Global Administrator"},
                                                     {"assigneeId":"u2","roleTemplateId":"62e90394-69f5-4237-9190-012177145e10",
                                                      "roleDisplayName":"Global Administrator"}, 7]})");
  EXPECT_EQ(alert.family, Facts::Family::pim_alert);
  EXPECT_TRUE(alert.alert_active);
  EXPECT_EQ(alert.alert_incidents, 2);
  EXPECT_EQ(alert.alert_severity, "high");
  EXPECT_EQ(alert.operation, "Too many");
  ASSERT_EQ(alert.targets.size(), 2u);
  EXPECT_EQ(alert.targets[1].id, "u2");
  ASSERT_EQ(alert.roles.size(), 1u);  // the same role once
  EXPECT_EQ(alert.roles[0].name, "Global Administrator");
}

}  // namespace
}  // namespace siem

namespace siem {
namespace {

// A schedule request or instance read with $expand=principal names a group principal by its
// @odata.type (role-assignable groups); without it, a request's principal is taken for a user.
TEST(Facts, AnExpandedGroupPrincipalOfAScheduleRequestOrInstanceIsAGroup) {
  const std::string group = R"("principal":{"@odata.type":"#microsoft.graph.group","id":"0b5c1a2e-7d1f-4c3e-9a40-3c1d2e4f5a60"})";
  const std::string request = R"({"id":"r1","status":"Provisioned","action":"adminAssign","principalId":"0b5c1a2e-7d1f-4c3e-9a40-3c1d2e4f5a60",)"
                              R"("roleDefinitionId":"62e90394-69f5-4237-9190-012177145e10","directoryScopeId":"/",)";
  const Facts r = facts_of(SourceKind::graph_pim_request, request + group + "}");
  ASSERT_EQ(r.targets.size(), 1u);
  EXPECT_EQ(r.targets[0].type, "Group");
  const Facts u = facts_of(SourceKind::graph_pim_request, request + R"("principal":{"@odata.type":"#microsoft.graph.user"}})");
  EXPECT_EQ(u.targets[0].type, "User");
  const std::string instance = R"({"id":"i1","principalId":"0b5c1a2e-7d1f-4c3e-9a40-3c1d2e4f5a60",)"
                               R"("roleDefinitionId":"62e90394-69f5-4237-9190-012177145e10","assignmentType":"Assigned",)";
  const Facts i = facts_of(SourceKind::graph_pim_instance, instance + group + "}");
  ASSERT_EQ(i.targets.size(), 1u);
  EXPECT_EQ(i.targets[0].type, "Group");
  EXPECT_TRUE(facts_of(SourceKind::graph_pim_instance, instance + R"("memberType":"Direct"})").targets[0].type.empty());
}

}  // namespace
}  // namespace siem

namespace siem {
namespace {

// A kind's fact paths as the mapper hands them over: each compiled, in slot order, in one set.
struct FactPathSet {
  json::PathSet set;
  std::vector<json::Path> compiled;
  std::vector<int> slots;
  explicit FactPathSet(const std::vector<std::string>& texts) {
    compiled.reserve(texts.size());
    for (const auto& t : texts) {
      compiled.emplace_back(t);
      slots.push_back(static_cast<int>(slots.size()));
      set.add(compiled.back(), slots.back());
    }
    set.finish();
  }
  FactPathSet(const FactPathSet&) = delete;
  FactPathSet& operator=(const FactPathSet&) = delete;
};

// The mapper resolves fact_paths(kind) with its rules' paths and hands the values over
// (RecordPaths): the facts must be exactly those read from the record itself, for every sample read
// as each kind that has such paths, and for records with what a hostile or odd producer sends
// (null members, case-folded and duplicate keys, members of the wrong type, no or a non-object
// `properties`).
TEST(Facts, ResolvedPathsGiveTheFactsReadFromTheRecord) {
  std::vector<std::string> records;
  for (const auto& s : testing::sample_records()) records.push_back(s.json);
  const std::string odd_sign_in =
      R"("USERPRINCIPALNAME":"Folded@contoso.example","userId":null,"userType":["x"],"status":{"ErrorCode":"50126"},)"
      R"("authenticationDetails":[{"authenticationStepRequirement":"Multifactor authentication","succeeded":true}],)"
      R"("mfaDetail":{"authMethod":null},"deviceDetail":{"isCompliant":"TRUE","isManaged":null,"ISMANAGED":false},)"
      R"("riskLevelDuringSignIn":"High","riskState":"atRisk","riskState":"remediated","appId":7,)"
      R"("signInEventTypes":["managedIdentity",null,3],"servicePrincipalId":"","servicePrincipalName":{"value":"sp"},)"
      R"("createdDateTime":"2026-03-05T10:21:07+02:00","CreatedDateTime":"bad")";
  for (const std::string& r : std::vector<std::string>{
           "{" + odd_sign_in + "}",
           R"({"time":"2026-03-05T10:21:07Z","category":"SignInLogs","properties":{)" + odd_sign_in + "}}",
           R"({"time":"2026-03-05T10:21:07Z","Properties":{"userId":"u1"},"properties":{"userId":"u2"}})",
           R"({"time":"2026-03-05T10:21:07Z","properties":null})", R"({"time":null,"properties":"text"})",
           R"({"properties":[{"userId":"u"}],"status":{"errorCode":0},"deviceDetail":"none"})",
           R"({"userId":"u","status":[{"errorCode":1}],"signInEventTypes":"servicePrincipal","time":7})",
           "{}"})
    records.push_back(r);
  simdjson::dom::parser parser;
  std::size_t compared = 0;
  for (const SourceKind kind : all_source_kinds()) {
    const auto& texts = fact_paths(kind);
    if (texts.empty()) continue;
    const FactPathSet paths(texts);
    const auto& [set, compiled, slots] = paths;
    for (const auto& json : records) {
      simdjson::dom::element root;
      ASSERT_EQ(parser.parse(json).get(root), simdjson::SUCCESS) << json;
      const json::Fields fields(root);
      const Facts read = extract_facts(kind, root, &fields);
      std::vector<json::PathSet::Result> results(texts.size());
      set.resolve(root, fields, results, 1);
      const RecordPaths values{results.data(), slots.data(), slots.size(), {}, std::nullopt, 1};
      Facts resolved;
      extract_facts(kind, root, &fields, resolved, &values);
      EXPECT_TRUE(resolved == read) << to_string(kind) << ": " << json;
      ++compared;
    }
  }
  EXPECT_GT(compared, 80u);
  // The mapper's parsed time is taken for the same string of the document only: another string of
  // the same length (and another time) is parsed, the same one is not parsed again.
  const auto& texts = fact_paths(SourceKind::graph_sign_in);
  const FactPathSet paths(texts);
  const auto& [set, compiled, slots] = paths;
  simdjson::dom::element root;
  ASSERT_EQ(parser.parse(std::string(R"({"createdDateTime":"2026-03-05T10:21:07Z","other":"2025-01-01T00:00:00Z"})")).get(root),
            simdjson::SUCCESS);
  std::vector<json::PathSet::Result> results(texts.size());
  set.resolve(root, results, 1);
  RecordPaths values{results.data(), slots.data(), slots.size(), {}, std::nullopt, 1};
  values.time_text = json::child(root, "other")->get_string().value_unsafe();
  values.time_ms = 1;
  Facts f;
  extract_facts(SourceKind::graph_sign_in, root, nullptr, f, &values);
  EXPECT_EQ(f.time_ms, parse_time_ms("2026-03-05T10:21:07Z"));
  values.time_text = json::child(root, "createdDateTime")->get_string().value_unsafe();
  extract_facts(SourceKind::graph_sign_in, root, nullptr, f, &values);
  EXPECT_EQ(f.time_ms, 1);
  // The sign-in kinds have such paths; a kind without them ignores values given for another.
  EXPECT_FALSE(fact_paths(SourceKind::graph_sign_in).empty());
  EXPECT_FALSE(fact_paths(SourceKind::eventhub_sign_in).empty());
  EXPECT_TRUE(fact_paths(SourceKind::graph_directory_audit).empty());
}

// A slot the mapper did not resolve for this record (an older generation) reads as missing, never
// as the element of an earlier record, whose document may be gone.
TEST(RecordPathsTest, ASlotOfAnEarlierRecordReadsAsMissing) {
  simdjson::dom::parser parser;
  const simdjson::dom::element doc = parser.parse(std::string_view(R"({"a":1})")).value();
  std::vector<json::PathSet::Result> results(1);
  results[0].generation = 7;
  results[0].found = true;
  results[0].value = doc;
  const std::vector<int> slots{0};
  RecordPaths current{results.data(), slots.data(), 1, {}, std::nullopt, 7};
  EXPECT_TRUE(current.value(0).has_value());
  RecordPaths later{results.data(), slots.data(), 1, {}, std::nullopt, 8};
  EXPECT_FALSE(later.value(0).has_value()) << "a stale slot was read";
}

// A sign-in's MFA step is read from its authenticationStepRequirement text: "MFA", "multi-factor"
// or "multifactor" in any case, anywhere in it, on a step that succeeded. Generated texts (the
// three wordings, their near misses, at every position and in mixed case, around other letters)
// against the three case-insensitive searches written out plainly.
TEST(Facts, TheMfaStepIsReadAsTheThreeSearches) {
  const std::vector<std::string> words{"MFA", "mfa", "mFa", "multi-factor", "Multi-Factor", "multifactor",
                                       "MultiFactor", "multi_factor", "multi--factor", "multi-facto", "mf",
                                       "multi", "factor", "m", "M", "mmfa", "mulmulti-factor", "multimfa", ""};
  const std::vector<std::string> around{"", "x", "single", "Authentication", "-", "m", "M", "\xc3\xa9"};
  std::size_t checked = 0;
  for (const auto& w : words)
    for (const auto& before : around)
      for (const auto& after : around)
        for (const bool succeeded : {true, false}) {
          const std::string req = before + w + after;
          const bool mentions = json::icontains(req, "MFA") || json::icontains(req, "multi-factor") ||
                                json::icontains(req, "multifactor");
          std::string record = R"({"createdDateTime":"2026-01-01T00:00:00Z","userPrincipalName":"a@b.c",)"
                               R"("authenticationDetails":[{"authenticationStepRequirement":)";
          encoding::append_json_string(record, req);
          record += std::string(R"(,"succeeded":)") + (succeeded ? "true" : "false") + "}]}";
          const Facts f = facts_of(SourceKind::graph_sign_in, record);
          EXPECT_EQ(f.mfa_step_succeeded, mentions && succeeded) << req << " succeeded=" << succeeded;
          ++checked;
        }
  EXPECT_EQ(checked, 19u * 8u * 8u * 2u);
}

}  // namespace
}  // namespace siem
