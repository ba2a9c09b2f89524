// URLs and header values as they reach the wire: a strict parser for absolute http(s) URLs, the
// origin check that pins every server-provided URL (nextLink, deltaLink...) to a configured root,
// and the header-value check. Everything here treats its input as hostile: nothing with a control
// byte, a space or a non-ASCII byte ever reaches a request line or a header.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace siem::http {

// Transport-level failure (no HTTP status): the kind lets callers tell a bad CA from a timeout.
class Error : public std::runtime_error {
 public:
  // origin: a URL outside the origin the request is pinned to; header: a header value with
  // CR, LF or NUL; too_large: a response above the body limit.
  enum class Kind { resolve, connect, tls_handshake, tls_verify, timeout, protocol, proxy, url, origin, header, too_large,
                    cancelled };  // cancelled: Request::cancel was set while the request was under way
  Error(Kind kind, std::string message) : std::runtime_error(std::move(message)), kind_(kind) {}
  Kind kind() const noexcept { return kind_; }
  // Retrying may help (timeouts, refused connections, resets) - not for verify/url/origin errors.
  bool transient() const noexcept;

 private:
  Kind kind_;
};

// An absolute http(s) URL split for connecting. Host is lower-cased, IPv6 without brackets.
struct Url {
  std::string scheme;   // "http" | "https"
  std::string host;
  std::uint16_t port = 0;  // explicit or the scheme default
  std::string target;   // path + query, at least "/"
  bool is_ip = false;   // host is an IPv4/IPv6 literal (verified against IP SANs)
  std::string authority() const;  // host[:port] as used in Host and CONNECT ("[::1]:8443")
  std::string origin() const;     // "scheme://host:port", port always explicit
};

// Parses an absolute http:// or https:// URL (RFC 3986). Refused with Error(Kind::url): any byte
// <= 0x20 (space, CR, LF, NUL...), DEL or a non-ASCII byte anywhere; userinfo ("user@host"); a
// '%' not followed by two hex digits; a host that is neither a DNS name nor an IP literal. The
// printable ASCII characters RFC 3986 leaves out of paths and queries (" < > \ ^ ` { | }) are
// percent-encoded, as browsers do. A fragment is dropped. Messages show the URL with unsafe bytes
// escaped (printable()).
Url parse_url(std::string_view url);

// `text` for a log line or an error message: bytes < 0x20, DEL and non-ASCII as \xNN, cut to
// `max` bytes with "..." appended.
std::string printable(std::string_view text, std::size_t max = 200);

// Origin pinning: throws Error(Kind::origin) unless `url` has the scheme, host and port of
// `pinned` (the configured root). The message names both origins (never a path or query).
void check_same_origin(const Url& url, const Url& pinned);

// Throws Error(Kind::header) when a header name is not an RFC 9110 token or a value holds CR, LF
// or NUL. The message names the header, never its value (it may be a credential).
void check_header(std::string_view name, std::string_view value);

// localhost, *.localhost, 127.0.0.0/8, ::1 (and ::ffff:127.0.0.0/104).
bool is_loopback_host(std::string_view host);
// 169.254.0.0/16 and fe80::/10 (IMDS and other on-link metadata services).
bool is_link_local_host(std::string_view host);

}  // namespace siem::http
