#include "connector/auth/token_provider.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <mutex>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "connector/config/bounded_read.h"

namespace siem::auth {
namespace {

// Waits `d`; false when `stop` was requested first (at once, not at the end of the wait).
bool wait(std::chrono::milliseconds d, std::stop_token stop) {
  std::mutex m;
  std::condition_variable_any cv;
  std::unique_lock lock(m);
  return !cv.wait_for(lock, stop, d, [&stop] { return stop.stop_requested(); });
}

using json = nlohmann::json;
using SysClock = std::chrono::system_clock;

std::string url_encode(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string form(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out;
  for (const auto& [k, v] : fields) {
    if (!out.empty()) out += '&';
    out += url_encode(k) + "=" + url_encode(v);
  }
  return out;
}

std::string base64url(const unsigned char* data, std::size_t len) {
  std::string out(4 * ((len + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(len));
  out.resize(static_cast<std::size_t>(n));
  for (char& c : out) {
    if (c == '+') c = '-';
    else if (c == '/') c = '_';
  }
  while (!out.empty() && out.back() == '=') out.pop_back();
  return out;
}
std::string base64url(std::string_view s) { return base64url(reinterpret_cast<const unsigned char*>(s.data()), s.size()); }

std::string openssl_error() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

// A projected service-account token is about 1 KiB, a certificate or key PEM a few KiB (a chain
// a few more): these bounds only stop a wrong path (a log, /dev/zero, a FIFO) from being read.
constexpr std::size_t kMaxTokenFileBytes = 64 * 1024;
constexpr std::size_t kMaxPemFileBytes = 1024 * 1024;

// The whole file, bounded; only a regular file (a FIFO or device is refused, never waited on).
// Links are followed on purpose: Kubernetes projects secrets and service-account tokens as links.
std::string read_file(const std::string& path, const char* what, std::size_t max_bytes) {
  auto r = read_regular_file(path, max_bytes);
  if (r.status != ReadFileStatus::ok)
    throw AuthError(fmt::format("cannot read {} '{}': {}", what, path, describe_read_reason(r, max_bytes)), true);
  return std::move(r.text);
}

std::string uuid4() {
  unsigned char b[16];
  if (RAND_bytes(b, sizeof b) != 1) throw AuthError("no randomness for the JWT id: " + openssl_error(), false);
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
  return fmt::format("{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
                     b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

struct X509Deleter { void operator()(X509* x) const { X509_free(x); } };
struct PkeyDeleter { void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); } };
struct BioDeleter { void operator()(BIO* b) const { BIO_free(b); } };
struct MdCtxDeleter { void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); } };

std::unique_ptr<BIO, BioDeleter> mem_bio(const std::string& pem) {
  return std::unique_ptr<BIO, BioDeleter>(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// Longest token lifetime believed. The bound keeps the arithmetic below in range: system_clock
// counts nanoseconds (up to the year 2262), so an expires_on such as App Service's 9999999999 or
// a huge expires_in would overflow (undefined behaviour). Refreshing such a token after a day is
// harmless: real tokens live 1 to 24 hours.
constexpr std::chrono::seconds kMaxTokenLifetime = std::chrono::hours(24);

std::chrono::seconds parse_seconds(const json& v) {
  if (v.is_number_integer()) return std::chrono::seconds(v.get<std::int64_t>());
  if (v.is_number()) {
    // Converting a double outside the int64 range is undefined; 1e15 s is far beyond any bound used.
    const double d = std::clamp(v.get<double>(), -1e15, 1e15);
    return std::chrono::seconds(static_cast<std::int64_t>(d));
  }
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    char* end = nullptr;
    long long n = std::strtoll(s.c_str(), &end, 10);
    if (end != s.c_str()) return std::chrono::seconds(n);
  }
  return std::chrono::seconds(-1);
}

// Parses a token success response (identity platform or IMDS / App Service).
AccessToken parse_token_response(const std::string& body, SysClock::time_point now, const std::string& context) {
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("access_token") || !j["access_token"].is_string())
    throw AuthError(fmt::format("{}: token response is not valid JSON with an access_token", context), false);
  AccessToken t;
  t.value = j["access_token"].get<std::string>();
  t.obtained_at = now;
  std::chrono::seconds life{-1};
  if (j.contains("expires_in")) life = parse_seconds(j["expires_in"]);
  if (life.count() < 0 && j.contains("expires_on")) {
    auto on = parse_seconds(j["expires_on"]);
    // In seconds, not as a time_point: see kMaxTokenLifetime.
    const auto now_s = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch());
    if (on.count() > 0) life = on > now_s ? on - now_s : std::chrono::seconds(0);
  }
  if (life.count() <= 0) life = std::chrono::seconds(300);  // unknown lifetime: be conservative
  life = std::min(life, kMaxTokenLifetime);
  t.expires_at = now + life;
  return t;
}

using CacheKey = TokenCache::Key;

// Shared machinery: cache lookup, single-flight fetch, invalidate.
class CachingProvider : public TokenProvider {
 public:
  CachingProvider(AuthSettings s, std::shared_ptr<http::Client> c, std::shared_ptr<TokenCache> cache)
      : settings_(std::move(s)), client_(std::move(c)), cache_(cache ? std::move(cache) : TokenCache::shared()) {}

  using TokenProvider::token;
  std::string token(const std::string& resource_root, std::stop_token stop) override {
    const CacheKey key = cache_key(resource_root);
    if (auto t = cache_->fresh(key)) return t->value;
    std::lock_guard lock(fetch_mu_);
    if (auto t = cache_->fresh(key)) return t->value;  // another thread fetched it meanwhile
    AccessToken t = fetch(resource_root, stop);
    std::string value = t.value;
    spdlog::debug("auth: obtained a token for {} via {} (expires in {} s)", resource_root, describe(),
                  std::chrono::duration_cast<std::chrono::seconds>(t.expires_at - t.obtained_at).count());
    cache_->put(key, std::move(t));
    return value;
  }

  void invalidate(const std::string& resource_root) override { cache_->erase(cache_key(resource_root)); }

  std::string describe() const override {
    return fmt::format("{} (tenant {}, client {})", to_string(settings_.method),
                       settings_.tenant_id.empty() ? "-" : settings_.tenant_id,
                       settings_.client_id.empty() ? "system-assigned" : settings_.client_id);
  }

 protected:
  // `stop` ends a wait between retries (ManagedIdentityProvider; the others do not retry).
  virtual AccessToken fetch(const std::string& resource_root, std::stop_token stop) = 0;
  virtual CacheKey cache_key(const std::string& resource_root) const {
    return {settings_.cloud.login, settings_.tenant_id, settings_.client_id, resource_root};
  }

  // POST {authority}/{tenant}/oauth2/v2.0/token with client-credentials fields + `extra`.
  AccessToken client_credentials(const std::string& resource_root,
                                 std::vector<std::pair<std::string, std::string>> extra) {
    std::vector<std::pair<std::string, std::string>> fields = {
        {"client_id", settings_.client_id}, {"scope", scope_for(resource_root)}, {"grant_type", "client_credentials"}};
    for (auto& f : extra) fields.push_back(std::move(f));
    http::Request req;
    req.method = "POST";
    req.url = token_endpoint(settings_.cloud.login, settings_.tenant_id);
    req.pin = settings_.cloud.login;  // the secret or assertion goes to the configured authority only
    req.headers = {{"Content-Type", "application/x-www-form-urlencoded"}, {"Accept", "application/json"}};
    req.body = form(fields);
    const std::string context = fmt::format("{} token request to {}", describe(), req.url);
    http::Response res;
    try {
      res = client_->send(req);
    } catch (const http::Error& e) {
      throw AuthError(fmt::format("{} failed: {}", context, e.what()), !e.transient());
    }
    if (res.status != 200) throw classify_token_error(res.status, res.body, context);
    return parse_token_response(res.body, cache_->now(), context);
  }

  AuthSettings settings_;
  std::shared_ptr<http::Client> client_;
  std::shared_ptr<TokenCache> cache_;
  std::mutex fetch_mu_;
};

class SecretProvider final : public CachingProvider {
 public:
  using CachingProvider::CachingProvider;

 protected:
  AccessToken fetch(const std::string& resource_root, std::stop_token /*stop: no retries*/) override {
    return client_credentials(resource_root, {{"client_secret", settings_.client_secret.reveal()}});
  }
};

class CertificateProvider final : public CachingProvider {
 public:
  CertificateProvider(AuthSettings s, std::shared_ptr<http::Client> c, std::shared_ptr<TokenCache> cache)
      : CachingProvider(std::move(s), std::move(c), std::move(cache)) {
    // Fail early (and permanently) on unusable key material.
    (void)build_client_assertion(settings_.certificate_file, settings_.private_key_file, settings_.jwt_algorithm,
                                 settings_.send_x5t, settings_.client_id, audience());
  }

 protected:
  std::string audience() const { return token_endpoint(settings_.cloud.login, settings_.tenant_id); }
  AccessToken fetch(const std::string& resource_root, std::stop_token /*stop: no retries*/) override {
    std::string assertion = build_client_assertion(settings_.certificate_file, settings_.private_key_file,
                                                   settings_.jwt_algorithm, settings_.send_x5t, settings_.client_id,
                                                   audience(), cache_->now());
    return client_credentials(resource_root,
                              {{"client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
                               {"client_assertion", std::move(assertion)}});
  }
};

class WorkloadIdentityProvider final : public CachingProvider {
 public:
  using CachingProvider::CachingProvider;

 protected:
  AccessToken fetch(const std::string& resource_root, std::stop_token /*stop: no retries*/) override {
    // Re-read on every request: the kubelet rotates the projected token.
    std::string assertion = read_file(settings_.token_file, "federated token file", kMaxTokenFileBytes);
    while (!assertion.empty() && (assertion.back() == '\n' || assertion.back() == '\r' || assertion.back() == ' '))
      assertion.pop_back();
    if (assertion.empty())
      throw AuthError(fmt::format("{}: federated token file '{}' is empty", describe(), settings_.token_file), false);
    return client_credentials(resource_root,
                              {{"client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
                               {"client_assertion", std::move(assertion)}});
  }
};

class ManagedIdentityProvider final : public CachingProvider {
 public:
  ManagedIdentityProvider(AuthSettings s, std::shared_ptr<http::Client> c, std::shared_ptr<TokenCache> cache)
      : CachingProvider(std::move(s), std::move(c), std::move(cache)) {
    if (!settings_.managed_identity_endpoint.empty()) {
      endpoint_ = settings_.managed_identity_endpoint;
      header_ = settings_.managed_identity_header;
    } else if (const char* ep = std::getenv("IDENTITY_ENDPOINT"); ep && *ep) {
      endpoint_ = ep;  // App Service / Functions / Container Apps
      const char* h = std::getenv("IDENTITY_HEADER");
      header_ = h ? h : "";
    } else {
      endpoint_ = "http://169.254.169.254/metadata/identity/oauth2/token";
    }
    app_service_ = !header_.empty();
    const auto base = settings_.managed_identity_retry_base;
    retry_delays_ = {base, base * 2, base * 4, base * 8};
  }

  std::string describe() const override {
    return fmt::format("managed_identity ({}, {})", app_service_ ? "IDENTITY_ENDPOINT" : "IMDS",
                       settings_.client_id.empty() ? "system-assigned" : "client " + settings_.client_id);
  }

 protected:
  CacheKey cache_key(const std::string& resource_root) const override {
    return {endpoint_, "managed-identity", settings_.client_id + "|" + settings_.object_id + "|" + settings_.msi_res_id,
            resource_root};
  }

  AccessToken fetch(const std::string& resource_root, std::stop_token stop) override {
    std::string url = endpoint_;
    url += url.find('?') == std::string::npos ? '?' : '&';
    url += app_service_ ? "api-version=2019-08-01" : "api-version=2018-02-01";
    url += "&resource=" + url_encode(resource_for(resource_root));
    if (!settings_.client_id.empty()) url += "&client_id=" + url_encode(settings_.client_id);
    if (!settings_.object_id.empty()) url += (app_service_ ? "&principal_id=" : "&object_id=") + url_encode(settings_.object_id);
    if (!settings_.msi_res_id.empty()) url += (app_service_ ? "&mi_res_id=" : "&msi_res_id=") + url_encode(settings_.msi_res_id);
    http::Request req;
    req.url = url;
    req.pin = endpoint_;
    req.direct = true;  // the identity endpoint is on this machine or link: never through a proxy
    if (app_service_) req.headers = {{"X-IDENTITY-HEADER", header_}};
    else req.headers = {{"Metadata", "true"}};
    const std::string context = fmt::format("{} token request to {}", describe(), endpoint_);
    std::string last_error;
    for (std::size_t attempt = 0;; ++attempt) {
      bool retryable = false;
      try {
        http::Response res = client_->send(req);
        if (res.status == 200) return parse_token_response(res.body, cache_->now(), context);
        retryable = res.status == 404 || res.status == 410 || res.status == 429 || res.status >= 500;
        if (!retryable) throw classify_token_error(res.status, res.body, context);
        last_error = fmt::format("HTTP {}", res.status);
      } catch (const http::Error& e) {
        if (!e.transient()) throw AuthError(fmt::format("{} failed: {}", context, e.what()), true);
        last_error = e.what();
        retryable = true;
      }
      if (attempt >= retry_delays_.size())
        throw AuthError(fmt::format("{} failed after {} tries: {}", context, attempt + 1, last_error), false);
      spdlog::debug("auth: {} failed ({}); retrying", context, last_error);
      if (!wait(retry_delays_[attempt], stop))
        throw AuthError(fmt::format("{}: stopped while waiting to retry ({})", context, last_error), false);
    }
  }

 private:
  std::string endpoint_;
  std::string header_;
  bool app_service_ = false;
  std::vector<std::chrono::milliseconds> retry_delays_;
};

}  // namespace

std::string_view to_string(AuthSettings::Method m) noexcept {
  switch (m) {
    case AuthSettings::Method::client_secret: return "client_secret";
    case AuthSettings::Method::certificate: return "certificate";
    case AuthSettings::Method::workload_identity: return "workload_identity";
    case AuthSettings::Method::managed_identity: return "managed_identity";
  }
  return "unknown";
}

SysClock::time_point AccessToken::refresh_at() const {
  auto life = expires_at - obtained_at;
  auto at80 = obtained_at + life * 8 / 10;
  auto before5 = expires_at - std::chrono::minutes(5);
  return std::min(at80, before5);
}

const std::shared_ptr<TokenCache>& TokenCache::shared() {
  static const std::shared_ptr<TokenCache> cache = std::make_shared<TokenCache>();
  return cache;
}

std::optional<AccessToken> TokenCache::fresh(const Key& key) const {
  auto now = now_();
  std::lock_guard lock(mu_);
  auto it = tokens_.find(key);
  if (it == tokens_.end() || now >= it->second.refresh_at()) return std::nullopt;
  return it->second;
}

void TokenCache::put(const Key& key, AccessToken token) {
  std::lock_guard lock(mu_);
  tokens_[key] = std::move(token);
}

void TokenCache::erase(const Key& key) {
  std::lock_guard lock(mu_);
  tokens_.erase(key);
}

std::string build_client_assertion(const std::string& certificate_file, const std::string& private_key_file,
                                   const std::string& algorithm, bool send_x5t, const std::string& client_id,
                                   const std::string& audience, SysClock::time_point now) {
  if (algorithm != "PS256" && algorithm != "RS256")
    throw AuthError(fmt::format("unsupported JWT algorithm '{}' (PS256 or RS256)", algorithm), true);
  const std::string cert_pem = read_file(certificate_file, "certificate file", kMaxPemFileBytes);
  auto cbio = mem_bio(cert_pem);
  std::unique_ptr<X509, X509Deleter> cert(PEM_read_bio_X509(cbio.get(), nullptr, nullptr, nullptr));
  if (!cert) throw AuthError(fmt::format("certificate file '{}' holds no PEM certificate: {}", certificate_file, openssl_error()), true);
  const std::string& key_path = private_key_file.empty() ? certificate_file : private_key_file;
  const std::string key_pem = private_key_file.empty() ? cert_pem : read_file(private_key_file, "private key file", kMaxPemFileBytes);
  auto kbio = mem_bio(key_pem);
  std::unique_ptr<EVP_PKEY, PkeyDeleter> key(PEM_read_bio_PrivateKey(kbio.get(), nullptr, nullptr, nullptr));
  if (!key) throw AuthError(fmt::format("'{}' holds no (unencrypted) PEM private key: {}", key_path, openssl_error()), true);
  if (EVP_PKEY_base_id(key.get()) != EVP_PKEY_RSA)
    throw AuthError(fmt::format("private key '{}' is not RSA (PS256/RS256 need RSA)", key_path), true);
  if (X509_check_private_key(cert.get(), key.get()) != 1)
    throw AuthError(fmt::format("private key '{}' does not match certificate '{}'", key_path, certificate_file), true);

  unsigned char der_buf[8192];
  unsigned char* p = der_buf;
  int der_len = i2d_X509(cert.get(), nullptr);
  if (der_len <= 0 || der_len > static_cast<int>(sizeof der_buf)) throw AuthError("certificate too large to encode", true);
  i2d_X509(cert.get(), &p);
  unsigned char sha256[EVP_MAX_MD_SIZE], sha1[EVP_MAX_MD_SIZE];
  unsigned int n256 = 0, n1 = 0;
  EVP_Digest(der_buf, static_cast<std::size_t>(der_len), sha256, &n256, EVP_sha256(), nullptr);
  EVP_Digest(der_buf, static_cast<std::size_t>(der_len), sha1, &n1, EVP_sha1(), nullptr);

  json header = {{"alg", algorithm}, {"typ", "JWT"}, {"x5t#S256", base64url(sha256, n256)}};
  if (send_x5t) header["x5t"] = base64url(sha1, n1);
  const auto iat = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  json claims = {{"aud", audience}, {"iss", client_id},   {"sub", client_id},
                 {"jti", uuid4()},  {"nbf", iat},         {"iat", iat},
                 {"exp", iat + 600}};
  const std::string signing_input = base64url(header.dump()) + "." + base64url(claims.dump());

  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> md(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  if (!md || EVP_DigestSignInit(md.get(), &pctx, EVP_sha256(), nullptr, key.get()) != 1)
    throw AuthError("cannot initialise JWT signing: " + openssl_error(), true);
  if (algorithm == "PS256") {
    if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
        EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1 ||
        EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) != 1)
      throw AuthError("cannot set RSA-PSS padding: " + openssl_error(), true);
  } else if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1) {
    throw AuthError("cannot set RSA PKCS#1 padding: " + openssl_error(), true);
  }
  std::size_t sig_len = 0;
  const auto* in = reinterpret_cast<const unsigned char*>(signing_input.data());
  if (EVP_DigestSign(md.get(), nullptr, &sig_len, in, signing_input.size()) != 1)
    throw AuthError("JWT signing failed: " + openssl_error(), true);
  std::vector<unsigned char> sig(sig_len);
  if (EVP_DigestSign(md.get(), sig.data(), &sig_len, in, signing_input.size()) != 1)
    throw AuthError("JWT signing failed: " + openssl_error(), true);
  return signing_input + "." + base64url(sig.data(), sig_len);
}

std::shared_ptr<TokenProvider> make_token_provider(const AuthSettings& settings, std::shared_ptr<http::Client> client,
                                                   std::shared_ptr<TokenCache> cache) {
  if (!client) client = std::make_shared<http::Client>();
  auto need = [&](const std::string& v, const char* what) {
    if (v.empty()) throw AuthError(fmt::format("{} auth needs {}", to_string(settings.method), what), true);
  };
  switch (settings.method) {
    case AuthSettings::Method::client_secret:
      need(settings.tenant_id, "tenant_id");
      need(settings.client_id, "client_id");
      need(settings.client_secret.reveal(), "client_secret");
      return std::make_shared<SecretProvider>(settings, std::move(client), std::move(cache));
    case AuthSettings::Method::certificate:
      need(settings.tenant_id, "tenant_id");
      need(settings.client_id, "client_id");
      need(settings.certificate_file, "certificate_file");
      return std::make_shared<CertificateProvider>(settings, std::move(client), std::move(cache));
    case AuthSettings::Method::workload_identity:
      need(settings.tenant_id, "tenant_id (or AZURE_TENANT_ID)");
      need(settings.client_id, "client_id (or AZURE_CLIENT_ID)");
      need(settings.token_file, "token_file (or AZURE_FEDERATED_TOKEN_FILE)");
      return std::make_shared<WorkloadIdentityProvider>(settings, std::move(client), std::move(cache));
    case AuthSettings::Method::managed_identity:
      return std::make_shared<ManagedIdentityProvider>(settings, std::move(client), std::move(cache));
  }
  throw AuthError("unknown auth method", true);
}

}  // namespace siem::auth
