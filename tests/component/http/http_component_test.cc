// The HTTPS client over real sockets on 127.0.0.1 with a run-time test CA.
#include <gtest/gtest.h>
#include <zlib.h>

#include <boost/asio.hpp>
#include <fstream>
#include <thread>

#include "connector/http/http_client.h"
#include "tests/support/loopback_server.h"
#include "tests/support/test_pki.h"

using namespace siem;
using namespace std::chrono_literals;

namespace {

std::string gzip(const std::string& in) {
  z_stream zs{};
  deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&zs, static_cast<uLong>(in.size())) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

http::Request make(std::string url, std::string method = "GET", std::string body = {},
                   std::optional<std::chrono::milliseconds> timeout = std::nullopt) {
  http::Request r;
  r.method = std::move(method);
  r.url = std::move(url);
  r.body = std::move(body);
  r.timeout = timeout;
  return r;
}

http::ClientOptions trusting(const test::TestPki& pki) {
  http::ClientOptions o;
  o.ca_file = pki.ca_pem();
  o.use_env_proxy = false;
  o.request_timeout = 5s;
  return o;
}

// A minimal HTTP CONNECT proxy for one tunnel at a time, on 127.0.0.1.
class TinyProxy {
 public:
  TinyProxy() : acceptor_(ioc_, {boost::asio::ip::make_address("127.0.0.1"), 0}) {
    thread_ = std::thread([this] { run(); });
  }
  ~TinyProxy() {
    stop_ = true;
    boost::system::error_code ec;
    boost::asio::io_context wake_ctx;
    boost::asio::ip::tcp::socket wake(wake_ctx);
    wake.connect(acceptor_.local_endpoint(), ec);  // unblocks accept()
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()); }
  std::atomic<int> tunnels{0};
  std::atomic<int> accepted{0};  // connections, whatever they asked for
  std::string last_connect;

 private:
  void run() {
    using boost::asio::ip::tcp;
    for (int served = 0; served < 8; ++served) {  // bounded
      boost::system::error_code ec;
      tcp::socket client(ioc_);
      acceptor_.accept(client, ec);
      if (ec || stop_) return;
      ++accepted;
      boost::asio::streambuf buf;
      boost::asio::read_until(client, buf, "\r\n\r\n", ec);
      if (ec) continue;
      std::string head{boost::asio::buffers_begin(buf.data()), boost::asio::buffers_end(buf.data())};
      auto sp1 = head.find(' ');
      auto sp2 = head.find(' ', sp1 + 1);
      last_connect = head.substr(0, sp2);
      std::string target = head.substr(sp1 + 1, sp2 - sp1 - 1);
      auto colon = target.rfind(':');
      tcp::socket upstream(ioc_);
      upstream.connect({boost::asio::ip::make_address("127.0.0.1"),
                        static_cast<unsigned short>(std::stoi(target.substr(colon + 1)))}, ec);
      if (ec || head.rfind("CONNECT ", 0) != 0) {
        boost::asio::write(client, boost::asio::buffer(std::string("HTTP/1.1 502 Bad Gateway\r\n\r\n")), ec);
        continue;
      }
      ++tunnels;
      boost::asio::write(client, boost::asio::buffer(std::string("HTTP/1.1 200 Connection established\r\n\r\n")), ec);
      auto pump = [](tcp::socket& from, tcp::socket& to) {
        char data[16384];
        for (;;) {
          boost::system::error_code e;
          std::size_t n = from.read_some(boost::asio::buffer(data), e);
          if (e) break;
          boost::asio::write(to, boost::asio::buffer(data, n), e);
          if (e) break;
        }
        boost::system::error_code ig;
        to.shutdown(tcp::socket::shutdown_send, ig);
      };
      std::thread up([&] { pump(client, upstream); });
      pump(upstream, client);
      up.join();
    }
  }
  std::atomic<bool> stop_{false};
  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::thread thread_;
};

}  // namespace

TEST(HttpClient, KeepAliveReusesOneConnection) {
  test::TestPki pki;
  auto srv = test::make_tls_server(pki);
  srv->route("GET", "/ping", [](const test::Request&) { return test::Response::json(200, R"({"ok":true})"); });
  srv->start();
  http::Client client(trusting(pki));
  for (int i = 0; i < 5; ++i) {
    auto res = client.send(make(srv->base_url() + "/ping"));
    ASSERT_EQ(res.status, 200);
    EXPECT_EQ(res.body, R"({"ok":true})");
  }
  EXPECT_EQ(srv->connections_accepted(), 1u);
  EXPECT_EQ(client.stats().connections_opened, 1u);
  EXPECT_EQ(client.stats().connections_reused, 4u);
}

TEST(HttpClient, StaleKeepAliveConnectionIsReplaced) {
  auto srv = test::make_plain_server();
  srv->route("GET", "/", [](const test::Request&) { return test::Response::text(200, "x"); });
  srv->start();
  http::ClientOptions o;
  o.use_env_proxy = false;
  http::Client client(o);
  ASSERT_EQ(client.send(make(srv->base_url() + "/a")).status, 200);
  srv->add_fault(test::Fault::drop("/", 1));  // the server drops the pooled connection's next request
  ASSERT_EQ(client.send(make(srv->base_url() + "/b")).status, 200);
}

TEST(HttpClient, DecodesGzipResponses) {
  test::TestPki pki;
  auto srv = test::make_tls_server(pki);
  const std::string payload(10000, 'a');
  srv->route("GET", "/gz", [&](const test::Request& r) {
    EXPECT_NE(r.header("Accept-Encoding").value_or("").find("gzip"), std::string::npos);
    return test::Response::text(200, gzip(payload)).with_header("Content-Encoding", "gzip");
  });
  srv->start();
  http::Client client(trusting(pki));
  auto res = client.send(make(srv->base_url() + "/gz"));
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.body, payload);
  EXPECT_FALSE(res.header("content-encoding"));
}

TEST(HttpClient, StalledServerTimesOut) {
  test::TestPki pki;
  auto srv = test::make_tls_server(pki);
  srv->route("GET", "/", [](const test::Request&) { return test::Response::text(200, "late"); });
  srv->add_fault(test::Fault::slow("/slow", 60s));  // answered only long after any bound below
  srv->start();
  http::Client client(trusting(pki));
  const auto t0 = std::chrono::steady_clock::now();
  try {
    client.send(make(srv->base_url() + "/slow", "GET", {}, 300ms));
    FAIL() << "expected a timeout";
  } catch (const http::Error& e) {
    EXPECT_EQ(e.kind(), http::Error::Kind::timeout) << e.what();
    EXPECT_TRUE(e.transient());
  }
  // The 300 ms timeout ended it, not the server's answer (60 s), with room for a loaded machine.
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 20s);
}

TEST(HttpClient, ConnectionRefusedIsATransientConnectError) {
  std::uint16_t port;
  {
    auto srv = test::make_plain_server();
    srv->start();
    port = srv->port();
  }
  http::ClientOptions o;
  o.use_env_proxy = false;
  http::Client client(o);
  try {
    client.send(make("http://127.0.0.1:" + std::to_string(port) + "/"));
    FAIL();
  } catch (const http::Error& e) {
    EXPECT_EQ(e.kind(), http::Error::Kind::connect) << e.what();
    EXPECT_TRUE(e.transient());
  }
}

TEST(HttpClient, HostNameMismatchIsATlsVerifyError) {
  test::TestPki pki;
  auto srv = test::make_tls_server(pki, /*wrong_name=*/true);
  srv->start();
  http::Client client(trusting(pki));
  for (const std::string& url : {srv->localhost_url() + "/", srv->base_url() + "/"}) {
    try {
      client.send(make(url));
      FAIL() << url;
    } catch (const http::Error& e) {
      EXPECT_EQ(e.kind(), http::Error::Kind::tls_verify) << e.what();
      EXPECT_NE(std::string(e.what()).find("mismatch"), std::string::npos) << e.what();
      EXPECT_FALSE(e.transient());
    }
  }
}

TEST(HttpClient, UntrustedCaIsATlsVerifyErrorWithTheReason) {
  test::TestPki pki;
  auto srv = test::make_tls_server(pki);
  srv->start();
  http::ClientOptions o = trusting(pki);
  o.ca_file = pki.other_ca_pem();
  http::Client client(o);
  try {
    client.send(make(srv->localhost_url() + "/"));
    FAIL();
  } catch (const http::Error& e) {
    EXPECT_EQ(e.kind(), http::Error::Kind::tls_verify) << e.what();
    const std::string msg = e.what();  // OpenSSL's reason depends on whether the server sends its CA
    EXPECT_TRUE(msg.find("local issuer") != std::string::npos || msg.find("self-signed certificate in certificate chain") != std::string::npos) << msg;
  }
}

TEST(HttpClient, TunnelsThroughAConnectProxy) {
  // Loopback never goes through a proxy: the server is named wrong-name.invalid (its certificate's
  // only name), which the client leaves to the proxy to resolve; the proxy connects to 127.0.0.1.
  test::TestPki pki;
  auto srv = test::make_tls_server(pki, /*wrong_name=*/true);
  srv->route("POST", "/echo", [](const test::Request& r) { return test::Response::text(200, r.body); });
  srv->start();
  TinyProxy proxy;
  http::ClientOptions o = trusting(pki);
  o.proxy = proxy.url();
  http::Client client(o);
  const std::string authority = "wrong-name.invalid:" + std::to_string(srv->port());
  auto res = client.send(make("https://" + authority + "/echo", "POST", "through the tunnel"));
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.body, "through the tunnel");
  EXPECT_EQ(proxy.tunnels.load(), 1);
  EXPECT_EQ(proxy.last_connect, "CONNECT " + authority);
}

TEST(HttpClient, LoopbackDestinationsNeverGoThroughAConfiguredProxy) {
  test::TestPki pki;
  auto srv = test::make_tls_server(pki);
  srv->route("GET", "/direct", [](const test::Request&) { return test::Response::text(200, "direct"); });
  srv->start();
  TinyProxy proxy;
  http::ClientOptions o = trusting(pki);
  o.proxy = proxy.url();
  http::Client client(o);
  EXPECT_EQ(client.send(make(srv->localhost_url() + "/direct")).body, "direct");
  EXPECT_EQ(client.send(make(srv->base_url() + "/direct")).body, "direct");
  EXPECT_EQ(proxy.accepted.load(), 0);
}

// ------------------------------------------------------------------ hostile responses
namespace {

// A plain-TCP peer on 127.0.0.1 that answers the first request of one connection with `head`
// followed by `body_bytes` of 'x' (streamed in 64 KiB writes, or in the same write as the head),
// until the client hangs up. Counts what it managed to write.
class RawResponder {
 public:
  RawResponder(std::string head, std::size_t body_bytes, bool one_write)
      : head_(std::move(head)), body_bytes_(body_bytes), one_write_(one_write),
        acceptor_(ioc_, {boost::asio::ip::make_address("127.0.0.1"), 0}) {
    thread_ = std::thread([this] { serve(); });
  }
  ~RawResponder() { thread_.join(); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) + "/page"; }
  std::atomic<std::size_t> written{0};

 private:
  void serve() {
    using boost::asio::ip::tcp;
    boost::system::error_code ec;
    tcp::socket s(ioc_);
    acceptor_.accept(s, ec);
    if (ec) return;
    boost::asio::streambuf req;
    boost::asio::read_until(s, req, "\r\n\r\n", ec);
    if (ec) return;
    if (one_write_) {
      std::string all = head_ + std::string(body_bytes_, 'x');
      written = boost::asio::write(s, boost::asio::buffer(all), ec);
      return;
    }
    written = boost::asio::write(s, boost::asio::buffer(head_), ec);
    const std::string chunk(64 * 1024, 'x');
    while (!ec && written < head_.size() + body_bytes_) written += boost::asio::write(s, boost::asio::buffer(chunk), ec);
  }
  std::string head_;
  std::size_t body_bytes_;
  bool one_write_;
  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::thread thread_;
};

// Peak resident set of this process (kB).
long peak_rss_kb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

http::ClientOptions limited(std::size_t limit) {
  http::ClientOptions o;
  o.use_env_proxy = false;
  o.request_timeout = 20s;
  o.max_response_bytes = limit;
  return o;
}

void expect_too_large(http::Client& client, const std::string& url, const std::string& detail) {
  try {
    client.send(make(url));
    ADD_FAILURE() << "expected the response to be refused";
  } catch (const http::Error& e) {
    EXPECT_EQ(e.kind(), http::Error::Kind::too_large) << e.what();
    EXPECT_FALSE(e.transient());
    EXPECT_NE(std::string(e.what()).find(detail), std::string::npos) << e.what();
  }
}

}  // namespace

TEST(HttpClientLimits, HeaderAndOversizedBodyInOneWriteAreRefusedAtTheHeader) {
  constexpr std::size_t kLimit = 1024 * 1024;
  RawResponder peer("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(2 * kLimit) + "\r\n\r\n",
                    2 * kLimit, /*one_write=*/true);
  http::Client client(limited(kLimit));
  expect_too_large(client, peer.url(), "Content-Length 2097152");
}

TEST(HttpClientLimits, BodyWithoutLengthInOneWriteIsCutAtTheLimit) {
  constexpr std::size_t kLimit = 1024 * 1024;
  RawResponder peer("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n", 3 * kLimit, /*one_write=*/true);
  http::Client client(limited(kLimit));
  expect_too_large(client, peer.url(), "body above the limit");
}

TEST(HttpClientLimits, HugeContentLengthIsRefusedBeforeTheBodyWithBoundedMemory) {
  // 3 GB announced and streamed (the peer stops at 1 GiB or when the client hangs up).
  RawResponder peer("HTTP/1.1 200 OK\r\nContent-Length: 3000000000\r\n\r\n", std::size_t{1} << 30, /*one_write=*/false);
  const long rss_before = peak_rss_kb();
  http::Client client(limited(32 * 1024 * 1024));
  expect_too_large(client, peer.url(), "Content-Length 3000000000");
  EXPECT_LT(peak_rss_kb() - rss_before, 16 * 1024) << "kB of peak RSS growth";
}

TEST(HttpClientLimits, EndlessStreamWithoutLengthStopsAtTheLimitWithBoundedMemory) {
  constexpr std::size_t kLimit = 8 * 1024 * 1024;
  RawResponder peer("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", std::size_t{1} << 30, /*one_write=*/false);
  const long rss_before = peak_rss_kb();
  http::Client client(limited(kLimit));
  expect_too_large(client, peer.url(), "body above the limit");
  EXPECT_LT(peak_rss_kb() - rss_before, 3 * static_cast<long>(kLimit) / 1024) << "kB of peak RSS growth";
}

TEST(HttpClientLimits, GzipBombIsCutAfterInflate) {
  test::TestPki pki;
  auto srv = test::make_tls_server(pki);
  const std::string bomb = gzip(std::string(8 * 1024 * 1024, 'a'));  // ~8 KiB on the wire
  srv->route("GET", "/bomb", [&](const test::Request&) { return test::Response::text(200, bomb).with_header("Content-Encoding", "gzip"); });
  srv->start();
  http::ClientOptions o = trusting(pki);
  o.max_response_bytes = 1024 * 1024;
  http::Client client(o);
  expect_too_large(client, srv->base_url() + "/bomb", "decoded response body exceeds the limit");
}
