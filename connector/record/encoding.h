// Low-level output encoding: JSON string escaping and CEF header / extension escaping.
//
// CEF (implementation standard rev. 25): header fields escape `\` and `|`; CR and LF are not
// allowed there and become a space. Extension values escape `\` and `=`, LF -> `\n`, CR -> `\r`;
// the pipe stays literal. Other control characters become a space in both. The Unicode line breaks
// U+0085, U+2028 and U+2029 become `\n` in extension values and a space in the header: CEF has no
// other escape, and they must not split the line. Keys are never escaped (our own constants).
// JSON strings escape them as \u0085, \u2028 and \u2029 (valid JSON either way, but they end lines
// for JavaScript and Unicode-aware line readers).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace siem::encoding {

// Appends `s` as a JSON string literal (with quotes). Invalid UTF-8 bytes become U+FFFD.
void append_json_string(std::string& out, std::string_view s);
// `prefix` as it is (an object member's `,"key":`), then `s` as append_json_string writes it: the
// same bytes, in one append when `s` needs no escaping.
void append_json_string(std::string& out, std::string_view prefix, std::string_view s);

void append_cef_header(std::string& out, std::string_view s);
void append_cef_extension_value(std::string& out, std::string_view s);
// Escapes, in place, what a writer appended to `out` from `from` on as an extension value: `out`
// ends as if those bytes had been given to append_cef_extension_value. Most values need nothing
// and are only scanned; otherwise the part from the first byte needing attention is moved to
// `scratch` and appended escaped.
void escape_cef_extension_tail(std::string& out, std::size_t from, std::string& scratch);

// The records' content-hash ids: 64-bit FNV-1a of `s` with the prime 1099511628211 and the offset
// basis 1469598103934665603 the ids have always used (not the published 14695981039346656037:
// changing it would change every content-hash id). The byte-by-byte values, eight bytes per iteration.
std::uint64_t fnv1a_64(std::string_view s);

// Truncates `s` to at most `max_bytes` bytes without cutting a UTF-8 sequence. Returns true when cut.
bool truncate_utf8(std::string& s, std::size_t max_bytes);

}  // namespace siem::encoding
