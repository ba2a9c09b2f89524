#include "connector/http/token_bucket.h"

#include <algorithm>
#include <thread>

namespace siem::http {

void Clock::wait_for(std::unique_lock<std::mutex>& lock, std::condition_variable_any& cv, std::chrono::nanoseconds d,
                     std::stop_token stop) const {
  cv.wait_for(lock, stop, d, [] { return false; });
}

std::shared_ptr<Clock> Clock::steady() {
  struct Steady final : Clock {
    time_point now() const override { return std::chrono::steady_clock::now(); }
  };
  static const std::shared_ptr<Clock> clock = std::make_shared<Steady>();
  return clock;
}

Clock::time_point ManualClock::now() const {
  std::lock_guard lock(mu_);
  return now_;
}

void ManualClock::advance(std::chrono::nanoseconds d) {
  std::lock_guard lock(mu_);
  now_ += d;
}

void ManualClock::wait_for(std::unique_lock<std::mutex>&, std::condition_variable_any&, std::chrono::nanoseconds d,
                           std::stop_token) const {
  std::lock_guard lock(mu_);
  now_ += d;
}

TokenBucket::TokenBucket(RateLimit limit, std::shared_ptr<Clock> clock) : limit_(limit), clock_(std::move(clock)) {
  limit_.capacity = std::max(1, limit_.capacity);
  if (limit_.window <= std::chrono::nanoseconds::zero()) limit_.window = std::chrono::milliseconds(1);
  if (!clock_) clock_ = Clock::steady();
}

std::chrono::nanoseconds TokenBucket::wait_needed_locked(Clock::time_point now) {
  while (!grants_.empty() && grants_.front() + limit_.window <= now) grants_.pop_front();
  std::chrono::nanoseconds wait{0};
  if (now < paused_until_) wait = paused_until_ - now;
  if (grants_.size() >= static_cast<std::size_t>(limit_.capacity))
    wait = std::max<std::chrono::nanoseconds>(wait, grants_.front() + limit_.window - now);
  return wait;
}

bool TokenBucket::acquire(std::stop_token stop) {
  std::unique_lock lock(mu_);
  for (;;) {
    if (stop.stop_requested()) return false;
    auto now = clock_->now();
    auto wait = wait_needed_locked(now);
    if (wait <= std::chrono::nanoseconds::zero()) {
      grants_.push_back(now);
      return true;
    }
    clock_->wait_for(lock, cv_, wait, stop);
  }
}

bool TokenBucket::try_acquire() {
  std::lock_guard lock(mu_);
  auto now = clock_->now();
  if (wait_needed_locked(now) > std::chrono::nanoseconds::zero()) return false;
  grants_.push_back(now);
  return true;
}

void TokenBucket::pause_for(std::chrono::nanoseconds d) {
  std::lock_guard lock(mu_);
  paused_until_ = std::max(paused_until_, clock_->now() + d);
}

int TokenBucket::available() const {
  std::lock_guard lock(mu_);
  auto now = clock_->now();
  if (now < paused_until_) return 0;
  auto live = std::count_if(grants_.begin(), grants_.end(), [&](auto t) { return t + limit_.window > now; });
  return std::max(0, limit_.capacity - static_cast<int>(live));
}

TokenBucketRegistry& TokenBucketRegistry::instance() {
  static TokenBucketRegistry registry;
  return registry;
}

std::shared_ptr<TokenBucket> TokenBucketRegistry::get(const BucketKey& key, RateLimit limit, std::shared_ptr<Clock> clock) {
  std::lock_guard lock(mu_);
  auto& slot = buckets_[key];
  if (!slot) slot = std::make_shared<TokenBucket>(limit, std::move(clock));
  return slot;
}

void TokenBucketRegistry::clear() {
  std::lock_guard lock(mu_);
  buckets_.clear();
}

}  // namespace siem::http
