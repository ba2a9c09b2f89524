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

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace siem::encoding {

// Appends `s` as a JSON string literal (with quotes). Invalid UTF-8 bytes become U+FFFD.
void append_json_string(std::string& out, std::string_view s);
// `prefix` as it is (an object member's `,"key":`), then `s` as append_json_string writes it: the
// same bytes, in one append when `s` needs no escaping.
void append_json_string(std::string& out, std::string_view prefix, std::string_view s);

// The most bytes a JSON string literal of `n` bytes of text takes (quotes included): a control
// character becomes six (\u00XX); an invalid byte three (U+FFFD); a line break of two or three
// bytes six (\u2028).
constexpr std::size_t json_string_bound(std::size_t n) { return 6 * n + 2; }
// Writes `prefix` as it is, then `s` as append_json_string writes it, at `dst`, which has room for
// prefix.size() + json_string_bound(s.size()) bytes. Returns the end of what it wrote. It may read
// back bytes of that room it did not write (a short text is tested where it was copied to); what
// they hold never changes the result.
char* write_json_string(char* dst, std::string_view prefix, std::string_view s);
// Texts of 32 bytes and more are scanned 32 bytes at a time (AVX2) where the processor has it, else
// 16 at a time (SSE2), with the same result. For tests only: `on` false forces the 16-byte path,
// true the 32-byte one where supported. Returns whether the 32-byte path is now in use. Safe to
// call while other threads write (an atomic switch), but the connector itself never calls it.
bool set_json_scan_avx2(bool on);
// Whether the 32-byte path is in use now (for tests, to put back what they changed).
bool json_scan_avx2_in_use();

// The one rule for which bytes of a text write_json_string() does not copy as they are: control
// characters (below 0x20), '"', '\\' and every byte from 0x80 on (non-ASCII: validated as UTF-8,
// then copied, escaped or replaced); DEL (0x7F) is copied. The escaper's scans and the mapper's
// template fast path (fast_paths_forms.h) both decide by this predicate or by json_special_mask(),
// which must agree with it (escape_scan_test.cc checks every byte).
constexpr bool json_needs_escaping(unsigned char c) { return c < 0x20 || c == '"' || c == '\\' || c >= 0x80; }

#if defined(__SSE2__)
// Bit j set: json_needs_escaping(byte j of `v`). A signed compare below 0x20 catches the control
// characters and every byte from 0x80 on at once.
[[gnu::always_inline]] inline unsigned json_special_mask(__m128i v) {
  const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\'), space = _mm_set1_epi8(0x20);
  const __m128i escaped = _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash));
  return static_cast<unsigned>(_mm_movemask_epi8(_mm_or_si128(escaped, _mm_cmplt_epi8(v, space))));
}
#endif

// dst[0, n) = src[0, n) for the short texts of one member, without a call: 16-byte moves, the last
// one overlapping, then words for shorter texts. The ranges do not overlap.
inline void copy_short(char* dst, const char* src, std::size_t n) {
#if defined(__SSE2__)
  if (n >= 16) {
    for (std::size_t i = 0; i + 16 < n; i += 16)
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i)));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + n - 16),
                     _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + n - 16)));
    return;
  }
#endif
  if (n >= 8) {
    std::uint64_t head, tail;
    std::memcpy(&head, src, 8);
    std::memcpy(&tail, src + n - 8, 8);
    std::memcpy(dst, &head, 8);
    std::memcpy(dst + n - 8, &tail, 8);
  } else if (n >= 4) {
    std::uint32_t head, tail;
    std::memcpy(&head, src, 4);
    std::memcpy(&tail, src + n - 4, 4);
    std::memcpy(dst, &head, 4);
    std::memcpy(dst + n - 4, &tail, 4);
  } else if (n > 0) {  // 1 to 3 bytes: first, middle and last (GCC turns a byte loop into a memcpy call)
    const char first = src[0], middle = src[n / 2], last = src[n - 1];
    dst[0] = first;
    dst[n / 2] = middle;
    dst[n - 1] = last;
  }
}

// copy_short(), or memcpy for texts longer than a few moves.
inline void copy_bytes(char* dst, const char* src, std::size_t n) {
  if (n > 128) std::memcpy(dst, src, n);
  else copy_short(dst, src, n);
}

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
