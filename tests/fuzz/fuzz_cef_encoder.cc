// Fuzz target: arbitrary strings as CEF header fields and extension values -> the CEF encoder
// (connector/record/encoding, laid out exactly as the mapper writes a line, labels included) ->
// the strict CEF parser. Also the JSON string encoder -> a strict JSON parser.
//
// Must hold for every input (a violation aborts, so libFuzzer saves the input as a crash):
//   - the line is one line (no raw CR or LF) and parses under parse_cef_strict;
//   - no value can inject a header field or an extension key: the parser finds exactly the fields
//     and keys written, in order;
//   - values round-trip exactly, up to the documented substitutions: in header fields every
//     control character (CR and LF included) and DEL become a space; in extension values CR and LF
//     travel as \r and \n and the other control characters and DEL become a space;
//   - truncate_utf8 never cuts a UTF-8 sequence and never exceeds the limit;
//   - append_json_string always yields a valid JSON string (strict UTF-8) that decodes back to the
//     input when the input is valid UTF-8.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <fuzzer/FuzzedDataProvider.h>
#include <nlohmann/json.hpp>

#include "connector/record/cef_parser.h"
#include "connector/record/encoding.h"

namespace {

[[noreturn]] void violation(const char* what, std::string_view detail) {
  std::fprintf(stderr, "fuzz_cef_encoder: %s\n%.*s\n", what, static_cast<int>(std::min<std::size_t>(detail.size(), 4096)),
               detail.data());
  std::abort();
}

bool is_control(unsigned char c) { return c < 0x20 || c == 0x7F; }

// Bytes of U+0085 (C2 85), U+2028 (E2 80 A8) or U+2029 (E2 80 A9) at v[i], else 0: the encoder
// writes them as a line break (extension) or a space (header), so no value splits its line.
std::size_t unicode_line_break_at(std::string_view v, std::size_t i) {
  const auto at = [&](std::size_t k) { return i + k < v.size() ? static_cast<unsigned char>(v[i + k]) : 0u; };
  if (at(0) == 0xC2 && at(1) == 0x85) return 2;
  if (at(0) == 0xE2 && at(1) == 0x80 && (at(2) == 0xA8 || at(2) == 0xA9)) return 3;
  return 0;
}

// What a value reads back as: control characters (and, in the header, CR and LF) become a space;
// a Unicode line break becomes `line_break`.
std::string expected_value(std::string_view v, bool extension) {
  std::string out;
  for (std::size_t i = 0; i < v.size();) {
    if (const std::size_t n = unicode_line_break_at(v, i)) {
      out += extension ? '\n' : ' ';
      i += n;
      continue;
    }
    const char ch = v[i++];
    const bool kept = extension && (ch == '\n' || ch == '\r');
    out += !kept && is_control(static_cast<unsigned char>(ch)) ? ' ' : ch;
  }
  return out;
}

std::string expected_header(std::string_view v) { return expected_value(v, false); }
std::string expected_extension(std::string_view v) { return expected_value(v, true); }

// Strict UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF).
bool valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n;
    unsigned lo = 0x80, hi = 0xBF;
    if (c < 0x80) { ++i; continue; }
    if (c >= 0xC2 && c <= 0xDF) n = 2;
    else if (c == 0xE0) { n = 3; lo = 0xA0; }
    else if (c == 0xED) { n = 3; hi = 0x9F; }
    else if (c >= 0xE1 && c <= 0xEF) n = 3;
    else if (c == 0xF0) { n = 4; lo = 0x90; }
    else if (c == 0xF4) { n = 4; hi = 0x8F; }
    else if (c >= 0xF1 && c <= 0xF3) n = 4;
    else return false;
    if (i + n > s.size()) return false;
    const auto c1 = static_cast<unsigned char>(s[i + 1]);
    if (c1 < lo || c1 > hi) return false;
    for (std::size_t k = 2; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    i += n;
  }
  return true;
}

// Extension keys the mapper writes: standard keys, and custom keys that carry a label.
constexpr const char* kKeys[] = {"rt", "suser", "duser", "src", "act", "outcome", "externalId", "cat", "request",
                                 "msg", "cs1", "cs2", "cs3", "cs4", "cs6", "cn1", "cn2", "deviceExternalId"};

void check_cef(FuzzedDataProvider& in) {
  std::string header[5];
  for (auto& h : header) h = in.ConsumeRandomLengthString(256);
  const int severity = in.ConsumeIntegralInRange(0, 10);
  struct Field {
    std::string key, label, value;
  };
  std::vector<Field> fields;
  const std::size_t count = in.ConsumeIntegralInRange<std::size_t>(0, 8);
  for (std::size_t i = 0; i < count && in.remaining_bytes() > 0; ++i) {
    Field f;
    f.key = kKeys[in.ConsumeIntegralInRange<std::size_t>(0, std::size(kKeys) - 1)];
    if (f.key[0] == 'c' && (f.key[1] == 's' || f.key[1] == 'n')) f.label = in.ConsumeRandomLengthString(64);
    f.value = in.ConsumeRandomLengthString(512);
    fields.push_back(std::move(f));
  }

  // The line, in the mapper's layout: CEF:0|vendor|product|version|class|name|severity|k=v k=v
  std::string line = "CEF:0|";
  for (const auto& h : header) {
    siem::encoding::append_cef_header(line, h);
    line += '|';
  }
  line += std::to_string(severity);
  line += '|';
  bool first = true;
  for (const auto& f : fields) {
    if (!f.label.empty()) {
      if (!first) line += ' ';
      line += f.key + "Label=";
      siem::encoding::append_cef_extension_value(line, f.label);
      first = false;
    }
    if (!first) line += ' ';
    line += f.key + '=';
    siem::encoding::append_cef_extension_value(line, f.value);
    first = false;
  }

  if (line.find('\n') != std::string::npos || line.find('\r') != std::string::npos) violation("raw CR or LF in the line", line);
  std::string error;
  auto cef = siem::parse_cef_strict(line, &error);
  if (!cef) violation(("strict parser rejects the line: " + error).c_str(), line);
  const std::string* got[5] = {&cef->vendor, &cef->product, &cef->device_version, &cef->class_id, &cef->name};
  for (int i = 0; i < 5; ++i)
    if (*got[i] != expected_header(header[i])) violation(("header field " + std::to_string(i + 2) + " does not round-trip").c_str(), line);
  if (cef->version != "0" || cef->severity != severity) violation("version or severity does not round-trip", line);

  std::vector<std::pair<std::string, std::string>> want;
  for (const auto& f : fields) {
    if (!f.label.empty()) want.emplace_back(f.key + "Label", expected_extension(f.label));
    want.emplace_back(f.key, expected_extension(f.value));
  }
  if (cef->extension.size() != want.size())
    violation(("extension has " + std::to_string(cef->extension.size()) + " keys, wrote " + std::to_string(want.size())).c_str(), line);
  for (std::size_t i = 0; i < want.size(); ++i) {
    if (cef->extension[i].first != want[i].first) violation(("extension key " + std::to_string(i) + " differs").c_str(), line);
    if (cef->extension[i].second != want[i].second)
      violation(("value of " + want[i].first + " does not round-trip: got '" + cef->extension[i].second + "'").c_str(), line);
  }
}

void check_truncate(FuzzedDataProvider& in) {
  std::string s = in.ConsumeRandomLengthString(512);
  const std::size_t limit = in.ConsumeIntegralInRange<std::size_t>(0, 600);
  const std::string before = s;
  const bool cut = siem::encoding::truncate_utf8(s, limit);
  if (cut != (before.size() > limit)) violation("truncate_utf8 reports the wrong outcome", before);
  if (s.size() > limit) violation("truncate_utf8 exceeds the limit", before);
  if (before.compare(0, s.size(), s) != 0) violation("truncate_utf8 is not a prefix", before);
  if (valid_utf8(before) && !valid_utf8(s)) violation("truncate_utf8 cut a UTF-8 sequence", before);
  if (cut && valid_utf8(before) && s.size() + 3 < limit)
    violation("truncate_utf8 cut more than one character", before);
}

void check_json(std::string_view s) {
  std::string out;
  siem::encoding::append_json_string(out, s);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(out);
  } catch (const nlohmann::json::exception& e) {
    violation(e.what(), out);
  }
  if (!j.is_string()) violation("not a JSON string", out);
  if (valid_utf8(s) && j.get<std::string>() != s) violation("valid UTF-8 does not round-trip through JSON", out);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  check_json(std::string_view(reinterpret_cast<const char*>(data), size));
  FuzzedDataProvider in(data, size);
  check_cef(in);
  check_truncate(in);
  return 0;
}
