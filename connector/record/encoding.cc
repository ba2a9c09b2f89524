#include "connector/record/encoding.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define SIEM_JSON_SCAN_AVX2 1
#endif

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

// Length of U+0085 (NEL), U+2028 (LINE SEPARATOR) or U+2029 (PARAGRAPH SEPARATOR) starting at s[i],
// else 0. They are valid text, but line breaks to JavaScript (before ES2019), to Unicode-aware
// line readers and to some syslog and SIEM parsers: a value must not split the line it travels on.
inline std::size_t unicode_line_break(std::string_view s, std::size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  if (c == 0xC2) return i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0x85 ? 2 : 0;
  if (c != 0xE2 || i + 2 >= s.size() || static_cast<unsigned char>(s[i + 1]) != 0x80) return 0;
  const auto c2 = static_cast<unsigned char>(s[i + 2]);
  return c2 == 0xA8 || c2 == 0xA9 ? 3 : 0;
}

// 1 for bytes that end a run of plain JSON string content: json_needs_escaping() (encoding.h).
constexpr auto kSpecial = [] {
  std::array<unsigned char, 256> t{};
  for (int c = 0; c < 256; ++c) t[static_cast<std::size_t>(c)] = json_needs_escaping(static_cast<unsigned char>(c)) ? 1 : 0;
  return t;
}();

// Word-at-a-time tests on 8 bytes (the classic bit tricks): each answers exactly whether some byte
// of the word qualifies (not which one), which lets the escapers skip plain text a word at a time
// instead of a byte at a time; the bytes of a word that answers yes are looked at one by one.
constexpr std::uint64_t kOnes = 0x0101010101010101ull, kHighs = 0x8080808080808080ull;

inline std::uint64_t load_word(const char* p) {
  std::uint64_t w;
  std::memcpy(&w, p, sizeof w);
  return w;
}
inline std::uint64_t has_zero_byte(std::uint64_t x) { return (x - kOnes) & ~x & kHighs; }
inline std::uint64_t has_byte(std::uint64_t w, char c) { return has_zero_byte(w ^ (kOnes * static_cast<unsigned char>(c))); }
inline std::uint64_t has_byte_below_space(std::uint64_t w) { return (w - kOnes * 0x20) & ~w & kHighs; }

// Whether one of the 8 bytes at `p` is special for JSON (kSpecial, json_needs_escaping()).
inline bool word_has_json_special(const char* p) {
  const std::uint64_t w = load_word(p);
  return ((w & kHighs) | has_byte_below_space(w) | has_byte(w, '"') | has_byte(w, '\\')) != 0;
}

// What a CEF escaper does with a byte: keep it, or write a replacement (an escape or a space).
// One table per context, built at compile time, so the loop appends whole runs of kept bytes.
struct CefTable {
  std::array<const char*, 256> replace{};  // nullptr: the byte is kept as is
  char escaped[2] = {};  // the two printable characters it escapes ('\\' and '|' or '=')
  const char* line_break = " ";  // for U+0085, U+2028 and U+2029 (unicode_line_break)
};

// Control characters and DEL become a space in both contexts (CR and LF are not allowed in the
// header; extension values escape them), see encoding.h.
constexpr CefTable cef_table(bool extension) {
  CefTable t;
  for (int c = 0; c < 0x20; ++c) t.replace[static_cast<std::size_t>(c)] = " ";
  t.replace[0x7F] = " ";
  t.replace['\\'] = "\\\\";
  t.escaped[0] = '\\';
  t.escaped[1] = extension ? '=' : '|';
  if (extension) {
    t.line_break = "\\n";  // a line break, as the escaped LF it stands for
    t.replace['='] = "\\=";
    t.replace['\n'] = "\\n";
    t.replace['\r'] = "\\r";
  } else {
    t.replace['|'] = "\\|";
  }
  return t;
}
constexpr CefTable kCefHeader = cef_table(false);
constexpr CefTable kCefExtension = cef_table(true);

// Whether one of the 8 bytes at `p` is one `table` replaces (as word_has_json_special), or non-ASCII
// (which may start a Unicode line break).
inline bool word_has_cef_special(const char* p, const CefTable& table) {
  const std::uint64_t w = load_word(p);
  return ((w & kHighs) | has_byte_below_space(w) | has_byte(w, '\x7F') | has_byte(w, table.escaped[0]) |
          has_byte(w, table.escaped[1])) != 0;
}

// Whether one of the 4 bytes at `p` is one `table` replaces, or non-ASCII (word_has_cef_special on
// half a word; the upper half is filled with spaces, which no table replaces).
inline bool half_word_has_cef_special(const char* p, const CefTable& table) {
  std::uint32_t h;
  std::memcpy(&h, p, sizeof h);
  const std::uint64_t w = h | 0x2020202000000000ull;
  return ((w & kHighs) | has_byte_below_space(w) | has_byte(w, '\x7F') | has_byte(w, table.escaped[0]) |
          has_byte(w, table.escaped[1])) != 0;
}

// Position of the first byte at or after `i` that `table` replaces or that is non-ASCII (it may
// start a Unicode line break), or `n`: as next_json_special, 16 bytes at a time (the last block
// overlapping), shorter texts by overlapping words, never reading outside [p, p + n).
[[gnu::always_inline]] inline std::size_t next_cef_special(const char* p, std::size_t i, std::size_t n,
                                                           const CefTable& table) {
#if defined(__SSE2__)
  const __m128i del = _mm_set1_epi8('\x7F'), e0 = _mm_set1_epi8(table.escaped[0]), e1 = _mm_set1_epi8(table.escaped[1]),
                space = _mm_set1_epi8(0x20);
  // A signed compare below 0x20 catches control characters and every non-ASCII byte at once.
  auto special_mask = [&](const char* at) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(at));
    const __m128i hits = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, del), _mm_cmplt_epi8(v, space)),
                                      _mm_or_si128(_mm_cmpeq_epi8(v, e0), _mm_cmpeq_epi8(v, e1)));
    return static_cast<unsigned>(_mm_movemask_epi8(hits));
  };
  for (; i + 16 <= n; i += 16)
    if (const unsigned mask = special_mask(p + i)) return i + static_cast<std::size_t>(__builtin_ctz(mask));
  if (i == n) return n;
  if (n >= 16) {
    const unsigned mask = special_mask(p + n - 16) >> (16 - (n - i));  // bit j: byte n - 16 + j
    return mask ? i + static_cast<std::size_t>(__builtin_ctz(mask)) : n;
  }
#endif
  const std::size_t left = n - i;
  if (left >= 8) {
    if (!word_has_cef_special(p + i, table) && !word_has_cef_special(p + n - 8, table)) return n;
  } else if (left >= 4) {
    if (!half_word_has_cef_special(p + i, table) && !half_word_has_cef_special(p + n - 4, table)) return n;
  }
  for (; i < n; ++i) {
    const auto c = static_cast<unsigned char>(p[i]);
    if (c >= 0x80 || table.replace[c]) return i;
  }
  return n;
}

void append_cef_escaped(std::string& out, std::string_view s, const CefTable& table) {
  std::size_t run = 0;  // start of the pending run of bytes kept as they are
  std::size_t i = next_cef_special(s.data(), 0, s.size(), table);
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (const char* replacement = table.replace[c]) {
      out.append(s.data() + run, i - run);
      out += replacement;
      run = ++i;
    } else if (const std::size_t n = c >= 0xC2 ? unicode_line_break(s, i) : 0) {  // may end past a block
      out.append(s.data() + run, i - run);
      out += table.line_break;
      run = i += n;
    } else {
      ++i;  // other non-ASCII bytes are kept
    }
    i = next_cef_special(s.data(), i, s.size(), table);
  }
  out.append(s.data() + run, s.size() - run);
}

// Whether one of the 4 bytes at `p` is special for JSON (word_has_json_special on half a word).
inline bool half_word_has_json_special(const char* p) {
  std::uint32_t h;
  std::memcpy(&h, p, sizeof h);
  const std::uint64_t w = h | 0x2020202000000000ull;  // the upper half: plain spaces
  return ((w & kHighs) | has_byte_below_space(w) | has_byte(w, '"') | has_byte(w, '\\')) != 0;
}

// Position of the first byte at or after `i` that kSpecial marks (or `n`): 16 bytes at a time with
// SSE2 (json_special_mask() gives the exact position); the last partial block is read as the 16
// bytes ending at `n`, overlapping bytes already found plain. Shorter texts are tested by overlapping words
// (most strings are clean: one or two tests answer for the whole of them), and only a word that
// answers yes is looked at byte by byte. Never reads outside [p, p + n).
[[gnu::always_inline]] inline std::size_t next_json_special(const char* p, std::size_t i, std::size_t n) {
#if defined(__SSE2__)
  auto special_mask = [](const char* at) {
    return json_special_mask(_mm_loadu_si128(reinterpret_cast<const __m128i*>(at)));
  };
  for (; i + 16 <= n; i += 16)
    if (const unsigned mask = special_mask(p + i)) return i + static_cast<std::size_t>(__builtin_ctz(mask));
  if (i == n) return n;
  if (n >= 16) {
    // Bit j of the mask is byte n - 16 + j; the bytes before i are known to be plain.
    const unsigned mask = special_mask(p + n - 16) >> (16 - (n - i));
    return mask ? i + static_cast<std::size_t>(__builtin_ctz(mask)) : n;
  }
#endif
  const std::size_t left = n - i;
  if (left >= 8) {
    if (!word_has_json_special(p + i) && !word_has_json_special(p + n - 8)) return n;
  } else if (left >= 4) {
    if (!half_word_has_json_special(p + i) && !half_word_has_json_special(p + n - 4)) return n;
  }
  while (i < n && !kSpecial[static_cast<unsigned char>(p[i])]) ++i;
  return i;
}

}  // namespace

void append_json_string(std::string& out, std::string_view prefix, std::string_view s) {
  constexpr std::size_t kBuffer = 256;
  if (prefix.size() + s.size() + 2 <= kBuffer && next_json_special(s.data(), 0, s.size()) == s.size()) {
    // The whole member built on the stack, then one append (no separate quote and copy calls).
    char buf[kBuffer];
    copy_bytes(buf, prefix.data(), prefix.size());
    buf[prefix.size()] = '"';
    copy_bytes(buf + prefix.size() + 1, s.data(), s.size());
    buf[prefix.size() + 1 + s.size()] = '"';
    out.append(buf, prefix.size() + s.size() + 2);
    return;
  }
  out += prefix;
  append_json_string(out, s);
}

namespace {

// The bytes of a JSON string literal written through `out` (std::string, or RawOut below): the
// escaping loop of both append_json_string() and write_json_string(), from `i`, the first byte
// kSpecial marks, on. The opening quote is written already; this writes the closing one.
template <class Out>
void append_escaped_tail(Out& out, std::string_view s, std::size_t i) {
  std::size_t run = 0;  // start of the pending run of bytes that need no escaping
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);  // a special byte (kSpecial)
    if (c >= 0x80) {
      const std::size_t n = utf8_len(s, i);
      if (n > 0) {
        if ((c == 0xC2 || c == 0xE2) && unicode_line_break(s, i) != 0) {  // valid JSON, but escaped
          out.append(s.data() + run, i - run);
          out += c == 0xC2 ? "\\u0085" : s[i + 2] == '\xA8' ? "\\u2028" : "\\u2029";
          run = i + n;
        }
        i = next_json_special(s.data(), i + n, s.size());
        continue;
      }
      out.append(s.data() + run, i - run);
      out += "\xEF\xBF\xBD";
      run = ++i;
      i = next_json_special(s.data(), i, s.size());
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
    i = next_json_special(s.data(), i, s.size());
  }
  out.append(s.data() + run, s.size() - run);
  out += '"';
}

// A cursor with room enough (json_string_bound), as append_escaped_tail() writes through it.
struct RawOut {
  char* p;
  void append(const char* s, std::size_t n) {
    std::memcpy(p, s, n);
    p += n;
  }
  RawOut& operator+=(const char* s) {
    append(s, std::strlen(s));
    return *this;
  }
  RawOut& operator+=(char c) {
    *p++ = c;
    return *this;
  }
};

// The escaping paths out of line, so that the plain paths of the writers below keep a small frame
// (most strings need no escaping).
[[gnu::noinline]] void append_escaped(std::string& out, std::string_view s, std::size_t i) {
  out += '"';
  append_escaped_tail(out, s, i);
}
[[gnu::noinline]] char* write_escaped(char* dst, std::string_view s, std::size_t i) {
  RawOut out{dst};
  append_escaped_tail(out, s, i);
  return out.p;
}

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  // Most strings need no escaping: one scan finds that, and they are written with their quotes in
  // one append (no byte-by-byte pushes).
  std::size_t i = next_json_special(s.data(), 0, s.size());
  if (i == s.size()) {
    const std::size_t at = out.size();
    out.append(s.size() + 2, '"');
    copy_bytes(out.data() + at + 1, s.data(), s.size());
    return;
  }
  append_escaped(out, s, i);
}

#if defined(SIEM_JSON_SCAN_AVX2)
namespace {

// Whether write_json_string() scans texts of 32 bytes and more 32 bytes at a time (AVX2): decided
// at start-up from what the processor and the OS support (a write before that, from another static
// initializer, takes the 16-byte path: the same bytes); set_json_scan_avx2() changes it for tests.
bool json_scan_avx2_supported() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2");
}
const bool kJsonScanAvx2Supported = json_scan_avx2_supported();
std::atomic<bool> json_scan_avx2{kJsonScanAvx2Supported};  // set by tests, read relaxed (a plain load)

// json_special_mask() on 32 bytes: bit j set when byte j of `v` is special for JSON.
[[gnu::target("avx2"), gnu::always_inline]] inline unsigned json_special_mask32(__m256i v, __m256i quote,
                                                                                __m256i backslash, __m256i space) {
  const __m256i escaped = _mm256_or_si256(_mm256_cmpeq_epi8(v, quote), _mm256_cmpeq_epi8(v, backslash));
  return static_cast<unsigned>(_mm256_movemask_epi8(_mm256_or_si256(escaped, _mm256_cmpgt_epi8(space, v))));
}

// write_json_string()'s copying scan for texts of 32 bytes and more, 32 bytes at a time: `dst` is
// past the opening quote, with room for json_string_bound(s.size()) bytes.
[[gnu::target("avx2"), gnu::noinline]] char* write_long_avx2(char* dst, std::string_view s) {
  __m256i quote = _mm256_set1_epi8('"'), backslash = _mm256_set1_epi8('\\'), space = _mm256_set1_epi8(0x20);
  // Built once, kept in registers: GCC otherwise builds each again (a move and a broadcast) for the
  // last block.
  __asm__("" : "+x"(quote), "+x"(backslash), "+x"(space));
  const char* p = s.data();
  const std::size_t n = s.size();
  std::size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), v);
    if (const unsigned mask = json_special_mask32(v, quote, backslash, space))
      return write_escaped(dst, s, i + static_cast<std::size_t>(__builtin_ctz(mask)));
  }
  if (i < n) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + n - 32));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + n - 32), v);
    // Bit j of the mask is byte n - 32 + j; the bytes before i are known to be plain.
    if (const unsigned mask = json_special_mask32(v, quote, backslash, space) >> (32 - (n - i)))
      return write_escaped(dst, s, i + static_cast<std::size_t>(__builtin_ctz(mask)));
  }
  dst[n] = '"';
  return dst + n + 1;
}

}  // namespace

bool set_json_scan_avx2(bool on) {
  const bool use = on && kJsonScanAvx2Supported;
  json_scan_avx2.store(use, std::memory_order_relaxed);
  return use;
}
bool json_scan_avx2_in_use() { return json_scan_avx2.load(std::memory_order_relaxed); }
#else
bool set_json_scan_avx2(bool) { return false; }
bool json_scan_avx2_in_use() { return false; }
#endif

char* write_json_string(char* dst, std::string_view prefix, std::string_view s) {
  // The prefix (a member's key) is short: copied without a memcpy call, which would also make the
  // plain paths save and restore registers around it.
  copy_short(dst, prefix.data(), prefix.size());
  dst += prefix.size();
  *dst++ = '"';
  const char* p = s.data();
  const std::size_t n = s.size();
#if defined(SIEM_JSON_SCAN_AVX2)
  if (n >= 32 && json_scan_avx2.load(std::memory_order_relaxed)) return write_long_avx2(dst, s);
#endif
#if defined(__SSE2__)
  if (n >= 16) {
    // Scanned and copied in one pass, 16 bytes at a time: each block is stored as it is loaded (the
    // room holds json_string_bound(n) bytes, so every store stays within [dst, dst + n)), and the
    // first special byte hands over to the escaping loop, which writes from the start again. The
    // last partial block is the 16 bytes ending at n, as in next_json_special().
    std::size_t i = 0;
    for (; i + 16 <= n; i += 16) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), v);
      if (const unsigned mask = json_special_mask(v))
        return write_escaped(dst, s, i + static_cast<std::size_t>(__builtin_ctz(mask)));
    }
    if (i < n) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + n - 16));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + n - 16), v);
      // Bit j of the mask is byte n - 16 + j; the bytes before i are known to be plain.
      if (const unsigned mask = json_special_mask(v) >> (16 - (n - i)))
        return write_escaped(dst, s, i + static_cast<std::size_t>(__builtin_ctz(mask)));
    }
    dst[n] = '"';
    return dst + n + 1;
  }
  if (n >= 3) {
    // Copied first, then scanned where it was copied to: one 16-byte test instead of two word
    // tests. The room holds json_string_bound(n) = 6n + 2 >= 20 bytes from the opening quote on,
    // so the 16 bytes read from dst are within it (those past n are masked off, whatever they
    // hold); the source is read only within [p, p + n).
    copy_short(dst, p, n);
    const unsigned mask =
        json_special_mask(_mm_loadu_si128(reinterpret_cast<const __m128i*>(dst))) & ((1u << n) - 1);
    if (mask) return write_escaped(dst, s, static_cast<std::size_t>(__builtin_ctz(mask)));
    dst[n] = '"';
    return dst + n + 1;
  }
#endif
  const std::size_t i = next_json_special(p, 0, n);
  if (i == n) {
    copy_bytes(dst, p, n);
    dst[n] = '"';
    return dst + n + 1;
  }
  return write_escaped(dst, s, i);
}

void append_cef_header(std::string& out, std::string_view s) { append_cef_escaped(out, s, kCefHeader); }

void append_cef_extension_value(std::string& out, std::string_view s) { append_cef_escaped(out, s, kCefExtension); }

void escape_cef_extension_tail(std::string& out, std::size_t from, std::string& scratch) {
  const std::size_t at = next_cef_special(out.data(), from, out.size(), kCefExtension);
  if (at == out.size()) return;
  // Every byte before `at` is kept as it is and ASCII, so `at` starts a character: escaping the
  // rest on its own gives the same bytes as escaping the whole value.
  scratch.assign(out, at);
  out.resize(at);
  append_cef_escaped(out, scratch, kCefExtension);
}

bool truncate_utf8(std::string& s, std::size_t max_bytes) {
  if (s.size() <= max_bytes) return false;
  std::size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  s.resize(cut);
  return true;
}

std::uint64_t fnv1a_64(std::string_view s) {
  constexpr std::uint64_t kPrime = 1099511628211ull;
  std::uint64_t h = 1469598103934665603ull;
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  // Each step needs the one before (a multiply per byte), so only the loop's own work can go: one
  // bound check per eight bytes instead of per byte.
  for (; end - p >= 8; p += 8) {
    h = (h ^ p[0]) * kPrime;
    h = (h ^ p[1]) * kPrime;
    h = (h ^ p[2]) * kPrime;
    h = (h ^ p[3]) * kPrime;
    h = (h ^ p[4]) * kPrime;
    h = (h ^ p[5]) * kPrime;
    h = (h ^ p[6]) * kPrime;
    h = (h ^ p[7]) * kPrime;
  }
  for (; p != end; ++p) h = (h ^ *p) * kPrime;
  return h;
}

}  // namespace siem::encoding
