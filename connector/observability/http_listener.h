// A small HTTP/1.1 server for the observability endpoints (Boost.Beast): GET (and, when a POST
// handler is given, a POST without a body, for `/-/reload`), on the address
// it is configured with, every byte treated as hostile: bounded request header (no body), a
// deadline on every read and write, a bounded number of connections and of requests per
// connection, one I/O thread that a slow client cannot hold up (everything is asynchronous).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace siem::observability {

struct Reply {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

struct ListenerLimits {
  std::size_t max_header_bytes = 8 * 1024;
  std::size_t max_connections = 32;
  std::size_t max_requests_per_connection = 1000;
  std::uint32_t io_timeout_ms = 5'000;  // per read of a request and per write of a reply
};

class HttpListener {
 public:
  // Called on the I/O thread for a GET of `path` (the target without its query); `accept` is the
  // request's Accept header. Must be quick (it only formats counters).
  using Handler = std::function<Reply(std::string_view path, std::string_view accept)>;

  // Who sent a POST: whether the peer address is a loopback one, and whether the request carries
  // an `Origin` or `Sec-Fetch-Site` header (a browser sends one with every cross-site POST).
  struct PostRequest {
    std::string_view path;
    bool from_loopback = false;
    bool from_browser = false;
  };
  // Called on the I/O thread for a POST without a body. Without one, every POST is answered 405.
  using PostHandler = std::function<Reply(const PostRequest&)>;

  // Parses "HOST:PORT" (HOST an IP address, "[v6]" brackets allowed; PORT 0 picks a free one).
  // Throws std::invalid_argument naming what is wrong.
  static std::pair<std::string, std::uint16_t> parse_listen(std::string_view listen);

  // Binds and starts serving (throws std::runtime_error when the address cannot be bound).
  HttpListener(std::string_view listen, Handler handler, ListenerLimits limits = {}, PostHandler post = {});
  ~HttpListener();  // stops and joins the I/O thread
  HttpListener(const HttpListener&) = delete;
  HttpListener& operator=(const HttpListener&) = delete;

  std::uint16_t port() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace siem::observability
