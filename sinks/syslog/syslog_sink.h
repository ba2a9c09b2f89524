// `type: syslog` — ships each event as one syslog message (RFC 5424 or RFC 3164) over UDP, TCP or
// TLS (RFC 5425), framed per RFC 6587. Delivery guarantee (docs/sinks.md): over TCP/TLS a batch is
// acknowledged only once fully written to the socket and the connection is then still healthy (no
// EOF, RST or unexpected bytes from the receiver, checked before and after writing); otherwise the
// batch is retried on a new connection (at-least-once, duplicates possible). UDP is best effort.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <sys/uio.h>

#include "connector/core/registry.h"
#include "connector/core/sink.h"
#include "sinks/syslog/syslog_format.h"

namespace siem::syslog {

enum class Protocol { udp, tcp, tls };

struct SyslogSinkOptions {
  std::string name = "syslog";          // sink name, for errors and logs
  std::string host;
  std::uint16_t port = 0;               // 0: 514 (udp/tcp) or 6514 (tls)
  Protocol protocol = Protocol::tcp;
  Framing framing = Framing::octet_counting;
  FormatOptions format;
  OutputFormat body = OutputFormat::cef;
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds write_timeout{10000};
  // After writing a batch, wait up to this long for the receiver to close / reset the connection
  // before acknowledging (0: only what already arrived is seen).
  std::chrono::milliseconds confirm_wait{0};
  // TLS
  std::string ca_file;                  // extra trusted CA (the system store is always trusted too)
  std::string cert_file, key_file;      // client certificate for mutual TLS
  std::string server_name;              // name to verify (default: host)
};

class SyslogSink final : public Sink {
 public:
  explicit SyslogSink(SyslogSinkOptions options);
  ~SyslogSink() override;
  void start() override;
  SendResult send(std::span<const EventPtr> batch) override;
  void stop() override;

  std::uint64_t truncated_count() const noexcept { return truncated_.load(); }
  std::uint64_t connects() const noexcept { return connects_.load(); }
  const SyslogSinkOptions& options() const noexcept { return opt_; }
  // Views into events (bodies and write pieces) still held; 0 whenever send() has returned.
  std::size_t held_views() const noexcept { return bodies_.size() + iov_.size(); }

 private:
  struct Conn;
  std::string prefix() const { return "syslog sink '" + opt_.name + "'"; }
  SyslogSinkOptions opt_;
  std::unique_ptr<Conn> conn_;
  std::atomic<std::uint64_t> truncated_{0};
  std::atomic<std::uint64_t> connects_{0};
  // Plain TCP: the batch written with one gather write (sendmsg) of the frames' heads and the
  // events' bodies where they are, instead of copying every body into frames_.
  SendResult send_gathered(std::span<const EventPtr> batch, const std::string& where);
  // After a TCP/TLS batch write: `error` empty when all `total` bytes were written.
  SendResult after_stream_write(const std::string& where, std::size_t written, std::size_t total,
                                const std::string& error);
  void count_truncated(std::uint64_t truncated);

  // The batch's framed messages (over plain TCP: everything but the bodies sent where they are),
  // where each message ends in it (UDP: one datagram each), and the header writer (reused by send()).
  static constexpr std::size_t kKeptFrameBytes = 8u << 20;
  std::string frames_;
  std::vector<std::size_t> frame_ends_;
  struct Body {
    std::size_t after;      // the body follows frames_[0, after)
    std::string_view text;  // in the event's payload
  };
  std::vector<Body> bodies_;
  std::vector<iovec> iov_;
  HeaderBuilder head_;
};

// Reads the sink's configuration (host, port, protocol, rfc, framing, facility, app_name,
// hostname, tag, sd_id, bom, max_message_size, connect_timeout, write_timeout, confirm_wait,
// tls: {ca_file, cert_file, key_file, server_name}).
SyslogSinkOptions read_syslog_options(const ConfigNode& cfg, const PluginContext& ctx, OutputFormat body);

}  // namespace siem::syslog

namespace siem {
void register_syslog_sink(PluginRegistry& registry);
}  // namespace siem
