#include "connector/http/retry_policy.h"

#include "connector/http/http_text.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <ctime>
#include <string>

namespace siem::http {
namespace {

using text::trim;

int month_index(std::string_view m) {
  static constexpr std::string_view names[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                               "jul", "aug", "sep", "oct", "nov", "dec"};
  std::string l;
  for (char c : m) l += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (int i = 0; i < 12; ++i)
    if (l == names[i]) return i;
  return -1;
}

// Parses the three HTTP-date forms of RFC 9110 §5.6.7 into epoch seconds.
std::optional<std::int64_t> parse_http_date(std::string_view s) {
  int day = 0, year = 0, hh = 0, mm = 0, ss = 0;
  char mon[4] = {};
  char wd[16] = {};
  std::string str(s);
  int month = -1;
  if (std::sscanf(str.c_str(), "%15[A-Za-z], %d %3s %d %d:%d:%d GMT", wd, &day, mon, &year, &hh, &mm, &ss) == 7) {
    month = month_index(mon);  // IMF-fixdate
  } else if (std::sscanf(str.c_str(), "%15[A-Za-z], %d-%3s-%d %d:%d:%d GMT", wd, &day, mon, &year, &hh, &mm, &ss) == 7) {
    month = month_index(mon);  // RFC 850
    if (year < 100) year += year < 70 ? 2000 : 1900;
  } else if (std::sscanf(str.c_str(), "%15[A-Za-z] %3s %d %d:%d:%d %d", wd, mon, &day, &hh, &mm, &ss, &year) == 7) {
    month = month_index(mon);  // asctime
  } else {
    return std::nullopt;
  }
  if (month < 0 || day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60 || year < 1970) return std::nullopt;
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month;
  tm.tm_mday = day;
  tm.tm_hour = hh;
  tm.tm_min = mm;
  tm.tm_sec = ss;
  return static_cast<std::int64_t>(timegm(&tm));
}

}  // namespace

std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value,
                                                           std::chrono::system_clock::time_point now) {
  value = trim(value);
  if (value.empty()) return std::nullopt;
  if (std::isdigit(static_cast<unsigned char>(value.front())) || value.front() == '.') {
    // delta-seconds, possibly fractional ("2.128").
    double seconds = 0;
    auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
    if (ec != std::errc() || ptr != value.data() + value.size() || !std::isfinite(seconds) || seconds < 0)
      return std::nullopt;
    seconds = std::min(seconds, 1e9);
    return std::chrono::milliseconds(static_cast<std::int64_t>(std::ceil(seconds * 1000.0)));
  }
  auto when = parse_http_date(value);
  if (!when) return std::nullopt;
  auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  auto diff = *when * 1000 - now_ms;
  return std::chrono::milliseconds(std::max<std::int64_t>(0, diff));
}

RetryDecision classify_status(int status) noexcept {
  if (status < 400) return RetryDecision::done;
  switch (status) {
    case 401: return RetryDecision::reauth;
    case 408:  // request timeout: the server gave up waiting for us, safe to resend
    case 429:
    case 500:
    case 502:
    case 503:
    case 504:
      return RetryDecision::retry;
    default:
      return RetryDecision::fail;
  }
}

RetryDecision classify_error(const Error& error) noexcept {
  return error.transient() ? RetryDecision::retry : RetryDecision::fail;
}

RetryPolicy::RetryPolicy(RetryOptions options, std::uint64_t seed) : options_(options), rng_(seed) {}

std::chrono::milliseconds RetryPolicy::backoff(int retry_number) {
  const auto base = std::max<std::int64_t>(1, options_.base.count());
  const auto cap = std::max<std::int64_t>(base, options_.cap.count());
  std::int64_t ceiling = base;
  for (int i = 0; i < retry_number && ceiling < cap; ++i) ceiling *= 2;
  ceiling = std::min(ceiling, cap);
  std::uniform_int_distribution<std::int64_t> dist(0, ceiling);
  return std::chrono::milliseconds(dist(rng_));
}

RetryPolicy::Outcome RetryPolicy::finish(RetryDecision d, std::optional<std::chrono::milliseconds> retry_after) {
  Outcome out;
  out.decision = d;
  if (d == RetryDecision::retry || d == RetryDecision::reauth) {
    if (options_.max_attempts > 0 && attempts_ >= options_.max_attempts) {
      out.decision = RetryDecision::fail;
      return out;
    }
    if (retry_after) {
      out.delay = std::min(*retry_after, options_.max_retry_after);
      out.from_retry_after = true;
    } else if (d == RetryDecision::retry) {
      out.delay = backoff(retries_);
    }
    if (d == RetryDecision::retry) ++retries_;
  }
  return out;
}

RetryPolicy::Outcome RetryPolicy::on_response(const Response& response, std::chrono::system_clock::time_point now) {
  ++attempts_;
  RetryDecision d = classify_status(response.status);
  if (d == RetryDecision::reauth) {
    if (reauthed_) d = RetryDecision::fail;  // a fresh token was refused too: permissions/config
    reauthed_ = true;
    return finish(d, std::nullopt);
  }
  if (d != RetryDecision::reauth) reauthed_ = false;
  std::optional<std::chrono::milliseconds> retry_after;
  if (d == RetryDecision::retry && (response.status == 429 || response.status >= 500)) {
    if (auto h = response.header("Retry-After")) retry_after = parse_retry_after(*h, now);
  }
  return finish(d, retry_after);
}

RetryPolicy::Outcome RetryPolicy::on_error(const Error& error) {
  ++attempts_;
  return finish(classify_error(error), std::nullopt);
}

}  // namespace siem::http
