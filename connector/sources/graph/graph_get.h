// The one authorized GET of the Graph/ARM readers (the pull sources' pages, the inventory's
// collections): every request takes a slot of the caller's shared rate bucket, carries a bearer
// token for the target's resource (dropped and fetched again once on a 401), is pinned to the
// configured root's origin (a nextLink elsewhere is refused before anything is sent, the token
// included), retries 429/5xx and transport failures with the server's Retry-After (bounded by
// RetryOptions::max_retry_after, and applied to the whole bucket) or jittered backoff, and is
// bounded in size by the client (ClientOptions::max_response_bytes). The checks live here only.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <optional>
#include <stdexcept>
#include <stop_token>
#include <string>

#include "connector/auth/token_provider.h"
#include "connector/core/source.h"
#include "connector/http/http_client.h"
#include "connector/http/retry_policy.h"
#include "connector/http/token_bucket.h"

namespace siem::sources {

// A GET that did not give a usable response. The message names the URL without its query (never
// a token) and the cause; a server's error body is quoted with control bytes escaped.
class GraphGetError : public std::runtime_error {
 public:
  enum class Kind {
    permanent,  // credentials, permissions, TLS, a 4xx other than 401/429: retrying will not help
    exhausted,  // 429/5xx, transport or token endpoint failures past the retry budget
    unusable,   // a URL, header or body the server handed us that cannot be used (a nextLink to
                // another origin, a control character, a body over max_response_bytes)
  };
  GraphGetError(Kind kind, const std::string& message, int status = 0, std::string code = {})
      : std::runtime_error(message), kind_(kind), status_(status), code_(std::move(code)) {}
  Kind kind() const noexcept { return kind_; }
  // The HTTP status of the final answer when the service refused this URL (a 4xx): 0 when the
  // failure was the token, the connection or TLS, which no other URL of the same service escapes.
  int status() const noexcept { return status_; }
  // The service's error code of that answer ({"error":{"code":...}}, e.g. AuthorizationFailed,
  // Authorization_RequestDenied); empty when absent or not a plain identifier.
  const std::string& code() const noexcept { return code_; }

 private:
  Kind kind_;
  int status_;
  std::string code_;
};

// Where a GET goes and under which budget.
struct GraphTarget {
  std::string resource;                      // token audience: the cloud's graph or arm root
  std::string pin;                           // the configured root whose origin every URL must have
  std::shared_ptr<http::TokenBucket> bucket; // the shared request budget this call counts against
  bool low_priority = true;                  // Graph: x-ms-throttle-priority: low (not sent to ARM)
};

struct GraphGetOptions {
  std::string log_name;  // prefixes the warn lines: "source NAME", "inventory"
  http::RetryOptions retry = [] {
    http::RetryOptions r;
    r.max_attempts = 6;
    return r;
  }();
};

class GraphGetter {
 public:
  // `progress` (may be null) counts the 429s and the Retry-After waits for /metrics, and carries
  // `backing_off` (set while waiting to retry an error or a 5xx, not a 429; cleared on success).
  GraphGetter(std::shared_ptr<http::Client> client, std::shared_ptr<auth::TokenProvider> tokens, GraphGetOptions options,
              SourceProgress* progress = nullptr);

  // One GET of `url`, retried as described above; a 2xx/3xx response, or nullopt when `stop` was
  // requested (while waiting for the bucket or a retry). Throws GraphGetError.
  std::optional<http::Response> get(const GraphTarget& target, const std::string& url, std::stop_token stop);

  // Requests sent, retries included (a URL or header refused before sending is not one).
  std::size_t requests() const noexcept { return requests_.load(std::memory_order_relaxed); }

 private:
  std::shared_ptr<http::Client> client_;
  std::shared_ptr<auth::TokenProvider> tokens_;
  GraphGetOptions options_;
  SourceProgress* progress_;
  std::atomic<std::size_t> requests_{0};
};

// A URL for a log line or an error: the query (skiptokens, filters) cut, control bytes escaped.
std::string redact_url(const std::string& url);

// The service's error code in an error answer's body ({"error":{"code":"AuthorizationFailed"}}):
// letters, digits, '_', '.', '-', at most 64 characters; empty otherwise. Safe to show where the
// body's text is not (the body can name principals and scopes).
std::string service_error_code(std::string_view body);

// Waits `d` or until `stop` is requested.
void sleep_for(std::chrono::milliseconds d, std::stop_token stop);

}  // namespace siem::sources
