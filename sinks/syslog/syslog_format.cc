#include "sinks/syslog/syslog_format.h"

#include <array>
#include <charconv>
#include <ctime>

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
}  // namespace

std::string rfc3339_utc(std::int64_t time_ms) {
  if (time_ms <= 0) return "-";
  std::tm tm = utc_tm(time_ms);
  char buf[40];
  int n = std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                        tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(time_ms % 1000));
  return std::string(buf, static_cast<std::size_t>(n));
}

std::string rfc3164_time(std::int64_t time_ms) {
  static constexpr std::array<const char*, 12> months = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::tm tm = utc_tm(time_ms > 0 ? time_ms : 0);
  char buf[32];
  int n = std::snprintf(buf, sizeof buf, "%s %2d %02d:%02d:%02d", months[static_cast<std::size_t>(tm.tm_mon)],
                        tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return std::string(buf, static_cast<std::size_t>(n));
}

std::string escape_sd_value(std::string_view v) {
  std::string out;
  out.reserve(v.size() + 4);
  for (char c : v) {
    if (c == '"' || c == '\\' || c == ']') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

std::string header_field(std::string_view v, std::size_t max) {
  std::string out;
  for (char c : v) {
    if (out.size() >= max) break;
    auto u = static_cast<unsigned char>(c);
    out.push_back(u >= 33 && u <= 126 ? c : '_');
  }
  return out.empty() ? "-" : out;
}

std::size_t safe_cut(std::string_view body, std::size_t limit, bool cef) noexcept {
  if (limit >= body.size()) return body.size();
  std::size_t cut = limit;
  // Back off over UTF-8 continuation bytes so the cut lands on the start of a character.
  while (cut > 0 && (static_cast<unsigned char>(body[cut]) & 0xC0) == 0x80) --cut;
  if (cef) {
    // Count the backslashes right before the cut: an odd count means the last one opens an escape
    // pair whose second character would be cut off, so drop it too.
    std::size_t bs = 0;
    while (bs < cut && body[cut - 1 - bs] == '\\') ++bs;
    if (bs % 2 == 1) --cut;
  }
  return cut;
}

Formatted format_message(const MappedEvent& ev, std::string_view body, const FormatOptions& opt) {
  const int pri = opt.facility * 8 + severity_from_cef(ev.severity);
  std::string head = "<" + std::to_string(pri) + ">";
  if (opt.rfc == Rfc::rfc5424) {
    head += "1 ";
    head += rfc3339_utc(ev.time_ms);
    head += ' ';
    head += header_field(opt.hostname, 255);
    head += ' ';
    head += header_field(opt.app_name, 48);
    head += " - ";
    head += header_field(to_string(ev.kind), 32);
    head += ' ';
    std::string sd = "-";
    if (!opt.sd_id.empty()) {
      sd = "[" + opt.sd_id + " source=\"" + escape_sd_value(ev.source_name) + "\" kind=\"" +
           escape_sd_value(to_string(ev.kind)) + "\" id=\"" + escape_sd_value(ev.id) + "\"";
      if (ev.tier >= 0) sd += " tier=\"" + std::to_string(ev.tier) + "\"";
      sd += "]";
      if (head.size() + sd.size() + 1 > opt.max_message_size) sd = "-";
    }
    head += sd;
    head += ' ';
    if (opt.bom) head += "\xEF\xBB\xBF";
  } else {
    head += rfc3164_time(ev.time_ms);
    head += ' ';
    std::string_view host = opt.hostname;
    host = host.substr(0, host.find('.'));
    head += header_field(host, 255);
    head += ' ';
    if (!opt.tag.empty()) {
      head += header_field(opt.tag, 32);
      head += ": ";
    }
  }
  Formatted f;
  std::size_t budget = opt.max_message_size > head.size() ? opt.max_message_size - head.size() : 0;
  std::size_t cut = safe_cut(body, budget, opt.body_is_cef);
  f.truncated = cut < body.size();
  f.message = std::move(head);
  f.message.append(body.substr(0, cut));
  return f;
}

void append_framed(std::string& out, std::string_view message, Framing framing) {
  if (framing == Framing::octet_counting) {
    out += std::to_string(message.size());
    out += ' ';
    out.append(message);
    return;
  }
  std::size_t start = out.size();
  out.append(message);
  for (std::size_t i = start; i < out.size(); ++i)
    if (out[i] == '\n' || out[i] == '\r') out[i] = ' ';
  out += '\n';
}

}  // namespace siem::syslog
