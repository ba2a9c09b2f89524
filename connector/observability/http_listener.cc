#include "connector/observability/http_listener.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <optional>
#include <stdexcept>
#include <thread>

namespace siem::observability {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

std::pair<std::string, std::uint16_t> HttpListener::parse_listen(std::string_view listen) {
  const auto colon = listen.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == listen.size())
    throw std::invalid_argument("expected HOST:PORT, e.g. 127.0.0.1:9464");
  std::string host(listen.substr(0, colon));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  if (ec) throw std::invalid_argument("'" + host + "' is not an IP address (use 127.0.0.1, 0.0.0.0 or ::)");
  const auto port_text = listen.substr(colon + 1);
  unsigned port = 0;
  auto [end, err] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (err != std::errc() || end != port_text.data() + port_text.size() || port > 65535)
    throw std::invalid_argument("'" + std::string(port_text) + "' is not a port number");
  return {host, static_cast<std::uint16_t>(port)};
}

struct HttpListener::Impl {
  // Declared before io: the sessions io may still hold at destruction use them.
  Handler handler;
  PostHandler post;
  ListenerLimits limits;
  std::atomic<std::size_t> connections{0};
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  std::uint16_t port = 0;
  std::thread thread;

  void accept();
};

namespace {

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, HttpListener::Handler& handler, HttpListener::PostHandler& post,
          const ListenerLimits& limits, std::atomic<std::size_t>& count)
      : stream_(std::move(socket)), handler_(handler), post_(post), limits_(limits), count_(count) {}
  ~Session() { count_.fetch_sub(1); }

  void read() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(limits_.max_header_bytes));
    parser_->body_limit(0);  // GET and POST /-/reload have no body; one is refused
    stream_.expires_after(std::chrono::milliseconds(limits_.io_timeout_ms));
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

 private:
  void on_read(beast::error_code ec) {
    if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout ||
        ec == asio::error::operation_aborted || ec == asio::error::connection_reset || ec == asio::error::eof)
      return close();
    // The request line was read (the body limit is checked once the header is): a non-GET method.
    // A POST with a body is refused the same way: the POST served takes none.
    if (const auto m = parser_->get().method();
        ec && m != bhttp::verb::get && m != bhttp::verb::head && m != bhttp::verb::unknown)
      return write(Reply{405, "text/plain; charset=utf-8", allowed_text()}, false);  // e.g. a POST with a body
    if (ec) {  // malformed, too large, body on a GET: answer 400 and close
      Reply bad{400, "text/plain; charset=utf-8", "bad request\n"};
      return write(std::move(bad), false);
    }
    const auto& req = parser_->get();
    ++requests_;
    const bool keep = req.keep_alive() && requests_ < limits_.max_requests_per_connection;
    const bool post = req.method() == bhttp::verb::post && post_;
    // HEAD is GET without the body (RFC 9110 9.3.2): probes such as `wget --spider` send it.
    head_ = req.method() == bhttp::verb::head;
    if (req.method() != bhttp::verb::get && !head_ && !post)
      return write(Reply{405, "text/plain; charset=utf-8", allowed_text()}, false);
    std::string_view target = req.target();
    target = target.substr(0, target.find('?'));
    Reply reply;
    try {
      if (post) {
        beast::error_code peer_ec;
        const auto peer = stream_.socket().remote_endpoint(peer_ec).address();
        const bool loopback = !peer_ec && (peer.is_loopback() || (peer.is_v6() && peer.to_v6().is_v4_mapped() &&
                                                                  asio::ip::make_address_v4(asio::ip::v4_mapped, peer.to_v6()).is_loopback()));
        const bool browser = req.find(bhttp::field::origin) != req.end() || req.find("Sec-Fetch-Site") != req.end();
        reply = post_(HttpListener::PostRequest{target, loopback, browser});
      } else {
        reply = handler_(target, req[bhttp::field::accept]);
      }
    } catch (const std::exception& e) {
      spdlog::warn("observability: {}: {}", std::string(target.substr(0, 100)), e.what());
      reply = Reply{500, "text/plain; charset=utf-8", "internal error\n"};
    }
    write(std::move(reply), keep);
  }

  void write(Reply r, bool keep) {
    auto res =
        std::make_shared<bhttp::response<bhttp::string_body>>(static_cast<bhttp::status>(r.status), 11);
    res->set(bhttp::field::content_type, r.content_type);
    res->set(bhttp::field::cache_control, "no-store");
    if (r.status == 405) res->set(bhttp::field::allow, post_ ? "GET, HEAD, POST" : "GET, HEAD");
    res->keep_alive(keep);
    res->body() = std::move(r.body);
    res->prepare_payload();
    if (head_) res->body().clear();  // the Content-Length of the GET stays; no body follows
    head_ = false;
    stream_.expires_after(std::chrono::milliseconds(limits_.io_timeout_ms));
    bhttp::async_write(stream_, *res,
                       [self = shared_from_this(), res, keep](beast::error_code ec, std::size_t) {
                         if (ec || !keep) return self->close();
                         self->read();
                       });
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.close();
  }

  std::string allowed_text() const {
    return post_ ? "only GET, HEAD, and POST without a body\n" : "only GET and HEAD\n";
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::empty_body>> parser_;
  HttpListener::Handler& handler_;
  HttpListener::PostHandler& post_;
  const ListenerLimits& limits_;
  std::atomic<std::size_t>& count_;
  std::size_t requests_ = 0;
  bool head_ = false;  // the request being answered is a HEAD
};

}  // namespace

void HttpListener::Impl::accept() {
  acceptor.async_accept(asio::make_strand(io), [this](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted) return;
    if (!ec) {
      if (connections.fetch_add(1) >= limits.max_connections) {
        connections.fetch_sub(1);
        beast::error_code ignored;
        socket.close(ignored);  // over the limit: refused at once
      } else {
        std::make_shared<Session>(std::move(socket), handler, post, limits, connections)->read();
      }
    }
    accept();
  });
}

HttpListener::HttpListener(std::string_view listen, Handler handler, ListenerLimits limits, PostHandler post)
    : impl_(std::make_unique<Impl>()) {
  const auto [host, port] = parse_listen(listen);
  impl_->handler = std::move(handler);
  impl_->post = std::move(post);
  impl_->limits = limits;
  const tcp::endpoint ep(asio::ip::make_address(host), port);
  beast::error_code ec;
  impl_->acceptor.open(ep.protocol(), ec);
  if (!ec) impl_->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl_->acceptor.bind(ep, ec);
  if (!ec) impl_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw std::runtime_error("cannot listen on " + std::string(listen) + ": " + ec.message());
  impl_->port = impl_->acceptor.local_endpoint().port();
  impl_->accept();
  impl_->thread = std::thread([this] { impl_->io.run(); });
}

HttpListener::~HttpListener() {
  asio::post(impl_->io, [this] {
    beast::error_code ignored;
    impl_->acceptor.close(ignored);
  });
  impl_->io.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

std::uint16_t HttpListener::port() const noexcept { return impl_->port; }

}  // namespace siem::observability
