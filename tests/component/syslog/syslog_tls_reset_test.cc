// The syslog sink over TLS (RFC 5425) against a peer on 127.0.0.1 (test CA made at test time) that
// reads part of a batch and then resets the connection (SO_LINGER 0): the sink runner resends the
// whole batch on a new connection, every event arrives at least once, and the source's checkpoint
// is released exactly once, only when every event of it is acknowledged.
#include <gtest/gtest.h>

#include <openssl/ssl.h>
#include <poll.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <chrono>
#include <fstream>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "connector/core/ack_tracker.h"
#include "connector/core/dead_letter.h"
#include "connector/core/sink_runner.h"
#include "sinks/syslog/syslog_sink.h"
#include "tests/support/test_pki.h"
#include "tests/support/wait.h"

namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace ssl = asio::ssl;
using asio::ip::tcp;

// Accepts TLS connections one after another on 127.0.0.1 and keeps each one's plaintext. Reads
// 4 KiB at a time through a 4 KiB receive buffer, pausing between reads; resets the first
// connection (RST, no close_notify) once it has read `reset_after` bytes. Stops by itself after 90 s.
class TlsResettingPeer {
 public:
  TlsResettingPeer(const siem::test::TestPki& pki, std::size_t reset_after)
      : ctx_(ssl::context::tls_server), acceptor_(io_), reset_after_(reset_after) {
    ctx_.use_certificate_chain_file(pki.server_cert());
    ctx_.use_private_key_file(pki.server_key(), ssl::context::pem);
    const tcp::endpoint at(asio::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(at.protocol());
    acceptor_.set_option(asio::socket_base::receive_buffer_size(4096));  // inherited by accepted sockets
    acceptor_.bind(at);
    acceptor_.listen();
    acceptor_.non_blocking(true);
    thread_ = std::thread([this] { run(); });
  }
  ~TlsResettingPeer() {
    stop_ = true;
    thread_.join();
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  std::vector<std::string> connections() {
    std::lock_guard lock(mu_);
    return conns_;
  }
  std::size_t bytes(std::size_t i) {
    std::lock_guard lock(mu_);
    return i < conns_.size() ? conns_[i].size() : 0;
  }

 private:
  void run() {
    const auto deadline = std::chrono::steady_clock::now() + 90s;
    while (!stop_ && std::chrono::steady_clock::now() < deadline) {
      boost::system::error_code ec;
      tcp::socket raw(io_);
      acceptor_.accept(raw, ec);
      if (ec) {
        std::this_thread::sleep_for(10ms);
        continue;
      }
      raw.non_blocking(false);
      ssl::stream<tcp::socket> s(std::move(raw), ctx_);
      if (!handshake(s)) continue;
      std::size_t index;
      {
        std::lock_guard lock(mu_);
        index = conns_.size();
        conns_.emplace_back();
      }
      serve(s, index, deadline);
    }
  }

  // The server handshake, bounded: a client that connects but never completes it is dropped after
  // 10 s (or at once when the peer stops), never holding up the destructor.
  bool handshake(ssl::stream<tcp::socket>& s) {
    bool done = false;
    boost::system::error_code result;
    s.async_handshake(ssl::stream_base::server, [&](const boost::system::error_code& ec) {
      result = ec;
      done = true;
    });
    const auto give_up = std::chrono::steady_clock::now() + 10s;
    io_.restart();
    while (!done && !stop_ && std::chrono::steady_clock::now() < give_up) io_.run_for(50ms);
    if (!done) {
      boost::system::error_code ignored;
      s.lowest_layer().close(ignored);  // the handler runs with operation_aborted
      io_.restart();
      io_.run_for(1s);
      return false;
    }
    return !result;
  }

  void serve(ssl::stream<tcp::socket>& s, std::size_t index, std::chrono::steady_clock::time_point deadline) {
    std::vector<char> buf(4096);
    std::size_t got = 0;
    while (!stop_ && std::chrono::steady_clock::now() < deadline) {
      // Read only when something is there (buffered in TLS or on the socket): never block past stop_.
      pollfd p{s.lowest_layer().native_handle(), POLLIN, 0};
      if (SSL_pending(s.native_handle()) == 0 && ::poll(&p, 1, 20) <= 0) continue;
      boost::system::error_code ec;
      const std::size_t n = s.read_some(asio::buffer(buf), ec);
      if (ec) return;  // the sender closed
      got += n;
      {
        std::lock_guard lock(mu_);
        conns_[index].append(buf.data(), n);
      }
      if (index == 0 && got >= reset_after_) {
        s.lowest_layer().set_option(asio::socket_base::linger(true, 0));  // close with a reset
        s.lowest_layer().close(ec);
        return;
      }
      if (index == 0) std::this_thread::sleep_for(50us);
    }
  }

  asio::io_context io_;
  ssl::context ctx_;
  tcp::acceptor acceptor_;
  std::size_t reset_after_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<std::string> conns_;
  std::thread thread_;
};

// The largest send buffer the kernel gives a TCP socket (tcp_wmem's third field; 4 MiB when it
// cannot be read), bounded to 64 MiB.
std::size_t send_buffer_max() {
  std::ifstream f("/proc/sys/net/ipv4/tcp_wmem");
  std::size_t lo = 0, def = 0, max = 0;
  if (!(f >> lo >> def >> max) || max == 0) max = 4u << 20;
  return std::min<std::size_t>(max, 64u << 20);
}

// Events whose ECS bodies (each naming its number: {"event":{"id":"N"}, ...}) add up to more than
// `bytes`, 60 B to 9 KB each, acknowledged under source `source` with sequence numbers 0, 1, 2 ...
std::vector<siem::EventPtr> events_over(std::size_t bytes, std::uint32_t source) {
  std::vector<siem::EventPtr> v;
  std::size_t total = 0;
  for (std::uint64_t i = 0; total <= bytes && i < 40'000; ++i) {
    auto e = std::make_shared<siem::MappedEvent>();
    e->ack = siem::AckHandle{source, i};
    e->kind = siem::SourceKind::graph_sign_in;
    e->source_name = "sign-ins";
    e->set_id("id-" + std::to_string(i));
    e->time_ms = 1772619331002 + static_cast<std::int64_t>(i) * 1000;
    e->ecs = "{\"event\":{\"id\":\"" + std::to_string(i) + "\"},\"message\":\"" +
             std::string(60 + (i * 7919) % 9000, static_cast<char>('a' + i % 26)) + "\"}";
    e->single_line = siem::format_bit(siem::OutputFormat::ecs);
    total += e->ecs.size();
    v.push_back(std::move(e));
  }
  return v;
}

// The event numbers of the whole LF-framed messages in `stream` (a cut last line is not counted).
std::set<std::uint64_t> ids_in(const std::string& stream) {
  std::set<std::uint64_t> ids;
  static const std::string kKey = "{\"event\":{\"id\":\"";
  std::size_t line = 0;
  for (std::size_t end = stream.find('\n'); end != std::string::npos; line = end + 1, end = stream.find('\n', line)) {
    const auto at = stream.find(kKey, line);
    if (at == std::string::npos || at > end) continue;
    ids.insert(std::stoull(stream.substr(at + kKey.size(), 20)));
  }
  return ids;
}

TEST(SyslogTlsReset, ResetMidBatchResendsTheWholeBatchAndTheCheckpointIsExact) {
  siem::test::TestPki pki;
  siem::test::TempDir dir("siem-syslog-tls");
  // More than the sender's socket buffer can hold once the peer stops reading: the write is still
  // under way when the peer resets after 300 kB.
  TlsResettingPeer peer(pki, 300'000);
  siem::AckTracker acks(1);
  const std::uint32_t source = acks.add_source();
  auto events = events_over(send_buffer_max() + (2u << 20), source);
  const std::size_t n = events.size();
  // Two source batches, each with its checkpoint; the sink runner makes one delivery batch of all.
  const std::size_t half = n / 2;
  acks.begin_batch(source, half, std::string("cp-first-half"));
  acks.begin_batch(source, n - half, std::string("cp-all"));

  siem::syslog::SyslogSinkOptions o;
  o.name = "tls";
  o.host = "127.0.0.1";
  o.port = peer.port();
  o.protocol = siem::syslog::Protocol::tls;
  o.framing = siem::syslog::Framing::lf;
  o.body = siem::OutputFormat::ecs;
  o.format.body_is_cef = false;
  o.format.hostname = "host";
  o.ca_file = pki.ca_pem();
  o.write_timeout = 30s;
  siem::SinkRunnerOptions ro;
  ro.queue_events = 100'000;
  ro.queue_bytes = 1ull << 30;
  ro.batch_max_events = 100'000;
  ro.batch_max_bytes = 1ull << 30;
  ro.batch_timeout = 100ms;
  ro.initial_backoff = 50ms;
  ro.max_backoff = 200ms;
  siem::DeadLetterWriter dead_letters(dir / "dead-letter.ndjson");
  siem::SinkRunner runner("tls", std::make_unique<siem::syslog::SyslogSink>(o), siem::OutputFormat::ecs, ro, acks,
                          dead_letters, nullptr);
  runner.start();
  std::vector<std::size_t> charged(n);
  for (std::size_t i = 0; i < n; ++i) charged[i] = siem::SinkRunner::footprint(*events[i]);
  ASSERT_TRUE(runner.enqueue_all(events, charged));
  events.clear();

  // Checkpoints as the pipeline's commit thread takes them, until the last one (bounded), each
  // with the acknowledgement watermark and the peer's connection count when it was taken.
  struct Release {
    std::string token;
    std::uint64_t watermark;
    std::size_t connections;
  };
  std::vector<Release> released;
  auto take = [&] {
    for (auto& [src, token] : acks.take_ready())
      released.push_back({token, acks.watermark(source), peer.connections().size()});
  };
  const bool all_acked = siem::test::wait_until(
      [&] {
        take();
        return acks.watermark(source) == n;
      },
      60s, 10ms);
  take();
  ASSERT_TRUE(all_acked) << "watermark " << acks.watermark(source) << " of " << n;
  runner.close();
  runner.join();

  const auto conns = peer.connections();
  ASSERT_GE(conns.size(), 2u) << "the peer never saw the batch again after the reset";
  ASSERT_GE(conns[0].size(), 300'000u);
  EXPECT_GE(runner.counters().retried.load(), 1u);
  EXPECT_EQ(runner.counters().dead_lettered.load(), 0u);
  // At least once: every event number arrived whole on some connection.
  std::set<std::uint64_t> seen;
  for (const auto& c : conns) {
    const auto ids = ids_in(c);
    seen.insert(ids.begin(), ids.end());
  }
  std::size_t lost = 0;
  for (std::uint64_t i = 0; i < n; ++i) lost += seen.count(i) ? 0 : 1;
  EXPECT_EQ(lost, 0u) << "events acknowledged but never delivered";
  // The reset connection got a prefix only; the resend carried the whole batch again.
  EXPECT_LT(ids_in(conns[0]).size(), n);
  EXPECT_EQ(ids_in(conns.back()).size(), n);
  // Exact acknowledgement: every event once, nothing outstanding, the checkpoints released in
  // order and the last one is the source's last batch.
  EXPECT_EQ(acks.outstanding(), 0u);
  EXPECT_EQ(runner.counters().acked.load(), n);
  ASSERT_FALSE(released.empty());
  EXPECT_EQ(released.back().token, "cp-all");
  EXPECT_LE(released.size(), 2u);
  // No checkpoint before its batch was acknowledged, nor before the resend: each released at or
  // below the watermark, with the resend's connection already open (the batch is larger than the
  // sender's socket buffer, so it cannot have been written before the peer accepted it).
  for (const auto& r : released) {
    const std::uint64_t end = r.token == "cp-first-half" ? half : n;
    EXPECT_LE(end, r.watermark) << r.token << " released at watermark " << r.watermark;
    EXPECT_GE(r.connections, 2u) << r.token << " released before the batch was sent again";
  }
}

}  // namespace
