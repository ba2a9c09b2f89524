#include "connector/mapping/encoding.h"

#include <array>

namespace siem::encoding {

namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0 when invalid (RFC 3629: overlong
// forms, UTF-16 surrogates and code points above U+10FFFF are invalid too).
std::size_t utf8_len(std::string_view s, std::size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  std::size_t n = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) n = 2;
  else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;       // overlong
    else if (c == 0xED) hi = 0x9F;  // surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;       // overlong
    else if (c == 0xF4) hi = 0x8F;  // above U+10FFFF
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  const auto c1 = static_cast<unsigned char>(s[i + 1]);
  if (c1 < lo || c1 > hi) return 0;
  for (std::size_t k = 2; k < n; ++k)
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
  return n;
}

constexpr char kHex[] = "0123456789abcdef";

// 1 for bytes that end a run of plain JSON string content: control characters, '"', '\\' and
// every non-ASCII byte (validated as UTF-8 separately).
constexpr auto kSpecial = [] {
  std::array<unsigned char, 256> t{};
  for (int c = 0; c < 256; ++c) t[static_cast<std::size_t>(c)] = (c < 0x20 || c == '"' || c == '\\' || c >= 0x80) ? 1 : 0;
  return t;
}();

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  std::size_t run = 0;  // start of the pending run of bytes that need no escaping
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (!kSpecial[c]) {
      ++i;
      continue;
    }
    if (c >= 0x80) {
      const std::size_t n = utf8_len(s, i);
      if (n > 0) {
        i += n;
        continue;
      }
      out.append(s.data() + run, i - run);
      out += "\xEF\xBF\xBD";
      run = ++i;
      continue;
    }
    out.append(s.data() + run, i - run);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 0xF];
    }
    run = ++i;
  }
  out.append(s.data() + run, s.size() - run);
  out += '"';
}

void append_cef_header(std::string& out, std::string_view s) {
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (ch == '\\') out += "\\\\";
    else if (ch == '|') out += "\\|";
    else if (c < 0x20 || c == 0x7F) out += ' ';
    else out += ch;
  }
}

void append_cef_extension_value(std::string& out, std::string_view s) {
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (ch == '\\') out += "\\\\";
    else if (ch == '=') out += "\\=";
    else if (ch == '\n') out += "\\n";
    else if (ch == '\r') out += "\\r";
    else if (c < 0x20 || c == 0x7F) out += ' ';
    else out += ch;
  }
}

bool truncate_utf8(std::string& s, std::size_t max_bytes) {
  if (s.size() <= max_bytes) return false;
  std::size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  s.resize(cut);
  return true;
}

}  // namespace siem::encoding
