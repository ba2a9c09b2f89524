#include "tools/emulator/server/http_server.h"

#include <sys/socket.h>

#include <algorithm>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <condition_variable>
#include <deque>
#include <list>
#include <set>
#include <stdexcept>
#include <thread>

namespace siem::httpd {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string_view reason_for(int status) {
  return bhttp::obsolete_reason(static_cast<bhttp::status>(status));
}

}  // namespace

std::string percent_decode(std::string_view in, bool plus_is_space) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%' && i + 2 < in.size()) {
      int hi = hexval(in[i + 1]);
      int lo = hexval(in[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(plus_is_space && c == '+' ? ' ' : c);
  }
  return out;
}

std::string percent_encode(std::string_view in) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char ch : in) {
    auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::optional<std::string> Request::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (iequals(k, name)) return v;
  return std::nullopt;
}

std::map<std::string, std::string> Request::query_params() const {
  std::map<std::string, std::string> out;
  std::string_view q = query;
  while (!q.empty()) {
    auto amp = q.find('&');
    std::string_view part = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view{} : q.substr(amp + 1);
    if (part.empty()) continue;
    auto eq = part.find('=');
    std::string key = percent_decode(part.substr(0, eq), true);
    std::string value = eq == std::string_view::npos ? std::string{} : percent_decode(part.substr(eq + 1), true);
    out[std::move(key)] = std::move(value);
  }
  return out;
}

Response Response::json(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  r.headers.emplace_back("Content-Type", "application/json; charset=utf-8");
  return r;
}

Response Response::text(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  r.headers.emplace_back("Content-Type", "text/plain; charset=utf-8");
  return r;
}

Response& Response::with_header(std::string name, std::string value) {
  headers.emplace_back(std::move(name), std::move(value));
  return *this;
}

struct HttpServer::Impl {
  ServerOptions options;
  asio::io_context io;
  std::optional<asio::ssl::context> ssl;
  std::optional<tcp::acceptor> acceptor;
  std::thread accept_thread;

  std::mutex mu;
  std::condition_variable cv;  // wakes delayed responses on stop
  bool stopping = false;
  bool started = false;
  struct RouteEntry { std::string method, prefix; std::shared_ptr<Handler> handler; };
  std::vector<RouteEntry> routes;
  std::deque<Fault> faults;
  std::set<int> open_fds;
  std::list<std::thread> conn_threads;
  std::shared_ptr<std::function<void(const RequestLogEntry&)>> observer;

  HttpServer* owner = nullptr;

  std::shared_ptr<Handler> find_route(const std::string& method, const std::string& path) {
    std::lock_guard lock(mu);
    const RouteEntry* best = nullptr;
    for (const auto& r : routes) {
      if (r.method != "*" && r.method != method) continue;
      if (path.compare(0, r.prefix.size(), r.prefix) != 0) continue;
      if (!best || r.prefix.size() > best->prefix.size()) best = &r;
    }
    return best ? best->handler : nullptr;
  }

  std::optional<Fault> take_fault(const std::string& path) {
    std::lock_guard lock(mu);
    for (auto it = faults.begin(); it != faults.end(); ++it) {
      if (path.compare(0, it->path_prefix.size(), it->path_prefix) != 0) continue;
      if (it->after > 0) {  // not yet: this request is let through (a later fault may still apply)
        --it->after;
        continue;
      }
      Fault f = *it;
      if (--it->count <= 0) faults.erase(it);
      return f;
    }
    return std::nullopt;
  }

  // Sleeps up to `d`; false when the server is stopping.
  // Counted in requests_held() meanwhile.
  bool wait_for(std::chrono::milliseconds d) {
    owner->held_.fetch_add(1);
    std::unique_lock lock(mu);
    const bool stopped = cv.wait_for(lock, d, [&] { return stopping; });
    owner->held_.fetch_sub(1);
    return !stopped;
  }

  template <class Stream>
  void serve(Stream& stream, const std::string& peer) {
    beast::flat_buffer buffer;
    for (;;) {
      bhttp::request_parser<bhttp::string_body> parser;
      parser.body_limit(options.max_body_bytes);
      beast::error_code ec;
      bhttp::read(stream, buffer, parser, ec);
      if (ec) return;  // peer closed, reset, or stop() shut the socket down
      auto& msg = parser.get();

      const auto received = std::chrono::system_clock::now();
      Request req;
      req.method = std::string(msg.method_string());
      req.target = std::string(msg.target());
      auto qpos = req.target.find('?');
      req.path = percent_decode(std::string_view(req.target).substr(0, qpos), false);
      if (qpos != std::string::npos) req.query = req.target.substr(qpos + 1);
      for (const auto& f : msg) req.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
      req.body = std::move(msg.body());
      req.peer = peer;
      bool keep_alive = msg.keep_alive();

      Response res;
      bool handled = false;
      if (auto fault = take_fault(req.path)) {
        if (fault->delay.count() > 0 && !wait_for(fault->delay)) return;
        if (fault->drop_connection) return;
        if (fault->status != 0) {
          res.status = fault->status;
          res.body = fault->body;
          res.headers = fault->headers;
          if (!res.body.empty()) res.headers.emplace_back("Content-Type", "application/json");
          handled = true;
        }
      }
      if (!handled) {
        auto handler = find_route(req.method, req.path);
        if (!handler) {
          res = Response::json(404, R"({"error":{"code":"NotFound","message":"no route for )" + req.method +
                                        " " + req.path + "\"}}");
        } else {
          try {
            res = (*handler)(req);
          } catch (const std::exception& e) {
            res = Response::json(500, std::string(R"({"error":{"code":"InternalServerError","message":")") +
                                          "handler failed" + "\"}}");
            (void)e;
          }
        }
        if (res.delay.count() > 0 && !wait_for(res.delay)) return;
        if (res.drop_connection) return;
      }

      bhttp::response<bhttp::string_body> out;
      out.version(11);
      out.result(static_cast<unsigned>(res.status));
      out.reason(reason_for(res.status));
      for (const auto& [k, v] : res.headers) out.insert(k, v);
      out.body() = std::move(res.body);
      out.keep_alive(keep_alive);
      out.prepare_payload();
      owner->served_.fetch_add(1);  // counted before the write so a client that saw it sees the count
      // Logged before the write for the same reason: a client that got the response (and a test
      // reading the log after it) finds it in the log, in the order the responses were given.
      std::shared_ptr<std::function<void(const RequestLogEntry&)>> obs;
      {
        std::lock_guard lock(mu);
        obs = observer;
      }
      if (obs) (*obs)(RequestLogEntry{std::chrono::system_clock::now(), req.method, req.path, res.status, received, req.query});
      bhttp::write(stream, out, ec);
      if (ec || !keep_alive) return;
    }
  }

  void handle_connection(tcp::socket socket) {
    beast::error_code ec;
    auto ep = socket.remote_endpoint(ec);
    std::string peer = ec ? std::string("?") : ep.address().to_string() + ":" + std::to_string(ep.port());
    socket.set_option(tcp::no_delay(true), ec);
    if (ssl) {
      asio::ssl::stream<tcp::socket&> stream(socket, *ssl);
      stream.handshake(asio::ssl::stream_base::server, ec);
      if (ec) return;  // client rejected our certificate, or spoke plain HTTP
      serve(stream, peer);
      stream.shutdown(ec);
    } else {
      serve(socket, peer);
    }
    socket.shutdown(tcp::socket::shutdown_both, ec);
  }

  void accept_loop() {
    for (;;) {
      tcp::socket socket(io);
      beast::error_code ec;
      acceptor->accept(socket, ec);
      {
        std::lock_guard lock(mu);
        if (stopping) return;
      }
      if (ec) {
        if (ec == asio::error::bad_descriptor || ec == asio::error::invalid_argument) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));  // EMFILE etc.: don't spin
        continue;
      }
      owner->accepted_.fetch_add(1);
      int fd = socket.native_handle();
      std::lock_guard lock(mu);
      // Reap finished connection threads lazily to keep the list bounded.
      open_fds.insert(fd);
      conn_threads.emplace_back([this, fd, s = std::move(socket)]() mutable {
        handle_connection(std::move(s));
        std::lock_guard l(mu);
        open_fds.erase(fd);
      });
    }
  }
};

HttpServer::HttpServer(ServerOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->owner = this;
}

HttpServer::~HttpServer() { stop(); }

void HttpServer::route(std::string method, std::string path_prefix, Handler handler) {
  std::lock_guard lock(impl_->mu);
  impl_->routes.push_back({std::move(method), std::move(path_prefix), std::make_shared<Handler>(std::move(handler))});
}

void HttpServer::add_fault(Fault fault) {
  std::lock_guard lock(impl_->mu);
  impl_->faults.push_back(std::move(fault));
}

void HttpServer::clear_faults() {
  std::lock_guard lock(impl_->mu);
  impl_->faults.clear();
}

void HttpServer::on_request(std::function<void(const RequestLogEntry&)> observer) {
  std::lock_guard lock(impl_->mu);
  impl_->observer = std::make_shared<std::function<void(const RequestLogEntry&)>>(std::move(observer));
}

void HttpServer::start() {
  auto& im = *impl_;
  if (im.started) return;
  const auto& o = im.options;
  if (o.tls) {
    im.ssl.emplace(asio::ssl::context::tls_server);
    im.ssl->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                        asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                        asio::ssl::context::no_tlsv1_1);
    beast::error_code ec;
    im.ssl->use_certificate_chain_file(o.cert_file, ec);
    if (ec) throw std::runtime_error("http server: cannot load certificate " + o.cert_file + ": " + ec.message());
    im.ssl->use_private_key_file(o.key_file, asio::ssl::context::pem, ec);
    if (ec) throw std::runtime_error("http server: cannot load private key " + o.key_file + ": " + ec.message());
  }
  beast::error_code ec;
  auto addr = asio::ip::make_address(o.address, ec);
  if (ec) throw std::runtime_error("http server: bad listen address '" + o.address + "'");
  tcp::endpoint ep(addr, o.port);
  im.acceptor.emplace(im.io);
  im.acceptor->open(ep.protocol(), ec);
  if (!ec) im.acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) im.acceptor->bind(ep, ec);
  if (!ec) im.acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    throw std::runtime_error("http server: cannot listen on " + o.address + ":" + std::to_string(o.port) + ": " +
                             ec.message());
  port_.store(im.acceptor->local_endpoint().port());
  im.started = true;
  im.accept_thread = std::thread([&im] { im.accept_loop(); });
}

void HttpServer::stop() {
  auto& im = *impl_;
  if (!im.started) return;
  std::list<std::thread> threads;
  {
    std::lock_guard lock(im.mu);
    if (im.stopping) return;
    im.stopping = true;
    // Wake the blocking accept() and every blocking read on open connections.
    ::shutdown(im.acceptor->native_handle(), SHUT_RDWR);
    for (int fd : im.open_fds) ::shutdown(fd, SHUT_RDWR);
  }
  im.cv.notify_all();
  if (im.accept_thread.joinable()) im.accept_thread.join();
  {
    std::lock_guard lock(im.mu);
    threads.swap(im.conn_threads);
    for (int fd : im.open_fds) ::shutdown(fd, SHUT_RDWR);  // connections accepted meanwhile
  }
  for (auto& t : threads)
    if (t.joinable()) t.join();
  beast::error_code ec;
  im.acceptor->close(ec);
}

std::string HttpServer::base_url() const {
  return std::string(impl_->options.tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(port());
}

std::string HttpServer::localhost_url() const {
  return std::string(impl_->options.tls ? "https" : "http") + "://localhost:" + std::to_string(port());
}

}  // namespace siem::httpd
