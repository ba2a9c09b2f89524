#include "sinks/syslog/syslog_sink.h"

#include <algorithm>
#include <cctype>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <openssl/x509_vfy.h>
#include <spdlog/spdlog.h>

#include <optional>
#include <system_error>

#include <climits>
#include <poll.h>
#include <sys/socket.h>

namespace siem::syslog {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using udp = asio::ip::udp;
using boost::system::error_code;

namespace {

// A TLS verification failure: permanent, reported by start() as a SinkError.
struct TlsVerifyError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace

struct SyslogSink::Conn {
  asio::io_context io;
  std::optional<ssl::context> tls_ctx;
  std::optional<tcp::socket> tcp_sock;
  std::optional<ssl::stream<tcp::socket>> tls_sock;
  std::optional<udp::socket> udp_sock;

  tcp::socket::lowest_layer_type* stream_socket() {
    if (tls_sock) return &tls_sock->lowest_layer();
    if (tcp_sock) return &*tcp_sock;
    return nullptr;
  }
  bool open() const { return tcp_sock || tls_sock || udp_sock; }

  // A stream connection always has one pending 1-byte read: syslog receivers never send
  // application data, so its completion means EOF, a reset or a protocol violation — the
  // connection is gone. For TLS the read also consumes post-handshake messages (TLS 1.3 session
  // tickets) and a close_notify. `gen` ignores completions of earlier connections.
  std::uint64_t gen = 0;
  bool peer_gone = false;
  std::string peer_gone_why;
  char probe_byte = 0;

  void watch() {
    auto g = gen;
    auto on_read = [this, g](const error_code& ec, std::size_t n) {
      if (g != gen) return;
      peer_gone = true;
      peer_gone_why = ec ? ec.message() : "receiver sent " + std::to_string(n) + " unexpected byte(s)";
    };
    if (tls_sock) tls_sock->async_read_some(asio::buffer(&probe_byte, 1), on_read);
    else if (tcp_sock) tcp_sock->async_read_some(asio::buffer(&probe_byte, 1), on_read);
  }

  void close() {
    error_code ignored;
    if (tls_sock) tls_sock->lowest_layer().close(ignored);
    if (tcp_sock) tcp_sock->close(ignored);
    if (udp_sock) udp_sock->close(ignored);
    ++gen;
    io.restart();
    io.poll();  // run the aborted handlers of the old sockets before they go away
    tls_sock.reset();
    tcp_sock.reset();
    udp_sock.reset();
    peer_gone = false;
    peer_gone_why.clear();
  }

  // Runs the io_context until `done` or the timeout; on timeout closes the socket, which aborts
  // the operation (the caller then sees done == false or an error).
  void run_until(const bool& done, std::chrono::milliseconds timeout) {
    auto run = [&](std::chrono::steady_clock::time_point deadline) {
      io.restart();
      while (!done) {
        auto now = std::chrono::steady_clock::now();
        if (now >= deadline) break;
        if (io.run_one_for(deadline - now) == 0 && io.stopped()) break;
      }
    };
    run(std::chrono::steady_clock::now() + timeout);
    if (!done) {
      if (auto* s = stream_socket()) {
        error_code ignored;
        s->close(ignored);
      }
      run(std::chrono::steady_clock::now() + std::chrono::milliseconds(500));
    }
  }

  // Whether the stream connection is still up, after letting pending I/O progress for up to
  // `wait` (0: only what already arrived).
  bool healthy(std::chrono::milliseconds wait) {
    auto* s = stream_socket();
    if (!s || !s->is_open()) return false;
    io.restart();
    if (wait.count() == 0) {
      io.poll();
    } else {
      auto deadline = std::chrono::steady_clock::now() + wait;
      while (!peer_gone) {
        auto now = std::chrono::steady_clock::now();
        if (now >= deadline) break;
        if (io.run_one_for(deadline - now) == 0 && io.stopped()) break;
      }
    }
    return !peer_gone;
  }
};

SyslogSink::SyslogSink(SyslogSinkOptions options)
    : opt_(std::move(options)), conn_(std::make_unique<Conn>()), head_(opt_.format) {
  if (opt_.port == 0) opt_.port = opt_.protocol == Protocol::tls ? 6514 : 514;
  if (opt_.server_name.empty()) opt_.server_name = opt_.host;
}

SyslogSink::~SyslogSink() { conn_->close(); }

namespace {

std::string verify_error_text(SSL* ssl) {
  long rc = SSL_get_verify_result(ssl);
  if (rc == X509_V_OK) return {};
  return X509_verify_cert_error_string(rc);
}

}  // namespace


void SyslogSink::start() {
  try {
    if (opt_.protocol == Protocol::tls && !conn_->tls_ctx) {
      ssl::context ctx(ssl::context::tls_client);
      SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
      ctx.set_default_verify_paths();
      if (!opt_.ca_file.empty()) ctx.load_verify_file(opt_.ca_file);
      if (!opt_.cert_file.empty()) {
        ctx.use_certificate_chain_file(opt_.cert_file);
        ctx.use_private_key_file(opt_.key_file.empty() ? opt_.cert_file : opt_.key_file, ssl::context::pem);
      }
      ctx.set_verify_mode(ssl::verify_peer);
      conn_->tls_ctx.emplace(std::move(ctx));
    }
  } catch (const boost::system::system_error& e) {
    throw SinkError(prefix() + ": TLS setup failed: " + e.what());
  }
  SendResult r = send({});
  if (r.status != SendStatus::ok) {
    if (r.status == SendStatus::fatal) throw SinkError(r.error);
    spdlog::warn("{}: not connected yet, will retry: {}", prefix(), r.error);
  }
}

SendResult SyslogSink::send(std::span<const EventPtr> batch) {
  Conn& c = *conn_;
  const std::string where = opt_.host + ":" + std::to_string(opt_.port);

  // (Re)connect when needed; for stream transports, first drop a connection the receiver closed.
  if (c.open() && opt_.protocol != Protocol::udp && !c.healthy(std::chrono::milliseconds(0))) {
    spdlog::info("{}: connection to {} closed by the receiver ({}); reconnecting", prefix(), where, c.peer_gone_why);
    c.close();
  }
  if (!c.open()) {
    try {
      if (opt_.protocol == Protocol::udp) {
        udp::resolver res(c.io);
        auto eps = res.resolve(opt_.host, std::to_string(opt_.port));
        c.udp_sock.emplace(c.io);
        c.udp_sock->connect(*eps.begin());
      } else {
        tcp::resolver res(c.io);
        auto eps = res.resolve(opt_.host, std::to_string(opt_.port));
        bool done = false;
        error_code ec = asio::error::timed_out;
        if (opt_.protocol == Protocol::tls) {
          c.tls_sock.emplace(c.io, *c.tls_ctx);
        } else {
          c.tcp_sock.emplace(c.io);
        }
        asio::async_connect(*c.stream_socket(), eps, [&](const error_code& e, const tcp::endpoint&) {
          ec = e;
          done = true;
        });
        c.run_until(done, opt_.connect_timeout);
        if (!done || ec) {
          c.close();
          throw std::runtime_error("cannot connect to " + where + ": " + (done ? ec.message() : "timed out"));
        }
        c.stream_socket()->set_option(tcp::no_delay(true));
        c.stream_socket()->set_option(asio::socket_base::keep_alive(true));
        if (opt_.protocol == Protocol::tls) {
          SSL* s = c.tls_sock->native_handle();
          // Name check by OpenSSL itself (so a mismatch is reported as X509_V_ERR_HOSTNAME_MISMATCH).
          error_code not_ip;
          asio::ip::make_address(opt_.server_name, not_ip);
          X509_VERIFY_PARAM* param = SSL_get0_param(s);
          if (not_ip) {
            X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
            X509_VERIFY_PARAM_set1_host(param, opt_.server_name.c_str(), opt_.server_name.size());
            // SNI carries host names only (SSL_set_tlsext_host_name without its C-style cast).
            SSL_ctrl(s, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                     const_cast<char*>(opt_.server_name.c_str()));
          } else {
            X509_VERIFY_PARAM_set1_ip_asc(param, opt_.server_name.c_str());
          }
          done = false;
          ec = asio::error::timed_out;
          c.tls_sock->async_handshake(ssl::stream_base::client, [&](const error_code& e) {
            ec = e;
            done = true;
          });
          c.run_until(done, opt_.connect_timeout);
          if (!done || ec) {
            std::string verr = c.tls_sock ? verify_error_text(s) : std::string();
            c.close();
            if (!verr.empty())
              throw TlsVerifyError(prefix() + ": TLS certificate of " + where + " rejected (verifying name '" +
                                   opt_.server_name + "'): " + verr);
            throw std::runtime_error("TLS handshake with " + where + " failed: " +
                                     (done ? ec.message() : std::string("timed out")));
          }
        }
      }
      c.watch();
      ++connects_;
      spdlog::info("{}: connected to {} over {}", prefix(), where,
                   opt_.protocol == Protocol::udp ? "udp" : opt_.protocol == Protocol::tcp ? "tcp" : "tls");
    } catch (const TlsVerifyError& e) {
      return SendResult::fatal_error(e.what());
    } catch (const std::exception& e) {
      c.close();
      return SendResult::retry_from(0, prefix() + ": " + e.what());
    }
  }
  if (batch.empty()) return SendResult::success();
  if (opt_.protocol == Protocol::tcp) return send_gathered(batch, where);

  // Build the whole batch's framed messages in one buffer (kept across batches: no allocation per
  // message or per batch once warm) and remember where each one ends: one write for the batch.
  std::string& out = frames_;
  std::vector<std::size_t>& ends = frame_ends_;
  // An unusually large buffer (the last batch had big messages) is not kept for good.
  if (out.capacity() > kKeptFrameBytes) std::string().swap(out);
  out.clear();
  ends.clear();
  std::uint64_t truncated = 0;
  const std::optional<Framing> framing =
      opt_.protocol == Protocol::udp ? std::nullopt : std::optional<Framing>(opt_.framing);
  for (const auto& ev : batch) {
    if (append_message(out, head_, *ev, ev->payload(opt_.body), framing, ev->single_line & format_bit(opt_.body)))
      ++truncated;
    ends.push_back(out.size());
  }
  count_truncated(truncated);

  if (opt_.protocol == Protocol::udp) {
    std::size_t start = 0;
    for (std::size_t i = 0; i < ends.size(); ++i) {
      error_code ec;
      c.udp_sock->send(asio::buffer(out.data() + start, ends[i] - start), 0, ec);
      if (ec) {
        c.close();
        return SendResult::retry_from(i, prefix() + ": send to " + where + " failed: " + ec.message());
      }
      start = ends[i];
    }
    return SendResult::success();
  }

  bool done = false;
  error_code ec = asio::error::timed_out;
  std::size_t written = 0;
  auto on_write = [&](const error_code& e, std::size_t n) {
    ec = e;
    written = n;
    done = true;
  };
  // As much as the socket takes per write: asio's own completion conditions (transfer_all) hand
  // the socket at most 64 KiB at a time, so a 1 MB batch took ~20 send() calls, each after an
  // epoll_wait for room.
  auto rest = [&out](const error_code& e, std::size_t n) -> std::size_t { return e ? 0 : out.size() - n; };
  if (c.tls_sock) asio::async_write(*c.tls_sock, asio::buffer(out), rest, on_write);
  else asio::async_write(*c.tcp_sock, asio::buffer(out), rest, on_write);
  c.run_until(done, opt_.write_timeout);
  return after_stream_write(where, written, out.size(), !done ? "timed out" : ec ? ec.message() : std::string());
}

SendResult SyslogSink::after_stream_write(const std::string& where, std::size_t written, std::size_t total,
                                          const std::string& error) {
  // A failed write resends the whole batch: bytes the kernel accepted before a reset are lost with
  // its send queue, so no event of the batch counts as delivered.
  Conn& c = *conn_;
  if (!error.empty()) {
    c.close();
    return SendResult::retry_from(0, prefix() + ": write to " + where + " failed after " + std::to_string(written) +
                                         " of " + std::to_string(total) + " bytes (" + error + "); resending the batch");
  }
  if (!c.healthy(opt_.confirm_wait)) {
    std::string why = c.peer_gone_why;
    c.close();
    return SendResult::retry_from(0, prefix() + ": connection to " + where + " closed by the receiver (" + why +
                                         ") right after writing; resending the batch");
  }
  return SendResult::success();
}

void SyslogSink::count_truncated(std::uint64_t truncated) {
  if (truncated == 0) return;
  auto before = truncated_.fetch_add(truncated);
  if (before == 0 || (before + truncated) / 1000 != before / 1000)
    spdlog::warn("{}: {} message(s) longer than max_message_size {} truncated so far", prefix(), before + truncated,
                 opt_.format.max_message_size);
}

namespace {

// Writes `iov` whole to the stream socket `fd` with sendmsg (at most IOV_MAX pieces a call),
// resuming after a partial write in the middle of a piece (`iov` is consumed as it goes) and
// waiting for room with poll() up to `deadline`. Adds what the socket took to `written`; returns
// the error, empty once everything is written.
std::string write_gathered(int fd, std::vector<iovec>& iov, std::chrono::steady_clock::time_point deadline,
                           std::size_t& written) {
  std::size_t at = 0;
  while (at < iov.size()) {
    msghdr m{};
    m.msg_iov = iov.data() + at;
    m.msg_iovlen = std::min<std::size_t>(iov.size() - at, IOV_MAX);
    const ssize_t n = ::sendmsg(fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      const int err = errno;
      if (err == EINTR) continue;
      if (err != EAGAIN && err != EWOULDBLOCK) return std::system_category().message(err);
      const auto left = deadline - std::chrono::steady_clock::now();
      if (left <= std::chrono::steady_clock::duration::zero()) return "timed out";
      pollfd p{fd, POLLOUT, 0};
      const auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
      if (::poll(&p, 1, static_cast<int>(std::min<std::int64_t>(ms, 60'000))) < 0 && errno != EINTR)
        return std::system_category().message(errno);
      continue;  // room, an error (the next sendmsg reports it) or the deadline (checked above)
    }
    written += static_cast<std::size_t>(n);
    auto left = static_cast<std::size_t>(n);
    while (at < iov.size() && left >= iov[at].iov_len) left -= iov[at++].iov_len;
    if (left > 0) {  // the socket took part of this piece: the rest goes first next time
      iov[at].iov_base = static_cast<char*>(iov[at].iov_base) + left;
      iov[at].iov_len -= left;
    }
  }
  return {};
}

}  // namespace

SendResult SyslogSink::send_gathered(std::span<const EventPtr> batch, const std::string& where) {
  Conn& c = *conn_;
  std::string& heads = frames_;
  if (heads.capacity() > kKeptFrameBytes) std::string().swap(heads);
  heads.clear();
  bodies_.clear();
  std::uint64_t truncated = 0;
  std::size_t stream = 0;  // the batch's bytes so far
  const bool lf = opt_.framing == Framing::lf;
  for (const auto& ev : batch) {
    const std::size_t before = heads.size();
    const MessageHead m = append_message_head(heads, head_, *ev, ev->payload(opt_.body), opt_.framing,
                                              ev->single_line & format_bit(opt_.body));
    if (m.truncated) ++truncated;
    if (!m.body.empty()) bodies_.push_back({heads.size(), m.body});
    if (lf) heads += '\n';
    stream += heads.size() - before + m.body.size();
  }
  count_truncated(truncated);
  iov_.clear();
  std::size_t from = 0;
  for (const Body& b : bodies_) {
    if (b.after > from) iov_.push_back({heads.data() + from, b.after - from});
    iov_.push_back({const_cast<char*>(b.text.data()), b.text.size()});
    from = b.after;
  }
  if (heads.size() > from) iov_.push_back({heads.data() + from, heads.size() - from});

  std::size_t written = 0;
  const std::string error =
      write_gathered(c.tcp_sock->native_handle(), iov_, std::chrono::steady_clock::now() + opt_.write_timeout, written);
  // No view into the batch's events outlives this call (the runner frees them once acknowledged).
  bodies_.clear();
  iov_.clear();
  return after_stream_write(where, written, stream, error);
}

void SyslogSink::stop() {
  Conn& c = *conn_;
  if (c.tls_sock && c.tls_sock->lowest_layer().is_open()) {
    bool done = false;
    c.tls_sock->async_shutdown([&](const error_code&) { done = true; });
    c.run_until(done, std::chrono::milliseconds(1000));
  }
  c.close();
}

namespace {

using config::Type;

const config::Section& syslog_tls_keys() {
  static const config::Section s{"syslog.tls", "sinks[].tls with type: syslog", {}, {
      {"ca_file", Type::path, "", "*pinned.* trust anchors (PEM) for the server's certificate"},
      {"cert_file", Type::path, "", "client certificate (PEM) for mutual TLS"},
      {"key_file", Type::path, "", "its private key (PEM); needs `cert_file`"},
      {"server_name", Type::string, "`host`", "name verified in the certificate (and sent as SNI)"},
  }};
  return s;
}

}  // namespace

const config::Section& syslog_keys() {
  static const config::Section s{"syslog", "sinks[] with type: syslog", {}, {
      {"host", Type::string, "required", "*pinned.* the syslog server"},
      {"protocol", Type::choice, "tcp", "*pinned.* use `tls` across networks", {"udp", "tcp", "tls"}},
      {"port", Type::integer, "514 (tls 6514)", "*pinned.* server port"},
      {"rfc", Type::choice, "5424", "*pinned.* header format", {"5424", "3164"}},
      {"framing", Type::choice, "octet_counting (rfc 3164: lf)", "*pinned.* TCP/TLS only (RFC 6587)", {"octet_counting", "lf"}},
      {"facility", Type::string, "local4", "name (`kern`...`local7`) or 0-23"},
      {"hostname", Type::string, "this machine's name", "HOSTNAME field"},
      {"app_name", Type::string, "siem-connector", "5424 APP-NAME"},
      {"tag", Type::string, "`app_name`", "3164 TAG; empty gives ArcSight's form `<PRI>Mmm dd hh:mm:ss host CEF:0|...`"},
      {"sd_id", Type::string, "siem@32473", "5424 SD-ID (`name@PEN`; 32473 is the documentation PEN: use your own); empty: no SD"},
      {"bom", Type::boolean, "false", "UTF-8 BOM before a 5424 MSG"},
      {"max_message_size", Type::size, "8192 (udp 2048, udp with rfc 3164 1024)", "whole message, header included, framing excluded (min 480)"},
      {"connect_timeout", Type::duration, "5s", "bound on connecting"},
      {"write_timeout", Type::duration, "10s", "bound on one write"},
      {"confirm_wait", Type::duration, "0ms", "after writing a batch, wait this long for a close/reset before acknowledging"},
      {"tls", Type::section, "", "`protocol: tls` only", {}, &syslog_tls_keys()},
  }};
  return s;
}

SyslogSinkOptions read_syslog_options(const ConfigNode& cfg, const PluginContext& ctx, OutputFormat body) {
  SyslogSinkOptions o;
  o.name = ctx.name;
  o.body = body;
  o.host = cfg.required_string("host");
  std::string proto = cfg.choice("protocol", {"udp", "tcp", "tls"}, "tcp");
  o.protocol = proto == "udp" ? Protocol::udp : proto == "tls" ? Protocol::tls : Protocol::tcp;
  o.port = static_cast<std::uint16_t>(cfg.integer("port", o.protocol == Protocol::tls ? 6514 : 514, 1, 65535));
  std::string rfc = cfg.choice("rfc", {"5424", "3164"}, "5424");
  o.format.rfc = rfc == "3164" ? Rfc::rfc3164 : Rfc::rfc5424;
  std::string framing = cfg.choice("framing", {"octet_counting", "lf"},
                                   o.format.rfc == Rfc::rfc5424 ? "octet_counting" : "lf");
  o.framing = framing == "lf" ? Framing::lf : Framing::octet_counting;
  if (o.protocol == Protocol::udp && cfg.has("framing"))
    cfg.diagnostics().warning(cfg.location_of("framing"), cfg.path() + ".framing",
                              "framing does not apply to udp (one message per datagram)");
  std::string facility = cfg.string("facility", "local4");
  if (auto f = facility_from_string(facility)) o.format.facility = *f;
  else cfg.error_at("facility", "unknown syslog facility '" + facility + "' (use kern..local7 or 0-23)");
  o.format.hostname = cfg.string("hostname", ctx.host_name.empty() ? "-" : ctx.host_name);
  o.format.app_name = cfg.string("app_name", "siem-connector");
  o.format.tag = cfg.string("tag", o.format.app_name);
  // RFC 3164 §5.3: a TAG of at most 32 characters, ended by the first character that is not part
  // of it; '-', '_', '.' and '/' are accepted by every receiver in use (rsyslog, syslog-ng, ArcSight).
  if (const auto& tag = o.format.tag;
      o.format.rfc == Rfc::rfc3164 && (tag.size() > 32 || std::any_of(tag.begin(), tag.end(), [](char c) {
        return !std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.' && c != '/';
      })))
    cfg.error_at(cfg.has("tag") ? "tag" : "app_name",
                 "the RFC 3164 tag must be at most 32 letters, digits, '-', '_', '.' or '/' (it is '" + tag + "')");
  o.format.sd_id = cfg.string("sd_id", "siem@32473");
  if (!o.format.sd_id.empty()) {
    // RFC 5424 §6.3.2/§7.2.2: SD-NAME is 1-32 printable US-ASCII characters other than '=', space,
    // ']' and '"'; a private SD-ID is name@<private enterprise number>.
    const auto& id = o.format.sd_id;
    bool ok = id.size() <= 32 && std::all_of(id.begin(), id.end(), [](char c) {
      return c > 32 && c < 127 && c != '=' && c != ']' && c != '"';
    });
    const auto at = id.find('@');
    if (at == std::string::npos || at == 0 || at + 1 == id.size() || id.find('@', at + 1) != std::string::npos ||
        !std::all_of(id.begin() + static_cast<std::ptrdiff_t>(at) + 1, id.end(),
                     [](char c) { return std::isdigit(static_cast<unsigned char>(c)) || c == '.'; }))
      ok = false;
    if (!ok)
      cfg.error_at("sd_id", "sd_id must look like name@PEN: at most 32 printable ASCII characters, no space, '=', ']' "
                            "or '\"', one '@' followed by the private enterprise number");
  }
  o.format.bom = cfg.boolean("bom", false);
  o.format.body_is_cef = body == OutputFormat::cef;
  // UDP: 2048 (formats.md §4.5), and 1024 for RFC 3164, whose packet is at most 1024 bytes (§4.1).
  o.format.max_message_size = static_cast<std::size_t>(cfg.bytes(
      "max_message_size", o.protocol != Protocol::udp ? 8192 : o.format.rfc == Rfc::rfc3164 ? 1024 : 2048));
  if (o.format.max_message_size < 480) cfg.error_at("max_message_size", "max_message_size must be at least 480 bytes");
  o.connect_timeout = cfg.duration("connect_timeout", std::chrono::seconds(5));
  o.write_timeout = cfg.duration("write_timeout", std::chrono::seconds(10));
  o.confirm_wait = cfg.duration("confirm_wait", std::chrono::milliseconds(0));
  ConfigNode tls = cfg.child("tls");
  if (tls.valid()) {
    if (o.protocol != Protocol::tls) cfg.error_at("tls", "tls settings need protocol: tls");
    if (auto p = tls.existing_file("ca_file")) o.ca_file = p->string();
    if (auto p = tls.existing_file("cert_file")) o.cert_file = p->string();
    if (auto p = tls.existing_file("key_file")) o.key_file = p->string();
    if (!o.key_file.empty() && o.cert_file.empty()) tls.error_at("key_file", "key_file needs cert_file");
    o.server_name = tls.string("server_name", "");
  }
  return o;
}

}  // namespace siem::syslog

namespace siem {

void register_syslog_sink(PluginRegistry& registry) {
  registry.add_sink("syslog", "RFC 5424/3164 syslog over UDP, TCP or TLS (RFC 6587 framing)",
                    [](const ConfigNode& cfg, const PluginContext& ctx) {
                      SinkInstance inst;
                      inst.sink = std::make_unique<syslog::SyslogSink>(syslog::read_syslog_options(cfg, ctx, ctx.format));
                      return inst;
                    }, &syslog::syslog_keys(), OutputFormat::cef);
}

}  // namespace siem
