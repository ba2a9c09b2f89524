// The shared loopback server and test PKI: plain and TLS, keep-alive, routing, fault hooks,
// certificate verification failures, clean stop.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "tests/support/loopback_server.h"
#include "tests/support/test_http.h"

namespace siem::test {
namespace {

TEST(LoopbackServer, PlainRoutingLongestPrefixAndQuery) {
  auto srv = make_plain_server();
  srv->route("GET", "/a", [](const Request&) { return Response::text(200, "a"); });
  srv->route("GET", "/a/b", [](const Request& r) {
    auto q = r.query_params();
    return Response::text(200, "ab:" + q["$filter"]);
  });
  srv->start();
  ASSERT_NE(srv->port(), 0);
  EXPECT_EQ(http_fetch("GET", srv->base_url() + "/a/x").body, "a");
  auto r = http_fetch("GET", srv->base_url() + "/a/b?%24filter=x%20ge%202024&$top=5");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ab:x ge 2024");
  EXPECT_EQ(http_fetch("POST", srv->base_url() + "/a").status, 404);
  EXPECT_EQ(srv->requests_served(), 3u);
}

// A client that received a response finds the request in the server's log (the emulators' request
// statistics), even when the observer is slow: tests read those statistics right after the peer
// under test got its last answer (and exited).
TEST(LoopbackServer, ARequestIsLoggedBeforeItsResponseReachesTheClient) {
  std::mutex mu;
  std::vector<httpd::RequestLogEntry> log;
  auto srv = make_plain_server();
  srv->route("GET", "/x", [](const Request&) { return Response::text(200, "ok"); });
  srv->on_request([&](const httpd::RequestLogEntry& e) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // a slow observer widens the window
    std::lock_guard lock(mu);
    log.push_back(e);
  });
  srv->start();
  for (std::size_t i = 1; i <= 3; ++i) {
    EXPECT_EQ(http_fetch("GET", srv->base_url() + "/x").status, 200);
    std::lock_guard lock(mu);
    ASSERT_EQ(log.size(), i) << "the response reached the client before its request was logged";
    EXPECT_EQ(log.back().status, 200);
    EXPECT_EQ(log.back().path, "/x");
  }
  srv->stop();
}

TEST(LoopbackServer, TlsVerifiedAgainstTestCaByNameAndIp) {
  TestPki pki;
  auto srv = make_tls_server(pki);
  srv->route("*", "/", [](const Request& r) { return Response::json(200, "{\"m\":\"" + r.method + "\"}"); });
  srv->start();
  EXPECT_EQ(http_fetch("GET", srv->base_url() + "/", {}, {}, pki.ca_pem()).body, "{\"m\":\"GET\"}");
  EXPECT_EQ(http_fetch("PUT", srv->localhost_url() + "/", "x", {}, pki.ca_pem()).status, 200);
  // An unrelated CA must not verify the server.
  EXPECT_THROW(http_fetch("GET", srv->base_url() + "/", {}, {}, pki.other_ca_pem()), std::runtime_error);
}

TEST(LoopbackServer, TlsNameMismatchFailsVerification) {
  TestPki pki;
  auto srv = make_tls_server(pki, /*wrong_name=*/true);
  srv->route("GET", "/", [](const Request&) { return Response::text(200, "no"); });
  srv->start();
  EXPECT_THROW(http_fetch("GET", srv->localhost_url() + "/", {}, {}, pki.ca_pem()), std::runtime_error);
  EXPECT_EQ(srv->requests_served(), 0u);
}

TEST(LoopbackServer, FaultsStatusDropAndDelayAreConsumedInOrder) {
  auto srv = make_plain_server();
  srv->route("GET", "/x", [](const Request&) { return Response::text(200, "ok"); });
  srv->add_fault(Fault::with_status("/x", 503, 2, {{"Retry-After", "1"}}, "{}"));
  srv->add_fault(Fault::drop("/x"));
  srv->add_fault(Fault::slow("/x", std::chrono::milliseconds(200)));
  srv->start();
  auto r1 = http_fetch("GET", srv->base_url() + "/x");
  EXPECT_EQ(r1.status, 503);
  EXPECT_EQ(r1.header("Retry-After"), "1");
  EXPECT_EQ(http_fetch("GET", srv->base_url() + "/x").status, 503);
  EXPECT_ANY_THROW(http_fetch("GET", srv->base_url() + "/x"));  // connection closed, no response
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(http_fetch("GET", srv->base_url() + "/x").body, "ok");
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(190));
  EXPECT_EQ(http_fetch("GET", srv->base_url() + "/x").body, "ok");  // faults used up
}

TEST(LoopbackServer, StopClosesIdleKeepAliveConnectionsAndDelayedRequests) {
  auto srv = make_plain_server();
  srv->route("GET", "/slow", [](const Request&) {
    Response r = Response::text(200, "late");
    r.delay = std::chrono::seconds(30);
    return r;
  });
  srv->start();
  std::atomic<bool> done{false};
  std::thread client([&] {
    try {
      http_fetch("GET", srv->base_url() + "/slow");
    } catch (const std::exception&) {
    }
    done = true;
  });
  for (int i = 0; i < 200 && srv->connections_accepted() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  auto t0 = std::chrono::steady_clock::now();
  srv->stop();
  client.join();
  EXPECT_TRUE(done);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
}

}  // namespace
}  // namespace siem::test
