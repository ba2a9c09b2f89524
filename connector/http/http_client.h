// A small synchronous HTTPS client on Boost.Beast/Asio + OpenSSL for sources and HTTP sinks.
// TLS 1.2+ with certificate and host name verification always on (extra trust anchors from
// ca_file), HTTP proxy via CONNECT (HTTPS_PROXY / NO_PROXY or config), keep-alive connection reuse,
// gzip response decoding, and connect/request deadlines. Each call blocks the calling thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace siem::http {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method = "GET";
  std::string url;        // absolute http:// or https:// URL
  Headers headers;
  std::string body;
  std::optional<std::chrono::milliseconds> timeout;  // whole request; default from ClientOptions
};

struct Response {
  int status = 0;
  Headers headers;
  std::string body;  // decoded (gzip/deflate removed)
  // Case-insensitive header lookup.
  std::optional<std::string> header(std::string_view name) const;
};

// Transport-level failure (no HTTP status): the kind lets callers tell a bad CA from a timeout.
class Error : public std::runtime_error {
 public:
  enum class Kind { resolve, connect, tls_handshake, tls_verify, timeout, protocol, proxy, url };
  Error(Kind kind, std::string message) : std::runtime_error(std::move(message)), kind_(kind) {}
  Kind kind() const noexcept { return kind_; }
  // Retrying may help (timeouts, refused connections, resets) - not for verify/url errors.
  bool transient() const noexcept;

 private:
  Kind kind_;
};

struct ClientOptions {
  std::string ca_file;     // extra trust anchors (PEM), added to the system store
  std::string client_cert_file, client_key_file;  // optional mutual TLS
  std::string proxy;       // "http://host:port"; empty = from HTTPS_PROXY/https_proxy unless NO_PROXY matches
  bool use_env_proxy = true;
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds request_timeout{60'000};
  std::size_t max_idle_per_host = 4;
  std::string user_agent = "siem-connector/" SIEM_VERSION;
  bool accept_gzip = true;
};

class Client {
 public:
  explicit Client(ClientOptions options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends one request, reusing an idle keep-alive connection to the same origin when possible.
  // Throws http::Error on transport failure; any HTTP status is returned, not thrown. Thread-safe.
  Response send(const Request& request);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace siem::http
