// The syslog sink's gather write over plain TCP (heads from one buffer, bodies sent from the events
// with sendmsg, at most IOV_MAX pieces a call) against a peer on 127.0.0.1 that reads slowly through
// a small receive buffer, so that the sink's writes are partial and resume in the middle of a piece:
// the bytes that arrive are exactly the reference framing (format_message + append_framed) of every
// event; a peer that resets the connection mid-batch gets a prefix of that stream, no event is
// reported complete (the kernel discards what it had taken but not delivered), and the whole batch
// arrives on the next connection; a peer that never reads makes the write time out.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <algorithm>
#include <chrono>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "sinks/syslog/syslog_sink.h"

namespace {

using namespace std::chrono_literals;
using siem::syslog::Framing;
using siem::syslog::Protocol;
using siem::syslog::SyslogSink;
using siem::syslog::SyslogSinkOptions;

// Accepts connections one after another on 127.0.0.1 and keeps each one's bytes. Reads `chunk`
// bytes at a time with `pause` between reads through a 4 KiB receive buffer; with `reset_after`,
// resets the first connection (RST) once it has read that many bytes; with `read` false, accepts
// but never reads. Stops by itself after 60 s.
class SlowPeer {
 public:
  SlowPeer(std::size_t chunk, std::chrono::microseconds pause, std::size_t reset_after = 0, bool read = true)
      : chunk_(chunk), pause_(pause), reset_after_(reset_after), read_(read) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int small = 4096;
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 4) != 0) throw std::runtime_error("listen");
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ~SlowPeer() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  std::uint16_t port() const { return port_; }
  std::vector<std::string> connections() {
    std::lock_guard lock(mu_);
    return conns_;
  }
  // Waits (bounded) until connection `i` holds `bytes` bytes.
  bool wait_for(std::size_t i, std::size_t bytes, std::chrono::seconds limit = 30s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      {
        std::lock_guard lock(mu_);
        if (conns_.size() > i && conns_[i].size() >= bytes) return true;
      }
      std::this_thread::sleep_for(5ms);
    }
    return false;
  }

 private:
  void run() {
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    std::vector<char> buf(chunk_);
    while (!stop_ && std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      std::size_t index;
      {
        std::lock_guard lock(mu_);
        index = conns_.size();
        conns_.emplace_back();
      }
      std::size_t got = 0;
      while (!stop_ && std::chrono::steady_clock::now() < deadline) {
        if (!read_) {
          std::this_thread::sleep_for(5ms);
          continue;
        }
        pollfd q{c, POLLIN, 0};
        if (::poll(&q, 1, 20) <= 0) continue;
        const ssize_t n = ::recv(c, buf.data(), buf.size(), 0);
        if (n <= 0) break;
        got += static_cast<std::size_t>(n);
        {
          std::lock_guard lock(mu_);
          conns_[index].append(buf.data(), static_cast<std::size_t>(n));
        }
        if (index == 0 && reset_after_ > 0 && got >= reset_after_) {
          linger l{1, 0};  // close with a reset
          ::setsockopt(c, SOL_SOCKET, SO_LINGER, &l, sizeof l);
          break;
        }
        if (pause_.count() > 0) std::this_thread::sleep_for(pause_);
      }
      ::close(c);
    }
  }

  std::size_t chunk_;
  std::chrono::microseconds pause_;
  std::size_t reset_after_;
  bool read_;
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<std::string> conns_;
  std::thread thread_;
};

// ECS-like bodies of 60 B to 9 KB (some over max_message_size: cut), marked single-line as the
// mapper marks an encoder's payload; every 97th holds a raw LF and is not marked (an event read
// back from a disk buffer), so LF framing copies and blanks it.
std::vector<siem::EventPtr> make_events(int count) {
  std::vector<siem::EventPtr> v;
  for (int i = 0; i < count; ++i) {
    auto e = std::make_shared<siem::MappedEvent>();
    e->kind = siem::SourceKind::graph_sign_in;
    e->source_name = i % 50 == 0 ? "sign\nins" : "sign-ins";  // a line break in the header
    e->set_id("id-" + std::to_string(i));
    e->time_ms = 1772619331002 + i * 1000;
    e->severity = i % 11;
    e->ecs = "{\"event\":{\"id\":\"" + std::to_string(i) + "\"},\"message\":\"" +
             std::string(static_cast<std::size_t>(60 + (i * 7919) % 9000), static_cast<char>('a' + i % 26)) + "\"}";
    if (i % 97 == 0) e->ecs.insert(10, "\r\n");
    else e->single_line = siem::format_bit(siem::OutputFormat::ecs);
    v.push_back(std::move(e));
  }
  return v;
}

// The largest send buffer the kernel gives a TCP socket (tcp_wmem's third field; 4 MiB when it
// cannot be read), bounded to 64 MiB.
std::size_t send_buffer_max() {
  std::ifstream f("/proc/sys/net/ipv4/tcp_wmem");
  std::size_t lo = 0, def = 0, max = 0;
  if (!(f >> lo >> def >> max) || max == 0) max = 4u << 20;
  return std::min<std::size_t>(max, 64u << 20);
}

// Events (make_events) whose bodies add up to more than `bytes`: enough that a batch cannot fit in
// the sender's socket buffer, whatever this host's tcp_wmem allows (at most 40 000 events).
std::vector<siem::EventPtr> events_over(std::size_t bytes) {
  int count = 0;
  std::size_t total = 0;
  while (total <= bytes && count < 40'000) total += 60 + (static_cast<std::size_t>(count++) * 7919) % 9000;
  return make_events(std::max(count, 1500));
}

SyslogSinkOptions options(std::uint16_t port, Framing framing) {
  SyslogSinkOptions o;
  o.name = "gather";
  o.host = "127.0.0.1";
  o.port = port;
  o.protocol = Protocol::tcp;
  o.framing = framing;
  o.body = siem::OutputFormat::ecs;
  o.format.body_is_cef = false;
  o.format.hostname = "host";
  o.write_timeout = 20s;
  return o;
}

std::string reference(const std::vector<siem::EventPtr>& events, std::size_t from, const SyslogSinkOptions& o) {
  std::string out;
  for (std::size_t i = from; i < events.size(); ++i)
    siem::syslog::append_framed(out, siem::syslog::format_message(*events[i], events[i]->ecs, o.format).message,
                                o.framing);
  return out;
}

TEST(SyslogGather, SlowReaderGetsExactlyTheReferenceBytes) {
  const auto events = make_events(1500);  // ~2 900 pieces: more than IOV_MAX (1 024) per batch
  for (const Framing framing : {Framing::lf, Framing::octet_counting}) {
    SCOPED_TRACE(framing == Framing::lf ? "lf" : "octet counting");
    SlowPeer peer(8192, 100us);
    const auto o = options(peer.port(), framing);
    const std::string expected = reference(events, 0, o);
    ASSERT_GT(expected.size(), 4u << 20);  // far more than the socket buffers hold
    SyslogSink sink(o);
    sink.start();
    const auto r = sink.send(events);
    ASSERT_EQ(r.status, siem::SendStatus::ok) << r.error;
    EXPECT_EQ(sink.held_views(), 0u);  // the events may be freed now
    // A second batch on the same connection starts right after the first.
    const auto again = sink.send(std::span<const siem::EventPtr>(events).first(20));
    ASSERT_EQ(again.status, siem::SendStatus::ok) << again.error;
    const std::string second = reference(std::vector<siem::EventPtr>(events.begin(), events.begin() + 20), 0, o);
    sink.stop();
    ASSERT_TRUE(peer.wait_for(0, expected.size() + second.size()));
    const auto got = peer.connections();
    ASSERT_EQ(got.size(), 1u);
    ASSERT_EQ(got[0].size(), expected.size() + second.size());
    EXPECT_TRUE(got[0] == expected + second);
    EXPECT_GT(sink.truncated_count(), 0u);
  }
}

TEST(SyslogGather, ResetMidBatchResendsTheWholeBatchAndLosesNoEvent) {
  // More than the sender's socket buffer can hold (tcp_wmem's maximum) once the peer stops
  // reading: the write is still under way when the peer resets.
  const auto events = events_over(send_buffer_max() + (2u << 20));
  SlowPeer peer(4096, 50us, 300'000);
  const auto o = options(peer.port(), Framing::lf);
  const std::string expected = reference(events, 0, o);
  ASSERT_GT(expected.size(), send_buffer_max() + (2u << 20));
  SyslogSink sink(o);
  sink.start();
  const auto r = sink.send(events);
  ASSERT_EQ(r.status, siem::SendStatus::retry);
  EXPECT_EQ(sink.held_views(), 0u);
  // The bytes the kernel took but the reset discarded were never delivered: nothing is reported
  // complete, however much was written.
  EXPECT_EQ(r.completed, 0u) << r.error;
  // What the first connection got is the start of the stream, byte for byte.
  const std::string first = peer.connections().at(0);
  ASSERT_GE(first.size(), 300'000u);
  ASSERT_LT(first.size(), expected.size());
  EXPECT_TRUE(expected.compare(0, first.size(), first) == 0);
  // The runner resends from the first event not reported complete, on a new connection.
  const std::vector<siem::EventPtr> rest(events.begin() + static_cast<std::ptrdiff_t>(r.completed), events.end());
  const auto r2 = sink.send(rest);
  ASSERT_EQ(r2.status, siem::SendStatus::ok) << r2.error;
  const std::string tail = reference(events, r.completed, o);
  sink.stop();
  ASSERT_TRUE(peer.wait_for(1, tail.size()));
  const auto got = peer.connections();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_TRUE(got[1] == tail);
  EXPECT_EQ(sink.connects(), 2u);
  // At least once: every event arrived whole on connection 0 (within its prefix) or connection 1.
  std::size_t end = 0;
  std::size_t lost = 0;
  for (std::size_t i = 0; i < events.size(); ++i) {
    end += reference(std::vector<siem::EventPtr>{events[i]}, 0, o).size();
    const bool on_first = end <= got[0].size();
    const bool on_second = i >= r.completed;  // got[1] is the reference from r.completed on
    if (!on_first && !on_second) ++lost;
  }
  EXPECT_EQ(lost, 0u) << "events acknowledged but never delivered";
}

TEST(SyslogGather, PeerThatNeverReadsTimesOut) {
  const auto events = events_over(send_buffer_max() + (2u << 20));  // more than the send buffer holds
  SlowPeer peer(4096, 0us, 0, false);
  auto o = options(peer.port(), Framing::octet_counting);
  o.write_timeout = 300ms;
  ASSERT_GT(reference(events, 0, o).size(), send_buffer_max() + (2u << 20));
  SyslogSink sink(o);
  sink.start();
  const auto t0 = std::chrono::steady_clock::now();
  const auto r = sink.send(events);
  const auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_EQ(r.status, siem::SendStatus::retry);
  EXPECT_NE(r.error.find("timed out"), std::string::npos) << r.error;
  EXPECT_EQ(r.completed, 0u);  // whatever the kernel took may never arrive
  EXPECT_LT(took, 10s);
  sink.stop();
}

}  // namespace
