// Token bucket rate limiting with an injectable clock, and a process-wide registry of buckets keyed
// by (authority, tenant, client id, API family) so every stream of one tenant shares one budget.
// Graph's identity and access reports allow 5 requests per 10 s per app per tenant; that is the
// default limit (RateLimit::graph_reports()).
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <tuple>

namespace siem::http {

// Monotonic clock abstraction so tests can drive time by hand.
class Clock {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  virtual ~Clock() = default;
  virtual time_point now() const = 0;
  // Sleeps up to `d` or until `stop` is requested / notify() on the bucket; may return early.
  virtual void wait_for(std::unique_lock<std::mutex>& lock, std::condition_variable_any& cv,
                        std::chrono::nanoseconds d, std::stop_token stop) const;
  static std::shared_ptr<Clock> steady();  // the real clock
};

// A manually advanced clock for tests: wait_for() advances time by the requested amount instead of
// sleeping, so a blocked acquire() completes instantly while the accounting stays exact.
class ManualClock : public Clock {
 public:
  time_point now() const override;
  void advance(std::chrono::nanoseconds d);
  void wait_for(std::unique_lock<std::mutex>& lock, std::condition_variable_any& cv,
                std::chrono::nanoseconds d, std::stop_token stop) const override;

 private:
  mutable std::mutex mu_;
  mutable time_point now_{};
};

struct RateLimit {
  int capacity = 5;                                             // requests per window; at least 1
  std::chrono::nanoseconds window{std::chrono::seconds(10)};    // the window length
  // Graph identity and access reports (directoryAudits, signIns): 5 requests per 10 s per tenant.
  static RateLimit graph_reports() { return {5, std::chrono::seconds(10)}; }
};

// Thread-safe token bucket whose tokens come back one window after they were spent (a sliding
// window limiter): it starts full with `capacity` tokens, and a token spent at t is available again
// at t + window. Hence no interval of length `window` ever sees more than `capacity` grants, which
// is exactly how Graph counts (a refill-rate bucket would allow 2x capacity across a window edge).
class TokenBucket {
 public:
  explicit TokenBucket(RateLimit limit, std::shared_ptr<Clock> clock = Clock::steady());

  // Takes one token, blocking until one is available. Returns false (taking nothing) when `stop`
  // is requested before a token became available.
  bool acquire(std::stop_token stop = {});
  // Takes one token if available now.
  bool try_acquire();
  // The server said "slow down" (429 with Retry-After): no token is granted before now + d.
  void pause_for(std::chrono::nanoseconds d);
  // Tokens available right now.
  int available() const;
  const RateLimit& limit() const noexcept { return limit_; }

 private:
  // Time until a token is available (0 = now); drops grants older than one window.
  std::chrono::nanoseconds wait_needed_locked(Clock::time_point now);

  RateLimit limit_;
  std::shared_ptr<Clock> clock_;
  mutable std::mutex mu_;
  std::condition_variable_any cv_;
  std::deque<Clock::time_point> grants_;  // times of the grants within the last window
  Clock::time_point paused_until_{};
};

struct BucketKey {
  std::string authority;  // e.g. https://login.microsoftonline.com
  std::string tenant;
  std::string client_id;
  std::string api_family;  // e.g. "graph_reports", "graph_identity", "arm"
  auto operator<=>(const BucketKey&) const = default;
};

// Process-wide registry: the first caller for a key fixes its limit; later callers share it.
class TokenBucketRegistry {
 public:
  static TokenBucketRegistry& instance();
  std::shared_ptr<TokenBucket> get(const BucketKey& key, RateLimit limit = RateLimit::graph_reports(),
                                   std::shared_ptr<Clock> clock = Clock::steady());
  void clear();  // tests only

 private:
  std::mutex mu_;
  std::map<BucketKey, std::shared_ptr<TokenBucket>> buckets_;
};

}  // namespace siem::http
