#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <cstdio>

#include <nlohmann/json.hpp>

#include "connector/auth/cloud.h"
#include "connector/auth/token_provider.h"
#include "tests/support/test_pki.h"

using namespace siem::auth;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

std::string b64url_decode(std::string s) {
  for (char& c : s) c = c == '-' ? '+' : c == '_' ? '/' : c;
  while (s.size() % 4) s += '=';
  std::string out(s.size(), '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()), reinterpret_cast<const unsigned char*>(s.data()),
                          static_cast<int>(s.size()));
  EXPECT_GE(n, 0);
  std::size_t pad = 0;
  while (!s.empty() && s[s.size() - 1 - pad] == '=') ++pad;
  out.resize(static_cast<std::size_t>(n) - pad);
  return out;
}

std::string b64url(const unsigned char* d, std::size_t n) {
  std::string out(4 * ((n + 2) / 3) + 1, '\0');
  int len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), d, static_cast<int>(n));
  out.resize(static_cast<std::size_t>(len));
  for (char& c : out) c = c == '+' ? '-' : c == '/' ? '_' : c;
  while (!out.empty() && out.back() == '=') out.pop_back();
  return out;
}

X509* load_cert(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "r");
  EXPECT_NE(f, nullptr);
  X509* x = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  return x;
}

// Verifies the JWT signature with the certificate's public key; returns header and claims.
std::pair<json, json> verify_jwt(const std::string& jwt, const std::string& cert_file, bool pss) {
  auto d1 = jwt.find('.');
  auto d2 = jwt.find('.', d1 + 1);
  EXPECT_NE(d2, std::string::npos);
  std::string input = jwt.substr(0, d2);
  std::string sig = b64url_decode(jwt.substr(d2 + 1));
  X509* cert = load_cert(cert_file);
  EVP_PKEY* pub = X509_get_pubkey(cert);
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  EXPECT_EQ(EVP_DigestVerifyInit(md, &pctx, EVP_sha256(), nullptr, pub), 1);
  if (pss) {
    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST);
  } else {
    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING);
  }
  int ok = EVP_DigestVerify(md, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                            reinterpret_cast<const unsigned char*>(input.data()), input.size());
  EXPECT_EQ(ok, 1) << "signature does not verify with the certificate's public key";
  EVP_MD_CTX_free(md);
  EVP_PKEY_free(pub);
  X509_free(cert);
  return {json::parse(b64url_decode(jwt.substr(0, d1))), json::parse(b64url_decode(jwt.substr(d1 + 1, d2 - d1 - 1)))};
}

std::string thumb(const std::string& cert_file, const EVP_MD* md) {
  X509* cert = load_cert(cert_file);
  unsigned char buf[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  X509_digest(cert, md, buf, &n);
  X509_free(cert);
  return b64url(buf, n);
}

}  // namespace

TEST(ClientAssertion, Ps256VerifiesAndCarriesClaimsAndX5tS256) {
  siem::test::TestPki pki;
  const auto now = std::chrono::system_clock::from_time_t(1'800'000'000);
  const std::string aud = token_endpoint("https://login.microsoftonline.com", "tenant-1");
  std::string jwt = build_client_assertion(pki.client_cert(), pki.client_key(), "PS256", false, "client-1", aud, now);
  auto [header, claims] = verify_jwt(jwt, pki.client_cert(), true);
  EXPECT_EQ(header["alg"], "PS256");
  EXPECT_EQ(header["typ"], "JWT");
  EXPECT_EQ(header["x5t#S256"], thumb(pki.client_cert(), EVP_sha256()));
  EXPECT_FALSE(header.contains("x5t"));
  EXPECT_EQ(claims["aud"], "https://login.microsoftonline.com/tenant-1/oauth2/v2.0/token");
  EXPECT_EQ(claims["iss"], "client-1");
  EXPECT_EQ(claims["sub"], "client-1");
  EXPECT_EQ(claims["nbf"], 1'800'000'000);
  EXPECT_EQ(claims["iat"], 1'800'000'000);
  EXPECT_EQ(claims["exp"], 1'800'000'600);
  EXPECT_EQ(claims["jti"].get<std::string>().size(), 36u);
  std::string again = build_client_assertion(pki.client_cert(), pki.client_key(), "PS256", false, "client-1", aud, now);
  EXPECT_NE(verify_jwt(again, pki.client_cert(), true).second["jti"], claims["jti"]);
}

TEST(ClientAssertion, Rs256WithLegacyX5tAndKeyInsideTheCertFile) {
  siem::test::TestPki pki;
  // A combined PEM: certificate followed by key.
  std::string combined = (pki.dir() / "combined.pem").string();
  {
    std::FILE* out = std::fopen(combined.c_str(), "w");
    for (const auto& part : {pki.client_cert(), pki.client_key()}) {
      std::FILE* in = std::fopen(part.c_str(), "r");
      char buf[4096];
      std::size_t n;
      while ((n = std::fread(buf, 1, sizeof buf, in)) > 0) std::fwrite(buf, 1, n, out);
      std::fclose(in);
    }
    std::fclose(out);
  }
  std::string jwt = build_client_assertion(combined, "", "RS256", true, "c", "https://login/t/oauth2/v2.0/token");
  auto [header, claims] = verify_jwt(jwt, pki.client_cert(), false);
  EXPECT_EQ(header["alg"], "RS256");
  EXPECT_EQ(header["x5t"], pki.client_thumbprint());
  EXPECT_EQ(header["x5t"], thumb(pki.client_cert(), EVP_sha1()));
}

TEST(ClientAssertion, BadKeyMaterialIsAPermanentErrorNamingTheFile) {
  siem::test::TestPki pki;
  try {
    build_client_assertion(pki.client_cert(), pki.server_key(), "PS256", false, "c", "aud");
    FAIL();
  } catch (const AuthError& e) {
    EXPECT_TRUE(e.permanent());
    EXPECT_NE(std::string(e.what()).find("does not match"), std::string::npos) << e.what();
  }
  EXPECT_THROW(build_client_assertion("/nonexistent.pem", "", "PS256", false, "c", "aud"), AuthError);
  EXPECT_THROW(build_client_assertion(pki.client_cert(), pki.client_key(), "HS256", false, "c", "aud"), AuthError);
}

TEST(TokenCacheTiming, RefreshAt80PercentOrFiveMinutesBeforeExpiry) {
  const auto t0 = std::chrono::system_clock::from_time_t(1'000'000);
  AccessToken hour{"x", t0, t0 + 3600s};
  EXPECT_EQ(hour.refresh_at(), t0 + 2880s);  // 80% (48 min) is sooner than 55 min
  AccessToken short_lived{"x", t0, t0 + 600s};
  EXPECT_EQ(short_lived.refresh_at(), t0 + 300s);  // 5 min before expiry is sooner than 80% (8 min)

  auto now = t0;
  TokenCache cache([&] { return now; });
  TokenCache::Key key{"login", "tenant", "client", "https://graph.microsoft.com"};
  cache.put(key, hour);
  EXPECT_TRUE(cache.fresh(key));
  now = t0 + 2879s;
  EXPECT_TRUE(cache.fresh(key));
  now = t0 + 2880s;
  EXPECT_FALSE(cache.fresh(key));
  now = t0;
  cache.erase(key);
  EXPECT_FALSE(cache.fresh(key));
}

TEST(TokenErrors, AadstsClassification) {
  auto e = classify_token_error(
      401, R"({"error":"invalid_client","error_description":"AADSTS7000222: The provided client secret keys for app 'x' are expired.\r\nTrace ID: 1","error_codes":[7000222]})",
      "ctx");
  EXPECT_TRUE(e.permanent());
  EXPECT_EQ(e.error_code(), "invalid_client");
  EXPECT_EQ(e.aadsts(), "AADSTS7000222");
  EXPECT_NE(std::string(e.what()).find("expired"), std::string::npos);
  EXPECT_EQ(std::string(e.what()).find("Trace ID"), std::string::npos);

  auto tenant = classify_token_error(400, R"({"error":"invalid_request","error_description":"AADSTS90002: Tenant 'x' not found."})", "ctx");
  EXPECT_TRUE(tenant.permanent());
  EXPECT_EQ(tenant.aadsts(), "AADSTS90002");
  EXPECT_NE(std::string(tenant.what()).find("tenant not found"), std::string::npos);

  auto bad_tenant_id = classify_token_error(400, R"({"error":"invalid_request","error_codes":[900023]})", "ctx");
  EXPECT_TRUE(bad_tenant_id.permanent());
  EXPECT_EQ(bad_tenant_id.aadsts(), "AADSTS900023");

  auto unauth = classify_token_error(400, R"({"error":"unauthorized_client","error_description":"AADSTS700016: Application not found"})", "ctx");
  EXPECT_TRUE(unauth.permanent());

  EXPECT_FALSE(classify_token_error(503, R"({"error":"temporarily_unavailable"})", "ctx").permanent());
  EXPECT_FALSE(classify_token_error(429, "", "ctx").permanent());
  EXPECT_FALSE(classify_token_error(500, "<html>oops</html>", "ctx").permanent());
}

TEST(Clouds, BuiltinEndpointsAndScopes) {
  EXPECT_EQ(builtin_cloud("public")->graph, "https://graph.microsoft.com");
  EXPECT_EQ(builtin_cloud("usgov")->login, "https://login.microsoftonline.us");
  EXPECT_EQ(builtin_cloud("dod")->graph, "https://dod-graph.microsoft.us");
  EXPECT_EQ(builtin_cloud("china")->arm, "https://management.chinacloudapi.cn");
  EXPECT_FALSE(builtin_cloud("custom"));
  EXPECT_EQ(scope_for("https://graph.microsoft.com/"), "https://graph.microsoft.com/.default");
  EXPECT_EQ(resource_for("https://management.azure.com"), "https://management.azure.com/");
}

#include "connector/auth/auth_config.h"

TEST(AuthConfig, ReadsPinnedKeysAndReportsLocatedErrors) {
  siem::Diagnostics diags;
  auto doc = siem::ConfigDocument::load_string(R"(
sources:
  - name: audit
    tenant_id: tenant-1
    cloud: usgov
    auth: {method: client_secret, client_id: app-1, client_secret: literal-secret}
    request_timeout: 20s
  - name: custom
    tenant_id: t
    cloud: custom
    endpoints: {login: https://login.test/, graph: https://graph.test}
    auth: {method: managed_identity, endpoint: http://127.0.0.1:1/token, client_id: mi}
  - name: broken
    cloud: mars
    auth: {method: certificate, client_id: c, certificate_file: /does/not/exist.pem, jwt_algorithm: HS256}
)", "test.yaml", diags);
  auto list = doc->root().list("sources");
  ASSERT_EQ(list.size(), 3u);
  auto a = read_source_connection(list[0]);
  EXPECT_EQ(a.auth.method, AuthSettings::Method::client_secret);
  EXPECT_EQ(a.auth.cloud.graph, "https://graph.microsoft.us");
  EXPECT_EQ(a.auth.client_secret.reveal(), "literal-secret");
  EXPECT_EQ(a.http.request_timeout, std::chrono::seconds(20));
  EXPECT_FALSE(diags.has_errors()) << diags.format();

  auto c = read_source_connection(list[1]);
  EXPECT_EQ(c.auth.method, AuthSettings::Method::managed_identity);
  EXPECT_EQ(c.auth.cloud.login, "https://login.test");
  EXPECT_EQ(c.auth.managed_identity_endpoint, "http://127.0.0.1:1/token");
  const std::string custom_errors = diags.format();
  EXPECT_NE(custom_errors.find("endpoints.arm"), std::string::npos) << custom_errors;

  read_source_connection(list[2]);
  const std::string all = diags.format();
  EXPECT_NE(all.find("test.yaml:"), std::string::npos) << all;
  EXPECT_NE(all.find("mars"), std::string::npos) << all;
  EXPECT_NE(all.find("certificate_file"), std::string::npos) << all;
  EXPECT_NE(all.find("tenant_id"), std::string::npos) << all;
  EXPECT_NE(all.find("HS256"), std::string::npos) << all;
  EXPECT_EQ(all.find("literal-secret"), std::string::npos);
}

// App-only tokens need the tenant itself: the multi-tenant authority aliases are refused offline,
// with the reason, rather than by the token endpoint at run time.
TEST(AuthConfig, TenantIdIsNotAMultiTenantAlias) {
  for (const char* alias : {"common", "organizations", "consumers", "Common"}) {
    siem::Diagnostics diags;
    auto doc = siem::ConfigDocument::load_string(std::string("tenant_id: ") + alias +
                                                     "\nauth: {method: client_secret, client_id: c, client_secret: s}\n",
                                                 "t.yaml", diags);
    read_source_connection(doc->root());
    const std::string all = diags.format();
    EXPECT_NE(all.find("t.yaml:1:"), std::string::npos) << alias << ": " << all;
    EXPECT_NE(all.find("is a multi-tenant alias"), std::string::npos) << alias << ": " << all;
  }
}

TEST(AuthConfig, TenantIdMustBeAGuidOrADomainName) {
  for (const char* good : {"11111111-2222-3333-4444-555555555555", "contoso.onmicrosoft.com", "tenant-1", "Contoso.COM"}) {
    siem::Diagnostics diags;
    auto doc = siem::ConfigDocument::load_string(std::string("tenant_id: ") + good +
                                                     "\nauth: {method: client_secret, client_id: c, client_secret: s}\n",
                                                 "t.yaml", diags);
    read_source_connection(doc->root());
    EXPECT_FALSE(diags.has_errors()) << good << ": " << diags.format();
  }
  for (const char* bad : {"'x@evil.example'", "'../common'", "'a b'", "'tenant?x=1'", "'-lead.example'", "'a..b'", "'a/b'",
                          "'caf\xc3\xa9.example'", "\"a\\r\\nb\""}) {
    siem::Diagnostics diags;
    auto doc = siem::ConfigDocument::load_string(std::string("tenant_id: ") + bad +
                                                     "\nauth: {method: client_secret, client_id: c, client_secret: s}\n",
                                                 "t.yaml", diags);
    read_source_connection(doc->root());
    const std::string all = diags.format();
    EXPECT_NE(all.find("t.yaml:1:"), std::string::npos) << bad << ": " << all;
    EXPECT_NE(all.find("tenant_id must be a directory id (GUID) or a domain name"), std::string::npos) << bad << ": " << all;
  }
}

TEST(AuthConfig, KeysOfAnotherMethodAreErrors) {
  siem::Diagnostics diags;
  auto doc = siem::ConfigDocument::load_string(
      "tenant_id: contoso.example\nauth: {method: workload_identity, client_id: c, token_file: /t,\n"
      "       client_secret: leftover, certificate_file: /c.pem}\n",
      "t.yaml", diags);
  read_source_connection(doc->root());
  const std::string all = diags.format();
  EXPECT_NE(all.find("t.yaml:3:23: error: auth.client_secret: "), std::string::npos) << all;
  EXPECT_NE(all.find("'client_secret' belongs to `method: client_secret`, not to `method: workload_identity`"),
            std::string::npos) << all;
  EXPECT_NE(all.find("'certificate_file' belongs to `method: certificate`"), std::string::npos) << all;
  EXPECT_EQ(all.find("token_file"), std::string::npos) << all;
}

TEST(AuthConfig, PlainHttpEndpointsAreErrorsUnlessLoopbackOrAllowed) {
  const std::string base = "tenant_id: contoso.example\ncloud: custom\nauth: {method: client_secret, client_id: c, client_secret: s}\n";
  auto run = [&](const std::string& extra) {
    siem::Diagnostics diags;
    auto doc = siem::ConfigDocument::load_string(base + extra, "t.yaml", diags);
    read_source_connection(doc->root());
    return diags;
  };
  auto plain = run("endpoints: {login: 'http://login.example', graph: 'https://g.example', arm: 'http://arm.example:8080'}\n");
  const std::string errors = plain.format();
  EXPECT_NE(errors.find("t.yaml:4:"), std::string::npos) << errors;
  EXPECT_NE(errors.find("plain http to http://login.example:80 would send credentials or tokens unencrypted"), std::string::npos) << errors;
  EXPECT_NE(errors.find("http://arm.example:8080"), std::string::npos) << errors;
  EXPECT_EQ(errors.find("g.example"), std::string::npos) << errors;

  auto loopback = run("endpoints: {login: 'http://127.0.0.1:8443', graph: 'http://localhost:1', arm: 'http://[::1]:2'}\n");
  EXPECT_FALSE(loopback.has_errors()) << loopback.format();
  EXPECT_TRUE(loopback.items().empty()) << loopback.format();

  auto allowed = run("endpoints: {login: 'http://login.example', graph: 'http://g.example', arm: 'http://a.example'}\nallow_insecure_http: true\n");
  EXPECT_FALSE(allowed.has_errors()) << allowed.format();
  ASSERT_EQ(allowed.items().size(), 1u) << allowed.format();
  EXPECT_EQ(allowed.items()[0].severity, siem::Diagnostic::Severity::warning);
  EXPECT_NE(allowed.format().find("t.yaml:5:"), std::string::npos) << allowed.format();
  EXPECT_NE(allowed.format().find("allow_insecure_http is on: client secrets, assertions and access tokens of this source may travel "
                                  "over plain http"),
            std::string::npos)
      << allowed.format();

  siem::Diagnostics mi;
  auto doc = siem::ConfigDocument::load_string(
      "auth: {method: managed_identity, endpoint: 'http://mi.example/token'}\n---\n", "m.yaml", mi);
  read_source_connection(doc->root());
  EXPECT_NE(mi.format().find("plain http to http://mi.example:80"), std::string::npos) << mi.format();
  siem::Diagnostics imds;
  auto doc2 = siem::ConfigDocument::load_string("auth: {method: managed_identity, endpoint: 'http://169.254.169.254/metadata/identity/oauth2/token'}\n",
                                                "m.yaml", imds);
  read_source_connection(doc2->root());
  EXPECT_FALSE(imds.has_errors()) << imds.format();

  ::setenv("AZURE_AUTHORITY_HOST", "http://login.example/", 1);
  siem::Diagnostics wi;
  auto doc3 = siem::ConfigDocument::load_string(
      "tenant_id: contoso.example\nauth: {method: workload_identity, client_id: c, token_file: /dev/null}\n", "w.yaml", wi);
  read_source_connection(doc3->root());
  ::unsetenv("AZURE_AUTHORITY_HOST");
  EXPECT_NE(wi.format().find("AZURE_AUTHORITY_HOST: plain http to http://login.example:80"), std::string::npos) << wi.format();
}
