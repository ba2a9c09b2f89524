// OAuth 2.0 access tokens for Microsoft Graph and ARM: client secret, certificate (signed JWT client
// assertion), workload identity federation and managed identity, behind one TokenProvider
// interface with a cache per (authority, tenant, client, resource) and proactive refresh.
//
// Usage (from a source):
//   auto provider = auth::make_token_provider(settings, http_client);
//   std::string bearer = provider->token(cloud.graph);   // cached; refreshed before expiry
//   ... on HTTP 401 from Graph: provider->invalidate(cloud.graph); retry once ...
// token() throws AuthError; error.permanent() means configuration (bad secret, unknown client,
// wrong tenant): report it once and back off for minutes, never hot-loop.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <tuple>

#include "connector/auth/cloud.h"
#include "connector/config/config_node.h"
#include "connector/http/http_client.h"

namespace siem::auth {

// A token request that failed. The message names the method, tenant, client and cause (AADSTS code
// and its meaning), never a secret.
class AuthError : public std::runtime_error {
 public:
  AuthError(std::string message, bool permanent, std::string error = {}, std::string aadsts = {})
      : std::runtime_error(std::move(message)), permanent_(permanent), error_(std::move(error)),
        aadsts_(std::move(aadsts)) {}
  // Retrying will not help until the configuration changes.
  bool permanent() const noexcept { return permanent_; }
  const std::string& error_code() const noexcept { return error_; }  // OAuth "error", e.g. invalid_client
  const std::string& aadsts() const noexcept { return aadsts_; }     // e.g. "AADSTS7000222"

 private:
  bool permanent_;
  std::string error_;
  std::string aadsts_;
};

// Classifies an identity-platform error response (status + JSON body) into an AuthError.
// `context` prefixes the message (e.g. "client_secret auth for tenant T, client C").
AuthError classify_token_error(int status, const std::string& body, const std::string& context);

struct AccessToken {
  std::string value;  // opaque; never parsed, never logged
  std::chrono::system_clock::time_point obtained_at{};
  std::chrono::system_clock::time_point expires_at{};
  // When to fetch a new one: at 80% of the lifetime or 5 minutes before expiry, whichever is sooner.
  std::chrono::system_clock::time_point refresh_at() const;
};

// Everything needed to obtain tokens (read from config by auth_config.h, or built by hand).
struct AuthSettings {
  enum class Method { client_secret, certificate, workload_identity, managed_identity };
  Method method = Method::client_secret;
  std::string tenant_id;
  std::string client_id;                    // managed identity: optional user-assigned client id
  Secret client_secret;                     // client_secret
  std::string certificate_file;             // certificate: PEM certificate (may also hold the key)
  std::string private_key_file;             // certificate: PEM key; empty = in certificate_file
  std::string jwt_algorithm = "PS256";      // certificate: PS256 (default) or RS256
  bool send_x5t = false;                    // certificate: also send the legacy SHA-1 `x5t`
  std::string token_file;                   // workload identity: re-read on every request
  std::string managed_identity_endpoint;    // managed identity: override (tests); empty = env/IMDS
  std::string managed_identity_header;      // with an IDENTITY_ENDPOINT-style endpoint: X-IDENTITY-HEADER
  std::string object_id, msi_res_id;        // managed identity: alternative selectors
  // Managed identity retries (404, 410, 429, 5xx, network): 4 retries after base, 2x, 4x, 8x
  // (the documented ~0, 2, 6, 14, 30 s schedule with the default 2 s).
  std::chrono::milliseconds managed_identity_retry_base{2'000};
  CloudEndpoints cloud;                     // authority and resource roots
};
std::string_view to_string(AuthSettings::Method m) noexcept;

class TokenProvider {
 public:
  virtual ~TokenProvider() = default;
  // A valid access token for `resource_root` (e.g. cloud.graph), from the cache when fresh.
  // Thread-safe; concurrent callers for the same resource share one fetch. Throws AuthError. A wait
  // between retries (managed identity) ends as soon as `stop` is requested, with an AuthError (not
  // permanent) saying so: shutdown never waits for a retry schedule.
  virtual std::string token(const std::string& resource_root, std::stop_token stop) = 0;
  std::string token(const std::string& resource_root) { return token(resource_root, std::stop_token{}); }
  // Drops the cached token (call on HTTP 401 from the resource, then retry once).
  virtual void invalidate(const std::string& resource_root) = 0;
  // "client_secret (tenant T, client C)" for logs.
  virtual std::string describe() const = 0;
};

// The process-wide token cache keyed by (authority, tenant, client, resource): every source of the
// same identity shares its tokens. Injectable clock for tests.
class TokenCache {
 public:
  using Key = std::tuple<std::string, std::string, std::string, std::string>;
  using Now = std::function<std::chrono::system_clock::time_point()>;
  explicit TokenCache(Now now = [] { return std::chrono::system_clock::now(); }) : now_(std::move(now)) {}
  static const std::shared_ptr<TokenCache>& shared();

  // The cached token if it is not due for refresh.
  std::optional<AccessToken> fresh(const Key& key) const;
  void put(const Key& key, AccessToken token);
  void erase(const Key& key);
  std::chrono::system_clock::time_point now() const { return now_(); }

 private:
  Now now_;
  mutable std::mutex mu_;
  std::map<Key, AccessToken> tokens_;
};

// Builds the provider for `settings`. The HTTP client is shared (keep-alive to the authority).
// `cache` defaults to TokenCache::shared(). Throws AuthError (permanent) on unusable settings,
// e.g. an unreadable certificate or key.
std::shared_ptr<TokenProvider> make_token_provider(const AuthSettings& settings,
                                                   std::shared_ptr<http::Client> client,
                                                   std::shared_ptr<TokenCache> cache = nullptr);

// Builds the signed JWT client assertion of the certificate method (exposed for tests):
// header {alg, typ:"JWT", x5t#S256[, x5t]}, claims {aud, iss, sub, jti, nbf, iat, exp = now+10min}.
std::string build_client_assertion(const std::string& certificate_file, const std::string& private_key_file,
                                   const std::string& algorithm, bool send_x5t, const std::string& client_id,
                                   const std::string& audience,
                                   std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

}  // namespace siem::auth
