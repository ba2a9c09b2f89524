// What the conversions and the writers share: the IP address checks (ip, ipv4, ipv6). The
// conversions themselves are in conversion_table.cc; the elastic/snake shapes of a record's objects
// in json_shapes.cc.
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
