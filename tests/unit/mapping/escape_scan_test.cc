// The JSON string escaper finds the bytes that need attention a block or a word at a time, with the
// last partial block or word read overlapping the bytes before it. Every length from 0 to 70 with
// every kind of special byte at every position (and two at once) must give exactly what a byte by
// byte escaper gives, so the boundaries of the blocks and words hide nothing.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "connector/record/encoding.h"

namespace siem {
namespace {

// Length of the valid UTF-8 sequence at s[i] (RFC 3629), else 0.
std::size_t reference_utf8_len(const std::string& s, std::size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  std::size_t n = 0;
  unsigned lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) n = 2;
  else if (c >= 0xE0 && c <= 0xEF) n = 3, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
  else if (c >= 0xF0 && c <= 0xF4) n = 4, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
  else return 0;
  if (i + n > s.size()) return 0;
  const auto c1 = static_cast<unsigned char>(s[i + 1]);
  if (c1 < lo || c1 > hi) return 0;
  for (std::size_t k = 2; k < n; ++k)
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
  return n;
}

// One byte at a time: the escaping docs/security.md describes.
std::string reference_json_string(const std::string& s) {
  static const char* hex = "0123456789abcdef";
  std::string out = "\"";
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      const std::size_t n = reference_utf8_len(s, i);
      if (n == 0) {
        out += "\xEF\xBF\xBD";
        ++i;
        continue;
      }
      const std::string seq = s.substr(i, n);
      out += seq == "\xC2\x85" ? "\\u0085" : seq == "\xE2\x80\xA8" ? "\\u2028" : seq == "\xE2\x80\xA9" ? "\\u2029" : seq;
      i += n;
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += hex[c >> 4];
          out += hex[c & 0xF];
        } else {
          out += static_cast<char>(c);
        }
    }
    ++i;
  }
  return out + "\"";
}

const std::vector<std::string>& specials() {
  static const std::vector<std::string> s{"\"", "\\", "\n", "\x01", "\x1F", "\x7F", "\xC3\xA9", "\xE2\x80\xA8",
                                          "\xC2\x85", "\xFF", "\xC3", "\xF0\x9F\x94\x91", "\xED\xA0\x80"};
  return s;
}

// What the document writer's cursor form writes: `key`, then `s` escaped, into room of exactly the
// size it promises (json_string_bound); the guard bytes after that room must stay untouched.
// `fill`: what the room and the guard hold before the write (a short text is copied, then scanned
// where it was copied to: the room's bytes past it must change nothing, special or not).
std::string written_at_cursor(const std::string& key, const std::string& s, char fill = '#') {
  constexpr std::size_t kGuard = 32;
  const std::size_t room = key.size() + encoding::json_string_bound(s.size());
  std::vector<char> buf(room + kGuard, fill);
  const char* end = encoding::write_json_string(buf.data(), key, s);
  EXPECT_LE(static_cast<std::size_t>(end - buf.data()), room);
  EXPECT_EQ(std::string(buf.end() - kGuard, buf.end()), std::string(kGuard, fill)) << "wrote past its bound";
  return std::string(buf.data(), static_cast<std::size_t>(end - buf.data()));
}

std::string escaped(const std::string& s) {
  std::string out = "prefix";  // appended to what is there
  encoding::append_json_string(out, s);
  // The member form (a key, then the string) writes the key and the same string, for keys of every
  // length 0-20 (each byte different: the short copies move them in overlapping pieces) and long
  // ones (the one-append path holds up to 256 bytes).
  std::vector<std::string> keys{std::string(",\"k\":"), std::string(200, 'k'), std::string(250, 'k')};
  for (std::size_t n = 0; n <= 20; ++n) keys.push_back(std::string("0123456789ABCDEFGHIJ").substr(0, n));
  for (const std::string& key : keys) {
    std::string member = "prefix";
    encoding::append_json_string(member, key, s);
    EXPECT_EQ(member, "prefix" + key + out.substr(6)) << key.size() << " " << s.size();
    EXPECT_EQ(written_at_cursor(key, s), key + out.substr(6)) << key.size() << " " << s.size();
  }
  return out.substr(6);
}

TEST(JsonEscapeScan, EveryLengthAndPositionMatchesTheByteByByteEscaper) {
  for (std::size_t len = 0; len <= 70; ++len) {
    const std::string plain(len, 'a');
    ASSERT_EQ(escaped(plain), reference_json_string(plain)) << len;
    // Plain bytes, each different from its neighbours: a short copy that misplaces one shows.
    constexpr std::string_view kAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    std::string distinct;
    for (std::size_t i = 0; i < len; ++i) distinct += kAlphabet[i % kAlphabet.size()];
    ASSERT_EQ(escaped(distinct), reference_json_string(distinct)) << len;
    for (const auto& sp : specials()) {
      for (std::size_t at = 0; at <= len; ++at) {
        std::string s = plain;
        s.insert(at, sp);
        ASSERT_EQ(escaped(s), reference_json_string(s)) << "length " << len << ", special at " << at;
        // A second special after the first: the scan resumes mid-block.
        for (std::size_t at2 = at + sp.size(); at2 <= s.size(); at2 += 3) {
          std::string t = s;
          t.insert(at2, "\"");
          ASSERT_EQ(escaped(t), reference_json_string(t)) << "length " << len << ", specials at " << at << ", " << at2;
        }
      }
    }
  }
}

// Texts of 0-20 bytes (the short ones the cursor form copies and then tests as one 16-byte block)
// with every byte value 0-255 at every position, and a second special byte after it, written into
// room filled with plain bytes, quotes, control characters or non-ASCII bytes: the same bytes as
// the byte-by-byte escaper.
TEST(JsonEscapeScan, EveryByteAtEveryPositionOfShortTextsMatchesTheByteByByteEscaper) {
  constexpr std::string_view kAlphabet = "abcdefghijklmnopqrstuv";
  for (std::size_t len = 0; len <= 20; ++len) {
    const std::string plain(kAlphabet.substr(0, len));
    for (const char fill : {'#', '"', '\x01', '\x80'}) {
      ASSERT_EQ(written_at_cursor(",\"k\":", plain, fill), ",\"k\":" + reference_json_string(plain)) << len;
      for (std::size_t at = 0; at < len; ++at) {
        for (int b = 0; b < 256; ++b) {
          std::string s = plain;
          s[at] = static_cast<char>(b);
          ASSERT_EQ(written_at_cursor(",\"k\":", s, fill), ",\"k\":" + reference_json_string(s))
              << "length " << len << ", byte " << b << " at " << at << ", room filled with " << int(fill);
          if (at + 1 < len) {
            s[len - 1] = '\\';
            ASSERT_EQ(written_at_cursor("", s, fill), reference_json_string(s)) << "length " << len << ", byte " << b
                                                                                << " at " << at << " and a backslash last";
          }
        }
      }
    }
  }
}

// Texts of 0-70 bytes (16- and 32-byte blocks and their overlapping tails) with every byte value
// 0-255 at every position, then with a backslash last too, and with each multi-byte special at
// every position, written by the 16-byte (SSE2) path and by the 32-byte (AVX2) one, each forced:
// the same bytes as the byte-by-byte escaper.
TEST(JsonEscapeScan, EveryByteAtEveryPositionOnBothScanPaths) {
#if defined(__x86_64__)
  const bool avx2 = __builtin_cpu_supports("avx2");
#else
  const bool avx2 = false;
#endif
  constexpr std::string_view kAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'()*";
  // Puts back the path in use before, however the test ends (a failed ASSERT returns early).
  struct RestoreScanPath {
    bool before = encoding::json_scan_avx2_in_use();
    ~RestoreScanPath() { encoding::set_json_scan_avx2(before); }
  } restore;
  bool wide_seen = false;
  for (const bool wide : {false, true}) {
    const bool in_use = encoding::set_json_scan_avx2(wide);
    ASSERT_TRUE(!wide || in_use || !avx2) << "the 32-byte path was not selected";
    wide_seen |= in_use;
    for (std::size_t len = 0; len <= 70; ++len) {
      const std::string plain(kAlphabet.substr(0, len));
      ASSERT_EQ(written_at_cursor(",\"k\":", plain), ",\"k\":" + reference_json_string(plain)) << len << wide;
      for (std::size_t at = 0; at < len; ++at) {
        for (int b = 0; b < 256; ++b) {
          std::string s = plain;
          s[at] = static_cast<char>(b);
          ASSERT_EQ(written_at_cursor("", s), reference_json_string(s))
              << "length " << len << ", byte " << b << " at " << at << ", 32-byte path " << in_use;
          if (at + 1 < len) {
            s[len - 1] = '\\';
            ASSERT_EQ(written_at_cursor("", s), reference_json_string(s))
                << "length " << len << ", byte " << b << " at " << at << " and a backslash last, 32-byte path " << in_use;
          }
        }
      }
      for (const auto& sp : specials()) {
        for (std::size_t at = 0; at + sp.size() <= len; ++at) {
          std::string s = plain;
          s.replace(at, sp.size(), sp);
          ASSERT_EQ(written_at_cursor("", s), reference_json_string(s))
              << "length " << len << ", special at " << at << ", 32-byte path " << in_use;
        }
      }
    }
  }
  EXPECT_EQ(wide_seen, avx2);
}

// The scan path is switched while other threads write: every write gives the same bytes whichever
// path it takes (a race here is what ThreadSanitizer reports on a plain bool switch).
TEST(JsonEscapeScan, SwitchingThePathWhileAnotherThreadWrites) {
  struct RestoreScanPath {
    bool before = encoding::json_scan_avx2_in_use();
    ~RestoreScanPath() { encoding::set_json_scan_avx2(before); }
  } restore;
  const std::string s = "a text of more than 32 bytes with a \"quote\" and \\ in it";
  const std::string expected = reference_json_string(s);
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int i = 0; i < 20000 && !done.load(); ++i)
      if (written_at_cursor("", s) != expected) return done.store(true);  // ends the switching early
  });
  for (int i = 0; i < 20000; ++i) encoding::set_json_scan_avx2(i % 2 == 0);
  writer.join();
  EXPECT_FALSE(done.load()) << "a write differed";
}

// The texts that grow most when escaped (every byte a control character: six bytes each; invalid
// bytes: three; U+0085 / U+2028: six for two or three) stay within json_string_bound, in the
// cursor form as in the appended one, at every length to past the cursor's direct limit.
TEST(JsonEscapeScan, WorstCasesStayWithinTheCursorBound) {
  for (const std::string unit : {"\x01", "\x1F", "\"", "\xFF", "\xC3", "\xC2\x85", "\xE2\x80\xA8", "\xED\xA0\x80"}) {
    for (std::size_t n : {0, 1, 2, 3, 15, 16, 17, 100, 400, 1100}) {
      std::string s;
      for (std::size_t i = 0; i < n; ++i) s += unit;
      std::string appended;
      encoding::append_json_string(appended, s);
      ASSERT_EQ(appended, reference_json_string(s));
      ASSERT_EQ(written_at_cursor(",\"key\":", s), ",\"key\":" + appended) << n;
    }
  }
}

// The scan reads only the bytes of the view: the bytes right after it, special or not, change
// nothing (a view into a longer text), in the appended form and in the cursor form (which copies
// as it scans).
TEST(JsonEscapeScan, ReadsNothingPastTheView) {
  const std::string backing = std::string(40, 'b') + "\"\\\n\xFF";
  for (std::size_t len = 0; len <= 40; ++len) {
    const std::string_view view = std::string_view(backing).substr(40 - len, len);
    std::string out;
    encoding::append_json_string(out, view);
    EXPECT_EQ(out, "\"" + std::string(len, 'b') + "\"") << len;
    const std::string key = ",\"k\":";
    std::vector<char> room(key.size() + encoding::json_string_bound(len));
    const char* end = encoding::write_json_string(room.data(), key, view);
    EXPECT_EQ(std::string(room.data(), static_cast<std::size_t>(end - room.data())), key + out) << len;
  }
}

// CEF escaping byte by byte: header fields escape '\\' and '|', extension values '\\' and '=' and
// write CR / LF as \\r / \\n; other control characters and DEL become a space; U+0085, U+2028 and
// U+2029 become a space (header) or \\n (extension); every other byte is kept.
std::string reference_cef(const std::string& s, bool extension) {
  std::string out;
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const std::string rest = s.substr(i, 3);
    if (rest.rfind("\xC2\x85", 0) == 0 || rest == "\xE2\x80\xA8" || rest == "\xE2\x80\xA9") {
      out += extension ? "\\n" : " ";
      i += c == 0xC2 ? 2 : 3;
      continue;
    }
    if (c == '\\') out += "\\\\";
    else if (!extension && c == '|') out += "\\|";
    else if (extension && c == '=') out += "\\=";
    else if (extension && c == '\n') out += "\\n";
    else if (extension && c == '\r') out += "\\r";
    else if (c < 0x20 || c == 0x7F) out += ' ';
    else out += static_cast<char>(c);
    ++i;
  }
  return out;
}

TEST(CefEscapeScan, EveryLengthAndPositionMatchesTheByteByByteEscaper) {
  const std::vector<std::string> cef_specials{"|", "=", "\\", "\n", "\r", "\x01", "\x7F", "\xC3\xA9", "\xE2\x80\xA8",
                                              "\xE2\x80\xA9", "\xC2\x85", "\xE2\x80", "\xFF", "\xC2"};
  for (std::size_t len = 0; len <= 70; ++len) {
    const std::string plain(len, 'a');
    for (const auto& sp : cef_specials) {
      for (std::size_t at = 0; at <= len; ++at) {
        std::string s = plain;
        s.insert(at, sp);
        for (std::size_t at2 = at + sp.size(); at2 <= s.size() + 1; at2 += 3) {
          std::string t = s;
          if (at2 <= t.size()) t.insert(at2, "=|");
          std::string header = "x", ext = "x";
          encoding::append_cef_header(header, t);
          encoding::append_cef_extension_value(ext, t);
          ASSERT_EQ(header.substr(1), reference_cef(t, false)) << "length " << len << ", specials at " << at << ", " << at2;
          ASSERT_EQ(ext.substr(1), reference_cef(t, true)) << "length " << len << ", specials at " << at << ", " << at2;
        }
      }
    }
  }
  // Reads nothing past the view.
  const std::string backing = std::string(40, 'b') + "|=\\\n";
  for (std::size_t len = 0; len <= 40; ++len) {
    std::string out;
    encoding::append_cef_extension_value(out, std::string_view(backing).substr(40 - len, len));
    EXPECT_EQ(out, std::string(len, 'b')) << len;
  }
}

// escape_cef_extension_tail() (the CEF encoder escapes a value where it was written): the line
// ends as append_cef_extension_value() would have written the value, for every length and every
// special byte at every position, after a line of any length (short ones take the word tests,
// longer ones read the 16 bytes ending the line, bytes of the prefix included), and the prefix is
// never touched, even when it holds bytes the escaper would replace.
TEST(CefEscapeScan, EscapingInPlaceEqualsEscapingOnAppend) {
  const std::vector<std::string> cef_specials{"|", "=", "\\", "\n", "\r", "\x01", "\x7F", "\xC3\xA9", "\xE2\x80\xA8",
                                              "\xE2\x80\xA9", "\xC2\x85", "\xE2\x80", "\xFF", "\xC2"};
  std::string scratch;
  std::size_t compared = 0;
  const std::vector<std::string> prefixes{"", "k=", "a=b\\n ", "CEF:0|v|p|1|c|n|3|rt=1 msg=", std::string(40, '=')};
  for (const auto& prefix : prefixes) {
    for (std::size_t len = 0; len <= 40; ++len) {
      const std::string plain(len, 'a');
      for (const auto& sp : cef_specials) {
        for (std::size_t at = 0; at <= len; ++at) {
          std::string value = plain;
          value.insert(at, sp);
          std::string expected = prefix;
          encoding::append_cef_extension_value(expected, value);
          std::string line = prefix + value;
          encoding::escape_cef_extension_tail(line, prefix.size(), scratch);
          ASSERT_EQ(line, expected) << "prefix " << prefix.size() << ", length " << len << ", special at " << at;
          ++compared;
        }
      }
      std::string line = prefix + plain;  // nothing to escape: nothing moves
      encoding::escape_cef_extension_tail(line, prefix.size(), scratch);
      ASSERT_EQ(line, prefix + plain);
    }
  }
  EXPECT_GT(compared, 10'000u);
}

// The content-hash id: the unrolled FNV-1a gives the byte-by-byte values (ids are output identity)
// for every length around the eight-byte steps, and the values pinned before the unrolling.
TEST(ContentHash, UnrolledFnvGivesTheByteByByteValues) {
  const auto reference = [](std::string_view s) {
    std::uint64_t h = 1469598103934665603ull;
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
    return h;
  };
  std::string text;
  for (std::size_t len = 0; len <= 70; ++len) {
    EXPECT_EQ(encoding::fnv1a_64(text), reference(text)) << "length " << len;
    text += static_cast<char>((len * 37 + 11) & 0xFF);  // every byte value class, 0x80+ included
  }
  // Pinned values (the ids already out there): "" is the offset basis itself.
  EXPECT_EQ(encoding::fnv1a_64(""), 1469598103934665603ull);
  EXPECT_EQ(encoding::fnv1a_64("a"), 4953267810257967366ull);
  EXPECT_EQ(encoding::fnv1a_64("foobar"), 9870438755804841970ull);
}

}  // namespace
}  // namespace siem
