// Strict absolute-URL parsing, origin pinning and header checks (url.h). Written out rather than
// taken from Boost.URL: Boost.URL first ships with Boost 1.81, whose Debian -dev packages conflict
// with the 1.74 ones the rest of the build (Beast, Asio) uses; the grammar needed here (absolute
// http/https, reg-name or IP host, RFC 3986 path/query characters) is small.
#include "connector/http/url.h"

#include "connector/http/http_text.h"

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/address_v4.hpp>
#include <cctype>
#include <functional>
#include <optional>

#include <fmt/format.h>

namespace siem::http {
namespace {

using text::lower;

bool is_hex(char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; }

// RFC 3986 pchar / query characters besides %HH: unreserved, sub-delims, ':' '@' '/' '?'.
bool is_uri_char(unsigned char c) {
  if (std::isalnum(c)) return true;
  return std::string_view("-._~!$&'()*+,;=:@/?").find(static_cast<char>(c)) != std::string_view::npos;
}

// Printable ASCII that RFC 3986 leaves out but that servers and browsers send anyway.
bool is_encodable(unsigned char c) { return std::string_view("\"<>\\^`{|}").find(static_cast<char>(c)) != std::string_view::npos; }

// DNS name (letters, digits, '-', '_', '.'); IP literals are checked separately.
bool is_reg_name(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  return std::all_of(host.begin(), host.end(), [](unsigned char c) { return std::isalnum(c) || c == '-' || c == '.' || c == '_'; });
}

std::optional<boost::asio::ip::address> ip_of(std::string_view host) {
  boost::system::error_code ec;
  auto a = boost::asio::ip::make_address(std::string(host), ec);
  if (ec) return std::nullopt;
  return a;
}

// Path + query with percent-escapes checked and the encodable characters encoded.
std::string normalise_target(std::string_view tail, const std::function<Error(std::string_view)>& fail) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(tail.size() + 1);
  for (std::size_t i = 0; i < tail.size(); ++i) {
    const auto c = static_cast<unsigned char>(tail[i]);
    if (c == '%') {
      if (i + 2 >= tail.size() || !is_hex(tail[i + 1]) || !is_hex(tail[i + 2])) throw fail("'%' not followed by two hex digits");
      out.append(tail.substr(i, 3));
      i += 2;
    } else if (is_uri_char(c)) {
      out.push_back(static_cast<char>(c));
    } else if (is_encodable(c)) {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    } else {
      throw fail(fmt::format("character '{}' is not allowed in a path or query", static_cast<char>(c)));
    }
  }
  if (out.empty() || out.front() == '?') out.insert(out.begin(), '/');
  return out;
}

}  // namespace

bool Error::transient() const noexcept {
  switch (kind_) {
    case Kind::resolve:
    case Kind::connect:
    case Kind::tls_handshake:
    case Kind::timeout:
    case Kind::protocol:
    case Kind::proxy:
      return true;
    case Kind::tls_verify:
    case Kind::url:
    case Kind::origin:
    case Kind::header:
    case Kind::too_large:
    case Kind::cancelled:  // the caller gave the request up: nothing to retry
      return false;
  }
  return false;
}

std::string printable(std::string_view text, std::size_t max) {
  std::string out;
  for (unsigned char c : text.substr(0, max)) {
    if (c < 0x20 || c >= 0x7f) out += fmt::format("\\x{:02x}", c);
    else out.push_back(static_cast<char>(c));
  }
  if (text.size() > max) out += "...";
  return out;
}

std::string Url::authority() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  bool default_port = (scheme == "https" && port == 443) || (scheme == "http" && port == 80);
  return default_port ? h : fmt::format("{}:{}", h, port);
}

std::string Url::origin() const {
  return fmt::format("{}://{}:{}", scheme, host.find(':') != std::string::npos ? "[" + host + "]" : host, port);
}

Url parse_url(std::string_view url) {
  auto fail = [&](std::string_view why) {
    return Error(Error::Kind::url, fmt::format("invalid URL '{}': {}", printable(url), why));
  };
  for (std::size_t i = 0; i < url.size(); ++i) {
    const auto c = static_cast<unsigned char>(url[i]);
    if (c <= 0x20 || c >= 0x7f)
      throw fail(fmt::format("byte 0x{:02x} at offset {} (control characters, spaces and non-ASCII bytes are not allowed)", c, i));
  }
  Url u;
  auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) throw fail("missing scheme (expected http:// or https://)");
  u.scheme = lower(url.substr(0, scheme_end));
  if (u.scheme != "http" && u.scheme != "https") throw fail("unsupported scheme '" + u.scheme + "'");
  std::string_view rest = url.substr(scheme_end + 3);
  auto path_start = rest.find_first_of("/?#");
  std::string_view auth = rest.substr(0, path_start);
  std::string_view tail = path_start == std::string_view::npos ? std::string_view{} : rest.substr(path_start);
  if (auth.find('@') != std::string_view::npos) throw fail("userinfo ('user@host') is not allowed");
  if (auth.empty()) throw fail("missing host");
  std::string_view port_text;
  bool bracketed = false;
  if (auth.front() == '[') {
    auto close = auth.find(']');
    if (close == std::string_view::npos) throw fail("unterminated IPv6 literal");
    u.host = lower(auth.substr(1, close - 1));
    bracketed = true;
    auto after = auth.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') throw fail("garbage after IPv6 literal");
      port_text = after.substr(1);
      if (port_text.empty()) throw fail("empty port");
    }
  } else {
    auto colon = auth.rfind(':');
    if (colon != std::string_view::npos) {
      port_text = auth.substr(colon + 1);
      if (port_text.empty()) throw fail("empty port");
      auth = auth.substr(0, colon);
    }
    u.host = lower(auth);
  }
  if (u.host.empty()) throw fail("missing host");
  const auto ip = ip_of(u.host);
  if (bracketed ? !(ip && ip->is_v6()) : !(is_reg_name(u.host) || (ip && ip->is_v4())))
    throw fail("host is neither a DNS name nor an IP address");
  if (!port_text.empty()) {
    unsigned long p = 0;
    for (char ch : port_text) {
      if (!std::isdigit(static_cast<unsigned char>(ch))) throw fail("port is not a number");
      p = p * 10 + static_cast<unsigned long>(ch - '0');
      if (p > 65535) throw fail("port out of range");
    }
    if (p == 0) throw fail("port 0");
    u.port = static_cast<std::uint16_t>(p);
  } else {
    u.port = u.scheme == "https" ? 443 : 80;
  }
  if (auto hash = tail.find('#'); hash != std::string_view::npos) tail = tail.substr(0, hash);
  u.target = normalise_target(tail, fail);
  u.is_ip = ip.has_value();
  return u;
}

void check_same_origin(const Url& url, const Url& pinned) {
  if (url.scheme == pinned.scheme && url.host == pinned.host && url.port == pinned.port) return;
  std::string why = url.scheme != pinned.scheme ? "scheme" : url.host != pinned.host ? "host" : "port";
  throw Error(Error::Kind::origin, fmt::format("refusing to follow a URL to {} (its {} differs from the configured origin {})",
                                               url.origin(), why, pinned.origin()));
}

void check_header(std::string_view name, std::string_view value) {
  static constexpr std::string_view kTokenChars = "!#$%&'*+-.^_`|~";
  const bool name_ok = !name.empty() && std::all_of(name.begin(), name.end(), [](unsigned char c) {
    return std::isalnum(c) || kTokenChars.find(static_cast<char>(c)) != std::string_view::npos;
  });
  if (!name_ok) throw Error(Error::Kind::header, fmt::format("invalid header name '{}'", printable(name, 64)));
  if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos)
    throw Error(Error::Kind::header, fmt::format("header {} holds CR, LF or NUL: refused (value not shown)", name));
}

bool is_loopback_host(std::string_view host_in) {
  std::string host = lower(host_in);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host == "localhost" || host.ends_with(".localhost")) return true;
  auto a = ip_of(host);
  if (!a) return false;
  if (a->is_v6() && a->to_v6().is_v4_mapped()) return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, a->to_v6()).is_loopback();
  return a->is_loopback();
}

bool is_link_local_host(std::string_view host_in) {
  std::string host = lower(host_in);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  auto a = ip_of(host);
  if (!a) return false;
  if (a->is_v4()) return (a->to_v4().to_uint() & 0xFFFF0000u) == 0xA9FE0000u;  // 169.254.0.0/16
  if (a->to_v6().is_v4_mapped()) return (boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, a->to_v6()).to_uint() & 0xFFFF0000u) == 0xA9FE0000u;
  return a->to_v6().is_link_local();
}

}  // namespace siem::http
