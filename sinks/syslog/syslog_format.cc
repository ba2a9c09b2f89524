#include "sinks/syslog/syslog_format.h"

#include "sinks/syslog/syslog_truncate.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cctype>
#include <cstring>
#include <ctime>
#include <vector>

namespace siem::syslog {

int severity_from_cef(int s) noexcept {
  if (s >= 9) return 2;
  if (s >= 7) return 3;
  if (s >= 4) return 4;
  if (s >= 1) return 5;
  return 6;
}

std::optional<int> facility_from_string(std::string_view name) noexcept {
  static constexpr std::array<std::string_view, 24> names = {
      "kern",  "user",     "mail",   "daemon", "auth",   "syslog", "lpr",    "news",
      "uucp",  "cron",     "authpriv", "ftp",  "ntp",    "audit",  "alert",  "clock",
      "local0", "local1",  "local2", "local3", "local4", "local5", "local6", "local7"};
  for (std::size_t i = 0; i < names.size(); ++i)
    if (names[i] == name) return static_cast<int>(i);
  int n = -1;
  auto [p, ec] = std::from_chars(name.data(), name.data() + name.size(), n);
  if (ec == std::errc() && p == name.data() + name.size() && n >= 0 && n <= 23) return n;
  return std::nullopt;
}

namespace {

std::tm utc_tm(std::int64_t time_ms) {
  std::time_t secs = static_cast<std::time_t>(time_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return tm;
}

// Up to the end of year 9999 the date is computed here (no gmtime_r: it takes glibc's time-zone
// lock, and snprintf costs more than the arithmetic); beyond, the gmtime_r/snprintf path writes
// what it always wrote.
constexpr std::int64_t kFastTimeLimitMs = 253'402'300'800'000;  // 10000-01-01T00:00:00Z

struct CivilTime {
  int year, month, day, hour, minute, second, millis;
};

CivilTime civil_utc(std::int64_t time_ms) {
  using namespace std::chrono;
  const sys_time<milliseconds> t{milliseconds{time_ms}};
  const auto day = floor<days>(t);
  const year_month_day ymd{day};
  const auto ms = (t - day).count();
  return {static_cast<int>(ymd.year()), static_cast<int>(static_cast<unsigned>(ymd.month())),
          static_cast<int>(static_cast<unsigned>(ymd.day())), static_cast<int>(ms / 3'600'000),
          static_cast<int>(ms / 60'000 % 60), static_cast<int>(ms / 1000 % 60), static_cast<int>(ms % 1000)};
}

// `width` decimal digits of v (0 <= v < 10^width), zero-padded.
char* put_digits(char* p, int v, int width) {
  for (int i = width - 1; i >= 0; --i, v /= 10) p[i] = static_cast<char>('0' + v % 10);
  return p + width;
}

// "hh:mm:ss", the time of day both header formats share.
char* put_hms(char* p, const CivilTime& c) {
  p = put_digits(p, c.hour, 2);
  *p++ = ':';
  p = put_digits(p, c.minute, 2);
  *p++ = ':';
  return put_digits(p, c.second, 2);
}

void append_rfc3339(std::string& out, std::int64_t time_ms) {
  if (time_ms <= 0) {
    out += '-';
    return;
  }
  char buf[40];
  std::size_t n;
  if (time_ms < kFastTimeLimitMs) {
    const CivilTime c = civil_utc(time_ms);
    char* p = put_digits(buf, c.year, 4);
    *p++ = '-';
    p = put_digits(p, c.month, 2);
    *p++ = '-';
    p = put_digits(p, c.day, 2);
    *p++ = 'T';
    p = put_hms(p, c);
    *p++ = '.';
    p = put_digits(p, c.millis, 3);
    *p++ = 'Z';
    n = static_cast<std::size_t>(p - buf);
  } else {
    std::tm tm = utc_tm(time_ms);
    n = static_cast<std::size_t>(std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                                               tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                                               tm.tm_min, tm.tm_sec, static_cast<int>(time_ms % 1000)));
  }
  out.append(buf, n);
}

constexpr std::array<const char*, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

void append_rfc3164(std::string& out, std::int64_t time_ms) {
  const std::int64_t t = time_ms > 0 ? time_ms : 0;
  char buf[32];
  std::size_t n;
  if (t < kFastTimeLimitMs) {
    const CivilTime c = civil_utc(t);
    char* p = buf;
    for (const char* m = kMonths[static_cast<std::size_t>(c.month - 1)]; *m; ++m) *p++ = *m;
    *p++ = ' ';
    *p++ = c.day < 10 ? ' ' : static_cast<char>('0' + c.day / 10);
    *p++ = static_cast<char>('0' + c.day % 10);
    *p++ = ' ';
    p = put_hms(p, c);
    n = static_cast<std::size_t>(p - buf);
  } else {
    std::tm tm = utc_tm(t);
    n = static_cast<std::size_t>(std::snprintf(buf, sizeof buf, "%s %2d %02d:%02d:%02d",
                                               kMonths[static_cast<std::size_t>(tm.tm_mon)], tm.tm_mday,
                                               tm.tm_hour, tm.tm_min, tm.tm_sec));
  }
  out.append(buf, n);
}

void append_sd_value(std::string& out, std::string_view v) {
  // Runs without a special character are appended whole (ids and names rarely have one).
  std::size_t from = 0;
  for (std::size_t i = 0; i < v.size(); ++i) {
    const char c = v[i];
    if (c != '"' && c != '\\' && c != ']') continue;
    out.append(v.data() + from, i - from);
    out += '\\';
    from = i;
  }
  out.append(v.data() + from, v.size() - from);
}

void append_header_field(std::string& out, std::string_view v, std::size_t max) {
  const std::size_t n = std::min(v.size(), max);
  if (n == 0) {
    out += '-';
    return;
  }
  const std::size_t at = out.size();
  out.append(v.data(), n);
  for (std::size_t i = at; i < out.size(); ++i) {
    const auto u = static_cast<unsigned char>(out[i]);
    if (u < 33 || u > 126) out[i] = '_';
  }
}

void append_uint(std::string& out, unsigned long long v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, static_cast<std::size_t>(r.ptr - buf));
}

// RFC 3164 §4.1.2 HOSTNAME: the name without its domain; an IPv4 or IPv6 address stays whole.
std::string_view rfc3164_hostname(std::string_view host) noexcept {
  if (host.find(':') == std::string_view::npos && host.find_first_not_of("0123456789.") != std::string_view::npos)
    return host.substr(0, host.find('.'));
  return host;
}

// The header's part between the timestamp and what depends on the event, the same for every
// message: 5424 " HOST APP - " (the nil PROCID), 3164 " HOST " and, with a tag, "TAG: ".
// format_message() and HeaderBuilder both write it here, so their headers cannot diverge.
void append_after_time(std::string& out, const FormatOptions& opt) {
  out += ' ';
  if (opt.rfc == Rfc::rfc5424) {
    append_header_field(out, opt.hostname, 255);
    out += ' ';
    append_header_field(out, opt.app_name, 48);
    out += " - ";
    return;
  }
  append_header_field(out, rfc3164_hostname(opt.hostname), 255);
  out += ' ';
  if (!opt.tag.empty()) {
    append_header_field(out, opt.tag, 32);
    out += ": ";
  }
}

// The message's header: PRI, the RFC 5424 or 3164 header, 5424 structured data and BOM.
void append_header(std::string& head, const MappedEvent& ev, const FormatOptions& opt) {
  const int pri = opt.facility * 8 + severity_from_cef(ev.severity);
  head += '<';
  append_uint(head, static_cast<unsigned long long>(pri));
  head += '>';
  if (opt.rfc == Rfc::rfc5424) {
    head += "1 ";
    append_rfc3339(head, ev.time_ms);
    append_after_time(head, opt);
    append_header_field(head, to_string(ev.kind), 32);
    head += ' ';
    const std::size_t sd_at = head.size();
    if (!opt.sd_id.empty()) {
      head += '[';
      head += opt.sd_id;
      head += " source=\"";
      append_sd_value(head, ev.source_name);
      head += "\" kind=\"";
      append_sd_value(head, to_string(ev.kind));
      head += "\" id=\"";
      append_sd_value(head, ev.id());
      head += '"';
      if (ev.tier >= 0) {
        head += " tier=\"";
        head += std::to_string(ev.tier);
        head += '"';
      }
      head += ']';
      // Structured data that does not fit in the message (with the space after it) is dropped.
      if (head.size() + 1 > opt.max_message_size) head.resize(sd_at);
    }
    if (head.size() == sd_at) head += '-';
    head += ' ';
    if (opt.bom) head += "\xEF\xBB\xBF";
  } else {
    append_rfc3164(head, ev.time_ms);
    append_after_time(head, opt);
  }
}

// LF framing: a CR or LF inside the message would end the frame early, so it becomes a space.
void blank_line_breaks(char* p, std::size_t n) noexcept {
  for (const char c : {'\n', '\r'}) {
    char* at = p;
    char* const end = p + n;
    while (at < end) {
      auto* hit = static_cast<char*>(std::memchr(at, c, static_cast<std::size_t>(end - at)));
      if (!hit) break;
      *hit = ' ';
      at = hit + 1;
    }
  }
}

}  // namespace

std::string rfc3339_utc(std::int64_t time_ms) {
  std::string out;
  append_rfc3339(out, time_ms);
  return out;
}

std::string rfc3164_time(std::int64_t time_ms) {
  std::string out;
  append_rfc3164(out, time_ms);
  return out;
}

std::string escape_sd_value(std::string_view v) {
  std::string out;
  out.reserve(v.size() + 4);
  append_sd_value(out, v);
  return out;
}

std::string header_field(std::string_view v, std::size_t max) {
  std::string out;
  append_header_field(out, v, max);
  return out;
}

Formatted format_message(const MappedEvent& ev, std::string_view body, const FormatOptions& opt) {
  Formatted f;
  append_header(f.message, ev, opt);
  const std::size_t budget = opt.max_message_size > f.message.size() ? opt.max_message_size - f.message.size() : 0;
  std::string shrunk;
  const std::string_view fitted = fit_body(body, budget, opt.body_is_cef, shrunk);
  const std::size_t cut = safe_cut(fitted, budget, opt.body_is_cef);
  f.truncated = fitted.size() < body.size() || cut < fitted.size();
  f.message.append(fitted.substr(0, cut));
  return f;
}

void append_framed(std::string& out, std::string_view message, Framing framing) {
  if (framing == Framing::octet_counting) {
    append_uint(out, message.size());
    out += ' ';
    out.append(message);
    return;
  }
  const std::size_t start = out.size();
  out.append(message);
  blank_line_breaks(out.data() + start, message.size());
  out += '\n';
}

HeaderBuilder::HeaderBuilder(FormatOptions opt) : opt_(std::move(opt)) {
  for (int sev = 0; sev < 7; ++sev) {
    std::string& p = pri_[sev];
    p += '<';
    append_uint(p, static_cast<unsigned long long>(opt_.facility * 8 + sev));
    p += '>';
    if (opt_.rfc == Rfc::rfc5424) p += "1 ";
  }
  append_after_time(after_time_, opt_);
  const std::size_t kinds = static_cast<std::size_t>(kLastSourceKind) + 1;
  msgid_.resize(kinds);
  sd_kind_.resize(kinds);
  for (std::size_t k = 0; k < kinds; ++k) {
    const std::string_view name = to_string(static_cast<SourceKind>(k));
    append_header_field(msgid_[k], name, 32);
    msgid_[k] += ' ';
    sd_kind_[k] = "\" kind=\"";
    append_sd_value(sd_kind_[k], name);
    sd_kind_[k] += "\" id=\"";
  }
  sd_open_ = '[' + opt_.sd_id + " source=\"";
}

void HeaderBuilder::append_time(std::int64_t time_ms) {
  if (time_ms <= 0 || time_ms >= kFastTimeLimitMs) {
    if (opt_.rfc == Rfc::rfc5424) append_rfc3339(head_, time_ms);
    else append_rfc3164(head_, time_ms);
    return;
  }
  constexpr std::int64_t kDayMs = 86'400'000;
  const std::int64_t day = time_ms / kDayMs;
  DayText& slot = days_[static_cast<std::size_t>(day) % kDays];
  if (slot.day != day) {  // a day not in its slot: its date, once (civil_utc: the calendar arithmetic)
    const CivilTime c = civil_utc(day * kDayMs);
    char* p = slot.text;
    if (opt_.rfc == Rfc::rfc5424) {
      p = put_digits(p, c.year, 4);
      *p++ = '-';
      p = put_digits(p, c.month, 2);
      *p++ = '-';
      p = put_digits(p, c.day, 2);
      *p++ = 'T';
    } else {
      for (const char* m = kMonths[static_cast<std::size_t>(c.month - 1)]; *m; ++m) *p++ = *m;
      *p++ = ' ';
      *p++ = c.day < 10 ? ' ' : static_cast<char>('0' + c.day / 10);
      *p++ = static_cast<char>('0' + c.day % 10);
      *p++ = ' ';
    }
    slot.day = day;
  }
  const std::size_t date = opt_.rfc == Rfc::rfc5424 ? 11 : 7;
  const int ms = static_cast<int>(time_ms % kDayMs);
  const int secs = ms / 1000, millis = ms % 1000;
  static constexpr char kPairs[] =  // "hh:mm:ss" two digits at a time, not a division per digit
      "0001020304050607080910111213141516171819202122232425262728293031323334353637383940414243444546474849"
      "5051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899";
  char buf[32];
  std::memcpy(buf, slot.text, date);
  char* p = buf + date;
  std::memcpy(p, kPairs + 2 * (secs / 3600), 2);
  p[2] = ':';
  std::memcpy(p + 3, kPairs + 2 * (secs / 60 % 60), 2);
  p[5] = ':';
  std::memcpy(p + 6, kPairs + 2 * (secs % 60), 2);
  p += 8;
  if (opt_.rfc == Rfc::rfc5424) {
    *p++ = '.';
    p = put_digits(p, millis, 3);
    *p++ = 'Z';
  }
  head_.append(buf, static_cast<std::size_t>(p - buf));
}

std::string_view HeaderBuilder::build(const MappedEvent& ev) {
  head_.clear();
  head_ += pri_[severity_from_cef(ev.severity)];
  append_time(ev.time_ms);
  head_ += after_time_;
  if (opt_.rfc == Rfc::rfc3164) return head_;
  const auto kind = static_cast<std::size_t>(ev.kind);
  const bool known = kind < msgid_.size();
  if (known) head_ += msgid_[kind];
  else {
    append_header_field(head_, to_string(ev.kind), 32);
    head_ += ' ';
  }
  const std::size_t sd_at = head_.size();
  if (!opt_.sd_id.empty()) {
    head_ += sd_open_;
    if (!source_cached_ || ev.source_name != last_source_) {
      last_source_ = ev.source_name;
      last_source_sd_.clear();
      append_sd_value(last_source_sd_, ev.source_name);
      source_cached_ = true;
    }
    head_ += last_source_sd_;
    if (known) head_ += sd_kind_[kind];
    else {
      head_ += "\" kind=\"";
      append_sd_value(head_, to_string(ev.kind));
      head_ += "\" id=\"";
    }
    // Ids rarely hold a character to escape: strcspn (vectorised) finds the first one, if any.
    // (MappedEvent's texts are each followed by a NUL byte: event_texts.h.)
    const std::string_view id = ev.id();
    const std::size_t plain = std::strcspn(id.data(), "\"\\]");
    if (plain >= id.size()) head_ += id;
    else append_sd_value(head_, id);
    head_ += '"';
    if (ev.tier >= 0) {
      head_ += " tier=\"";
      append_uint(head_, static_cast<unsigned long long>(ev.tier));
      head_ += '"';
    }
    head_ += ']';
    // Structured data that does not fit in the message (with the space after it) is dropped.
    if (head_.size() + 1 > opt_.max_message_size) head_.resize(sd_at);
  }
  if (head_.size() == sd_at) head_ += '-';
  head_ += ' ';
  if (opt_.bom) head_ += "\xEF\xBB\xBF";
  return head_;
}

namespace {

// append_message() and append_message_head(): `copy_body` false leaves a body that can be sent as
// it is out of `out` (returned instead).
MessageHead append_frame(std::string& out, HeaderBuilder& builder, const MappedEvent& ev, std::string_view body,
                         std::optional<Framing> framing, bool body_single_line, bool copy_body) {
  const FormatOptions& opt = builder.options();
  const std::string_view head = builder.build(ev);
  const std::size_t budget = opt.max_message_size > head.size() ? opt.max_message_size - head.size() : 0;
  static thread_local std::string shrunk;  // only an oversize CEF line is copied here
  const std::size_t original = body.size();
  body = fit_body(body, budget, opt.body_is_cef, shrunk);
  const bool shrunk_here = body.data() == shrunk.data();  // the scratch is reused by the next message
  const std::size_t cut = safe_cut(body, budget, opt.body_is_cef);
  MessageHead result{{}, cut < original};
  body = body.substr(0, cut);
  const std::size_t size = head.size() + body.size();
  if (framing == Framing::octet_counting) {
    append_uint(out, size);
    out += ' ';
  }
  const std::size_t start = out.size();
  out.append(head);
  const bool lf = framing == Framing::lf;
  if (copy_body || shrunk_here || (lf && !body_single_line)) {
    out.append(body);
  } else {
    result.body = body;
  }
  // The header can hold a line break (the source name and id in the structured data); a body the
  // encoder wrote cannot, and a cut or shrunk one is made of its bytes.
  if (lf) blank_line_breaks(out.data() + start, body_single_line ? head.size() : size);
  return result;
}

}  // namespace

bool append_message(std::string& out, HeaderBuilder& builder, const MappedEvent& ev, std::string_view body,
                    std::optional<Framing> framing, bool body_single_line) {
  const MessageHead m = append_frame(out, builder, ev, body, framing, body_single_line, true);
  if (framing == Framing::lf) out += '\n';
  return m.truncated;
}

MessageHead append_message_head(std::string& out, HeaderBuilder& builder, const MappedEvent& ev, std::string_view body,
                                std::optional<Framing> framing, bool body_single_line) {
  return append_frame(out, builder, ev, body, framing, body_single_line, false);
}

}  // namespace siem::syslog
