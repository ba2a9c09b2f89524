// A small HTTP/1.1 server on Boost.Beast for loopback tests and the emulators: plain or TLS,
// keep-alive, one thread per connection, routing by method + path prefix, clean stop, and fault
// hooks (delay, drop the connection without a response, fixed status). Binds to 127.0.0.1 only
// unless told otherwise; port 0 picks an ephemeral port readable through port().
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace siem::httpd {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method;   // "GET", "POST", ...
  std::string target;   // raw request target: path plus "?query"
  std::string path;     // percent-decoded path, without the query
  std::string query;    // raw query string (no leading '?'), still percent-encoded
  Headers headers;
  std::string body;
  std::string peer;     // "127.0.0.1:port"

  // Case-insensitive header lookup.
  std::optional<std::string> header(std::string_view name) const;
  // Query parameters, percent-decoded ('+' means space); repeated names keep the last value.
  std::map<std::string, std::string> query_params() const;
};

struct Response {
  int status = 200;
  Headers headers;
  std::string body;
  // Fault hooks a handler may set: wait before answering, or close without answering at all.
  std::chrono::milliseconds delay{0};
  bool drop_connection = false;

  static Response json(int status, std::string body);
  static Response text(int status, std::string body);
  Response& with_header(std::string name, std::string value);
};

using Handler = std::function<Response(const Request&)>;

// A fault applied to the next `count` requests whose path starts with `path_prefix` (empty: any),
// before routing. Faults are consumed in the order they were added.
struct Fault {
  std::string path_prefix;
  int count = 1;
  int after = 0;                 // matching requests let through (routed normally) before it applies
  std::chrono::milliseconds delay{0};
  bool drop_connection = false;
  int status = 0;                // 0: route normally (after the delay)
  std::string body;              // body for `status`
  Headers headers;               // extra headers for `status` (e.g. Retry-After)

  static Fault with_status(std::string prefix, int status, int count = 1, Headers headers = {}, std::string body = {}) {
    Fault f;
    f.path_prefix = std::move(prefix);
    f.status = status;
    f.count = count;
    f.headers = std::move(headers);
    f.body = std::move(body);
    return f;
  }
  static Fault drop(std::string prefix, int count = 1) {
    Fault f;
    f.path_prefix = std::move(prefix);
    f.drop_connection = true;
    f.count = count;
    return f;
  }
  static Fault slow(std::string prefix, std::chrono::milliseconds delay, int count = 1) {
    Fault f;
    f.path_prefix = std::move(prefix);
    f.delay = delay;
    f.count = count;
    return f;
  }
};

struct ServerOptions {
  std::string address = "127.0.0.1";
  std::uint16_t port = 0;        // 0: ephemeral
  bool tls = false;
  std::string cert_file;         // PEM chain, for tls
  std::string key_file;          // PEM private key, for tls
  std::size_t max_body_bytes = 16 * 1024 * 1024;
};

// One line per request, for logging by the owner (never request bodies: they may carry secrets).
struct RequestLogEntry {
  std::chrono::system_clock::time_point at;        // when the response was about to be written
  std::string method;
  std::string path;
  int status = 0;
  std::chrono::system_clock::time_point received;  // when the request was fully read (rate checks)
  std::string query;                               // raw query string (never a body)
};

class HttpServer {
 public:
  explicit HttpServer(ServerOptions options = {});
  ~HttpServer();  // stops
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Routes: the longest matching prefix wins; method "*" matches any method. Routes may be added
  // before or after start(). Unrouted requests get 404 with a JSON error body.
  void route(std::string method, std::string path_prefix, Handler handler);
  void add_fault(Fault fault);
  void clear_faults();

  // Binds and starts accepting; throws std::runtime_error naming the address on failure.
  void start();
  // Closes the listener and every open connection, then joins all threads. Idempotent.
  void stop();

  std::uint16_t port() const noexcept { return port_.load(); }
  // "http://127.0.0.1:<port>" or "https://...".
  std::string base_url() const;
  // Same URL with host "localhost" (for TLS name checks against a localhost certificate).
  std::string localhost_url() const;

  std::size_t requests_served() const noexcept { return served_.load(); }
  // Requests read in full and held now before their answer (a Fault::slow or a Response::delay):
  // a test waits for it to know the client is inside the request.
  std::size_t requests_held() const noexcept { return held_.load(); }
  std::size_t connections_accepted() const noexcept { return accepted_.load(); }
  // Optional observer called for each request (from connection threads) just before its response
  // is written, so a client that received a response finds it already logged.
  void on_request(std::function<void(const RequestLogEntry&)> observer);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::atomic<std::uint16_t> port_{0};
  std::atomic<std::size_t> served_{0};
  std::atomic<std::size_t> accepted_{0};
  std::atomic<std::size_t> held_{0};
};

// Percent-decoding for paths and query values.
std::string percent_decode(std::string_view in, bool plus_is_space);
std::string percent_encode(std::string_view in);

}  // namespace siem::httpd
