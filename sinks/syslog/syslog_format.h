// Syslog message construction (formats.md §4): PRI, RFC 5424 / RFC 3164 headers, structured data,
// truncation to max_message_size and RFC 6587 framing. Pure functions, no I/O.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "connector/core/event.h"

namespace siem::syslog {

enum class Rfc { rfc5424, rfc3164 };
enum class Framing { octet_counting, lf };

struct FormatOptions {
  Rfc rfc = Rfc::rfc5424;
  int facility = 20;                   // local4
  std::string hostname = "-";          // HOSTNAME (3164: the part before the first dot; an IP address whole)
  std::string app_name = "siem-connector";
  std::string tag = "siem-connector";  // 3164 TAG; empty: ArcSight form `<PRI>Mmm dd hh:mm:ss HOST CEF:...`
  std::string sd_id = "siem@32473";    // 5424 SD-ID (name@PEN); empty: no structured data (`-`)
  bool bom = false;                    // 5424: UTF-8 BOM before MSG
  std::size_t max_message_size = 8192; // whole syslog message (header + SD + MSG), framing excluded
  bool body_is_cef = true;             // never cut a CEF escape pair when truncating
};

// Severity from the CEF 0-10 scale (formats.md §4.1): 9-10 -> 2, 7-8 -> 3, 4-6 -> 4, 1-3 -> 5, 0 -> 6.
int severity_from_cef(int cef_severity) noexcept;
// Facility by name ("local4", "auth", ...) or number 0-23; nullopt when unknown.
std::optional<int> facility_from_string(std::string_view name) noexcept;

// "2026-03-04T10:15:31.002Z" (RFC 3339, UTC, millisecond fraction); "-" when time_ms <= 0.
std::string rfc3339_utc(std::int64_t time_ms);
// "Mar  4 10:15:31" (RFC 3164, space-padded day, UTC).
std::string rfc3164_time(std::int64_t time_ms);
// SD-PARAM value escaping: `"`, `\` and `]` get a backslash.
std::string escape_sd_value(std::string_view v);
// Header field: printable US-ASCII only (others become '_'), at most `max` bytes, "-" when empty.
std::string header_field(std::string_view v, std::size_t max);

// The largest cut position <= `limit` in `body` that is on a UTF-8 character boundary and, for
// CEF, not inside a backslash escape pair.
std::size_t safe_cut(std::string_view body, std::size_t limit, bool cef) noexcept;

struct Formatted {
  std::string message;   // the syslog message, unframed
  bool truncated = false;
};

// Builds the syslog message for one event with the given body (the CEF line or ECS JSON).
// Truncation rule: when header + body exceed max_message_size, the body (MSG) is shortened from
// its end to the cut point given by safe_cut(); the header and structured data are never cut
// (if they alone exceed the limit, the structured data is dropped to `-`).
Formatted format_message(const MappedEvent& ev, std::string_view body, const FormatOptions& opt);

// Appends `message` framed per RFC 6587: "LEN SP MSG" or MSG with CR/LF replaced by spaces + "\n".
void append_framed(std::string& out, std::string_view message, Framing framing);

// The sink's header writer: the same bytes as format_message()'s header (the reference), built with
// what does not change from one message to the next prepared once: the RFC 5424 part between the
// timestamp and the kind (hostname, app-name, the nil PROCID), the PRI per severity, each kind's
// MSGID and SD parameter, the last source name's SD value and the recent days' dates. One per sink
// thread (not thread-safe); the header it returns is valid until the next build().
class HeaderBuilder {
 public:
  explicit HeaderBuilder(FormatOptions opt);
  const FormatOptions& options() const noexcept { return opt_; }
  std::string_view build(const MappedEvent& ev);

 private:
  void append_time(std::int64_t time_ms);

  FormatOptions opt_;
  std::string head_;
  std::string after_time_;                 // 5424: " HOST APP - "; 3164: " HOST " [TAG ": "]
  std::string pri_[7];                     // "<PRI>" (+ "1 " for 5424) per syslog severity
  std::vector<std::string> msgid_;         // per kind: "MSGID "
  std::vector<std::string> sd_kind_;       // per kind: "\" kind=\"KIND\" id=\""
  std::string sd_open_;                    // "[SD-ID source=\""
  bool source_cached_ = false;
  std::string last_source_;                // the last source name
  std::string last_source_sd_;             // its escaped SD value
  // The dates of the last days seen, one slot per day modulo kDays: a batch's events may come from
  // a few days in any order (each day's date is then worked out once, not at every change of day).
  struct DayText {
    std::int64_t day = -1;  // the day whose date `text` holds (days since 1970)
    char text[16] = {};     // "YYYY-MM-DDT" (3164: "Mmm dd ")
  };
  static constexpr std::size_t kDays = 32;
  std::array<DayText, kDays> days_{};
};

// The sink's path: appends the message for one event to `out`, framed (nullopt: unframed, one UDP
// datagram), with the same bytes as append_framed(out, format_message(ev, body, opt).message, *framing)
// but without a string per message: the header is built by `head` (reused by the caller, holding the
// options) and the body is copied once, straight into `out`. Returns whether the body was truncated.
// `body_single_line`: the body holds no CR or LF byte (MappedEvent::single_line), so LF framing
// scans only the header for line breaks; the bytes are the same either way when that is true.
bool append_message(std::string& out, HeaderBuilder& head, const MappedEvent& ev, std::string_view body,
                    std::optional<Framing> framing, bool body_single_line = false);

// A gather write's part of the same message: append_message() with the body left out of `out`
// where it can be sent from where it is. Appends the frame up to the body (octet count, header) to
// `out` and returns the body to send next, a view into `body` (which must then outlive the write),
// or an empty view when the body had to be appended to `out` after all (a CEF line shortened to
// fit, or an LF-framed body not known to be single-line, whose line breaks are blanked). The frame
// is then `out`'s new bytes, the returned body and, for LF framing, the '\n' the caller appends.
struct MessageHead {
  std::string_view body;  // to send after what was appended to `out`
  bool truncated = false;
};
MessageHead append_message_head(std::string& out, HeaderBuilder& head, const MappedEvent& ev, std::string_view body,
                                std::optional<Framing> framing, bool body_single_line);

}  // namespace siem::syslog
