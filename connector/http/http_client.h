// A small synchronous HTTPS client on Boost.Beast/Asio + OpenSSL for sources and HTTP sinks.
// TLS 1.2+ with certificate and host name verification always on (extra trust anchors from
// ca_file), HTTP proxy via CONNECT (HTTPS_PROXY / NO_PROXY or config), keep-alive connection reuse,
// gzip response decoding, and connect/request deadlines. Each call blocks the calling thread only.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "connector/http/url.h"

namespace siem::http {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method = "GET";
  std::string url;        // absolute http:// or https:// URL
  Headers headers;
  std::string body;
  std::optional<std::chrono::milliseconds> timeout;  // whole request; default from ClientOptions
  // Origin pinning: when set (the configured root URL of the stream, token authority, identity
  // endpoint or HEC), `url` must have its scheme, host and port, else Error(Kind::origin) is
  // thrown before anything is sent. Set it on every request whose URL a server had a hand in.
  std::string pin;
  // Never through a proxy, whatever configured one (the managed-identity endpoint).
  bool direct = false;
  // When set, the caller can give the request up from another thread (a sink's drain deadline):
  // once *cancel is true, the step under way (resolve, connect, handshake, send, wait for or read
  // the answer) is abandoned within kCancelCheck, the connection closed, and Error{cancelled}
  // thrown. Must outlive the call.
  const std::atomic<bool>* cancel = nullptr;
};

// How often a request with Request::cancel looks at it while it waits for the peer.
inline constexpr std::chrono::milliseconds kCancelCheck{50};

struct Response {
  int status = 0;
  Headers headers;
  std::string body;  // decoded (gzip/deflate removed)
  // Case-insensitive header lookup.
  std::optional<std::string> header(std::string_view name) const;
};

struct ClientOptions {
  std::string ca_file;     // extra trust anchors (PEM), added to the system store
  std::string client_cert_file, client_key_file;  // optional mutual TLS
  std::string proxy;       // "http://host:port"; empty = from HTTPS_PROXY/https_proxy unless NO_PROXY matches
  std::string no_proxy;    // extra NO_PROXY entries applied to the configured proxy too
  bool use_env_proxy = true;
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds request_timeout{60'000};
  std::size_t max_idle_per_host = 4;
  std::string user_agent = "siem-connector/" SIEM_VERSION;
  bool accept_gzip = true;
  // Body limit, decoded and on the wire: a larger Content-Length is refused right after the
  // header, a body growing past it is cut at the first read that crosses it (Error{too_large}).
  std::size_t max_response_bytes = 256u * 1024 * 1024;
  std::chrono::milliseconds max_idle{50'000};           // idle keep-alive connections older are closed
};

// NO_PROXY semantics (curl/Go style): comma/space separated; "*" matches everything; an entry
// matches the host itself and its subdomains ("example.com", ".example.com" and "*.example.com"
// all match "a.example.com"); an entry with ":port" only matches that port. Case-insensitive.
bool no_proxy_matches(std::string_view host, std::uint16_t port, std::string_view no_proxy);

// The proxy ("http://host:port") to use for `url`, or empty for a direct connection: never for a
// loopback (localhost, 127.0.0.0/8, ::1) or link-local (169.254.0.0/16 with IMDS, fe80::/10)
// host, whatever configured the proxy; the configured proxy unless NO_PROXY matches; else, with
// use_env_proxy, HTTPS_PROXY/https_proxy (HTTP_PROXY/http_proxy for http URLs) unless
// NO_PROXY/no_proxy matches.
std::string select_proxy(const Url& url, const ClientOptions& options);

// Counters for tests and metrics.
struct ClientStats {
  std::uint64_t requests = 0;
  std::uint64_t connections_opened = 0;
  std::uint64_t connections_reused = 0;
};

class Client {
 public:
  explicit Client(ClientOptions options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends one request, reusing an idle keep-alive connection to the same origin when possible.
  // Before anything is sent: the URL is parsed strictly, checked against `pin`, and every header
  // checked (check_header). Throws http::Error on transport failure or a refused URL/header; any
  // HTTP status is returned, not thrown. Thread-safe.
  Response send(const Request& request);

  ClientStats stats() const;
  const ClientOptions& options() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace siem::http
