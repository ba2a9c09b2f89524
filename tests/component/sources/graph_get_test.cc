// The one authorized Graph/ARM GET (connector/sources/graph/graph_get.h) against the emulator over
// HTTPS (test CA made at test time), with the product's HTTP client and token provider: a hostile
// nextLink is refused before anything reaches its origin, a 401 drops the token and retries once
// (a second 401 is final), a 429's Retry-After is waited for and clamped to max_retry_after, an
// oversize body is refused, and failures carry the kind the callers (the pull sources, the
// inventory) act on.
#include <gtest/gtest.h>

#include <atomic>
#include <nlohmann/json.hpp>

#include "connector/auth/token_provider.h"
#include "connector/http/http_client.h"
#include "connector/http/token_bucket.h"
#include "connector/sources/graph/graph_get.h"
#include "connector/sources/graph/page_reader.h"
#include "tests/component/sources/emulator_fixture.h"
#include "tests/support/wait.h"

namespace siem::sources {
namespace {

using nlohmann::json;
using Kind = GraphGetError::Kind;
constexpr const char* kAudits = "/v1.0/auditLogs/directoryAudits";

class GraphGetTest : public test::EmulatorOverTls {
 protected:
  // A getter of this test's own identity and token cache (nothing shared with another test).
  std::unique_ptr<GraphGetter> getter(GraphGetOptions options = {}, std::size_t max_response_bytes = 0) {
    http::ClientOptions co;
    co.ca_file = pki_->ca_pem();
    co.use_env_proxy = false;
    if (max_response_bytes) co.max_response_bytes = max_response_bytes;
    auto client = std::make_shared<http::Client>(co);
    auth::AuthSettings a;
    a.method = auth::AuthSettings::Method::client_secret;
    a.tenant_id = kTenant;
    a.client_id = kClient;
    a.client_secret = Secret(kSecret);
    a.cloud = auth::CloudEndpoints{"custom", base_, base_, base_};
    auto tokens = auth::make_token_provider(a, client, std::make_shared<auth::TokenCache>());
    options.log_name = "test";
    return std::make_unique<GraphGetter>(client, tokens, std::move(options), &progress_);
  }

  GraphTarget target() const { return GraphTarget{base_, base_, bucket_, true}; }

  // The emulator's log of an endpoint once it holds `count` requests (bounded wait; the server logs
  // a request before writing its response, so the wait normally ends at once).
  json endpoint(const std::string& name, std::size_t count) {
    json ep;
    test::wait_until([&] {
      ep = emu_->stats()["endpoints"][name];
      return ep.is_object() && ep["statuses"].size() >= count;
    }, std::chrono::seconds(10));
    return ep;
  }

  // The GraphGetError a GET throws (its kind and message); fails the test when none is thrown.
  GraphGetError failure(GraphGetter& g, const std::string& url) {
    try {
      g.get(target(), url, {});
    } catch (const GraphGetError& e) {
      return e;
    }
    ADD_FAILURE() << "no GraphGetError from " << url;
    return GraphGetError(Kind::permanent, "none");
  }

  std::shared_ptr<http::TokenBucket> bucket_ = std::make_shared<http::TokenBucket>(http::RateLimit{1000, std::chrono::seconds(10)});
  SourceProgress progress_;
};

TEST_F(GraphGetTest, FetchesAPageWithABearerTokenAndLowPriority) {
  std::atomic<int> seen{0};
  std::string auth_header, priority;
  server_->route("GET", "/v1.0/probe", [&](const httpd::Request& r) {
    auth_header = r.header("Authorization").value_or("");
    priority = r.header("x-ms-throttle-priority").value_or("");
    ++seen;
    return httpd::Response::json(200, R"({"value":[]})");
  });
  auto g = getter();
  auto res = g->get(target(), base_ + "/v1.0/probe", {});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(seen.load(), 1);
  EXPECT_EQ(auth_header.rfind("Bearer emu.", 0), 0u) << auth_header;
  EXPECT_EQ(priority, "low");
  EXPECT_EQ(g->requests(), 1u);
}

// A nextLink a server hands over to another origin (another port, a downgrade to http) is refused
// before anything is sent: the other origin never sees a request, nor the bearer token.
TEST_F(GraphGetTest, HostileNextLinkIsRefusedBeforeAnythingIsSent) {
  auto evil = test::make_tls_server(*pki_);
  std::atomic<int> evil_hits{0};
  evil->route("GET", "/", [&](const httpd::Request&) {
    ++evil_hits;
    return httpd::Response::json(200, R"({"value":[]})");
  });
  evil->start();
  const std::string evil_link = evil->base_url() + kAudits + "?$skiptoken=x";
  const std::string plain_link = "http" + base_.substr(5) + kAudits + "?$skiptoken=x";
  server_->route("GET", "/v1.0/hostile", [&](const httpd::Request& r) {
    const std::string next = r.query == "plain" ? plain_link : evil_link;
    return httpd::Response::json(200, json{{"value", json::array()}, {"@odata.nextLink", next}}.dump());
  });
  auto g = getter();
  for (const std::string which : {"evil", "plain"}) {
    auto first = g->get(target(), base_ + "/v1.0/hostile?" + which, {});
    ASSERT_TRUE(first);
    const auto next = split_page(first->body).next_link;
    ASSERT_TRUE(next) << first->body;
    const auto e = failure(*g, *next);
    EXPECT_EQ(e.kind(), Kind::unusable) << which << ": " << e.what();
  }
  EXPECT_EQ(evil_hits.load(), 0);
  EXPECT_EQ(g->requests(), 2u);  // the two first pages; the refused links were never sent
}

// An expired token: one 401, the token dropped, a new one fetched, the page read.
TEST_F(GraphGetTest, Unauthorized401RefreshesTheTokenOnce) {
  auto g = getter();
  ASSERT_TRUE(g->get(target(), base_ + kAudits, {}));
  const auto issued = emu_->stats()["tokens_issued"].get<int>();
  emu_->expire_tokens();
  auto res = g->get(target(), base_ + kAudits, {});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(emu_->stats()["tokens_issued"].get<int>(), issued + 1);
  EXPECT_EQ(endpoint("graph.directoryAudits", 3)["statuses"], json({200, 401, 200}));
}

// A 401 that persists with a fresh token is final (permission, audience): one retry, no loop.
TEST_F(GraphGetTest, SecondUnauthorizedInARowIsPermanent) {
  auto g = getter();
  emu_->add_fault({{"path_prefix", kAudits}, {"count", 5}, {"status", 401}});
  const auto e = failure(*g, base_ + kAudits);
  EXPECT_EQ(e.kind(), Kind::permanent) << e.what();
  EXPECT_NE(std::string(e.what()).find("HTTP 401"), std::string::npos) << e.what();
  EXPECT_EQ(endpoint("graph.directoryAudits", 2)["statuses"], json({401, 401}));
  EXPECT_EQ(emu_->stats()["tokens_issued"].get<int>(), 2);
}

// Retry-After is waited for (the retry is received at least that much later) and counted.
TEST_F(GraphGetTest, RetryAfterOf429IsHonoured) {
  auto g = getter();
  emu_->add_fault({{"path_prefix", kAudits}, {"count", 1}, {"status", 429}, {"retry_after", "0.4"}});
  auto res = g->get(target(), base_ + kAudits, {});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  const auto ep = endpoint("graph.directoryAudits", 2);
  ASSERT_EQ(ep["statuses"], json({429, 200}));
  EXPECT_GE(ep["received_ms"][1].get<std::int64_t>() - ep["received_ms"][0].get<std::int64_t>(), 400);
  EXPECT_EQ(progress_.throttled.load(), 1u);
  EXPECT_EQ(progress_.retry_after_ms.load(), 400u);
}

// A server cannot park the reader: a Retry-After of an hour is clamped to max_retry_after.
TEST_F(GraphGetTest, RetryAfterIsBoundedByMaxRetryAfter) {
  GraphGetOptions o;
  o.retry.max_attempts = 6;
  o.retry.max_retry_after = std::chrono::milliseconds(250);
  auto g = getter(o);
  emu_->add_fault({{"path_prefix", kAudits}, {"count", 1}, {"status", 429}, {"retry_after", "3600"}});
  auto res = g->get(target(), base_ + kAudits, {});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(progress_.retry_after_ms.load(), 250u);
}

// 429s past the attempt budget: a transient failure the caller retries later, not a permanent one.
TEST_F(GraphGetTest, ThrottlingPastTheAttemptBudgetIsExhausted) {
  GraphGetOptions o;
  o.retry.max_attempts = 3;
  auto g = getter(o);
  emu_->add_fault({{"path_prefix", kAudits}, {"count", 10}, {"status", 429}, {"retry_after", "0"}});
  const auto e = failure(*g, base_ + kAudits);
  EXPECT_EQ(e.kind(), Kind::exhausted) << e.what();
  EXPECT_NE(std::string(e.what()).find("after 3 attempts"), std::string::npos) << e.what();
  EXPECT_EQ(g->requests(), 3u);
}

// A body over the client's max_response_bytes is refused as unusable, never retried.
TEST_F(GraphGetTest, OversizeBodyIsRefused) {
  server_->route("GET", "/v1.0/big", [](const httpd::Request&) {
    return httpd::Response::json(200, R"({"value":[")" + std::string(64 * 1024, 'a') + R"("]})");
  });
  auto g = getter({}, 16 * 1024);
  const auto e = failure(*g, base_ + "/v1.0/big");
  EXPECT_EQ(e.kind(), Kind::unusable) << e.what();
  EXPECT_EQ(g->requests(), 1u);
}

// A 403 is permanent and quotes the server's error with control bytes escaped, never the token.
TEST_F(GraphGetTest, ForbiddenIsPermanentWithThePrintableServerError) {
  server_->route("GET", "/v1.0/forbidden", [](const httpd::Request&) {
    return httpd::Response::json(403, "{\"error\":{\"code\":\"Authorization_RequestDenied\",\"message\":\"no\x1b[31m\"}}");
  });
  auto g = getter();
  const auto e = failure(*g, base_ + "/v1.0/forbidden?$filter=secret");
  EXPECT_EQ(e.kind(), Kind::permanent);
  const std::string what = e.what();
  EXPECT_NE(what.find("HTTP 403"), std::string::npos) << what;
  EXPECT_NE(what.find("Authorization_RequestDenied"), std::string::npos) << what;
  EXPECT_EQ(what.find('\x1b'), std::string::npos) << what;
  EXPECT_EQ(what.find("secret"), std::string::npos) << what;
  EXPECT_EQ(what.find("Bearer"), std::string::npos) << what;
}

// The error code of a refusal is shown where the answer's text is not (/readyz): only a plain
// identifier from {"error":{"code":...}} passes; anything else is dropped, never echoed.
TEST(ServiceErrorCode, OnlyAPlainIdentifierFromTheErrorObjectPasses) {
  EXPECT_EQ(service_error_code(R"({"error":{"code":"AuthorizationFailed","message":"client 'abc' scope '/subscriptions/x'"}})"),
            "AuthorizationFailed");
  EXPECT_EQ(service_error_code(R"({"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges"}})"),
            "Authorization_RequestDenied");
  EXPECT_EQ(service_error_code(R"({"error":{"code":"Bad code with spaces"}})"), "");
  EXPECT_EQ(service_error_code(R"({"error":{"code":"A\r\nInjected: 1"}})"), "");
  EXPECT_EQ(service_error_code(R"({"error":{"code":")" + std::string(65, 'A') + R"("}})"), "");
  EXPECT_EQ(service_error_code(R"({"error":{"code":42}})"), "");
  EXPECT_EQ(service_error_code(R"({"error":"AuthorizationFailed"})"), "");
  EXPECT_EQ(service_error_code(R"({"code":"AuthorizationFailed"})"), "");
  EXPECT_EQ(service_error_code("<html>403 Forbidden</html>"), "");
  EXPECT_EQ(service_error_code(""), "");
}

}  // namespace
}  // namespace siem::sources
