// Token acquisition for every auth method against loopback token endpoints (HTTPS, test CA).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "connector/auth/token_provider.h"
#include "tests/support/loopback_server.h"
#include "tests/support/test_pki.h"

using namespace siem;
using namespace std::chrono_literals;

namespace {

struct TokenEndpoint : ::testing::Test {
  test::TestPki pki;
  std::unique_ptr<test::LoopbackServer> srv = test::make_tls_server(pki);
  std::atomic<int> calls{0};
  std::mutex mu;
  std::vector<test::Request> seen;

  void SetUp() override {
    srv->route("POST", "/tenant-1/oauth2/v2.0/token", [this](const test::Request& r) {
      ++calls;
      std::lock_guard lock(mu);
      seen.push_back(r);
      return test::Response::json(200, R"({"token_type":"Bearer","expires_in":3599,"access_token":"tok-)" +
                                           std::to_string(calls.load()) + R"("})");
    });
    srv->route("POST", "/bad-tenant/oauth2/v2.0/token", [](const test::Request&) {
      return test::Response::json(401, R"({"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.","error_codes":[7000215]})");
    });
    srv->start();
  }
  std::shared_ptr<http::Client> client() {
    http::ClientOptions o;
    o.ca_file = pki.ca_pem();
    o.use_env_proxy = false;
    o.request_timeout = 5s;
    return std::make_shared<http::Client>(o);
  }
  auth::AuthSettings base(auth::AuthSettings::Method m) {
    auth::AuthSettings s;
    s.method = m;
    s.tenant_id = "tenant-1";
    s.client_id = "client-1";
    s.cloud = *auth::builtin_cloud("public");
    s.cloud.login = srv->base_url();
    return s;
  }
  std::map<std::string, std::string> form(std::size_t i) {
    std::lock_guard lock(mu);
    test::Request r = seen.at(i);
    r.query = r.body;
    return r.query_params();
  }
};

}  // namespace

TEST_F(TokenEndpoint, ClientSecretIsCachedAndInvalidated) {
  auto s = base(auth::AuthSettings::Method::client_secret);
  s.client_secret = Secret("s3cr3t&=");
  auto cache = std::make_shared<auth::TokenCache>();
  auto p = auth::make_token_provider(s, client(), cache);
  EXPECT_EQ(p->token("https://graph.microsoft.com"), "tok-1");
  EXPECT_EQ(p->token("https://graph.microsoft.com"), "tok-1");
  EXPECT_EQ(calls.load(), 1);
  auto f = form(0);
  EXPECT_EQ(f["grant_type"], "client_credentials");
  EXPECT_EQ(f["client_id"], "client-1");
  EXPECT_EQ(f["client_secret"], "s3cr3t&=");
  EXPECT_EQ(f["scope"], "https://graph.microsoft.com/.default");
  EXPECT_EQ(p->token("https://management.azure.com"), "tok-2");  // another resource, another token
  p->invalidate("https://graph.microsoft.com");
  EXPECT_EQ(p->token("https://graph.microsoft.com"), "tok-3");
}

TEST_F(TokenEndpoint, CertificateSendsASignedAssertion) {
  auto s = base(auth::AuthSettings::Method::certificate);
  s.certificate_file = pki.client_cert();
  s.private_key_file = pki.client_key();
  auto p = auth::make_token_provider(s, client(), std::make_shared<auth::TokenCache>());
  EXPECT_EQ(p->token("https://graph.microsoft.com"), "tok-1");
  auto f = form(0);
  EXPECT_EQ(f["client_assertion_type"], "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
  EXPECT_EQ(std::count(f["client_assertion"].begin(), f["client_assertion"].end(), '.'), 2);
  EXPECT_EQ(f.count("client_secret"), 0u);
}

TEST_F(TokenEndpoint, WorkloadIdentityRereadsTheTokenFile) {
  test::TempDir dir;
  auto file = (dir / "token").string();
  std::ofstream(file) << "federated-1\n";
  auto s = base(auth::AuthSettings::Method::workload_identity);
  s.token_file = file;
  auto p = auth::make_token_provider(s, client(), std::make_shared<auth::TokenCache>());
  p->token("https://graph.microsoft.com");
  std::ofstream(file) << "federated-2\n";  // kubelet rotation
  p->invalidate("https://graph.microsoft.com");
  p->token("https://graph.microsoft.com");
  EXPECT_EQ(form(0)["client_assertion"], "federated-1");
  EXPECT_EQ(form(1)["client_assertion"], "federated-2");
}

// The token, certificate and key files are read bounded: a device or a FIFO at the path is refused
// at once (never read forever nor waited on), an oversized file by its size, each naming the file;
// no token request is sent. A link (Kubernetes projects tokens and secrets as links) is followed.
namespace {
std::string auth_error(auth::TokenProvider& p) {
  try {
    p.token("https://graph.microsoft.com");
  } catch (const auth::AuthError& e) {
    EXPECT_TRUE(e.permanent()) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "a token was issued";
  return {};
}
}  // namespace

TEST_F(TokenEndpoint, WorkloadIdentityTokenFileIsReadBounded) {
  test::TempDir dir;
  const auto fifo = dir / "fifo-token";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const auto big = (dir / "big-token").string();
  std::ofstream(big) << std::string(64 * 1024 + 1, 'a');
  auto s = base(auth::AuthSettings::Method::workload_identity);
  for (const auto& [path, reason] : {std::pair<std::string, std::string>{"/dev/zero", "it is not a regular file"},
                                     {fifo.string(), "it is not a regular file"},
                                     {big, "it is larger than 64 KiB"}}) {
    s.token_file = path;
    auto p = auth::make_token_provider(s, client(), std::make_shared<auth::TokenCache>());
    EXPECT_NE(auth_error(*p).find("cannot read federated token file '" + path + "': " + reason), std::string::npos)
        << path;
  }
  EXPECT_EQ(calls.load(), 0);
  // Exactly at the bound, through a link as the kubelet projects it: read.
  std::filesystem::create_directories(dir / "..data");
  std::ofstream(dir / "..data" / "token") << std::string(64 * 1024 - 1, 'b') << "\n";
  std::filesystem::create_symlink("..data/token", dir / "token");
  s.token_file = (dir / "token").string();
  auth::make_token_provider(s, client(), std::make_shared<auth::TokenCache>())->token("https://graph.microsoft.com");
  const std::string sent = form(0)["client_assertion"];
  EXPECT_EQ(sent.size(), 64u * 1024 - 1);
  EXPECT_EQ(sent.find_first_not_of('b'), std::string::npos);
}

TEST_F(TokenEndpoint, CertificateAndKeyFilesAreReadBounded) {
  test::TempDir dir;
  const auto fifo = dir / "fifo.pem";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const auto big = (dir / "big.pem").string();
  {
    std::ifstream in(pki.client_cert(), std::ios::binary);
    std::ofstream out(big, std::ios::binary);
    out << in.rdbuf() << std::string(1024 * 1024, '#') << "\n";
  }
  auto s = base(auth::AuthSettings::Method::certificate);
  const std::string cert = pki.client_cert(), key = pki.client_key();
  struct Case {
    std::string cert, key, expect;
  };
  for (const auto& c : {Case{"/dev/zero", key, "cannot read certificate file '/dev/zero': it is not a regular file"},
                        Case{fifo.string(), key, "cannot read certificate file '" + fifo.string() + "': it is not a regular file"},
                        Case{big, key, "cannot read certificate file '" + big + "': it is larger than 1024 KiB"},
                        Case{cert, "/dev/zero", "cannot read private key file '/dev/zero': it is not a regular file"},
                        Case{cert, fifo.string(), "cannot read private key file '" + fifo.string() + "': it is not a regular file"}}) {
    s.certificate_file = c.cert;
    s.private_key_file = c.key;
    try {  // the key material is read when the provider is made (and again for each assertion)
      auth::make_token_provider(s, client(), std::make_shared<auth::TokenCache>());
      ADD_FAILURE() << "accepted: " << c.expect;
    } catch (const auth::AuthError& e) {
      EXPECT_TRUE(e.permanent());
      EXPECT_NE(std::string(e.what()).find(c.expect), std::string::npos) << e.what();
    }
  }
  EXPECT_EQ(calls.load(), 0);
}

TEST_F(TokenEndpoint, PermanentErrorNamesTheCause) {
  auto s = base(auth::AuthSettings::Method::client_secret);
  s.tenant_id = "bad-tenant";
  s.client_secret = Secret("wrong-secret-value");
  auto p = auth::make_token_provider(s, client(), std::make_shared<auth::TokenCache>());
  try {
    p->token("https://graph.microsoft.com");
    FAIL();
  } catch (const auth::AuthError& e) {
    EXPECT_TRUE(e.permanent());
    EXPECT_EQ(e.aadsts(), "AADSTS7000215");
    EXPECT_NE(std::string(e.what()).find("invalid client secret"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find("wrong-secret-value"), std::string::npos);
  }
}

TEST(ManagedIdentity, ImdsStyleWithRetryAndAppServiceStyle) {
  auto srv = test::make_plain_server();
  std::atomic<int> calls{0};
  std::mutex mu;
  std::vector<test::Request> seen;
  srv->route("GET", "/metadata/identity/oauth2/token", [&](const test::Request& r) {
    std::lock_guard lock(mu);
    seen.push_back(r);
    if (++calls == 1) return test::Response::json(410, R"({"error":"IMDS updating"})");
    return test::Response::json(200, R"({"access_token":"mi-tok","expires_in":"3599","expires_on":"1","resource":"x","token_type":"Bearer"})");
  });
  srv->route("GET", "/msi/token", [&](const test::Request& r) {
    std::lock_guard lock(mu);
    seen.push_back(r);
    if (r.header("X-IDENTITY-HEADER").value_or("") != "hdr-secret") return test::Response::json(401, R"({"error":"no header"})");
    return test::Response::json(200, R"({"access_token":"as-tok","expires_on":"9999999999"})");
  });
  srv->start();
  http::ClientOptions o;
  o.use_env_proxy = false;
  auto client = std::make_shared<http::Client>(o);

  auth::AuthSettings s;
  s.method = auth::AuthSettings::Method::managed_identity;
  s.client_id = "uami-1";
  s.managed_identity_endpoint = srv->base_url() + "/metadata/identity/oauth2/token";
  s.managed_identity_retry_base = 10ms;
  auto p = auth::make_token_provider(s, client, std::make_shared<auth::TokenCache>());
  EXPECT_EQ(p->token("https://management.azure.com"), "mi-tok");
  {
    std::lock_guard lock(mu);
    ASSERT_EQ(seen.size(), 2u);
    EXPECT_EQ(seen[1].header("Metadata").value_or(""), "true");
    auto q = seen[1].query_params();
    EXPECT_EQ(q["resource"], "https://management.azure.com/");
    EXPECT_EQ(q["api-version"], "2018-02-01");
    EXPECT_EQ(q["client_id"], "uami-1");
  }

  auth::AuthSettings a;
  a.method = auth::AuthSettings::Method::managed_identity;
  a.managed_identity_endpoint = srv->base_url() + "/msi/token";
  a.managed_identity_header = "hdr-secret";
  auto pa = auth::make_token_provider(a, client, std::make_shared<auth::TokenCache>());
  EXPECT_EQ(pa->token("https://graph.microsoft.com"), "as-tok");
  std::lock_guard lock(mu);
  EXPECT_EQ(seen.back().query_params()["api-version"], "2019-08-01");
}

TEST(ManagedIdentity, NeverGoesThroughAConfiguredProxy) {
  auto srv = test::make_plain_server();
  std::mutex mu;
  std::vector<test::Request> seen;
  srv->route("GET", "/msi/token", [&](const test::Request& r) {
    std::lock_guard lock(mu);
    seen.push_back(r);
    return test::Response::json(200, R"({"access_token":"as-tok","expires_on":"9999999999"})");
  });
  srv->start();
  auto proxy = test::make_plain_server();  // would answer 404 to anything: it must see nothing at all
  proxy->start();
  http::ClientOptions o;
  o.use_env_proxy = false;
  o.proxy = proxy->base_url();
  auto client = std::make_shared<http::Client>(o);
  auth::AuthSettings a;
  a.method = auth::AuthSettings::Method::managed_identity;
  a.managed_identity_endpoint = srv->localhost_url() + "/msi/token";
  a.managed_identity_header = "hdr-secret";
  auto p = auth::make_token_provider(a, client, std::make_shared<auth::TokenCache>());
  EXPECT_EQ(p->token("https://graph.microsoft.com"), "as-tok");
  EXPECT_EQ(proxy->connections_accepted(), 0u);
  EXPECT_EQ(proxy->requests_served(), 0u);
  std::lock_guard lock(mu);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].header("X-IDENTITY-HEADER").value_or(""), "hdr-secret");
}
