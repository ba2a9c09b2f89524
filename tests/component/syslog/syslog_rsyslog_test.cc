// The syslog sink against a real rsyslogd: each test starts its own `rsyslogd -n` on free
// 127.0.0.1 ports (imudp, imtcp — which detects octet counting and LF framing per frame — and
// imtcp with the ossl TLS driver using a TestPki certificate), writes every received message raw to
// a file and reads it back (bounded waits), parsing the RFC 5424 / 3164 header and the CEF / JSON
// body.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "sinks/syslog/syslog_sink.h"
#include "tests/component/syslog/rsyslog_harness.h"
#include "tests/support/test_pki.h"

namespace {

using namespace std::chrono_literals;
using siem::syslog::Framing;
using siem::syslog::Protocol;
using siem::syslog::Rfc;
using siem::syslog::SyslogSink;
using siem::syslog::SyslogSinkOptions;

using siem::testing::parse3164;
using siem::testing::parse5424;
using siem::testing::Parsed;
using siem::testing::Rsyslog;

siem::EventPtr make_event(int n, int severity = 8) {
  auto e = std::make_shared<siem::MappedEvent>();
  e->kind = siem::SourceKind::graph_directory_audit;
  e->source_name = "entra-audit";
  e->set_id("Directory_" + std::to_string(n) + "_\"q\\]");
  e->time_ms = 1772619331002 + n;
  e->severity = severity;
  e->tier = 0;
  e->cef = "CEF:0|Microsoft|Entra ID|1.0|Add member to role|Add member to role|" + std::to_string(severity) +
           "|externalId=" + std::to_string(n) + " msg=R\\u00f4le \xC3\xA9lev\xC3\xA9 a\\=b\\\\c";
  e->ecs = nlohmann::json{{"event", {{"id", std::to_string(n)}, {"action", "Add member to role"}}},
                          {"message", "R\xC3\xB4le"}}
               .dump();
  return e;
}

std::vector<siem::EventPtr> make_events(int count) {
  std::vector<siem::EventPtr> v;
  for (int i = 0; i < count; ++i) v.push_back(make_event(i, i % 11));
  return v;
}

// Delivers everything like the sink runner does: on `retry`, resend from `completed` after a short
// pause; bounded in attempts and time.
// `pause` paces UDP (best effort: a burst larger than the receiver's socket buffer is dropped by the
// kernel, which no sender can detect).
void deliver_all(SyslogSink& sink, const std::vector<siem::EventPtr>& events, std::size_t batch,
                 std::chrono::seconds budget = 30s, std::chrono::milliseconds pause = 0ms) {
  auto deadline = std::chrono::steady_clock::now() + budget;
  std::size_t pos = 0;
  int attempts = 0;
  while (pos < events.size()) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "delivery did not finish; at " << pos;
    ASSERT_LT(++attempts, 2000);
    std::size_t n = std::min(batch, events.size() - pos);
    auto r = sink.send(std::span<const siem::EventPtr>(events.data() + pos, n));
    ASSERT_NE(r.status, siem::SendStatus::fatal) << r.error;
    ASSERT_TRUE(r.rejected.empty());
    if (r.status == siem::SendStatus::ok) {
      pos += n;
      if (pause.count() > 0) std::this_thread::sleep_for(pause);
    } else {
      pos += r.completed;
      std::this_thread::sleep_for(100ms);
    }
  }
}

struct Case {
  const char* name;
  Protocol protocol;
  Rfc rfc;
  Framing framing;
  siem::OutputFormat body;
};

class SyslogMatrix : public ::testing::TestWithParam<Case> {};

TEST_P(SyslogMatrix, EveryRecordArrivesAndParses) {
  const Case c = GetParam();
  siem::test::TempDir dir("siem-syslog");
  siem::test::TestPki pki;
  Rsyslog rs(dir.path(), pki);
  rs.start();
  SyslogSinkOptions o;
  o.name = c.name;
  o.host = c.protocol == Protocol::tls ? "localhost" : "127.0.0.1";
  o.protocol = c.protocol;
  o.port = c.protocol == Protocol::udp ? rs.udp_port : c.protocol == Protocol::tcp ? rs.tcp_port : rs.tls_port;
  o.framing = c.framing;
  o.format.rfc = c.rfc;
  o.format.hostname = "connector01.contoso.example";
  o.body = c.body;
  o.format.body_is_cef = c.body == siem::OutputFormat::cef;
  o.ca_file = pki.ca_pem();
  SyslogSink sink(o);
  sink.start();
  const int n = 300;
  auto events = make_events(n);
  if (c.protocol == Protocol::udp) deliver_all(sink, events, 10, 30s, 5ms);
  else deliver_all(sink, events, 64);
  auto got = rs.wait_for(n);
  sink.stop();
  ASSERT_EQ(got.size(), static_cast<std::size_t>(n)) << "received " << got.size() << " of " << n;
  std::set<std::string> seen;
  for (std::size_t i = 0; i < got.size(); ++i) {
    auto p = c.rfc == Rfc::rfc5424 ? parse5424(got[i]) : parse3164(got[i]);
    ASSERT_TRUE(p) << "unparsable message: " << got[i];
    // Find the event: CEF carries externalId=N, ECS event.id, 5424 SD id.
    std::string num;
    if (c.body == siem::OutputFormat::cef) {
      ASSERT_EQ(p->body.rfind("CEF:0|Microsoft|", 0), 0u) << got[i];
      auto k = p->body.find("externalId=");
      ASSERT_NE(k, std::string::npos);
      num = p->body.substr(k + 11, p->body.find(' ', k) - k - 11);
    } else {
      auto j = nlohmann::json::parse(p->body);
      num = j["event"]["id"].get<std::string>();
    }
    const auto& ev = events.at(static_cast<std::size_t>(std::stoi(num)));
    EXPECT_EQ(p->body, ev->payload(c.body)) << "body changed in transit";
    EXPECT_EQ(p->pri, 20 * 8 + siem::syslog::severity_from_cef(ev->severity));
    if (c.rfc == Rfc::rfc5424) {
      EXPECT_EQ(p->hostname, "connector01.contoso.example");
      EXPECT_EQ(p->app, "siem-connector");
      EXPECT_EQ(p->msgid, "graph_directory_audit");
      EXPECT_EQ(p->timestamp, siem::syslog::rfc3339_utc(ev->time_ms));
      EXPECT_EQ(p->sd["id"], ev->id());
      EXPECT_EQ(p->sd["source"], "entra-audit");
      EXPECT_EQ(p->sd["tier"], "0");
    } else {
      EXPECT_EQ(p->hostname, "connector01");
      EXPECT_EQ(p->timestamp, "Mar  4 10:15:31");
    }
    seen.insert(num);
  }
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(n));
  EXPECT_EQ(sink.truncated_count(), 0u);
}

INSTANTIATE_TEST_SUITE_P(
    Transports, SyslogMatrix,
    ::testing::Values(Case{"udp_5424", Protocol::udp, Rfc::rfc5424, Framing::octet_counting, siem::OutputFormat::cef},
                      Case{"udp_3164", Protocol::udp, Rfc::rfc3164, Framing::lf, siem::OutputFormat::cef},
                      Case{"tcp_5424_octet", Protocol::tcp, Rfc::rfc5424, Framing::octet_counting, siem::OutputFormat::cef},
                      Case{"tcp_5424_lf", Protocol::tcp, Rfc::rfc5424, Framing::lf, siem::OutputFormat::ecs},
                      Case{"tcp_3164_lf", Protocol::tcp, Rfc::rfc3164, Framing::lf, siem::OutputFormat::cef},
                      Case{"tcp_3164_octet", Protocol::tcp, Rfc::rfc3164, Framing::octet_counting, siem::OutputFormat::cef},
                      Case{"tls_5424_octet", Protocol::tls, Rfc::rfc5424, Framing::octet_counting, siem::OutputFormat::cef},
                      Case{"tls_5424_ecs", Protocol::tls, Rfc::rfc5424, Framing::octet_counting, siem::OutputFormat::ecs},
                      Case{"tls_3164_lf", Protocol::tls, Rfc::rfc3164, Framing::lf, siem::OutputFormat::cef}),
    [](const ::testing::TestParamInfo<Case>& i) { return std::string(i.param.name); });

TEST(SyslogRsyslog, ReceiverRestartedMidRunLosesNothing) {
  for (Protocol proto : {Protocol::tcp, Protocol::tls}) {
    SCOPED_TRACE(proto == Protocol::tcp ? "tcp" : "tls");
    siem::test::TempDir dir("siem-syslog");
    siem::test::TestPki pki;
    Rsyslog rs(dir.path(), pki);
    rs.start();
    SyslogSinkOptions o;
    o.name = "restart";
    o.host = "localhost";
    o.protocol = proto;
    o.port = proto == Protocol::tcp ? rs.tcp_port : rs.tls_port;
    o.ca_file = pki.ca_pem();
    o.connect_timeout = 2s;
    SyslogSink sink(o);
    sink.start();
    auto events = make_events(400);
    std::span<const siem::EventPtr> all(events);
    deliver_all(sink, {all.begin(), all.begin() + 200}, 50);
    ASSERT_EQ(rs.wait_for(200).size(), 200u);
    rs.stop();  // the receiver goes away between batches (rsyslogd closes our connection)
    std::thread restart([&] {
      std::this_thread::sleep_for(1500ms);
      rs.start();
    });
    std::vector<siem::EventPtr> rest(all.begin() + 200, all.end());
    deliver_all(sink, rest, 50);
    restart.join();
    auto got = rs.wait_for(400);
    sink.stop();
    std::set<std::string> ids;
    for (const auto& l : got) {
      auto p = parse5424(l);
      ASSERT_TRUE(p) << l;
      ids.insert(p->sd["id"]);
    }
    EXPECT_EQ(ids.size(), 400u) << "events lost across the receiver restart";
    EXPECT_GE(sink.connects(), 2u);
  }
}

TEST(SyslogRsyslog, TlsNameMismatchIsOneClearError) {
  siem::test::TempDir dir("siem-syslog");
  siem::test::TestPki pki;
  Rsyslog rs(dir.path(), pki, /*wrong_name_cert=*/true);
  rs.start();
  SyslogSinkOptions o;
  o.name = "siem-tls";
  o.host = "localhost";
  o.protocol = Protocol::tls;
  o.port = rs.tls_port;
  o.ca_file = pki.ca_pem();
  SyslogSink sink(o);
  try {
    sink.start();
    FAIL() << "start() accepted a certificate for the wrong name";
  } catch (const siem::SinkError& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("syslog sink 'siem-tls'"), std::string::npos) << what;
    EXPECT_NE(what.find("hostname mismatch"), std::string::npos) << what;
    EXPECT_NE(what.find("localhost"), std::string::npos) << what;
  }
  // Untrusted CA: the right name, but signed by a CA we were not told to trust.
  Rsyslog good(dir.path() / "good", pki);
  good.start();
  o.port = good.tls_port;
  o.ca_file = pki.other_ca_pem();
  SyslogSink untrusted(o);
  try {
    untrusted.start();
    FAIL() << "start() accepted an untrusted CA";
  } catch (const siem::SinkError& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("syslog sink 'siem-tls'"), std::string::npos) << what;
    EXPECT_NE(what.find("certificate"), std::string::npos) << what;
  }
  EXPECT_TRUE(good.lines().empty());
}

TEST(SyslogRsyslog, OversizeMessageTruncatedNeverSplit) {
  siem::test::TempDir dir("siem-syslog");
  siem::test::TestPki pki;
  Rsyslog rs(dir.path(), pki);
  rs.start();
  SyslogSinkOptions o;
  o.name = "oversize";
  o.host = "127.0.0.1";
  o.port = rs.tcp_port;
  o.format.max_message_size = 1024;
  SyslogSink sink(o);
  sink.start();
  auto big = std::make_shared<siem::MappedEvent>(*make_event(1));
  // 3-byte characters and escape pairs throughout, so any naive cut would split one.
  std::string filler;
  while (filler.size() < 4000) filler += "\xE2\x82\xAC\\=";
  big->cef += " cs1=" + filler;
  std::vector<siem::EventPtr> events{big, make_event(2)};
  deliver_all(sink, events, 10);
  auto got = rs.wait_for(2);
  std::this_thread::sleep_for(300ms);
  got = rs.lines();
  ASSERT_EQ(got.size(), 2u) << "an oversize event must be one message, not split";
  EXPECT_LE(got[0].size(), 1024u);
  EXPECT_GE(got[0].size(), 1020u);
  auto p = parse5424(got[0]);
  ASSERT_TRUE(p);
  EXPECT_EQ(big->cef.rfind(p->body, 0), 0u) << "truncated body must be a prefix of the original";
  std::size_t cut = p->body.size();
  EXPECT_NE(static_cast<unsigned char>(big->cef[cut]) & 0xC0, 0x80) << "cut inside a UTF-8 character";
  std::size_t bs = 0;
  while (bs < cut && p->body[cut - 1 - bs] == '\\') ++bs;
  EXPECT_EQ(bs % 2, 0u) << "cut inside a CEF escape pair";
  EXPECT_EQ(sink.truncated_count(), 1u);
  auto second = parse5424(got[1]);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->body, events[1]->cef);
}

// The sink builds a whole batch's frames in one buffer that it keeps across batches: a batch far
// larger than the socket buffers (and than the 8 MiB the sink keeps between batches) is written
// whole, in one write that completes across many partial sends, and the smaller batches after it
// carry none of its bytes. Over TCP and TLS, octet-counting and LF framing.
TEST(SyslogRsyslog, BatchLargerThanTheSocketBufferThenSmallBatchesArriveWhole) {
  struct Transport {
    Protocol protocol;
    Framing framing;
  };
  for (const Transport t : {Transport{Protocol::tcp, Framing::octet_counting}, Transport{Protocol::tls, Framing::lf}}) {
    SCOPED_TRACE(t.protocol == Protocol::tcp ? "tcp" : "tls");
    siem::test::TempDir dir("siem-syslog");
    siem::test::TestPki pki;
    Rsyslog rs(dir.path(), pki);
    rs.start();
    SyslogSinkOptions o;
    o.name = "big-batches";
    o.host = t.protocol == Protocol::tls ? "localhost" : "127.0.0.1";
    o.protocol = t.protocol;
    o.port = t.protocol == Protocol::tls ? rs.tls_port : rs.tcp_port;
    o.framing = t.framing;
    o.ca_file = pki.ca_pem();
    SyslogSink sink(o);
    sink.start();
    const int big = 1500, small = 60;
    std::vector<siem::EventPtr> events;
    for (int i = 0; i < big + small; ++i) {
      auto e = std::make_shared<siem::MappedEvent>(*make_event(i));
      if (i < big) e->cef += " cs1=" + std::string(6000, static_cast<char>('a' + i % 26));  // ~9.3 MB in all
      events.push_back(std::move(e));
    }
    const std::span<const siem::EventPtr> all(events);
    const auto first = sink.send(all.first(big));
    ASSERT_EQ(first.status, siem::SendStatus::ok) << first.error;
    deliver_all(sink, std::vector<siem::EventPtr>(events.begin() + big, events.end()), 20);
    auto got = rs.wait_for(static_cast<std::size_t>(big + small), 60s);
    sink.stop();
    ASSERT_EQ(got.size(), static_cast<std::size_t>(big + small));
    std::set<std::string> seen;
    for (const auto& line : got) {
      auto p = parse5424(line);
      ASSERT_TRUE(p) << line.substr(0, 200);
      const auto k = p->body.find("externalId=");
      ASSERT_NE(k, std::string::npos);
      const std::string num = p->body.substr(k + 11, p->body.find(' ', k) - k - 11);
      ASSERT_EQ(p->body, events.at(static_cast<std::size_t>(std::stoi(num)))->cef) << "message " << num;
      seen.insert(num);
    }
    EXPECT_EQ(seen.size(), static_cast<std::size_t>(big + small));
    EXPECT_EQ(sink.truncated_count(), 0u);
  }
}

}  // namespace
