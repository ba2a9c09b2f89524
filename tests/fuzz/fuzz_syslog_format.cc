// Fuzz target: syslog message construction and RFC 6587 framing (sinks/syslog/syslog_format) with
// arbitrary event fields, options and bodies (a CEF line built by the CEF encoder, or any text).
//
// Must hold for every input (a violation aborts, so libFuzzer saves the input as a crash):
//   - "<PRI>" with PRI = facility * 8 + severity, 0..191;
//   - RFC 5424: VERSION, TIMESTAMP, HOSTNAME, APP-NAME, PROCID, MSGID are single printable tokens;
//     the structured data is "-" or one well-formed SD-ELEMENT whose values unescape to the event's
//     source name, kind and id exactly;
//   - the message fits max_message_size unless the header alone does not (then the body is empty);
//     a cut body is a prefix of the body that never splits a UTF-8 character and, for CEF, never
//     ends inside a backslash escape pair; an uncut body is intact;
//   - octet-counting frames are "LEN SP MSG" with the exact length; LF frames hold exactly one LF,
//     at the end, and no CR.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <fuzzer/FuzzedDataProvider.h>

#include "connector/record/encoding.h"
#include "sinks/syslog/syslog_format.h"

namespace {

[[noreturn]] void violation(const char* what, std::string_view detail) {
  std::fprintf(stderr, "fuzz_syslog_format: %s\n%.*s\n", what, static_cast<int>(std::min<std::size_t>(detail.size(), 4096)),
               detail.data());
  std::abort();
}

bool printable_token(std::string_view t) {
  if (t.empty()) return false;
  for (char c : t)
    if (static_cast<unsigned char>(c) < 33 || static_cast<unsigned char>(c) > 126) return false;
  return true;
}

// Reads the next space-terminated token of `m` at `p`.
std::string_view token(std::string_view m, std::size_t& p) {
  const std::size_t sp = m.find(' ', p);
  if (sp == std::string_view::npos) violation("header ends early", m);
  std::string_view t = m.substr(p, sp - p);
  p = sp + 1;
  return t;
}

// Parses one SD-ELEMENT at m[p] ('[' ... ']'), returning name=value pairs (values unescaped).
std::vector<std::pair<std::string, std::string>> parse_sd(std::string_view m, std::size_t& p, std::string_view sd_id) {
  std::vector<std::pair<std::string, std::string>> params;
  std::string sd_open(1, '[');  // appended, not '[' + id: GCC 12 -O3 reports a false -Wrestrict on that
  sd_open += sd_id;
  if (m.substr(p, sd_open.size()) != sd_open) violation("SD-ID differs", m);
  p += 1 + sd_id.size();
  while (p < m.size() && m[p] == ' ') {
    ++p;
    const std::size_t eq = m.find('=', p);
    if (eq == std::string_view::npos || eq + 1 >= m.size() || m[eq + 1] != '"') violation("SD-PARAM without =\"", m);
    std::string name(m.substr(p, eq - p));
    if (!printable_token(name)) violation("SD-PARAM name not printable", m);
    std::string value;
    std::size_t v = eq + 2;
    for (;; ++v) {
      if (v >= m.size()) violation("SD-PARAM value not closed", m);
      if (m[v] == '\\' && v + 1 < m.size() && (m[v + 1] == '"' || m[v + 1] == '\\' || m[v + 1] == ']')) {
        value += m[++v];
        continue;
      }
      if (m[v] == '"') break;
      if (m[v] == ']' || m[v] == '\\') violation("unescaped ] or \\ in an SD-PARAM value", m);
      value += m[v];
    }
    params.emplace_back(std::move(name), std::move(value));
    p = v + 1;
  }
  if (p >= m.size() || m[p] != ']') violation("SD-ELEMENT not closed", m);
  ++p;
  return params;
}

// A cut at 0 is always allowed (a body may start with a stray continuation byte).
bool on_character_boundary(std::string_view body, std::size_t cut) {
  return cut == 0 || cut == body.size() || (static_cast<unsigned char>(body[cut]) & 0xC0) != 0x80;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  siem::MappedEvent ev;
  ev.severity = in.ConsumeIntegralInRange(0, 10);
  ev.tier = in.ConsumeIntegralInRange(-1, 2);
  const auto& kinds = siem::all_source_kinds();
  ev.kind = in.ConsumeBool() ? siem::SourceKind::unknown : kinds[in.ConsumeIntegralInRange<std::size_t>(0, kinds.size() - 1)];
  ev.time_ms = in.ConsumeBool() ? in.ConsumeIntegral<std::int64_t>() : in.ConsumeIntegralInRange<std::int64_t>(0, 253402300799999);
  ev.source_name = in.ConsumeRandomLengthString(64);
  ev.set_id(in.ConsumeRandomLengthString(128));

  siem::syslog::FormatOptions opt;
  opt.rfc = in.ConsumeBool() ? siem::syslog::Rfc::rfc5424 : siem::syslog::Rfc::rfc3164;
  opt.facility = in.ConsumeIntegralInRange(0, 23);
  opt.hostname = in.ConsumeRandomLengthString(300);
  opt.app_name = in.ConsumeRandomLengthString(64);
  opt.tag = in.ConsumeRandomLengthString(40);
  opt.sd_id = in.ConsumeBool() ? "" : in.ConsumeBool() ? "siem@32473" : "origin";
  opt.bom = in.ConsumeBool();
  opt.max_message_size = in.ConsumeIntegralInRange<std::size_t>(0, 4096);
  opt.body_is_cef = in.ConsumeBool();
  const auto framing = in.ConsumeBool() ? siem::syslog::Framing::octet_counting : siem::syslog::Framing::lf;

  std::string body;
  if (opt.body_is_cef) {
    body = "CEF:0|Microsoft|Entra ID|1.0|";
    siem::encoding::append_cef_header(body, in.ConsumeRandomLengthString(64));
    body += "|name|5|msg=";
    siem::encoding::append_cef_extension_value(body, in.ConsumeRandomLengthString(1024));
    body += " suser=";
    siem::encoding::append_cef_extension_value(body, in.ConsumeRemainingBytesAsString());
  } else {
    body = in.ConsumeRemainingBytesAsString();
  }

  const auto f = siem::syslog::format_message(ev, body, opt);
  const std::string& m = f.message;

  // PRI
  const int pri = opt.facility * 8 + siem::syslog::severity_from_cef(ev.severity);
  const std::string pri_text = "<" + std::to_string(pri) + ">";
  if (m.compare(0, pri_text.size(), pri_text) != 0 || pri < 0 || pri > 191) violation("wrong PRI", m);

  std::size_t p = pri_text.size();
  if (opt.rfc == siem::syslog::Rfc::rfc5424) {
    if (token(m, p) != "1") violation("VERSION is not 1", m);
    for (const char* field : {"TIMESTAMP", "HOSTNAME", "APP-NAME", "PROCID", "MSGID"})
      if (!printable_token(token(m, p))) violation((std::string(field) + " is not a printable token").c_str(), m);
    if (m.compare(p, 1, "-") == 0) {
      ++p;
    } else {
      if (opt.sd_id.empty()) violation("structured data without an SD-ID configured", m);
      const auto params = parse_sd(m, p, opt.sd_id);
      auto get = [&](std::string_view k) -> const std::string* {
        for (const auto& [n, v] : params)
          if (n == k) return &v;
        return nullptr;
      };
      const std::string* source = get("source");
      const std::string* id = get("id");
      const std::string* kind = get("kind");
      if (!source || *source != ev.source_name) violation("SD source does not round-trip", m);
      if (!id || *id != ev.id()) violation("SD id does not round-trip", m);
      if (!kind || *kind != siem::to_string(ev.kind)) violation("SD kind does not round-trip", m);
    }
    if (m.compare(p, 1, " ") != 0) violation("no space after the structured data", m);
    ++p;
    if (opt.bom) {
      if (m.compare(p, 3, "\xEF\xBB\xBF") != 0) violation("BOM missing", m);
      p += 3;
    }
  } else {
    // TIMESTAMP "Mmm dd hh:mm:ss" is 15 bytes; then HOSTNAME, then the TAG when configured.
    if (m.size() < p + 16 || m[p + 15] != ' ') violation("RFC 3164 timestamp malformed", m);
    p += 16;
    if (!printable_token(token(m, p))) violation("HOSTNAME is not a printable token", m);
    if (!opt.tag.empty()) {
      const std::string_view tag = token(m, p);
      if (tag.size() < 2 || tag.back() != ':' || !printable_token(tag)) violation("TAG malformed", m);
    }
  }

  // Body and truncation.
  const std::string_view got_body = std::string_view(m).substr(p);
  if (!opt.body_is_cef) {
    if (body.compare(0, got_body.size(), got_body) != 0) violation("MSG is not a prefix of the body", m);
  } else {
    // An oversize CEF line loses bytes from its largest values (formats.md §4.6): what arrives is
    // the body with bytes left out, never a byte of its own.
    std::size_t b = 0;
    for (const char c : got_body) {
      while (b < body.size() && body[b] != c) ++b;
      if (b == body.size()) {
        violation("MSG holds bytes that are not the body's, in order", m);
        break;
      }
      ++b;
    }
  }
  if (f.truncated != (got_body.size() < body.size())) violation("truncated flag is wrong", m);
  if (!f.truncated && got_body.size() != body.size()) violation("body lost without truncation", m);
  if (m.size() > opt.max_message_size && !got_body.empty()) violation("message exceeds max_message_size", m);
  if (f.truncated) {
    if (!opt.body_is_cef && !on_character_boundary(body, got_body.size())) violation("cut inside a UTF-8 character", m);
    if (opt.body_is_cef) {
      std::size_t bs = 0;
      while (bs < got_body.size() && got_body[got_body.size() - 1 - bs] == '\\') ++bs;
      if (bs % 2 == 1) violation("cut inside a CEF escape pair", m);
    }
  }

  // Framing.
  std::string framed = "prefix";
  siem::syslog::append_framed(framed, m, framing);
  const std::string_view fr = std::string_view(framed).substr(6);
  if (framing == siem::syslog::Framing::octet_counting) {
    const std::string len = std::to_string(m.size()) + " ";
    if (fr.substr(0, len.size()) != len || fr.substr(len.size()) != m) violation("octet-counting frame malformed", fr);
  } else {
    if (fr.empty() || fr.back() != '\n' || fr.find('\n') != fr.size() - 1 || fr.find('\r') != std::string_view::npos ||
        fr.size() != m.size() + 1)
      violation("LF frame malformed", fr);
  }
  // The sink's single-copy path writes the same bytes, framed and unframed (UDP).
  // The header comes from the sink's HeaderBuilder, used twice (its cached day, source and kind).
  std::string direct = "prefix";
  siem::syslog::HeaderBuilder head(opt);
  if (siem::syslog::append_message(direct, head, ev, body, framing) != f.truncated || direct != framed)
    violation("append_message differs from format_message + append_framed", direct);
  // A body with no CR or LF (what an encoder writes) may be marked so: only the header is then
  // scanned for line breaks, with the same bytes.
  if (body.find_first_of("\r\n") == std::string_view::npos) {
    direct = "prefix";
    if (siem::syslog::append_message(direct, head, ev, body, framing, true) != f.truncated || direct != framed)
      violation("append_message of a single-line body differs from format_message + append_framed", direct);
  }
  // The gather write's pieces (the head, the body where it is, the LF) make the same frame.
  for (const bool single_line : {false, body.find_first_of("\r\n") == std::string::npos}) {
    direct = "prefix";
    const auto piece = siem::syslog::append_message_head(direct, head, ev, body, framing, single_line);
    direct.append(piece.body);
    if (framing == siem::syslog::Framing::lf) direct += '\n';
    if (piece.truncated != f.truncated || direct != framed)
      violation("append_message_head + body differs from format_message + append_framed", direct);
  }
  direct = "prefix";
  siem::syslog::append_message(direct, head, ev, body, std::nullopt);
  if (std::string_view(direct).substr(6) != m) violation("unframed append_message differs from format_message", direct);
  return 0;
}
