// Retry policy shared by the pull sources and the HTTP sinks: which outcomes are worth retrying,
// how long to wait (exponential backoff with full jitter, or the server's Retry-After), and when a
// 401 means "drop the token and try once more".
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <string_view>

#include "connector/http/http_client.h"

namespace siem::http {

// Parses a Retry-After value: delta-seconds ("120"), fractional seconds as Graph sends them
// ("2.128"), or an HTTP-date ("Wed, 21 Oct 2015 07:28:00 GMT", also RFC 850 / asctime forms),
// relative to `now`. A date in the past gives 0. nullopt when malformed or negative.
std::optional<std::chrono::milliseconds> parse_retry_after(
    std::string_view value, std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

enum class RetryDecision {
  done,       // success (2xx/3xx): nothing to retry
  retry,      // transient: wait delay() and send again
  reauth,     // 401: invalidate the token and retry once (a second 401 in a row is final)
  fail,       // permanent (other 4xx, TLS verification, bad URL)
};

// Classifies an HTTP status: 429, 500, 502, 503, 504 -> retry; 401 -> reauth; other 4xx/5xx -> fail.
RetryDecision classify_status(int status) noexcept;
// Classifies a transport error: transient kinds (timeout, connect, resolve, reset) -> retry.
RetryDecision classify_error(const Error& error) noexcept;

struct RetryOptions {
  std::chrono::milliseconds base{2'000};   // first backoff ceiling
  std::chrono::milliseconds cap{60'000};   // largest backoff ceiling
  int max_attempts = 0;                    // total attempts including the first; 0 = unlimited
  // Largest Retry-After honoured; longer values are clamped (a broken server cannot park us for days).
  std::chrono::milliseconds max_retry_after{15 * 60'000};
};

// Per-operation retry state. Not thread-safe; make one per request loop.
class RetryPolicy {
 public:
  explicit RetryPolicy(RetryOptions options = {}, std::uint64_t seed = std::random_device{}());

  // Full-jitter backoff for the given 0-based retry number: uniform in [0, min(cap, base * 2^n)].
  std::chrono::milliseconds backoff(int retry_number);

  // Decides what to do after `response` and advances the attempt counter. When the decision is
  // retry, `delay` is the Retry-After (for 429, 503 and any 5xx that carries it) or the jittered
  // backoff. A second consecutive 401 is `fail`; max_attempts exhausted turns retry into fail.
  struct Outcome {
    RetryDecision decision = RetryDecision::done;
    std::chrono::milliseconds delay{0};
    bool from_retry_after = false;
  };
  Outcome on_response(const Response& response,
                      std::chrono::system_clock::time_point now = std::chrono::system_clock::now());
  Outcome on_error(const Error& error);

  int attempts() const noexcept { return attempts_; }
  void reset() noexcept { attempts_ = 0; retries_ = 0; reauthed_ = false; }
  const RetryOptions& options() const noexcept { return options_; }

 private:
  Outcome finish(RetryDecision d, std::optional<std::chrono::milliseconds> retry_after);

  RetryOptions options_;
  std::mt19937_64 rng_;
  int attempts_ = 0;
  int retries_ = 0;
  bool reauthed_ = false;
};

}  // namespace siem::http
