// Synchronous HTTPS client on Boost.Beast/Asio + OpenSSL: the keep-alive pool, one exchange and the
// response's limits (connections: http_connection.cc; proxy selection: proxy.cc). Every connection
// owns a private io_context; each step runs asynchronously under run_for() with the request's
// deadline, so a stalled peer (or resolver) can never hang the calling thread: on expiry the socket
// is closed, the pending handlers drain, and Error{timeout} is thrown.
#include "connector/http/http_client.h"

#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/write.hpp>
#include <boost/beast/http.hpp>
#include <deque>
#include <map>
#include <mutex>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "connector/http/http_connection.h"
#include "connector/http/http_text.h"

namespace siem::http {
namespace {

using detail::Connection;
using detail::run_until;
using detail::SteadyClock;
using text::iequals;
using text::lower;
using text::trim;
namespace ssl = boost::asio::ssl;
namespace bhttp = boost::beast::http;

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

}  // namespace

// ------------------------------------------------------------------------------------------ misc

std::optional<std::string> Response::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (iequals(k, name)) return v;
  return std::nullopt;
}

// ------------------------------------------------------------------------------------------ client

struct Client::Impl {
  ClientOptions options;
  ssl::context tls_ctx{ssl::context::tls_client};
  std::mutex mu;
  std::map<std::string, std::deque<std::unique_ptr<Connection>>> idle;  // origin key -> connections
  std::atomic<std::uint64_t> requests{0}, opened{0}, reused{0};

  explicit Impl(ClientOptions o) : options(std::move(o)) { detail::configure_tls(tls_ctx, options); }

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

  std::unique_ptr<Connection> connect(const Url& u, const std::string& proxy, SteadyClock::time_point deadline,
                                      const std::atomic<bool>* cancel) {
    auto c = detail::open_connection(u, proxy, deadline, options, tls_ctx, cancel);
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
      if (!c) c = connect(u, proxy, deadline, request.cancel);
      else reused.fetch_add(1, std::memory_order_relaxed);
      c->cancel = request.cancel;  // this request's, never a former user's (pooled connections)
      bool received_any = false, keep_alive = false;
      try {
        Response res = exchange(*c, u, plain_via_proxy, request, deadline, received_any, keep_alive);
        ++c->uses;
        c->cancel = nullptr;
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
