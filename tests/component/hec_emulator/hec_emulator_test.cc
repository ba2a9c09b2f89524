// The HEC emulator on its own, driven by the raw test HTTP client (tests/support/test_http), so
// that it is faithful to the Splunk HEC contract (formats.md §3) independently of the HEC sink.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <zlib.h>

#include <optional>
#include <thread>

#include "tests/support/loopback_server.h"
#include "tests/support/test_http.h"
#include "tests/support/wait.h"
#include "tools/hec_emulator/hec_emulator.h"

namespace {

using nlohmann::json;
using siem::hec::HecEmulator;
using siem::hec::HecOptions;
using siem::test::http_fetch;

const std::string kToken = "11111111-2222-3333-4444-555555555555";
const std::string kChannel = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";

struct Fixture {
  explicit Fixture(HecOptions o = {}, bool tls = false) {
    if (o.tokens.size() == 1 && o.tokens[0] != kToken) o.tokens = {kToken};
    if (tls) pki.emplace();
    server = tls ? siem::test::make_tls_server(*pki) : siem::test::make_plain_server();
    hec = std::make_unique<HecEmulator>(o, *server);
    server->start();
  }
  // The server stops (joining its connection threads) before the emulator they call is destroyed.
  ~Fixture() { server->stop(); }
  Fixture(const Fixture&) = delete;
  Fixture& operator=(const Fixture&) = delete;
  siem::test::TestResponse post(const std::string& path, const std::string& body, siem::httpd::Headers extra = {},
                                bool auth = true) {
    siem::httpd::Headers h = std::move(extra);
    if (auth) h.emplace_back("Authorization", "Splunk " + kToken);
    return http_fetch("POST", url() + path, body, h, pki ? pki->ca_pem() : std::string());
  }
  std::string url() const { return server->localhost_url(); }
  std::optional<siem::test::TestPki> pki;  // generated only for TLS cases (RSA keygen is slow)
  std::unique_ptr<siem::test::LoopbackServer> server;
  std::unique_ptr<HecEmulator> hec;
};

int code_of(const siem::test::TestResponse& r) { return json::parse(r.body).value("code", -100); }

std::string gzip(const std::string& in) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&zs, in.size()) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

TEST(HecEmulator, AcceptsConcatenatedEnvelopesOverTls) {
  Fixture f({}, /*tls=*/true);
  auto r = f.post("/services/collector/event",
                  R"({"time":1772619330.123,"host":"h","sourcetype":"azure:aad:audit","event":{"id":"a"}})"
                  "\n"
                  R"({"time":"1772619331","event":"CEF:0|x","fields":{"tenant_id":"t","tags":["a","b"]}})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body), json::parse(R"({"text":"Success","code":0})"));
  auto ev = f.hec->events();
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].envelope["event"]["id"], "a");
  EXPECT_EQ(ev[1].envelope["event"], "CEF:0|x");
  EXPECT_FALSE(ev[0].ack_id.has_value());
}

TEST(HecEmulator, AuthenticationCodes) {
  HecOptions o;
  o.tokens = {kToken};
  o.disabled_tokens = {"dddddddd-0000-0000-0000-000000000000"};
  Fixture f(o);
  const std::string ev = R"({"event":"x"})";
  auto none = f.post("/services/collector/event", ev, {}, false);
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(code_of(none), 2);
  auto bearer = f.post("/services/collector/event", ev, {{"Authorization", "Bearer " + kToken}}, false);
  EXPECT_EQ(bearer.status, 401);
  EXPECT_EQ(code_of(bearer), 3);
  auto bad = f.post("/services/collector/event", ev, {{"Authorization", "Splunk nope"}}, false);
  EXPECT_EQ(bad.status, 403);
  EXPECT_EQ(code_of(bad), 4);
  auto disabled = f.post("/services/collector/event", ev, {{"Authorization", "Splunk dddddddd-0000-0000-0000-000000000000"}}, false);
  EXPECT_EQ(disabled.status, 403);
  EXPECT_EQ(code_of(disabled), 1);
  auto query = f.post("/services/collector/event?token=" + kToken, ev, {}, false);
  EXPECT_EQ(query.status, 400);
  EXPECT_EQ(code_of(query), 16);
  // Basic auth with the token as password works.
  auto basic = f.post("/services/collector/event", ev, {{"Authorization", "Basic eDoxMTExMTExMS0yMjIyLTMzMzMtNDQ0NC01NTU1NTU1NTU1NTU="}}, false);
  EXPECT_EQ(basic.status, 200) << basic.body;
  EXPECT_EQ(f.hec->event_count(), 1u);
}

TEST(HecEmulator, InvalidEventNumberKeepsObjectsBefore) {
  Fixture f;
  auto r = f.post("/services/collector/event", R"({"event":"a"}{"event":"b"}{"time":"x","event":"c"}{"event":"d"})");
  EXPECT_EQ(r.status, 400);
  auto body = json::parse(r.body);
  EXPECT_EQ(body["code"], 6);
  EXPECT_EQ(body["text"], "Invalid data format");
  EXPECT_EQ(body["invalid-event-number"], 2);
  auto ev = f.hec->events();
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[1].envelope["event"], "b");

  auto missing = f.post("/services/collector/event", R"({"event":"e"} {"time":1})");
  EXPECT_EQ(json::parse(missing.body)["code"], 12);
  EXPECT_EQ(json::parse(missing.body)["invalid-event-number"], 1);
  auto blank = f.post("/services/collector/event", R"({"event":"  "})");
  EXPECT_EQ(json::parse(blank.body)["code"], 13);
  EXPECT_EQ(json::parse(blank.body)["invalid-event-number"], 0);
  auto nested = f.post("/services/collector/event", R"({"event":"f","fields":{"a":{"b":1}}})");
  EXPECT_EQ(json::parse(nested.body)["code"], 15);
  auto garbage = f.post("/services/collector/event", R"({"event":"g"} [1,2])");
  EXPECT_EQ(json::parse(garbage.body)["code"], 6);
  EXPECT_EQ(json::parse(garbage.body)["invalid-event-number"], 1);
  auto unterminated = f.post("/services/collector/event", R"({"event":"h"} {"event":"i)");
  EXPECT_EQ(json::parse(unterminated.body)["invalid-event-number"], 1);
  auto empty = f.post("/services/collector/event", " \n ");
  EXPECT_EQ(code_of(empty), 5);
  EXPECT_EQ(f.hec->event_count(), 5u);  // a, b, e, g, h
}

TEST(HecEmulator, GzipAndContentLength) {
  HecOptions o;
  o.max_content_length = 200;
  Fixture f(o);
  std::string batch;
  for (int i = 0; i < 50; ++i) batch += R"({"event":{"n":)" + std::to_string(i) + "}}\n";
  ASSERT_GT(batch.size(), 200u);
  auto big = f.post("/services/collector/event", batch);
  EXPECT_EQ(big.status, 413);
  EXPECT_EQ(f.hec->event_count(), 0u);
  auto z = gzip(batch);
  ASSERT_LT(z.size(), 200u);
  auto ok = f.post("/services/collector/event", z, {{"Content-Encoding", "gzip"}});
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(f.hec->event_count(), 50u);
  auto corrupt = f.post("/services/collector/event", z.substr(0, z.size() / 2), {{"Content-Encoding", "gzip"}});
  EXPECT_EQ(corrupt.status, 400);
  EXPECT_EQ(code_of(corrupt), 6);
  EXPECT_TRUE(f.hec->requests().back().gzip);
}

TEST(HecEmulator, ChannelsAndAcks) {
  HecOptions o;
  o.ack_enabled = true;
  Fixture f(o);
  auto missing = f.post("/services/collector/event", R"({"event":"x"})");
  EXPECT_EQ(code_of(missing), 10);
  auto malformed = f.post("/services/collector/event", R"({"event":"x"})", {{"X-Splunk-Request-Channel", "not-a-guid"}});
  EXPECT_EQ(code_of(malformed), 11);
  auto r0 = f.post("/services/collector/event", R"({"event":"x"})", {{"X-Splunk-Request-Channel", kChannel}});
  ASSERT_EQ(r0.status, 200) << r0.body;
  EXPECT_EQ(json::parse(r0.body)["ackId"], 0);
  auto r1 = f.post("/services/collector/event?channel=" + kChannel, R"({"event":"y"})");
  EXPECT_EQ(json::parse(r1.body)["ackId"], 1);
  auto other = f.post("/services/collector/event", R"({"event":"z"})",
                      {{"X-Splunk-Request-Channel", "00000000-0000-0000-0000-000000000001"}});
  EXPECT_EQ(json::parse(other.body)["ackId"], 0);  // ids are per channel

  auto poll = f.post("/services/collector/ack?channel=" + kChannel, R"({"acks":[0,1,7]})");
  ASSERT_EQ(poll.status, 200) << poll.body;
  EXPECT_EQ(json::parse(poll.body), json::parse(R"({"acks":{"0":true,"1":true,"7":false}})"));
  // Once reported, an ack is forgotten.
  auto again = f.post("/services/collector/ack?channel=" + kChannel, R"({"acks":[0]})");
  EXPECT_EQ(json::parse(again.body)["acks"]["0"], false);
  auto no_channel = f.post("/services/collector/ack", R"({"acks":[0]})");
  EXPECT_EQ(code_of(no_channel), 10);
}

TEST(HecEmulator, AckDisabledAnswers14) {
  Fixture f;
  auto r = f.post("/services/collector/ack?channel=" + kChannel, R"({"acks":[0]})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(code_of(r), 14);
}

TEST(HecEmulator, SlowAndLostAcks) {
  HecOptions o;
  o.ack_enabled = true;
  Fixture f(o);
  f.hec->set_slow_acks(std::chrono::milliseconds(0), 3);
  f.post("/services/collector/event", R"({"event":"x"})", {{"X-Splunk-Request-Channel", kChannel}});
  std::vector<bool> seen;
  for (int i = 0; i < 3; ++i) {
    auto p = f.post("/services/collector/ack", R"({"acks":[0]})", {{"X-Splunk-Request-Channel", kChannel}});
    seen.push_back(json::parse(p.body)["acks"]["0"].get<bool>());
  }
  EXPECT_EQ(seen, (std::vector<bool>{false, false, true}));

  f.hec->set_slow_acks(std::chrono::milliseconds(300), 0);
  const auto sent = std::chrono::steady_clock::now();
  f.post("/services/collector/event", R"({"event":"y"})", {{"X-Splunk-Request-Channel", kChannel}});
  auto early = f.post("/services/collector/ack", R"({"acks":[1]})", {{"X-Splunk-Request-Channel", kChannel}});
  EXPECT_EQ(json::parse(early.body)["acks"]["1"], false);
  // Polled until granted (bounded); granted no earlier than the delay after the request.
  int polls = 1;
  ASSERT_TRUE(siem::test::wait_until([&] {
    ++polls;
    auto p = f.post("/services/collector/ack", R"({"acks":[1]})", {{"X-Splunk-Request-Channel", kChannel}});
    return json::parse(p.body)["acks"]["1"] == true;
  }, std::chrono::seconds(10), std::chrono::milliseconds(50)));
  EXPECT_GE(std::chrono::steady_clock::now() - sent, std::chrono::milliseconds(300));

  f.hec->set_slow_acks(std::chrono::milliseconds(0), 0);
  f.hec->set_acks_lost(true);
  f.post("/services/collector/event", R"({"event":"z"})", {{"X-Splunk-Request-Channel", kChannel}});
  auto lost = f.post("/services/collector/ack", R"({"acks":[2]})", {{"X-Splunk-Request-Channel", kChannel}});
  EXPECT_EQ(json::parse(lost.body)["acks"]["2"], false);
  EXPECT_EQ(f.hec->ack_polls(), 4u + static_cast<std::size_t>(polls));
}

TEST(HecEmulator, BusyDropAndHealthFaults) {
  Fixture f;
  f.hec->fail_busy(2);
  for (int i = 0; i < 2; ++i) {
    auto r = f.post("/services/collector/event", R"({"event":"x"})");
    EXPECT_EQ(r.status, 503);
    EXPECT_EQ(code_of(r), 9);
  }
  EXPECT_EQ(f.post("/services/collector/event", R"({"event":"x"})").status, 200);
  EXPECT_EQ(f.hec->event_count(), 1u);

  f.hec->drop_connections(1);
  EXPECT_THROW(f.post("/services/collector/event", R"({"event":"lost"})"), std::runtime_error);
  EXPECT_EQ(f.hec->event_count(), 1u);

  f.hec->drop_after_store(1);
  EXPECT_THROW(f.post("/services/collector/event", R"({"event":"kept"})"), std::runtime_error);
  EXPECT_EQ(f.hec->event_count(), 2u);

  auto healthy = http_fetch("GET", f.url() + "/services/collector/health");
  EXPECT_EQ(healthy.status, 200);
  EXPECT_EQ(code_of(healthy), 17);
  f.hec->set_health(18);
  auto sick = http_fetch("GET", f.url() + "/services/collector/health");
  EXPECT_EQ(sick.status, 503);
  EXPECT_EQ(code_of(sick), 18);
  EXPECT_EQ(code_of(f.post("/services/collector/event", R"({"event":"x"})")), 9);
  f.hec->set_health(17);
  EXPECT_EQ(f.post("/services/collector/event", R"({"event":"x"})").status, 200);
}

TEST(HecEmulator, RawEndpointAndAlternatePaths) {
  Fixture f;
  auto r = f.post("/services/collector/raw?sourcetype=azure:aad:audit&index=identity", "line one\r\n\nline two\n");
  ASSERT_EQ(r.status, 200) << r.body;
  auto a = f.post("/services/collector", R"({"event":"p"})");
  EXPECT_EQ(a.status, 200);
  auto b = f.post("/services/collector/event/1.0", R"({"event":"q"})");
  EXPECT_EQ(b.status, 200);
  auto unknown = f.post("/services/collector/nope", R"({"event":"q"})");
  EXPECT_EQ(unknown.status, 404);
  auto ev = f.hec->events();
  ASSERT_EQ(ev.size(), 4u);
  EXPECT_EQ(ev[0].envelope["event"], "line one");
  EXPECT_EQ(ev[0].envelope["sourcetype"], "azure:aad:audit");
  EXPECT_EQ(ev[1].envelope["event"], "line two");
  EXPECT_TRUE(f.hec->wait_for_events(4, std::chrono::milliseconds(10)));
  EXPECT_FALSE(f.hec->wait_for_events(5, std::chrono::milliseconds(10)));
}

TEST(HecEmulator, AdminEndpoint) {
  HecOptions o;
  o.admin_api = true;
  Fixture f(o);
  f.post("/services/collector/event", R"({"event":"x"})");
  auto faults = http_fetch("POST", f.url() + "/admin/faults", R"({"busy":1,"health":19})");
  ASSERT_EQ(faults.status, 200) << faults.body;
  EXPECT_EQ(code_of(f.post("/services/collector/event", R"({"event":"y"})")), 9);
  EXPECT_EQ(code_of(http_fetch("GET", f.url() + "/services/collector/health")), 19);
  auto events = json::parse(http_fetch("GET", f.url() + "/admin/events").body);
  EXPECT_EQ(events["count"], 1);
  EXPECT_EQ(events["events"][0]["envelope"]["event"], "x");
  EXPECT_EQ(http_fetch("POST", f.url() + "/admin/faults", "[").status, 400);
  EXPECT_EQ(http_fetch("POST", f.url() + "/admin/reset").status, 200);
  EXPECT_EQ(f.hec->event_count(), 0u);
}

}  // namespace
