// One record per line for the line-oriented outputs (the file and stdout sinks, `map`): the `raw`
// format is the record's own text, which keeps the line breaks of a pretty-printed list response or
// envelope. Written as is it would spread one record over many lines of an NDJSON file.
#pragma once

#include <cstring>
#include <string>
#include <string_view>

namespace siem {

// Appends the JSON text `text` to `out` on one line. A CR or LF outside a string is whitespace and
// becomes a space; one inside a string (a raw control character a repaired record kept) becomes its
// escape `\r` / `\n`, so the value stays the same. Text without CR or LF is appended unchanged.
inline void append_one_line(std::string& out, std::string_view text) {
  if (std::memchr(text.data(), '\n', text.size()) == nullptr && std::memchr(text.data(), '\r', text.size()) == nullptr) {
    out.append(text);
    return;
  }
  out.reserve(out.size() + text.size() + 16);
  bool in_string = false, escaped = false;
  for (const char c : text) {
    const bool brk = c == '\n' || c == '\r';
    if (!in_string) {
      if (c == '"') in_string = true;
      out += brk ? ' ' : c;
      continue;
    }
    if (escaped) {
      escaped = false;
      if (brk) {  // a backslash before a raw line break: the pair becomes the break's escape
        out += c == '\n' ? 'n' : 'r';
        continue;
      }
    } else if (c == '\\') {
      escaped = true;
    } else if (c == '"') {
      in_string = false;
    } else if (brk) {
      out += c == '\n' ? "\\n" : "\\r";
      continue;
    }
    out += c;
  }
}

}  // namespace siem
