#include "connector/record/time_parse.h"

#include <cctype>
#include <charconv>
#include <chrono>

#include <fmt/format.h>

namespace siem {

namespace {

// Days since 1970-01-01 of a civil date; a day past the month's end rolls into the next month.
std::int64_t days_since_epoch(int y, int m, int d) {
  using namespace std::chrono;
  return (sys_days{year{y} / month{static_cast<unsigned>(m)} / 1} + days{d - 1}).time_since_epoch().count();
}

struct Cursor {
  std::string_view s;
  std::size_t i = 0;
  bool digits(int min, int max, int& out) {
    int n = 0;
    out = 0;
    while (i < s.size() && n < max && std::isdigit(static_cast<unsigned char>(s[i]))) {
      out = out * 10 + (s[i] - '0');
      ++i;
      ++n;
    }
    return n >= min;
  }
  bool eat(char c) {
    if (i < s.size() && s[i] == c) {
      ++i;
      return true;
    }
    return false;
  }
  bool done() const { return i >= s.size(); }
};

std::optional<std::int64_t> assemble(int Y, int M, int D, int h, int mi, int se, std::int64_t ms, std::int64_t offset_min) {
  if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || mi > 59 || se > 60) return std::nullopt;
  const std::int64_t days = days_since_epoch(Y, M, D);
  return (days * 86400 + h * 3600 + mi * 60 + se - offset_min * 60) * 1000 + ms;
}

// Fraction digits after '.', any count, kept to `Keep` digits (3: milliseconds, 6: microseconds).
template <int Keep>
std::int64_t fraction(Cursor& c) {
  std::int64_t v = 0;
  int n = 0;
  while (!c.done() && std::isdigit(static_cast<unsigned char>(c.s[c.i]))) {
    if (n < Keep) v = v * 10 + (c.s[c.i] - '0');
    ++n;
    ++c.i;
  }
  for (int k = n; k < Keep; ++k) v *= 10;
  return v;
}

std::optional<std::int64_t> zone_minutes(Cursor& c) {
  if (c.done()) return 0;  // no zone: UTC (what Azure means when it omits it)
  if (c.eat('Z') || c.eat('z')) return c.done() ? std::optional<std::int64_t>(0) : std::nullopt;
  const char sign = c.s[c.i];
  if (sign != '+' && sign != '-') return std::nullopt;
  ++c.i;
  int oh = 0, om = 0;
  if (!c.digits(2, 2, oh)) return std::nullopt;
  c.eat(':');
  if (!c.done() && !c.digits(2, 2, om)) return std::nullopt;
  if (!c.done()) return std::nullopt;
  return (oh * 60 + om) * (sign == '-' ? -1 : 1);
}

}  // namespace

std::optional<std::int64_t> parse_rfc3339_us(std::string_view text, const Rfc3339Rules& rules) {
  Cursor c{text};
  int Y = 0, M = 0, D = 0, h = 0, mi = 0, se = 0;
  if (!c.digits(4, 4, Y) || !c.eat('-') || !c.digits(2, 2, M) || !c.eat('-') || !c.digits(2, 2, D)) return std::nullopt;
  if (Y < rules.min_year) return std::nullopt;
  if (!(c.eat('T') || c.eat('t') || c.eat(' '))) return std::nullopt;
  if (!c.digits(2, 2, h) || !c.eat(':') || !c.digits(2, 2, mi) || !c.eat(':') || !c.digits(2, 2, se))
    return std::nullopt;
  std::int64_t us = 0;
  if (c.eat('.')) {
    if (c.done() || !std::isdigit(static_cast<unsigned char>(c.s[c.i]))) return std::nullopt;  // a digit at least
    us = fraction<6>(c);
  }
  std::int64_t offset_min = 0;
  if (c.done() && rules.zone_optional) {
    // no zone: UTC
  } else if (!(c.eat('Z') || c.eat('z'))) {
    if (c.done() || (c.s[c.i] != '+' && c.s[c.i] != '-')) return std::nullopt;  // the zone is required
    const bool west = c.s[c.i] == '-';
    ++c.i;
    int oh = 0, om = 0;
    if (!c.digits(2, 2, oh) || !c.eat(':') || !c.digits(2, 2, om)) return std::nullopt;
    offset_min = (oh * 60 + om) * (west ? -1 : 1);
  }
  if (!c.done()) return std::nullopt;
  const auto whole_ms = assemble(Y, M, D, h, mi, se, 0, offset_min);  // whole seconds, in ms
  if (!whole_ms) return std::nullopt;
  return *whole_ms * 1000 + us;
}

std::optional<std::int64_t> parse_rfc3339_ms(std::string_view text) {
  const auto us = parse_rfc3339_us(text);
  if (!us) return std::nullopt;
  // Floor, not truncation: the fraction's first three digits, also before 1970.
  return *us >= 0 ? *us / 1000 : -((-*us + 999) / 1000);
}

namespace {

// unsigned, not bool: the fourteen digits below are and-ed bitwise (one branch for all).
inline unsigned is_digit(char c) { return static_cast<unsigned>(c - '0') <= 9u; }
inline int two_digits(const char* p) { return (p[0] - '0') * 10 + (p[1] - '0'); }

// The forms nearly every record's time has, YYYY-MM-DDThh:mm:ss[.fraction] and then Z or +hh:mm /
// -hh:mm, read at their fixed positions. false: not exactly one of those (then the general reader
// decides, and gives the same result for these forms: the year-1900 floor, the fraction kept to
// milliseconds, the range checks of assemble()).
bool parse_canonical(std::string_view t, std::optional<std::int64_t>& result) {
  if (t.size() < 20 || t.size() > 64 || t[4] != '-' || t[7] != '-' || t[10] != 'T' || t[13] != ':' || t[16] != ':')
    return false;
  const char* p = t.data();
  // Bitwise, not short-circuit: one branch for the fourteen digits.
  const unsigned digits = is_digit(p[0]) & is_digit(p[1]) & is_digit(p[2]) & is_digit(p[3]) & is_digit(p[5]) &
                      is_digit(p[6]) & is_digit(p[8]) & is_digit(p[9]) & is_digit(p[11]) & is_digit(p[12]) &
                      is_digit(p[14]) & is_digit(p[15]) & is_digit(p[17]) & is_digit(p[18]);
  if (!digits) return false;
  std::size_t end = t.size();
  std::int64_t offset_min = 0;
  if (t.back() == 'Z') {
    end -= 1;
  } else if (end >= 25 && (p[end - 6] == '+' || p[end - 6] == '-') && p[end - 3] == ':' && is_digit(p[end - 5]) &&
             is_digit(p[end - 4]) && is_digit(p[end - 2]) && is_digit(p[end - 1])) {
    offset_min = (two_digits(p + end - 5) * 60 + two_digits(p + end - 2)) * (p[end - 6] == '-' ? -1 : 1);
    end -= 6;
  } else {
    return false;
  }
  std::int64_t ms = 0;
  if (end > 19) {
    if (p[19] != '.') return false;
    int n = 0;
    for (std::size_t i = 20; i < end; ++i, ++n) {
      if (!is_digit(p[i])) return false;
      if (n < 3) ms = ms * 10 + (p[i] - '0');
    }
    for (; n < 3; ++n) ms *= 10;
  }
  const int year = two_digits(p) * 100 + two_digits(p + 2);
  if (year < 1900) {
    result = std::nullopt;
    return true;
  }
  result = assemble(year, two_digits(p + 5), two_digits(p + 8), two_digits(p + 11), two_digits(p + 14),
                    two_digits(p + 17), ms, offset_min);
  return true;
}

}  // namespace

std::optional<std::int64_t> parse_time_ms(std::string_view text) {
  // (A digit or 'Z' is no space in any locale: the common first and last bytes skip isspace.)
  while (!text.empty() && !is_digit(text.front()) && std::isspace(static_cast<unsigned char>(text.front())))
    text.remove_prefix(1);
  while (!text.empty() && !is_digit(text.back()) && text.back() != 'Z' &&
         std::isspace(static_cast<unsigned char>(text.back())))
    text.remove_suffix(1);
  if (text.empty()) return std::nullopt;
  if (std::optional<std::int64_t> result; parse_canonical(text, result)) return result;
  Cursor c{text};
  int a = 0;
  if (!c.digits(1, 4, a)) return std::nullopt;
  if (c.i == 4 && c.eat('-')) {  // ISO: YYYY-MM-DD[T ]hh:mm[:ss[.f]][zone]
    // A year before 1900 is no event's time: Graph writes 0001-01-01T00:00:00Z for "no date".
    if (a < 1900) return std::nullopt;
    int M = 0, D = 0, h = 0, mi = 0, se = 0;
    if (!c.digits(2, 2, M) || !c.eat('-') || !c.digits(2, 2, D)) return std::nullopt;
    if (c.done()) return assemble(a, M, D, 0, 0, 0, 0, 0);
    if (!(c.eat('T') || c.eat('t') || c.eat(' '))) return std::nullopt;
    if (!c.digits(2, 2, h) || !c.eat(':') || !c.digits(2, 2, mi)) return std::nullopt;
    std::int64_t ms = 0;
    if (c.eat(':')) {
      if (!c.digits(2, 2, se)) return std::nullopt;
      if (c.eat('.') || c.eat(',')) ms = fraction<3>(c);
    }
    c.eat(' ');
    auto z = zone_minutes(c);
    if (!z) return std::nullopt;
    return assemble(a, M, D, h, mi, se, ms, *z);
  }
  if (c.eat('/')) {  // US: M/D/YYYY h:mm:ss [AM|PM]
    int D = 0, Y = 0, h = 0, mi = 0, se = 0;
    if (!c.digits(1, 2, D) || !c.eat('/') || !c.digits(4, 4, Y) || Y < 1900) return std::nullopt;
    std::int64_t ms = 0;
    if (c.eat(' ')) {
      if (!c.digits(1, 2, h) || !c.eat(':') || !c.digits(2, 2, mi)) return std::nullopt;
      if (c.eat(':') && !c.digits(2, 2, se)) return std::nullopt;
      if (c.eat('.')) ms = fraction<3>(c);
      c.eat(' ');
      if (!c.done()) {
        std::string_view rest = c.s.substr(c.i, 2);
        const bool pm = rest == "PM" || rest == "pm";
        const bool am = rest == "AM" || rest == "am";
        if (!pm && !am) return std::nullopt;
        if (h < 1 || h > 12) return std::nullopt;
        if (am && h == 12) h = 0;
        if (pm && h != 12) h += 12;
        c.i += 2;
        c.eat(' ');
      }
    }
    auto z = zone_minutes(c);
    if (!z) return std::nullopt;
    return assemble(Y, a, D, h, mi, se, ms, *z);
  }
  // Epoch number: seconds (10 digits) or milliseconds (13 digits).
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size()) return std::nullopt;
  return v > 100'000'000'000 ? v : v * 1000;
}

std::string format_time_ms(std::int64_t epoch_ms) {
  std::string out;
  format_time_ms(epoch_ms, out);
  return out;
}

void format_time_ms(std::int64_t epoch_ms, std::string& out) {
  std::int64_t secs = epoch_ms / 1000;
  std::int64_t ms = epoch_ms % 1000;
  if (ms < 0) {
    ms += 1000;
    --secs;
  }
  std::int64_t days = secs / 86400;
  std::int64_t rem = secs % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  // civil_from_days
  days += 719468;
  const std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const auto doe = static_cast<unsigned>(days - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  const std::int64_t year = y + (m <= 2);
  if (year < 0 || year > 9999) {
    out = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", year, m, d, rem / 3600, rem / 60 % 60, rem % 60, ms);
    return;
  }
  // The common case without the formatting machinery (this runs for every event).
  char buf[25] = "0000-00-00T00:00:00.000Z";
  // Two digits at a time from a table (every value here is below 100 once split).
  static constexpr char kPairs[] =
      "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
      "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
      "8081828384858687888990919293949596979899";
  auto put2 = [&buf](std::size_t at, std::int64_t v) {
    buf[at] = kPairs[2 * v];
    buf[at + 1] = kPairs[2 * v + 1];
  };
  put2(0, year / 100);
  put2(2, year % 100);
  put2(5, m);
  put2(8, d);
  put2(11, rem / 3600);
  put2(14, rem / 60 % 60);
  put2(17, rem % 60);
  buf[20] = static_cast<char>('0' + ms / 100);
  put2(21, ms % 100);
  out.assign(buf, 24);
}

std::optional<std::int64_t> parse_iso_duration_ms(std::string_view s) {
  if (s.empty() || (s[0] != 'P' && s[0] != 'p')) return std::nullopt;
  double total = 0;
  bool in_time = false;
  bool any = false;
  std::size_t i = 1;
  while (i < s.size()) {
    if (s[i] == 'T' || s[i] == 't') {
      in_time = true;
      ++i;
      continue;
    }
    double v = 0;
    auto [p, ec] = std::from_chars(s.data() + i, s.data() + s.size(), v);
    if (ec != std::errc() || p == s.data() + s.size()) return std::nullopt;
    const char unit = static_cast<char>(std::toupper(static_cast<unsigned char>(*p)));
    double f = 0;
    if (!in_time && unit == 'D') f = 86'400'000;
    else if (!in_time && unit == 'W') f = 7 * 86'400'000.0;
    else if (in_time && unit == 'H') f = 3'600'000;
    else if (in_time && unit == 'M') f = 60'000;
    else if (in_time && unit == 'S') f = 1'000;
    else return std::nullopt;
    total += v * f;
    any = true;
    i = static_cast<std::size_t>(p - s.data()) + 1;
  }
  if (!any) return std::nullopt;
  return static_cast<std::int64_t>(total);
}

}  // namespace siem
