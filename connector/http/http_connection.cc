#include "connector/http/http_connection.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <system_error>
#include <thread>
#include <boost/asio/connect.hpp>
#include <boost/beast/http.hpp>
#include <vector>

#include <fmt/format.h>

namespace siem::http::detail {

namespace bhttp = boost::beast::http;

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

void run_until(Connection& c, const bool& done, SteadyClock::time_point deadline, const std::function<void()>& cancel,
               const std::string& what) {
  c.ioc.restart();
  bool cancelled = false;
  while (!done) {
    auto now = SteadyClock::now();
    if (now >= deadline) break;
    if (c.cancel && c.cancel->load(std::memory_order_acquire)) {
      cancelled = true;
      break;
    }
    // With a cancel flag, wake up every kCancelCheck to look at it (no handler runs meanwhile).
    const auto slice = c.cancel ? std::min<SteadyClock::duration>(deadline - now, kCancelCheck) : deadline - now;
    c.ioc.run_one_for(slice);
    if (c.ioc.stopped() && !done) c.ioc.restart();
  }
  if (!done) {
    cancel();
    c.close();
    c.ioc.restart();
    c.ioc.run();  // let the aborted handlers (which reference the caller's stack) complete
    if (cancelled) throw Error(Error::Kind::cancelled, fmt::format("cancelled while {}", what));
    throw Error(Error::Kind::timeout, fmt::format("timed out {}", what));
  }
}

int system_resolve(const std::string& host, std::uint16_t port, std::vector<tcp::endpoint>& out) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  hints.ai_flags = AI_NUMERICSERV;  // as asio's resolver did (no AI_ADDRCONFIG: "localhost" without a network)
  addrinfo* res = nullptr;
  const int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res);
  if (rc != 0) return rc;
  for (const addrinfo* a = res; a; a = a->ai_next) {
    if (a->ai_family == AF_INET && a->ai_addrlen >= sizeof(sockaddr_in)) {
      const auto* in = reinterpret_cast<const sockaddr_in*>(a->ai_addr);
      asio::ip::address_v4::bytes_type b;
      std::memcpy(b.data(), &in->sin_addr, b.size());
      out.emplace_back(asio::ip::address_v4(b), port);
    } else if (a->ai_family == AF_INET6 && a->ai_addrlen >= sizeof(sockaddr_in6)) {
      const auto* in6 = reinterpret_cast<const sockaddr_in6*>(a->ai_addr);
      asio::ip::address_v6::bytes_type b;
      std::memcpy(b.data(), &in6->sin6_addr, b.size());
      out.emplace_back(asio::ip::address_v6(b, in6->sin6_scope_id), port);
    }
  }
  ::freeaddrinfo(res);
  return 0;
}

std::atomic<ResolveFn> resolve_fn{&system_resolve};

namespace {

// Resolutions under way, abandoned ones included (kMaxResolutions).
std::atomic<int> g_resolutions{0};

// Shared by the resolving thread and the waiter; the thread keeps it alive after a waiter gave up.
struct Resolution {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  int rc = 0;
  std::vector<tcp::endpoint> endpoints;
};

}  // namespace

std::vector<tcp::endpoint> resolve_host(const std::string& host, std::uint16_t port, SteadyClock::time_point deadline,
                                        const std::atomic<bool>* cancel) {
  if (g_resolutions.fetch_add(1) >= kMaxResolutions) {
    g_resolutions.fetch_sub(1);
    throw Error(Error::Kind::resolve, fmt::format("cannot resolve {}: {} earlier resolutions are still under way (the "
                                                  "DNS server does not answer)",
                                                  host, kMaxResolutions));
  }
  auto r = std::make_shared<Resolution>();
  try {
    std::thread([r, host, port, fn = resolve_fn.load()] {
      std::vector<tcp::endpoint> found;
      const int rc = fn(host, port, found);
      {
        std::lock_guard lock(r->mu);
        r->rc = rc;
        r->endpoints = std::move(found);
        r->done = true;
      }
      r->cv.notify_all();
      g_resolutions.fetch_sub(1);
    }).detach();
  } catch (const std::system_error& e) {
    g_resolutions.fetch_sub(1);
    throw Error(Error::Kind::resolve, fmt::format("cannot resolve {}: {}", host, e.what()));
  }
  std::unique_lock lock(r->mu);
  while (!r->done) {
    const auto now = SteadyClock::now();
    if (now >= deadline) throw Error(Error::Kind::timeout, fmt::format("timed out resolving {}", host));
    if (cancel && cancel->load(std::memory_order_acquire))
      throw Error(Error::Kind::cancelled, fmt::format("cancelled while resolving {}", host));
    r->cv.wait_for(lock, cancel ? std::min<SteadyClock::duration>(deadline - now, kCancelCheck) : deadline - now);
  }
  if (r->rc != 0 || r->endpoints.empty())
    throw Error(Error::Kind::resolve,
                fmt::format("cannot resolve {}: {}", host, r->rc != 0 ? ::gai_strerror(r->rc) : "no address"));
  return std::move(r->endpoints);
}

void configure_tls(ssl::context& tls_ctx, const ClientOptions& options) {
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

std::unique_ptr<Connection> open_connection(const Url& u, const std::string& proxy, SteadyClock::time_point deadline,
                                            const ClientOptions& options, ssl::context& tls_ctx,
                                            const std::atomic<bool>* cancel) {
  auto c = std::make_unique<Connection>();
  c->cancel = cancel;
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
    endpoints = resolve_host(hop.host, hop.port, connect_deadline, cancel);
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
  return c;
}

}  // namespace siem::http::detail
