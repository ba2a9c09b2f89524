// Synchronous HTTPS client on Boost.Beast/Asio + OpenSSL. Every connection owns a private
// io_context; each step runs asynchronously under run_for() with the request's deadline, so a
// stalled peer (or resolver) can never hang the calling thread: on expiry the socket is closed, the
// pending handlers drain, and Error{timeout} is thrown.
#include "connector/http/http_client.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <cstdlib>
#include <deque>
#include <functional>
#include <map>
#include <mutex>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace siem::http {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](unsigned char x, unsigned char y) { return std::tolower(x) == std::tolower(y); });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

// Decodes gzip, zlib or raw deflate; throws Error{protocol} when corrupt or above `limit`.
std::string inflate_body(const std::string& in, bool gzip, std::size_t limit) {
  auto attempt = [&](int window_bits, std::string& out) -> bool {
    z_stream zs{};
    if (inflateInit2(&zs, window_bits) != Z_OK) return false;
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    zs.avail_in = static_cast<uInt>(in.size());
    char chunk[64 * 1024];
    int rc = Z_OK;
    while (rc != Z_STREAM_END) {
      zs.next_out = reinterpret_cast<Bytef*>(chunk);
      zs.avail_out = sizeof chunk;
      rc = inflate(&zs, Z_NO_FLUSH);
      if (rc != Z_OK && rc != Z_STREAM_END) {
        inflateEnd(&zs);
        return false;
      }
      out.append(chunk, sizeof chunk - zs.avail_out);
      if (out.size() > limit) {
        inflateEnd(&zs);
        throw Error(Error::Kind::too_large, fmt::format("decoded response body exceeds the limit of {} bytes", limit));
      }
      if (rc == Z_OK && zs.avail_in == 0 && zs.avail_out != 0) break;  // truncated input
    }
    inflateEnd(&zs);
    return rc == Z_STREAM_END;
  };
  std::string out;
  if (attempt(gzip ? 15 + 16 : 15 + 32, out)) return out;
  if (!gzip) {  // some servers send raw deflate for "deflate"
    out.clear();
    if (attempt(-15, out)) return out;
  }
  throw Error(Error::Kind::protocol, fmt::format("cannot decode {} response body", gzip ? "gzip" : "deflate"));
}

std::string openssl_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

// One keep-alive connection with its own io_context.
struct Connection {
  asio::io_context ioc{1};
  tcp::socket socket{ioc};
  std::unique_ptr<ssl::stream<tcp::socket>> tls;
  beast::flat_buffer buffer;
  SteadyClock::time_point idle_since{};
  std::uint64_t uses = 0;

  tcp::socket& lowest() { return tls ? tls->next_layer() : socket; }
  void close() {
    boost::system::error_code ec;
    lowest().shutdown(tcp::socket::shutdown_both, ec);
    lowest().close(ec);
  }
};

// Runs the io_context until `done` or the deadline; on expiry calls `cancel`, drains and throws.
void run_until(Connection& c, const bool& done, SteadyClock::time_point deadline, const std::function<void()>& cancel,
               const std::string& what) {
  c.ioc.restart();
  while (!done) {
    auto now = SteadyClock::now();
    if (now >= deadline) break;
    c.ioc.run_one_for(deadline - now);
    if (c.ioc.stopped() && !done) c.ioc.restart();
  }
  if (!done) {
    cancel();
    c.close();
    c.ioc.restart();
    c.ioc.run();  // let the aborted handlers (which reference the caller's stack) complete
    throw Error(Error::Kind::timeout, fmt::format("timed out {}", what));
  }
}

}  // namespace

// ------------------------------------------------------------------------------------------ misc

std::optional<std::string> Response::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (iequals(k, name)) return v;
  return std::nullopt;
}

bool no_proxy_matches(std::string_view host_in, std::uint16_t port, std::string_view no_proxy) {
  std::string host = lower(host_in);
  if (!host.empty() && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  std::size_t pos = 0;
  while (pos <= no_proxy.size()) {
    auto end = no_proxy.find_first_of(", ", pos);
    if (end == std::string_view::npos) end = no_proxy.size();
    std::string entry = lower(trim(no_proxy.substr(pos, end - pos)));
    pos = end + 1;
    if (entry.empty()) continue;
    if (entry == "*") return true;
    // Optional ":port" (not for bare IPv6 literals).
    std::optional<unsigned long> entry_port;
    if (entry.front() == '[') {
      auto close = entry.find(']');
      if (close != std::string::npos) {
        if (close + 1 < entry.size() && entry[close + 1] == ':') entry_port = std::strtoul(entry.c_str() + close + 2, nullptr, 10);
        entry = entry.substr(1, close - 1);
      }
    } else if (std::count(entry.begin(), entry.end(), ':') == 1) {
      auto colon = entry.find(':');
      entry_port = std::strtoul(entry.c_str() + colon + 1, nullptr, 10);
      entry = entry.substr(0, colon);
    }
    if (entry_port && *entry_port != port) continue;
    if (entry.starts_with("*.")) entry = entry.substr(1);
    if (entry.starts_with(".")) {
      std::string bare = entry.substr(1);
      if (host == bare || host.ends_with(entry)) return true;
      continue;
    }
    if (host == entry || (host.size() > entry.size() && host.ends_with(entry) && host[host.size() - entry.size() - 1] == '.'))
      return true;
  }
  return false;
}

namespace {
// A proxy URL without "user:password@": proxy authentication is not supported, and credentials
// in HTTPS_PROXY must appear neither on the wire nor in an error message.
std::string without_userinfo(std::string_view proxy) {
  const auto scheme_end = proxy.find("://");
  if (scheme_end == std::string_view::npos) return std::string(proxy);
  const auto start = scheme_end + 3;
  const auto end = proxy.find_first_of("/?#", start);
  const auto at = proxy.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start).rfind('@');
  if (at == std::string_view::npos) return std::string(proxy);
  return std::string(proxy.substr(0, start)) + std::string(proxy.substr(start + at + 1));
}
}  // namespace

std::string select_proxy(const Url& url, const ClientOptions& options) {
  // Loopback and link-local (IMDS) destinations never leave the machine / link through a proxy.
  if (is_loopback_host(url.host) || is_link_local_host(url.host)) return {};
  if (!options.no_proxy.empty() && no_proxy_matches(url.host, url.port, options.no_proxy)) return {};
  if (!options.proxy.empty()) return without_userinfo(options.proxy);
  if (!options.use_env_proxy) return {};
  std::string proxy = url.scheme == "https" ? env("HTTPS_PROXY") : env("HTTP_PROXY");
  if (proxy.empty()) proxy = url.scheme == "https" ? env("https_proxy") : env("http_proxy");
  if (proxy.empty()) return {};
  std::string np = env("NO_PROXY");
  if (np.empty()) np = env("no_proxy");
  if (no_proxy_matches(url.host, url.port, np)) return {};
  return without_userinfo(proxy);
}

// ------------------------------------------------------------------------------------------ client

struct Client::Impl {
  ClientOptions options;
  ssl::context tls_ctx{ssl::context::tls_client};
  std::mutex mu;
  std::map<std::string, std::deque<std::unique_ptr<Connection>>> idle;  // origin key -> connections
  std::atomic<std::uint64_t> requests{0}, opened{0}, reused{0};

  explicit Impl(ClientOptions o) : options(std::move(o)) {
    SSL_CTX* ctx = tls_ctx.native_handle();
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    tls_ctx.set_options(ssl::context::default_workarounds | ssl::context::no_compression);
    tls_ctx.set_default_verify_paths();
    if (!options.ca_file.empty()) {
      if (SSL_CTX_load_verify_locations(ctx, options.ca_file.c_str(), nullptr) != 1)
        throw Error(Error::Kind::tls_handshake,
                    fmt::format("cannot load CA file '{}': {}", options.ca_file, openssl_errors()));
    }
    if (!options.client_cert_file.empty()) {
      const std::string& key = options.client_key_file.empty() ? options.client_cert_file : options.client_key_file;
      if (SSL_CTX_use_certificate_chain_file(ctx, options.client_cert_file.c_str()) != 1 ||
          SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM) != 1)
        throw Error(Error::Kind::tls_handshake, fmt::format("cannot load client certificate '{}' / key '{}': {}",
                                                            options.client_cert_file, key, openssl_errors()));
    }
    tls_ctx.set_verify_mode(ssl::verify_peer);
  }

  static std::string origin_key(const Url& u, const std::string& proxy) {
    return fmt::format("{}://{}:{}|{}", u.scheme, u.host, u.port, proxy);
  }

  std::unique_ptr<Connection> take_idle(const std::string& key) {
    std::lock_guard lock(mu);
    auto it = idle.find(key);
    if (it == idle.end()) return nullptr;
    auto now = SteadyClock::now();
    while (!it->second.empty()) {
      auto c = std::move(it->second.back());
      it->second.pop_back();
      if (now - c->idle_since < options.max_idle) return c;
      c->close();
    }
    return nullptr;
  }

  void give_back(const std::string& key, std::unique_ptr<Connection> c) {
    c->idle_since = SteadyClock::now();
    std::lock_guard lock(mu);
    auto& q = idle[key];
    q.push_back(std::move(c));
    while (q.size() > options.max_idle_per_host) {
      q.front()->close();
      q.pop_front();
    }
  }

  std::unique_ptr<Connection> connect(const Url& u, const std::string& proxy, SteadyClock::time_point deadline) {
    auto c = std::make_unique<Connection>();
    auto connect_deadline = std::min(deadline, SteadyClock::now() + options.connect_timeout);
    Url hop = u;
    if (!proxy.empty()) {
      try {
        hop = parse_url(proxy);
      } catch (const Error& e) {
        throw Error(Error::Kind::proxy, fmt::format("bad proxy setting: {}", e.what()));
      }
    }
    // Resolve.
    std::vector<tcp::endpoint> endpoints;
    boost::system::error_code ec;
    auto addr = asio::ip::make_address(hop.host, ec);
    if (!ec) {
      endpoints.emplace_back(addr, hop.port);
    } else {
      tcp::resolver resolver(c->ioc);
      bool done = false;
      boost::system::error_code rec;
      resolver.async_resolve(hop.host, std::to_string(hop.port),
                             [&](const boost::system::error_code& e, const tcp::resolver::results_type& results) {
                               rec = e;
                               for (const auto& r : results) endpoints.push_back(r.endpoint());
                               done = true;
                             });
      run_until(*c, done, connect_deadline, [&] { resolver.cancel(); }, fmt::format("resolving {}", hop.host));
      if (rec || endpoints.empty())
        throw Error(Error::Kind::resolve, fmt::format("cannot resolve {}: {}", hop.host, rec ? rec.message() : "no address"));
    }
    // Connect.
    {
      bool done = false;
      boost::system::error_code cec;
      asio::async_connect(c->socket, endpoints, [&](const boost::system::error_code& e, const tcp::endpoint&) {
        cec = e;
        done = true;
      });
      run_until(*c, done, connect_deadline, [] {}, fmt::format("connecting to {}:{}", hop.host, hop.port));
      if (cec)
        throw Error(proxy.empty() ? Error::Kind::connect : Error::Kind::proxy,
                    fmt::format("cannot connect to {}{}:{}: {}", proxy.empty() ? "" : "proxy ", hop.host, hop.port, cec.message()));
      c->socket.set_option(tcp::no_delay(true), ec);
    }
    // Tunnel through the proxy for https (plain http goes through the proxy in absolute form).
    if (!proxy.empty() && u.scheme == "https") {
      const std::string connect_target =
          fmt::format("{}:{}", u.host.find(':') != std::string::npos ? "[" + u.host + "]" : u.host, u.port);
      bhttp::request<bhttp::empty_body> req{bhttp::verb::connect, connect_target, 11};
      req.set(bhttp::field::host, req.target());
      req.set(bhttp::field::user_agent, options.user_agent);
      bool done = false;
      boost::system::error_code wec;
      bhttp::async_write(c->socket, req, [&](const boost::system::error_code& e, std::size_t) {
        wec = e;
        done = true;
      });
      run_until(*c, done, connect_deadline, [] {}, "sending CONNECT to the proxy");
      if (wec) throw Error(Error::Kind::proxy, fmt::format("proxy {}: CONNECT failed: {}", proxy, wec.message()));
      bhttp::response_parser<bhttp::empty_body> parser;
      parser.skip(true);  // a CONNECT 200 has no body
      done = false;
      boost::system::error_code rec;
      bhttp::async_read_header(c->socket, c->buffer, parser, [&](const boost::system::error_code& e, std::size_t) {
        rec = e;
        done = true;
      });
      run_until(*c, done, connect_deadline, [] {}, "waiting for the proxy's CONNECT answer");
      if (rec) throw Error(Error::Kind::proxy, fmt::format("proxy {}: CONNECT failed: {}", proxy, rec.message()));
      int status = static_cast<int>(parser.get().result_int());
      if (status != 200)
        throw Error(Error::Kind::proxy, fmt::format("proxy {} refused CONNECT {}: HTTP {}", proxy, u.authority(), status));
      c->buffer.consume(c->buffer.size());
    }
    // TLS.
    if (u.scheme == "https") {
      c->tls = std::make_unique<ssl::stream<tcp::socket>>(std::move(c->socket), tls_ctx);
      SSL* ssl_handle = c->tls->native_handle();
      X509_VERIFY_PARAM* param = SSL_get0_param(ssl_handle);
      X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      if (u.is_ip) {
        if (X509_VERIFY_PARAM_set1_ip_asc(param, u.host.c_str()) != 1)
          throw Error(Error::Kind::url, fmt::format("cannot verify IP address {}", u.host));
      } else {
        SSL_ctrl(ssl_handle, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, const_cast<char*>(u.host.c_str()));
        if (X509_VERIFY_PARAM_set1_host(param, u.host.c_str(), u.host.size()) != 1)
          throw Error(Error::Kind::url, fmt::format("cannot verify host name {}", u.host));
      }
      bool done = false;
      boost::system::error_code hec;
      c->tls->async_handshake(ssl::stream_base::client, [&](const boost::system::error_code& e) {
        hec = e;
        done = true;
      });
      run_until(*c, done, connect_deadline, [] {}, fmt::format("in the TLS handshake with {}", u.authority()));
      if (hec) {
        long vr = SSL_get_verify_result(ssl_handle);
        if (vr != X509_V_OK)
          throw Error(Error::Kind::tls_verify,
                      fmt::format("TLS certificate verification failed for {}: {}", u.authority(),
                                  X509_verify_cert_error_string(vr)));
        std::string detail = hec.message();
        if (hec.category() == asio::error::get_ssl_category()) {
          char buf[256];
          ERR_error_string_n(static_cast<unsigned long>(hec.value()), buf, sizeof buf);
          detail = buf;
        }
        throw Error(Error::Kind::tls_handshake, fmt::format("TLS handshake with {} failed: {}", u.authority(), detail));
      }
    }
    opened.fetch_add(1, std::memory_order_relaxed);
    return c;
  }

  // Reads one response into `parser`, enforcing the body limit on the wire: a Content-Length
  // above it is refused right after the header (before any body is read), and a chunked or
  // close-delimited body is checked after every read. The unparsed bytes held in the connection's
  // buffer are bounded by one read (64 KiB), so the memory used is bounded by the limit too.
  void read_response(Connection& c, bhttp::response_parser<bhttp::string_body>& parser, bool head, const std::string& what,
                     SteadyClock::time_point deadline, bool& received_any) {
    const std::size_t limit = options.max_response_bytes;
    parser.body_limit(limit);
    parser.header_limit(64 * 1024);
    if (head) parser.skip(true);
    bool done = false;
    boost::system::error_code ec;
    auto on_done = [&](const boost::system::error_code& e, std::size_t) {
      ec = e;
      done = true;
    };
    auto too_large = [&](std::string detail) {
      return Error(Error::Kind::too_large, fmt::format("response to {} refused: {} (limit {} bytes)", what, detail, limit));
    };
    auto check = [&](const char* step) {
      received_any = received_any || parser.got_some();
      if (ec == bhttp::error::body_limit) {  // Beast checks an announced length against the limit itself
        const auto length = parser.content_length();
        throw too_large(std::string(step) == "header" ? fmt::format("Content-Length {}", length ? std::to_string(*length) : "above the limit")
                                                      : "body above the limit");
      }
      if (ec) throw Error(Error::Kind::protocol, fmt::format("reading the response {} to {} failed: {}", step, what, ec.message()));
    };
    if (c.tls) bhttp::async_read_header(*c.tls, c.buffer, parser, on_done);
    else bhttp::async_read_header(c.socket, c.buffer, parser, on_done);
    run_until(c, done, deadline, [] {}, fmt::format("waiting for the response to {}", what));
    check("header");
    if (auto length = parser.content_length(); length && *length > limit)
      throw too_large(fmt::format("Content-Length {}", *length));
    while (!parser.is_done()) {
      done = false;
      if (c.tls) bhttp::async_read_some(*c.tls, c.buffer, parser, on_done);
      else bhttp::async_read_some(c.socket, c.buffer, parser, on_done);
      run_until(c, done, deadline, [] {}, fmt::format("reading the response to {}", what));
      check("body");
      if (parser.get().body().size() > limit) throw too_large("body above the limit");
    }
  }

  // One exchange on `c`. `received_any` tells whether the peer answered anything (for the
  // stale-keep-alive retry decision).
  Response exchange(Connection& c, const Url& u, bool via_proxy_plain, const Request& request,
                    SteadyClock::time_point deadline, bool& received_any, bool& keep_alive) {
    bhttp::verb verb = bhttp::string_to_verb(request.method);
    bhttp::request<bhttp::string_body> req;
    if (verb == bhttp::verb::unknown) req.method_string(request.method);
    else req.method(verb);
    req.version(11);
    req.target(via_proxy_plain ? fmt::format("{}://{}{}", u.scheme, u.authority(), u.target) : u.target);
    req.set(bhttp::field::host, u.authority());
    req.set(bhttp::field::user_agent, options.user_agent);
    if (options.accept_gzip) req.set(bhttp::field::accept_encoding, "gzip, deflate");
    for (const auto& [k, v] : request.headers) req.set(k, v);
    req.body() = request.body;
    if (!request.body.empty() || verb == bhttp::verb::post || verb == bhttp::verb::put || verb == bhttp::verb::patch)
      req.prepare_payload();

    const std::string what = fmt::format("{} {}", request.method, u.authority());
    bool done = false;
    boost::system::error_code ec;
    auto on_done = [&](const boost::system::error_code& e, std::size_t) {
      ec = e;
      done = true;
    };
    if (c.tls) bhttp::async_write(*c.tls, req, on_done);
    else bhttp::async_write(c.socket, req, on_done);
    run_until(c, done, deadline, [] {}, fmt::format("sending {}", what));
    if (ec) throw Error(Error::Kind::protocol, fmt::format("sending {} failed: {}", what, ec.message()));

    bhttp::response_parser<bhttp::string_body> parser;
    read_response(c, parser, verb == bhttp::verb::head, what, deadline, received_any);
    auto& msg = parser.get();
    keep_alive = msg.keep_alive();
    Response res;
    res.status = static_cast<int>(msg.result_int());
    std::string encoding;
    for (const auto& field : msg) {
      std::string name(field.name_string());
      if (iequals(name, "content-encoding")) {
        encoding = lower(trim(field.value()));
        continue;  // the body is returned decoded
      }
      res.headers.emplace_back(std::move(name), std::string(field.value()));
    }
    res.body = std::move(msg.body());
    if (encoding == "gzip" || encoding == "x-gzip") res.body = inflate_body(res.body, true, options.max_response_bytes);
    else if (encoding == "deflate") res.body = inflate_body(res.body, false, options.max_response_bytes);
    else if (!encoding.empty() && encoding != "identity") {
      res.headers.emplace_back("Content-Encoding", encoding);  // unknown coding: hand back as is
    }
    return res;
  }

  Response send(const Request& request) {
    requests.fetch_add(1, std::memory_order_relaxed);
    Url u = parse_url(request.url);
    if (!request.pin.empty()) check_same_origin(u, parse_url(request.pin));
    for (const auto& [name, value] : request.headers) check_header(name, value);
    check_header("User-Agent", options.user_agent);
    std::string proxy = request.direct ? std::string() : select_proxy(u, options);
    const bool plain_via_proxy = !proxy.empty() && u.scheme == "http";
    const auto deadline = SteadyClock::now() + request.timeout.value_or(options.request_timeout);
    const std::string key = origin_key(u, proxy);

    for (int attempt = 0;; ++attempt) {
      auto c = attempt == 0 ? take_idle(key) : nullptr;
      const bool reused_conn = c != nullptr;
      if (!c) c = connect(u, proxy, deadline);
      else reused.fetch_add(1, std::memory_order_relaxed);
      bool received_any = false, keep_alive = false;
      try {
        Response res = exchange(*c, u, plain_via_proxy, request, deadline, received_any, keep_alive);
        ++c->uses;
        if (keep_alive) give_back(key, std::move(c));
        else c->close();
        return res;
      } catch (const Error& e) {
        c->close();
        // A pooled connection the server closed meanwhile: retry once on a fresh one, unless the
        // server had started answering (then the request may have been processed).
        if (reused_conn && !received_any && e.kind() == Error::Kind::protocol && attempt == 0) {
          spdlog::debug("http: idle connection to {} went stale ({}); reconnecting", u.authority(), e.what());
          continue;
        }
        throw;
      }
    }
  }
};

Client::Client(ClientOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Client::~Client() {
  std::lock_guard lock(impl_->mu);
  for (auto& [k, q] : impl_->idle)
    for (auto& c : q) c->close();
}

Response Client::send(const Request& request) { return impl_->send(request); }

ClientStats Client::stats() const {
  return {impl_->requests.load(), impl_->opened.load(), impl_->reused.load()};
}

const ClientOptions& Client::options() const noexcept { return impl_->options; }

}  // namespace siem::http
