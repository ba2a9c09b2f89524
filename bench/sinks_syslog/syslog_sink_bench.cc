// Syslog sink throughput on loopback: one iteration is one SyslogSink::send() of a batch of
// ~700-byte CEF events (RFC 5424, octet counting for TCP/TLS), returning once written and the
// connection checked healthy, into an in-process receiver thread that reads and discards
// (TCP/TLS) or receives datagrams (UDP). Arguments: protocol (0 tcp, 1 tls, 2 udp), batch size.
#include <benchmark/benchmark.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <memory>
#include <thread>

#include <spdlog/spdlog.h>

#include "sinks/syslog/syslog_sink.h"
#include "tests/support/test_pki.h"

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

siem::EventPtr make_event(int n) {
  auto e = std::make_shared<siem::MappedEvent>();
  e->kind = siem::SourceKind::graph_directory_audit;
  e->source_name = "entra-audit";
  e->set_id("Directory_" + std::to_string(n) + "_29b7a1c4-3f5e-4a51-9d3c-1f0e3b8d2a77");
  e->time_ms = 1772619331002 + n;
  e->severity = 8;
  e->tier = 0;
  e->cef = "CEF:0|Microsoft|Entra ID|1.0|Add member to role|Add member to role|8|rt=1772619331002 "
           "externalId=" + std::string(e->id()) + " suser=admin@contoso.example duser=carol@contoso.example "
           "cs1Label=roleName cs1=Global Administrator cs2Label=tenantId cs2=72f988bf-86f1-41af-91ab-2d7cd011db47 "
           "act=Add member to role outcome=success src=203.0.113.7 requestClientApplication=Azure Portal "
           "msg=Add member to role: Global Administrator granted to carol@contoso.example by admin@contoso.example "
           "cat=RoleManagement deviceExternalId=Core Directory";
  return e;
}

// Accepts connections and drains them until stopped.
class Receiver {
 public:
  Receiver(int protocol, const siem::test::TestPki* pki) : protocol_(protocol), acceptor_(io_), udp_(io_) {
    if (protocol_ == 2) {
      udp_.open(asio::ip::udp::v4());
      udp_.set_option(asio::socket_base::receive_buffer_size(8 << 20));
      udp_.bind({asio::ip::make_address("127.0.0.1"), 0});
      port_ = udp_.local_endpoint().port();
      thread_ = std::thread([this] {
        std::vector<char> buf(65536);
        boost::system::error_code ec;
        while (!stop_) {
          udp_.receive(asio::buffer(buf), 0, ec);
          if (ec) break;
        }
      });
      return;
    }
    if (pki) {
      ctx_.emplace(asio::ssl::context::tls_server);
      ctx_->use_certificate_chain_file(pki->server_cert());
      ctx_->use_private_key_file(pki->server_key(), asio::ssl::context::pem);
    }
    acceptor_.open(tcp::v4());
    acceptor_.bind({asio::ip::make_address("127.0.0.1"), 0});
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this] {
      boost::system::error_code ec;
      tcp::socket s(io_);
      acceptor_.accept(s, ec);
      if (ec) return;
      std::vector<char> buf(256 * 1024);
      if (ctx_) {
        asio::ssl::stream<tcp::socket> tls(std::move(s), *ctx_);
        tls.handshake(asio::ssl::stream_base::server, ec);
        while (!ec && !stop_) tls.read_some(asio::buffer(buf), ec);
      } else {
        while (!ec && !stop_) s.read_some(asio::buffer(buf), ec);
      }
    });
  }
  ~Receiver() {
    stop_ = true;
    boost::system::error_code ec;
    if (protocol_ == 2) {  // a blocked receive() is not woken by close(): send it one last datagram
      asio::ip::udp::socket wake(io_, asio::ip::udp::v4());
      wake.send_to(asio::buffer("x", 1), {asio::ip::make_address("127.0.0.1"), port_}, 0, ec);
    }
    acceptor_.close(ec);
    udp_.close(ec);
    if (thread_.joinable()) thread_.join();
  }
  std::uint16_t port() const { return port_; }

 private:
  int protocol_;
  asio::io_context io_;
  tcp::acceptor acceptor_;
  asio::ip::udp::socket udp_;
  std::optional<asio::ssl::context> ctx_;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

void BM_SyslogSend(benchmark::State& state) {
  spdlog::set_level(spdlog::level::warn);
  const int protocol = static_cast<int>(state.range(0));
  const auto batch_size = static_cast<std::size_t>(state.range(1));
  std::unique_ptr<siem::test::TestPki> pki;
  if (protocol == 1) pki = std::make_unique<siem::test::TestPki>();
  Receiver rx(protocol, pki.get());
  siem::syslog::SyslogSinkOptions o;
  o.name = "bench";
  o.host = protocol == 1 ? "localhost" : "127.0.0.1";
  o.port = rx.port();
  o.protocol = protocol == 0 ? siem::syslog::Protocol::tcp
               : protocol == 1 ? siem::syslog::Protocol::tls
                               : siem::syslog::Protocol::udp;
  o.format.hostname = "connector01";
  if (pki) o.ca_file = pki->ca_pem();
  siem::syslog::SyslogSink sink(o);
  sink.start();
  std::vector<siem::EventPtr> batch;
  for (std::size_t i = 0; i < batch_size; ++i) batch.push_back(make_event(static_cast<int>(i)));
  std::size_t bytes = 0;
  for (const auto& e : batch) bytes += e->cef.size();
  for (auto _ : state) {
    auto r = sink.send(batch);
    if (r.status != siem::SendStatus::ok) {
      state.SkipWithError(r.error.c_str());
      break;
    }
  }
  sink.stop();
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * batch_size));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes));
}

BENCHMARK(BM_SyslogSend)
    ->ArgNames({"proto", "batch"})
    ->Args({0, 100})->Args({0, 500})->Args({0, 2000})
    ->Args({1, 100})->Args({1, 500})->Args({1, 2000})
    ->Args({2, 500})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
