#include "connector/sources/graph/graph_get.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include <condition_variable>
#include <mutex>

namespace siem::sources {

std::string redact_url(const std::string& url) { return http::printable(url.substr(0, url.find('?'))); }

std::string service_error_code(std::string_view body) {
  constexpr std::size_t kMaxBody = 64 * 1024;  // an error answer is small; a larger one is not parsed
  constexpr std::size_t kMaxCode = 64;
  if (body.size() > kMaxBody) return {};
  const auto j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_object()) return {};
  const auto e = j.find("error");
  if (e == j.end() || !e->is_object()) return {};
  const auto c = e->find("code");
  if (c == e->end() || !c->is_string()) return {};
  const auto& code = c->get_ref<const std::string&>();
  const bool plain = !code.empty() && code.size() <= kMaxCode &&
                     std::all_of(code.begin(), code.end(), [](unsigned char ch) {
                       return std::isalnum(ch) != 0 || ch == '_' || ch == '.' || ch == '-';
                     });
  return plain ? code : std::string();
}

void sleep_for(std::chrono::milliseconds d, std::stop_token stop) {
  std::mutex m;
  std::condition_variable_any cv;
  std::unique_lock lock(m);
  cv.wait_for(lock, stop, d, [] { return false; });
}

GraphGetter::GraphGetter(std::shared_ptr<http::Client> client, std::shared_ptr<auth::TokenProvider> tokens,
                         GraphGetOptions options, SourceProgress* progress)
    : client_(std::move(client)), tokens_(std::move(tokens)), options_(std::move(options)), progress_(progress) {}

std::optional<http::Response> GraphGetter::get(const GraphTarget& target, const std::string& url, std::stop_token stop) {
  using Kind = GraphGetError::Kind;
  http::RetryPolicy policy(options_.retry);
  for (;;) {
    if (!target.bucket->acquire(stop)) return std::nullopt;
    std::string token;
    try {
      token = tokens_->token(target.resource, stop);
    } catch (const auth::AuthError& e) {
      if (stop.stop_requested()) return std::nullopt;  // a retry wait ended by the shutdown
      if (e.permanent()) throw GraphGetError(Kind::permanent, std::string("cannot get an access token: ") + e.what());
      throw GraphGetError(Kind::exhausted, std::string("token request failed: ") + e.what());
    }
    http::Request req;
    req.url = url;
    req.pin = target.pin;  // nextLinks are followed only to the configured Graph/ARM origin
    req.headers = {{"Authorization", "Bearer " + token}, {"Accept", "application/json"}};
    if (target.low_priority) req.headers.emplace_back("x-ms-throttle-priority", "low");
    http::RetryPolicy::Outcome out;
    http::Response res;
    try {
      res = client_->send(req);
      requests_.fetch_add(1, std::memory_order_relaxed);
      out = policy.on_response(res);
    } catch (const http::Error& e) {
      using ErrorKind = http::Error::Kind;
      // The client refuses a URL or header before sending anything; anything else was sent.
      if (e.kind() != ErrorKind::origin && e.kind() != ErrorKind::url && e.kind() != ErrorKind::header)
        requests_.fetch_add(1, std::memory_order_relaxed);
      // A URL, header or page the server handed us that cannot be used: not worth a retry.
      if (e.kind() == ErrorKind::origin || e.kind() == ErrorKind::url || e.kind() == ErrorKind::header ||
          e.kind() == ErrorKind::too_large)
        throw GraphGetError(Kind::unusable, e.what());
      out = policy.on_error(e);
      if (out.decision == http::RetryDecision::fail) {
        if (!e.transient()) throw GraphGetError(Kind::permanent, "cannot reach " + redact_url(url) + ": " + e.what());
        throw GraphGetError(Kind::exhausted, "request to " + redact_url(url) + " failed: " + e.what());
      }
      spdlog::warn("{}: {} (retrying in {} ms)", options_.log_name, e.what(), out.delay.count());
      if (progress_) progress_->backing_off.store(true, std::memory_order_relaxed);
      sleep_for(out.delay, stop);
      if (stop.stop_requested()) return std::nullopt;
      continue;
    }
    switch (out.decision) {
      case http::RetryDecision::done:
        if (progress_) progress_->backing_off.store(false, std::memory_order_relaxed);
        return res;
      case http::RetryDecision::reauth:
        tokens_->invalidate(target.resource);
        continue;
      case http::RetryDecision::retry:
        if (progress_ && res.status == 429) progress_->throttled.fetch_add(1, std::memory_order_relaxed);
        if (out.from_retry_after) {
          target.bucket->pause_for(out.delay);
          if (progress_)
            progress_->retry_after_ms.fetch_add(static_cast<std::uint64_t>(out.delay.count()), std::memory_order_relaxed);
        }
        spdlog::warn("{}: HTTP {} from {} (retrying in {} ms{})", options_.log_name, res.status, redact_url(url),
                     out.delay.count(), out.from_retry_after ? ", Retry-After" : "");
        // Throttling (429) is reading at the allowed rate, not an outage: only errors count.
        if (progress_ && res.status != 429) progress_->backing_off.store(true, std::memory_order_relaxed);
        sleep_for(out.delay, stop);
        if (stop.stop_requested()) return std::nullopt;
        continue;
      case http::RetryDecision::fail:
        if (res.status >= 500 || res.status == 429)
          throw GraphGetError(Kind::exhausted, "HTTP " + std::to_string(res.status) + " from " + redact_url(url) + " after " +
                                                   std::to_string(policy.attempts()) + " attempts");
        throw GraphGetError(Kind::permanent, "HTTP " + std::to_string(res.status) + " from " + redact_url(url) + ": " +
                                                 http::printable(res.body, 400),
                             res.status, service_error_code(res.body));
    }
  }
}

}  // namespace siem::sources
