// The Graph/ARM/token emulator over HTTPS with a test CA made at test time: token errors as Entra
// sends them, certificate and federated assertions, real $filter semantics, paging, fault
// injection and request statistics.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <fstream>
#include <set>

#include "tests/support/loopback_server.h"
#include "tests/support/test_http.h"
#include "tests/support/test_jwt.h"
#include "tools/emulator/emulator.h"

namespace siem::test {
namespace {

using nlohmann::json;
constexpr const char* kTenant = "11111111-1111-1111-1111-111111111111";
constexpr const char* kClient = "22222222-2222-2222-2222-222222222222";
constexpr const char* kSub = "33333333-3333-3333-3333-333333333333";

class EmulatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    emulator::AppRegistration app;
    app.tenant_id = kTenant;
    app.client_id = kClient;
    app.client_secret = "s3cret";
    app.certificate = pki.client_cert();
    app.federated_issuer = "https://oidc.example.test";
    app.federated_subject = "system:serviceaccount:siem:connector";
    app.federation_cert = pki.server_cert();
    emulator::AppRegistration expired = app;
    expired.client_id = "44444444-4444-4444-4444-444444444444";
    expired.secret_expired = true;
    emulator::Options o;
    o.apps = {app, expired};
    o.subscriptions = {kSub};
    server = make_tls_server(pki);
    emu = std::make_unique<emulator::Emulator>(o, *server);
    server->start();
    base = server->base_url();
  }

  TestResponse token_request(const std::string& form, const std::string& tenant = kTenant) {
    return http_fetch("POST", base + "/" + tenant + "/oauth2/v2.0/token", form,
                      {{"Content-Type", "application/x-www-form-urlencoded"}}, pki.ca_pem());
  }
  std::string token(const std::string& scope = "https://graph.microsoft.com/.default") {
    auto r = token_request("grant_type=client_credentials&client_id=" + std::string(kClient) +
                           "&client_secret=s3cret&scope=" + httpd::percent_encode(scope));
    EXPECT_EQ(r.status, 200) << r.body;
    return json::parse(r.body)["access_token"];
  }
  TestResponse get(const std::string& path_and_query, const std::string& tok) {
    return http_fetch("GET", base + path_and_query, {}, {{"Authorization", "Bearer " + tok}}, pki.ca_pem());
  }
  // Follows nextLink to the end; returns every item.
  std::vector<json> get_all(const std::string& first, const std::string& tok, bool arm = false, int max_pages = 100) {
    std::vector<json> items;
    std::string url = base + first;
    for (int page = 0; page < max_pages && !url.empty(); ++page) {
      auto r = http_fetch("GET", url, {}, {{"Authorization", "Bearer " + tok}}, pki.ca_pem());
      EXPECT_EQ(r.status, 200) << r.body;
      if (r.status != 200) break;
      auto body = json::parse(r.body);
      for (auto& v : body["value"]) items.push_back(v);
      url = body.value(arm ? "nextLink" : "@odata.nextLink", "");
    }
    EXPECT_TRUE(url.empty()) << "paging did not finish";
    return items;
  }

  TestPki pki;
  std::unique_ptr<LoopbackServer> server;
  std::unique_ptr<emulator::Emulator> emu;
  std::string base;
};

TEST_F(EmulatorTest, TokenErrorsAreEntraShaped) {
  auto wrong = token_request("grant_type=client_credentials&client_id=" + std::string(kClient) +
                             "&client_secret=nope&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default");
  EXPECT_EQ(wrong.status, 401);
  auto body = json::parse(wrong.body);
  EXPECT_EQ(body["error"], "invalid_client");
  EXPECT_EQ(body["error_codes"][0], 7000215);
  for (const char* k : {"error_description", "timestamp", "trace_id", "correlation_id"}) EXPECT_TRUE(body.contains(k)) << k;

  auto expired = token_request("grant_type=client_credentials&client_id=44444444-4444-4444-4444-444444444444"
                               "&client_secret=s3cret&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default");
  EXPECT_EQ(json::parse(expired.body)["error_codes"][0], 7000222);

  auto tenant = token_request("grant_type=client_credentials&client_id=x&client_secret=y&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default",
                              "99999999-9999-9999-9999-999999999999");
  EXPECT_EQ(tenant.status, 400);
  EXPECT_EQ(json::parse(tenant.body)["error_codes"][0], 90002);

  auto app = token_request("grant_type=client_credentials&client_id=unknown-app&client_secret=y&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default");
  EXPECT_EQ(json::parse(app.body)["error_codes"][0], 700016);

  auto scope = token_request("grant_type=client_credentials&client_id=" + std::string(kClient) + "&client_secret=s3cret&scope=User.Read");
  EXPECT_EQ(json::parse(scope.body)["error_codes"][0], 70011);
}

TEST_F(EmulatorTest, CertificateAndFederatedAssertions) {
  std::string aud = base + "/" + kTenant + "/oauth2/v2.0/token";
  std::string prefix = "grant_type=client_credentials&client_id=" + std::string(kClient) +
                       "&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default"
                       "&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=";
  auto mk = [](std::string key, std::string cert, std::string client, std::string audience, std::string alg,
               long exp = 600) {
    AssertionSpec a;
    a.key_file = std::move(key);
    a.cert_file = std::move(cert);
    a.client_id = std::move(client);
    a.audience = std::move(audience);
    a.alg = std::move(alg);
    a.exp_offset = exp;
    return a;
  };
  for (const char* alg : {"PS256", "RS256"}) {
    AssertionSpec s = mk(pki.client_key(), pki.client_cert(), kClient, aud, alg);
    auto ok = token_request(prefix + make_client_assertion(s));
    EXPECT_EQ(ok.status, 200) << alg << ": " << ok.body;
  }
  AssertionSpec expired = mk(pki.client_key(), pki.client_cert(), kClient, aud, "PS256", -60);
  EXPECT_EQ(json::parse(token_request(prefix + make_client_assertion(expired)).body)["error_codes"][0], 700024);
  // Signed with a key that is not registered on the app.
  AssertionSpec wrong_key = mk(pki.server_key(), pki.server_cert(), kClient, aud, "PS256");
  EXPECT_EQ(json::parse(token_request(prefix + make_client_assertion(wrong_key)).body)["error_codes"][0], 700027);
  AssertionSpec wrong_aud = mk(pki.client_key(), pki.client_cert(), kClient, "https://login.microsoftonline.com/other/oauth2/v2.0/token", "PS256");
  EXPECT_EQ(token_request(prefix + make_client_assertion(wrong_aud)).status, 401);

  AssertionSpec fed = mk(pki.server_key(), pki.server_cert(), kClient, "api://AzureADTokenExchange", "RS256");
  fed.issuer_override = "https://oidc.example.test";
  fed.subject_override = "system:serviceaccount:siem:connector";
  EXPECT_EQ(token_request(prefix + make_client_assertion(fed)).status, 200);
  fed.subject_override = "system:serviceaccount:other:pod";
  EXPECT_EQ(json::parse(token_request(prefix + make_client_assertion(fed)).body)["error_codes"][0], 70021);
}

TEST_F(EmulatorTest, ImdsNeedsMetadataHeaderAndAnswersStrings) {
  auto no = http_fetch("GET", base + "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fmanagement.azure.com%2F",
                       {}, {}, pki.ca_pem());
  EXPECT_EQ(no.status, 400);
  auto yes = http_fetch("GET", base + "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fmanagement.azure.com%2F",
                        {}, {{"Metadata", "true"}}, pki.ca_pem());
  ASSERT_EQ(yes.status, 200);
  auto body = json::parse(yes.body);
  EXPECT_TRUE(body["expires_in"].is_string());
  auto arm = get("/subscriptions/" + std::string(kSub) +
                     "/providers/Microsoft.Insights/eventtypes/management/values?api-version=2015-04-01&$filter=" +
                     httpd::percent_encode("eventTimestamp ge '2020-01-01T00:00:00Z' and eventTimestamp le '2099-01-01T00:00:00Z'"),
                 body["access_token"]);
  EXPECT_EQ(arm.status, 200) << arm.body;
}

TEST_F(EmulatorTest, HalfOpenTimeFilterAndPagingReturnEveryRecordOnce) {
  auto tok = token();
  emu->add_record("directoryAudits", json{{"id", "edge-start"}, {"activityDateTime", "2030-01-01T00:00:00Z"}});
  emu->add_record("directoryAudits", json{{"id", "edge-end"}, {"activityDateTime", "2030-01-01T00:05:00Z"}});
  auto window = get_all("/v1.0/auditLogs/directoryAudits?$filter=" +
                            httpd::percent_encode("activityDateTime ge 2030-01-01T00:00:00Z and activityDateTime lt 2030-01-01T00:05:00Z"),
                        tok);
  ASSERT_EQ(window.size(), 1u);
  EXPECT_EQ(window[0]["id"], "edge-start");

  auto all = get_all("/v1.0/auditLogs/directoryAudits?$top=7", tok);
  std::set<std::string> ids;
  for (auto& r : all) ids.insert(r["id"].get<std::string>());
  EXPECT_EQ(ids.size(), all.size());
  EXPECT_EQ(all.size(), emu->record_count("directoryAudits"));
  EXPECT_GT(all.size(), 14u);  // several pages

  EXPECT_EQ(get("/v1.0/auditLogs/directoryAudits?$top=1001", tok).status, 400);
  EXPECT_EQ(get("/v1.0/auditLogs/directoryAudits?$filter=" + httpd::percent_encode("activityDateTime ge '2030-01-01T00:00:00Z'"), tok).status, 400);
  EXPECT_EQ(get("/v1.0/auditLogs/directoryAudits?$filter=" + httpd::percent_encode("bogus eq 'x'"), tok).status, 400);
}

TEST_F(EmulatorTest, SignInsV1InteractiveOnlyBetaByEventTypeNewestFirst) {
  auto tok = token();
  auto v1 = get_all("/v1.0/auditLogs/signIns", tok);
  ASSERT_FALSE(v1.empty());
  for (auto& s : v1) EXPECT_FALSE(s.contains("signInEventTypes"));
  for (std::size_t i = 1; i < v1.size(); ++i) EXPECT_GE(v1[i - 1]["createdDateTime"], v1[i]["createdDateTime"]);
  std::size_t total = 0;
  for (const char* type : {"interactiveUser", "nonInteractiveUser", "servicePrincipal", "managedIdentity"}) {
    auto items = get_all("/beta/auditLogs/signIns?$filter=" +
                             httpd::percent_encode("createdDateTime ge 2020-01-01T00:00:00Z and signInEventTypes/any(t: t eq '" +
                                                   std::string(type) + "')"),
                         tok);
    EXPECT_FALSE(items.empty()) << type;
    for (auto& s : items) EXPECT_EQ(s["signInEventTypes"][0], type);
    total += items.size();
  }
  EXPECT_EQ(total, emu->record_count("signIns"));
  EXPECT_EQ(v1.size(), get_all("/beta/auditLogs/signIns", tok).size());
}

TEST_F(EmulatorTest, ArmActivityNeedsQuotedRangeAndArmToken) {
  auto graph_tok = token();
  auto arm_tok = token("https://management.azure.com//.default");
  std::string path = "/subscriptions/" + std::string(kSub) + "/providers/Microsoft.Insights/eventtypes/management/values?api-version=2015-04-01&$top=3&$filter=";
  std::string range = "eventTimestamp ge '2020-01-01T00:00:00Z' and eventTimestamp le '2099-01-01T00:00:00Z'";
  EXPECT_EQ(get(path + httpd::percent_encode(range), graph_tok).status, 401);
  auto all = get_all(path + httpd::percent_encode(range), arm_tok, /*arm=*/true);
  EXPECT_EQ(all.size(), emu->record_count("activity"));
  EXPECT_EQ(get(path + httpd::percent_encode("eventTimestamp ge '2020-01-01T00:00:00Z'"), arm_tok).status, 400);
  EXPECT_EQ(get(path + httpd::percent_encode("eventTimestamp ge 2020-01-01T00:00:00Z and eventTimestamp le 2099-01-01T00:00:00Z"), arm_tok).status, 400);
  auto pim = get_all("/subscriptions/" + std::string(kSub) +
                         "/providers/Microsoft.Authorization/roleAssignmentScheduleRequests?api-version=2020-10-01",
                     arm_tok, true);
  EXPECT_EQ(pim.size(), 1u);
}

TEST_F(EmulatorTest, FaultsLateRecordsTokenExpiryAndStats) {
  auto tok = token();
  auto admin = [&](const std::string& op, const json& body) {
    return http_fetch("POST", base + "/_emulator/" + op, body.dump(), {{"Content-Type", "application/json"}}, pki.ca_pem());
  };
  ASSERT_EQ(admin("faults", {{"path_prefix", "/v1.0/auditLogs"}, {"status", 429}, {"retry_after", "1.5"}, {"count", 1}}).status, 200);
  auto throttled = get("/v1.0/auditLogs/directoryAudits", tok);
  EXPECT_EQ(throttled.status, 429);
  EXPECT_EQ(throttled.header("Retry-After"), "1.5");
  EXPECT_EQ(json::parse(throttled.body)["error"]["code"], "TooManyRequests");
  EXPECT_EQ(get("/v1.0/auditLogs/directoryAudits", tok).status, 200);

  std::size_t before = emu->record_count("directoryAudits");
  auto late = admin("late", {{"collection", "directoryAudits"}, {"age_seconds", 300}});
  ASSERT_EQ(late.status, 200);
  EXPECT_EQ(emu->record_count("directoryAudits"), before + 1);

  ASSERT_EQ(admin("expire-tokens", json::object()).status, 200);
  auto expired = get("/v1.0/auditLogs/directoryAudits", tok);
  EXPECT_EQ(expired.status, 401);
  EXPECT_EQ(json::parse(expired.body)["error"]["code"], "InvalidAuthenticationToken");

  auto stats = json::parse(http_fetch("GET", base + "/_emulator/stats", {}, {}, pki.ca_pem()).body);
  auto& audits = stats["endpoints"]["graph.directoryAudits"];
  EXPECT_EQ(audits["count"], 3);
  EXPECT_EQ(audits["statuses"], json({429, 200, 401}));
  EXPECT_EQ(audits["times_ms"].size(), 3u);
}

// Emulator::add_fault (in-process callers, e.g. the soak) injects exactly what the admin endpoint
// does: Graph-shaped 503 then 429 bodies with Retry-After, consumed in order, then normal answers.
TEST_F(EmulatorTest, AddFaultInProcessMatchesTheAdminEndpoint) {
  auto tok = token();
  emu->add_fault({{"path_prefix", "/v1.0/auditLogs"}, {"status", 503}, {"count", 1}});
  emu->add_fault({{"path_prefix", "/v1.0/auditLogs"}, {"status", 429}, {"retry_after", "1"}, {"count", 2}});
  auto unavailable = get("/v1.0/auditLogs/directoryAudits", tok);
  EXPECT_EQ(unavailable.status, 503);
  EXPECT_EQ(json::parse(unavailable.body)["error"]["code"], "ServiceUnavailable");
  for (int i = 0; i < 2; ++i) {
    auto throttled = get("/v1.0/auditLogs/directoryAudits", tok);
    EXPECT_EQ(throttled.status, 429);
    EXPECT_EQ(throttled.header("Retry-After"), "1");
    EXPECT_EQ(json::parse(throttled.body)["error"]["code"], "TooManyRequests");
  }
  EXPECT_EQ(get("/v1.0/auditLogs/directoryAudits", tok).status, 200);
}

TEST_F(EmulatorTest, ReportsBudgetThrottlesWithFractionalRetryAfter) {
  auto tok = token();
  http_fetch("POST", base + "/_emulator/throttle", R"({"reports_per_10s": 2})", {}, pki.ca_pem());
  EXPECT_EQ(get("/v1.0/auditLogs/signIns", tok).status, 200);
  EXPECT_EQ(get("/v1.0/auditLogs/directoryAudits", tok).status, 200);
  auto third = get("/v1.0/auditLogs/signIns", tok);
  EXPECT_EQ(third.status, 429);
  double ra = std::stod(third.header("Retry-After"));
  EXPECT_GT(ra, 0.0);
  EXPECT_LE(ra, 10.0);
}


// --seed-file: records placed by shape, re-timed in file order to end 2 min before now, every
// timestamp in a record moved together, repeated ids made distinct, sign-in types filled in,
// foreign subscriptions moved to a served one; unplaceable records named by file:line.
TEST(EmulatorSeedFile, PlacesRetimesAndDisambiguatesScenarioRecords) {
  TempDir dir;
  const auto file = dir.path() / "scenario.ndjson";
  {
    std::ofstream out(file);
    out << R"({"id":"A","activityDateTime":"2026-03-04T10:15:30Z","additionalDetails":[{"key":"StartTime","value":"2026-03-04T10:15:40Z"}]})" << "\n"
        << R"({"id":"A","activityDateTime":"2026-03-04T10:15:30Z"})" << "\n\n"
        << R"({"id":"S","createdDateTime":"2026-03-04T10:21:07.456Z","appDisplayName":"Azure Portal","isInteractive":false})" << "\n"
        << R"({"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#roleManagement/directory/roleEligibilityScheduleRequests/$entity","id":"P","action":"adminAssign","roleDefinitionId":"r","createdDateTime":"2026-03-04T10:15:30Z"})" << "\n"
        << R"({"eventDataId":"E","eventTimestamp":"2026-03-04T10:15:30Z","subscriptionId":"not-served"})" << "\n";
  }
  const auto now = emulator::Clock::now();
  auto recs = emulator::load_seed_file(file, now, {"sub-1"});
  ASSERT_EQ(recs.size(), 5u);
  EXPECT_EQ(recs[0].first, "directoryAudits");
  EXPECT_EQ(recs[1].first, "directoryAudits");
  EXPECT_EQ(recs[2].first, "signIns");
  EXPECT_EQ(recs[3].first, "roleEligibilityScheduleRequests");
  EXPECT_EQ(recs[4].first, "activity");
  EXPECT_EQ(recs[0].second["id"], "A");
  EXPECT_EQ(recs[1].second["id"], "A-2");
  EXPECT_EQ(recs[2].second["signInEventTypes"], json::array({"nonInteractiveUser"}));
  EXPECT_FALSE(recs[3].second.contains("@odata.context"));
  EXPECT_EQ(recs[4].second["subscriptionId"], "sub-1");
  const std::int64_t now_us = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count();
  auto t = [](const json& v) { return emulator::parse_time_us(v.get<std::string>()).value(); };
  // Last record 2 min before now, 5 s apart, in file order; the inner StartTime moved along.
  EXPECT_EQ(t(recs[4].second["eventTimestamp"]), now_us - 120'000'000);
  EXPECT_EQ(t(recs[0].second["activityDateTime"]), now_us - 120'000'000 - 4 * 5'000'000);
  EXPECT_EQ(t(recs[0].second["additionalDetails"][0]["value"]) - t(recs[0].second["activityDateTime"]), 10'000'000);
  EXPECT_EQ(t(recs[2].second["createdDateTime"]), now_us - 120'000'000 - 2 * 5'000'000);

  std::ofstream(dir.path() / "bad.ndjson") << R"({"id":"A","activityDateTime":"2026-03-04T10:15:30Z"})" << "\n" << R"({"foo":1})" << "\n";
  try {
    emulator::load_seed_file(dir.path() / "bad.ndjson", now, {});
    FAIL() << "an unplaceable record was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.ndjson:2"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace siem::test
