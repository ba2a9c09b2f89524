// The HTTP client's connections (http_client.cc keeps them in its keep-alive pool): one socket with
// its own io_context, every step run under a deadline, opened through the resolver, the proxy's
// CONNECT tunnel and the TLS handshake with certificate and host name verification. Internal to
// connector/http.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "connector/http/http_client.h"

namespace siem::http::detail {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

// One keep-alive connection with its own io_context.
struct Connection {
  asio::io_context ioc{1};
  tcp::socket socket{ioc};
  std::unique_ptr<ssl::stream<tcp::socket>> tls;
  beast::flat_buffer buffer;
  SteadyClock::time_point idle_since{};
  std::uint64_t uses = 0;
  const std::atomic<bool>* cancel = nullptr;  // the request under way's Request::cancel (run_until)

  tcp::socket& lowest() { return tls ? tls->next_layer() : socket; }
  void close() {
    boost::system::error_code ec;
    lowest().shutdown(tcp::socket::shutdown_both, ec);
    lowest().close(ec);
  }
};

// Runs the io_context until `done` or the deadline; on expiry (or when c.cancel becomes true) calls
// `cancel`, closes the connection, drains and throws (Error{timeout} / Error{cancelled}).
void run_until(Connection& c, const bool& done, SteadyClock::time_point deadline, const std::function<void()>& cancel,
               const std::string& what);

// The OpenSSL error queue as text (emptied).
std::string openssl_errors();

// A client TLS context: TLS 1.2 at least, no compression, the system trust store plus
// options.ca_file, the optional client certificate, peer verification on. Throws
// Error{tls_handshake} when a file cannot be loaded.
void configure_tls(ssl::context& tls_ctx, const ClientOptions& options);

// Resolves host:port (getaddrinfo, TCP): 0 and the endpoints, or an EAI_* code. Blocking.
using ResolveFn = int (*)(const std::string& host, std::uint16_t port, std::vector<tcp::endpoint>& out);
int system_resolve(const std::string& host, std::uint16_t port, std::vector<tcp::endpoint>& out);
// The function resolve_host runs (system_resolve; tests put a resolver that hangs in its place).
extern std::atomic<ResolveFn> resolve_fn;
// At most this many resolutions run at once (counting abandoned ones not yet returned).
inline constexpr int kMaxResolutions = 16;

// Resolves a host name on a thread of its own and waits for it up to `deadline`, looking at
// `cancel` every kCancelCheck. A resolution still running then is abandoned, not waited for
// (getaddrinfo cannot be interrupted; the thread owns everything it touches and ends with it).
// Throws Error{resolve}, Error{timeout} or Error{cancelled}.
std::vector<tcp::endpoint> resolve_host(const std::string& host, std::uint16_t port, SteadyClock::time_point deadline,
                                        const std::atomic<bool>* cancel);

// A new connection to `u`, through `proxy` when not empty (an https URL through a CONNECT tunnel),
// TLS-verified for https; the steps up to the handshake are bounded by options.connect_timeout
// and `deadline`. Throws Error with the kind of the step that failed.
// `cancel`: Request::cancel (the connection's steps give up when it becomes true).
std::unique_ptr<Connection> open_connection(const Url& u, const std::string& proxy, SteadyClock::time_point deadline,
                                            const ClientOptions& options, ssl::context& tls_ctx,
                                            const std::atomic<bool>* cancel = nullptr);

}  // namespace siem::http::detail
