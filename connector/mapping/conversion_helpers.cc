// What the conversions and the writers share: the elastic/snake shapes of a record's objects and
// the IP address checks (ip, ipv4, ipv6). The conversions themselves are in conversion_table.cc.
#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstring>
#include <iterator>

#include <fmt/format.h>

#include "connector/mapping/expression.h"
#include "connector/record/encoding.h"
#include "connector/record/time_parse.h"

namespace siem::mapping {

namespace {

inline bool ascii_upper(char c) { return c >= 'A' && c <= 'Z'; }
inline bool ascii_lower(char c) { return c >= 'a' && c <= 'z'; }
inline bool ascii_digit(char c) { return c >= '0' && c <= '9'; }

// camelCase / PascalCase to snake_case: "userPrincipalName" -> user_principal_name,
// "IPAddress" -> ip_address. Appends to `out`. Every key of an elastic/snake shape goes through
// here, so it writes into space reserved up front (at most one '_' per character) rather than
// appending character by character.
void append_snake(std::string& out, std::string_view key) {
  const std::size_t start = out.size();
  out.resize(start + 2 * key.size());
  char* p = out.data() + start;
  for (std::size_t i = 0; i < key.size(); ++i) {
    const char c = key[i];
    if (ascii_upper(c)) {
      const bool prev_lower = i > 0 && (ascii_lower(key[i - 1]) || ascii_digit(key[i - 1]));
      const bool next_lower = i + 1 < key.size() && ascii_lower(key[i + 1]);
      const bool prev_upper = i > 0 && ascii_upper(key[i - 1]);
      if (prev_lower || (prev_upper && next_lower)) *p++ = '_';
      *p++ = static_cast<char>(c | 0x20);
    } else {
      *p++ = c;
    }
  }
  out.resize(static_cast<std::size_t>(p - out.data()));
}

// The key in snake_case as a JSON string. Keys needing no escaping (all real ones) are written
// straight into `out`.
void append_snake_key(std::string& out, std::string_view key) {
  const bool plain = std::none_of(key.begin(), key.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return c < 0x20 || c == '"' || c == '\\' || c >= 0x80;
  });
  if (plain) {
    out += '"';
    append_snake(out, key);
    out += '"';
    return;
  }
  std::string snake;
  append_snake(snake, key);
  encoding::append_json_string(out, snake);
}

// Records repeat the same keys (every sign-in's conditional access policies, device detail...):
// each key's member prefix (,"snake_key": or, for the compact JSON form, ,"key":) is remembered per
// thread in a small table indexed by a hash of the key, so a key seen before is one compare and one
// append instead of a conversion. A slot holds the last key that hashed there; a different key just
// replaces it.
class KeyCache {
 public:
  explicit KeyCache(bool snake) : snake_(snake) {}
  // `key` as an object member's key: ,"key": (no comma when `first`). Valid until the next call.
  std::string_view prefix(std::string_view key, bool first) {
    // Keys come from the record: only short ones are remembered, so the table stays a few tens of
    // KiB per thread whatever the records hold; a longer key is converted each time into one
    // scratch slot, released again once it grew large.
    Slot& slot = key.size() <= kMaxCachedKey ? slots_[hash(key) % kSlots] : long_key(key);
    if (!slot.valid || slot.key != key) fill(slot, key);
    const std::size_t skip = first ? 1 : 0;
    return std::string_view(slot.text.data() + skip, slot.text.size() - skip);
  }

 private:
  static constexpr std::size_t kSlots = 512;
  static constexpr std::size_t kMaxCachedKey = 64;
  struct Slot {
    bool valid = false;
    std::string key, text;
  };
  // A key not seen before (or no longer): out of line, so that the common case stays small.
  [[gnu::noinline]] void fill(Slot& slot, std::string_view key) const {
    slot.valid = true;
    slot.key.assign(key);
    slot.text.assign(1, ',');
    if (snake_) append_snake_key(slot.text, key);
    else encoding::append_json_string(slot.text, key);
    slot.text += ':';
  }
  [[gnu::noinline]] Slot& long_key(std::string_view key) {
    if (long_.key.capacity() > 4 * kMaxCachedKey + key.size()) long_ = Slot{};  // let a big one go
    long_.valid = false;
    return long_;
  }
  // Length and the first and last 8 bytes (keys of one record differ there, not in the middle).
  static std::size_t hash(std::string_view key) noexcept {
    std::uint64_t head = 0, tail = 0;
    if (key.size() >= 8) {
      std::memcpy(&head, key.data(), 8);
      std::memcpy(&tail, key.data() + key.size() - 8, 8);
    } else if (!key.empty()) {
      std::memcpy(&head, key.data(), key.size());
    }
    const std::uint64_t h = (head * 0x9E3779B97F4A7C15ull) ^ (tail * 0xC2B2AE3D27D4EB4Full) ^ (key.size() * 0x165667B19E3779F9ull);
    return static_cast<std::size_t>(h >> 55);  // the top bits: they depend on every byte read
  }
  bool snake_;
  std::array<Slot, kSlots> slots_;
  Slot long_;  // a key longer than kMaxCachedKey, converted on each use
};

}  // namespace

// Elastic's shape: object keys in snake_case, arrays turned into objects keyed "0", "1", ...
// Members that are null or an empty string are left out, as everywhere in the output (an array
// keeps its items, whose positions are their keys).
void write_elastic(std::string& out, element e, bool arrays_as_objects, std::size_t max_items) {
  switch (e.type()) {
    case simdjson::dom::element_type::OBJECT: {
      static thread_local KeyCache keys(true);
      out += '{';
      bool first = true;
      for (auto field : json::as_object(e)) {
        const auto type = field.value.type();
        if (type == simdjson::dom::element_type::NULL_VALUE ||
            (type == simdjson::dom::element_type::STRING && field.value.get_string().value_unsafe().empty()))
          continue;
        const std::string_view prefix = keys.prefix(field.key, first);
        first = false;
        if (type == simdjson::dom::element_type::STRING) {  // the member in one append (as append_json writes it)
          encoding::append_json_string(out, prefix, field.value.get_string().value_unsafe());
          continue;
        }
        out += prefix;
        write_elastic(out, field.value, arrays_as_objects);
      }
      out += '}';
      return;
    }
    case simdjson::dom::element_type::ARRAY: {
      out += arrays_as_objects ? '{' : '[';
      std::size_t i = 0;
      for (element item : json::as_array(e)) {
        if (i == max_items) break;
        // The separator and (elastic) the position's key, ,"N": -- joined to a string item's append.
        char buf[32];
        char* p = buf;
        if (i > 0) *p++ = ',';
        if (arrays_as_objects) {
          *p++ = '"';
          p = std::to_chars(p, buf + sizeof buf, i).ptr;
          *p++ = '"';
          *p++ = ':';
        }
        const std::string_view prefix(buf, static_cast<std::size_t>(p - buf));
        if (item.type() == simdjson::dom::element_type::STRING) {
          encoding::append_json_string(out, prefix, item.get_string().value_unsafe());
        } else {
          out += prefix;
          write_elastic(out, item, arrays_as_objects);
        }
        ++i;
      }
      out += arrays_as_objects ? '}' : ']';
      return;
    }
    default: json::append_json(out, e);
  }
}

// json::append_json()'s compact text with the members' key prefixes remembered (KeyCache): an object
// member whose value is a string is one append. Arrays and scalars are json::append_json()'s.
void write_compact_json(std::string& out, element e) {
  if (e.type() != simdjson::dom::element_type::OBJECT) {
    json::append_json(out, e);
    return;
  }
  static thread_local KeyCache keys(false);
  out += '{';
  bool first = true;
  for (auto field : json::as_object(e)) {
    const std::string_view prefix = keys.prefix(field.key, first);
    first = false;
    if (field.value.type() == simdjson::dom::element_type::STRING) {
      encoding::append_json_string(out, prefix, field.value.get_string().value_unsafe());
      continue;
    }
    out += prefix;
    write_compact_json(out, field.value);
  }
  out += '}';
}

namespace {


// A dotted-quad IPv4 address exactly as inet_pton(AF_INET) accepts one: four decimal octets of at
// most 255 without leading zeros, three dots, nothing else. Only a shortcut: anything it does not
// accept still goes to inet_pton (IPv6, and whatever it would reject).
bool plain_ipv4(std::string_view s) {
  std::size_t i = 0;
  for (int octet = 0; octet < 4; ++octet) {
    if (octet > 0) {
      if (i >= s.size() || s[i] != '.') return false;
      ++i;
    }
    const std::size_t start = i;
    unsigned value = 0;
    while (i < s.size() && i - start < 3 && s[i] >= '0' && s[i] <= '9') value = value * 10 + static_cast<unsigned>(s[i++] - '0');
    const std::size_t digits = i - start;
    if (digits == 0 || value > 255 || (digits > 1 && s[start] == '0')) return false;
  }
  return i == s.size() && s != "0.0.0.0";  // the unspecified address names no host
}

// inet_pton on a NUL-terminated copy on the stack (no address text is longer than 45 bytes).
bool inet_pton_accepts(int family, std::string_view sv) {
  char text[64];
  if (sv.size() >= sizeof text) return false;
  std::memcpy(text, sv.data(), sv.size());
  text[sv.size()] = '\0';
  unsigned char buf[16] = {};
  if (::inet_pton(family, text, buf) != 1) return false;
  // The unspecified address (0.0.0.0, ::, Entra's placeholder for "no address") names no host.
  return std::any_of(std::begin(buf), std::end(buf), [](unsigned char b) { return b != 0; });
}

bool valid_ipv4(std::string_view sv) {
  if (plain_ipv4(sv)) return true;
  return sv.find(':') == std::string_view::npos && inet_pton_accepts(AF_INET, sv);
}

bool valid_ipv6(std::string_view sv) {
  return sv.find(':') != std::string_view::npos && inet_pton_accepts(AF_INET6, sv);
}

bool valid_ip(std::string_view sv) { return valid_ipv4(sv) || valid_ipv6(sv); }

bool ip_accepts(Conversion c, std::string_view sv) {
  switch (c) {
    case Conversion::ipv4: return valid_ipv4(sv);
    case Conversion::ipv6: return valid_ipv6(sv);
    default: return valid_ip(sv);
  }
}

// An address as logs also write it: with a port ("20.190.128.5:443", "[2001:db8::5]:443") or an
// IPv6 zone ("fe80::1%eth0"), which ECS ip fields and CEF address keys do not take: the bare part.
std::string_view strip_port_and_zone(std::string_view sv) {
  auto is_port = [](std::string_view p) {
    return !p.empty() && p.size() <= 5 && std::all_of(p.begin(), p.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (!sv.empty() && sv.front() == '[') {
    const auto close = sv.find(']');
    if (close == std::string_view::npos) return sv;
    const auto rest = sv.substr(close + 1);
    if (!rest.empty() && !(rest.front() == ':' && is_port(rest.substr(1)))) return sv;
    sv = sv.substr(1, close - 1);
  } else if (const auto colon = sv.find(':');
             colon != std::string_view::npos && sv.find(':', colon + 1) == std::string_view::npos) {
    if (!is_port(sv.substr(colon + 1))) return sv;
    sv = sv.substr(0, colon);  // IPv4 and a port
  }
  if (const auto zone = sv.find('%'); zone != std::string_view::npos) sv = sv.substr(0, zone);
  return sv;
}

}  // namespace

std::optional<std::string_view> ip_address_checked(Conversion c, std::string_view sv) {
  if (!is_ip(c) || ip_accepts(c, sv)) return sv;
  const auto bare = strip_port_and_zone(sv);
  if (bare.size() != sv.size() && ip_accepts(c, bare)) return bare;
  return std::nullopt;
}

namespace {

// The last address text checked on this thread and the answer: one record's address is checked by
// several rules (source.ip, client.ip, related.ip), each time the same bytes. Keyed
// by the text itself (compared byte for byte, never by where it lies: a parser reuses its buffers).
struct IpMemo {
  static constexpr std::size_t kMax = 46;  // the longest IPv6 text, and short ones with a port
  char text[kMax] = {};
  std::uint8_t size = 0;
  Conversion conversion = Conversion::none;  // none: nothing remembered
  bool found = false;
  std::uint8_t at = 0, length = 0;  // the part kept, within text
};
constinit thread_local IpMemo ip_memo;

}  // namespace

// What an ip conversion keeps of `sv` (a part of it, so a view into the same text), or nullopt;
// other conversions keep it whole.
std::optional<std::string_view> ip_address(Conversion c, std::string_view sv) {
  if (!is_ip(c)) return sv;
  // Only `ip` is remembered: ECS and OCSF check one address several times with it; CEF checks it
  // once as ipv4 and once as ipv6, where remembering would only cost.
  if (c != Conversion::ip) return ip_address_checked(c, sv);
  IpMemo& m = ip_memo;
  if (m.conversion == c && m.size == sv.size() && std::memcmp(m.text, sv.data(), sv.size()) == 0) {
    if (!m.found) return std::nullopt;
    return sv.substr(m.at, m.length);
  }
  const auto kept = ip_address_checked(c, sv);
  if (sv.size() <= IpMemo::kMax) {
    std::memcpy(m.text, sv.data(), sv.size());
    m.size = static_cast<std::uint8_t>(sv.size());
    m.conversion = c;
    m.found = kept.has_value();
    if (kept) {
      m.at = static_cast<std::uint8_t>(kept->data() - sv.data());
      m.length = static_cast<std::uint8_t>(kept->size());
    }
  }
  return kept;
}

}  // namespace siem::mapping
