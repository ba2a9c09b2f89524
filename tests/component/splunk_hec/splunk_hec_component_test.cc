// The HEC sink against the HEC emulator over real HTTPS on 127.0.0.1 with a test CA: delivery,
// batching, acks, errors and config (the drain tests are in splunk_hec_drain_test.cc).
#include "tests/component/splunk_hec/hec_fixture.h"

#include "connector/enrichment/mapping_stage.h"
#include "connector/mapping/mapper.h"

using namespace siem;
using namespace siem::hec_test;
using namespace std::chrono_literals;

namespace {

// Sends like the SinkRunner does: resend what is not done, bounded number of attempts.
SendResult deliver(SplunkHecSink& sink, std::vector<EventPtr> batch, int max_attempts, std::size_t& rejected) {
  SendResult r;
  for (int attempt = 0; attempt < max_attempts && !batch.empty(); ++attempt) {
    r = sink.send(batch);
    std::set<std::size_t> rej;
    for (const auto& x : r.rejected) rej.insert(x.index);
    rejected += rej.size();
    if (r.status == SendStatus::ok) return r;
    if (r.status == SendStatus::fatal) return r;
    std::vector<EventPtr> rest;
    for (std::size_t i = r.completed; i < batch.size(); ++i)
      if (!rej.count(i)) rest.push_back(batch[i]);
    batch = std::move(rest);
  }
  return r;
}

}  // namespace

TEST_F(Fixture, AllEventsArriveWithEnvelopeAndIdsGzipped) {
  start_hec();
  SplunkHecSink sink(settings());
  sink.start();
  auto events = make_events(500);
  auto r = sink.send(events);
  ASSERT_EQ(r.status, SendStatus::ok) << r.error;
  ASSERT_EQ(hec->event_count(), 500u);
  auto got = ids();
  for (std::size_t i = 0; i < 500; ++i) EXPECT_EQ(got.count("evt-" + std::to_string(i)), 1u);
  auto first = hec->events().front().envelope;
  EXPECT_EQ(first["host"], "connector01");
  EXPECT_EQ(first["index"], "identity");
  EXPECT_EQ(first["sourcetype"], "siem:ecs");
  EXPECT_EQ(first["source"], "siem-connector:entra-audit");
  EXPECT_EQ(first["fields"]["tenant_id"], "tenant-1");
  EXPECT_DOUBLE_EQ(first["time"].get<double>(), 1772619330.123);
  for (const auto& req : hec->requests()) {
    EXPECT_TRUE(req.gzip);
    EXPECT_EQ(req.channel, sink.channel());
  }
}

TEST_F(Fixture, BatchesAreCutAtMaxBatchBytes) {
  start_hec();
  auto s = settings();
  s.max_batch_bytes = 20'000;
  s.gzip = false;
  SplunkHecSink sink(s);
  sink.start();
  auto r = sink.send(make_events(100, 1000));
  ASSERT_EQ(r.status, SendStatus::ok) << r.error;
  EXPECT_EQ(hec->event_count(), 100u);
  EXPECT_GE(hec->requests().size(), 5u);
  for (const auto& req : hec->requests()) EXPECT_LE(req.body_bytes, 20'000u);
}

TEST_F(Fixture, IndexerAcksIncludingSlowAcks) {
  hec::HecOptions o;
  o.ack_enabled = true;
  start_hec(o);
  hec->set_slow_acks(200ms, 3);
  auto s = settings();
  s.ack = true;
  SplunkHecSink sink(s);
  sink.start();
  auto r = sink.send(make_events(50));
  ASSERT_EQ(r.status, SendStatus::ok) << r.error;
  EXPECT_EQ(hec->event_count(), 50u);
  EXPECT_GE(hec->ack_polls(), 3u);
}

TEST_F(Fixture, LostAcksTimeOutAndResendOnANewChannel) {
  auto s = start_hec_losing_acks();
  s.ack_timeout = 300ms;
  SplunkHecSink sink(s);
  sink.start();
  const std::string channel = sink.channel();
  auto r = sink.send(make_events(10));
  ASSERT_EQ(r.status, SendStatus::retry);
  EXPECT_EQ(r.completed, 0u);
  EXPECT_NE(sink.channel(), channel);
  EXPECT_NE(r.error.find("not indexed"), std::string::npos) << r.error;
  hec->set_acks_lost(false);
  r = sink.send(make_events(10));
  ASSERT_EQ(r.status, SendStatus::ok) << r.error;
}

TEST_F(Fixture, BusyStormThenRecoveryLosesNothing) {
  start_hec();
  hec->fail_busy(3);
  SplunkHecSink sink(settings());
  sink.start();
  std::size_t rejected = 0;
  auto r = deliver(sink, make_events(200), 10, rejected);
  ASSERT_EQ(r.status, SendStatus::ok) << r.error;
  auto got = ids();
  for (std::size_t i = 0; i < 200; ++i) EXPECT_GE(got.count("evt-" + std::to_string(i)), 1u) << i;
  EXPECT_EQ(rejected, 0u);
}

TEST_F(Fixture, DroppedConnectionIsRetriedWithoutLoss) {
  start_hec();
  SplunkHecSink sink(settings());
  sink.start();
  hec->drop_connections(1);
  hec->drop_after_store(1);
  std::size_t rejected = 0;
  auto r = deliver(sink, make_events(30), 10, rejected);
  ASSERT_EQ(r.status, SendStatus::ok) << r.error;
  auto got = ids();
  for (std::size_t i = 0; i < 30; ++i) EXPECT_GE(got.count("evt-" + std::to_string(i)), 1u) << i;
}

TEST_F(Fixture, TooLargeRequestsAreSplit) {
  hec::HecOptions o;
  o.max_content_length = 30'000;
  start_hec(o);
  auto s = settings();
  s.gzip = false;
  s.max_batch_bytes = 200'000;
  SplunkHecSink sink(s);
  sink.start();
  auto r = sink.send(make_events(100, 1000));  // ~105 KB in one request -> 413 -> halves
  ASSERT_EQ(r.status, SendStatus::ok) << r.error;
  EXPECT_EQ(hec->event_count(), 100u);
  bool saw_413 = false;
  for (const auto& req : hec->requests()) saw_413 |= req.status == 413;
  EXPECT_TRUE(saw_413);
}

TEST_F(Fixture, InvalidEventIsDeadLetteredAndTheRestDelivered) {
  start_hec();
  auto s = settings();
  s.format = OutputFormat::raw;
  SplunkHecSink sink(s);
  sink.start();
  auto events = make_events(10);
  auto bad = std::make_shared<MappedEvent>(*events[4]);
  bad->raw = "{not json";
  events[4] = bad;
  auto r = sink.send(events);
  ASSERT_EQ(r.status, SendStatus::ok) << r.error;
  ASSERT_EQ(r.rejected.size(), 1u);
  EXPECT_EQ(r.rejected[0].index, 4u);
  EXPECT_NE(r.rejected[0].reason.find("code 6"), std::string::npos) << r.rejected[0].reason;
  EXPECT_EQ(hec->event_count(), 9u);
  EXPECT_EQ(hec->events().front().envelope["sourcetype"], "azure:aad:audit");
}

TEST_F(Fixture, WrongTokenIsOneClearFatalErrorNamingTheSink) {
  start_hec();
  auto s = settings();
  s.token = Secret("11111111-2222-3333-4444-555555555555");
  SplunkHecSink sink(s);
  sink.start();  // health needs no valid token
  auto r = sink.send(make_events(3));
  ASSERT_EQ(r.status, SendStatus::fatal);
  EXPECT_NE(r.error.find("'siem'"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("Invalid token"), std::string::npos) << r.error;
  EXPECT_EQ(r.error.find("11111111-2222"), std::string::npos) << "token leaked: " << r.error;
  EXPECT_EQ(hec->requests().size(), 1u);  // no spin
}

TEST_F(Fixture, UntrustedServerCertificateIsFatal) {
  start_hec();
  auto s = settings();
  s.http.ca_file = pki.other_ca_pem();
  SplunkHecSink sink(s);
  EXPECT_THROW(sink.start(), SinkError);
  auto r = sink.send(make_events(1));
  EXPECT_EQ(r.status, SendStatus::fatal);
  EXPECT_NE(r.error.find("verif"), std::string::npos) << r.error;
}

TEST(HecConfig, ReadsKeysAndRejectsBadValuesWithLocations) {
  Diagnostics diags;
  auto doc = ConfigDocument::load_string(R"(
sinks:
  - name: siem
    type: splunk_hec
    format: raw
    url: https://splunk.example:8088
    token: abc
    index: identity
    ack: true
    ack_timeout: 2m
    sourcetypes: {graph_sign_in: ms:aad:signin}
    fields: {env: prod}
  - name: bad
    type: splunk_hec
    url: ftp://nope
    channel: not-a-guid
    sourcetypes: {graph_sign_inn: x}
)", "hec.yaml", diags);
  auto sinks = doc->root().list("sinks");
  ASSERT_EQ(sinks.size(), 2u);
  PluginContext ctx;
  ctx.name = "siem";
  ctx.host_name = "host-1";
  ctx.format = read_sink_format(sinks[0]);  // as the pipeline builder reads it
  auto s = read_hec_sink_settings(sinks[0], ctx);
  EXPECT_FALSE(diags.has_errors()) << diags.format();
  EXPECT_EQ(s.url, "https://splunk.example:8088/services/collector/event");
  EXPECT_EQ(s.base_url, "https://splunk.example:8088");
  EXPECT_EQ(s.format, OutputFormat::raw);
  EXPECT_TRUE(s.ack);
  EXPECT_TRUE(s.gzip);
  EXPECT_EQ(s.max_batch_bytes, 900'000u);
  EXPECT_EQ(s.ack_timeout, std::chrono::minutes(2));
  EXPECT_EQ(s.host, "host-1");
  EXPECT_EQ(s.sourcetypes.at(SourceKind::graph_sign_in), "ms:aad:signin");

  ctx.name = "bad";
  read_hec_sink_settings(sinks[1], ctx);
  const std::string all = diags.format();
  EXPECT_NE(all.find("hec.yaml:"), std::string::npos) << all;
  EXPECT_NE(all.find("ftp"), std::string::npos) << all;
  EXPECT_NE(all.find("token"), std::string::npos) << all;
  EXPECT_NE(all.find("GUID"), std::string::npos) << all;
  EXPECT_NE(all.find("did you mean 'graph_sign_in'"), std::string::npos) << all;
}

TEST(HecConfig, RegisteredInTheBuiltinRegistry) {
  // The app library is not linked here; the registration function itself is.
  PluginRegistry r;
  register_splunk_hec_sink(r);
  ASSERT_NE(r.sink("splunk_hec"), nullptr);
}

// `raw` output embedded in the HEC envelope is valid JSON even when the record was not and the
// mapper repaired it (raw control characters in strings, trailing commas): HEC accepts every event
// and its "event" is the record, over HTTPS to the emulator.
TEST_F(Fixture, RepairedRecordsTravelAsValidRawJson) {
  start_hec();
  auto s = settings();
  s.format = OutputFormat::raw;
  SplunkHecSink sink(s);
  sink.start();
  Diagnostics diags;
  auto doc = ConfigDocument::load_string("{}", "test.yaml", diags);
  auto mapper = make_mapping_stage(doc->root(), nullptr);
  const std::vector<std::string> broken = {
      "{\"id\":\"Directory_r1\",\"category\":\"UserManagement\",\"activityDisplayName\":\"line1\nline2\","
      "\"activityDateTime\":\"2026-03-04T10:15:30Z\"}",
      "{\"id\":\"Directory_r2\",\"category\":\"UserManagement\",\"activityDisplayName\":\"tab\there\",}",
      "{\"id\":\"Directory_r3\",\"targetResources\":[{\"id\":\"x\",},],\"activityDisplayName\":\"a\x01\"}"};
  std::vector<EventPtr> events;
  for (const auto& json : broken) {
    RawRecord rec;
    rec.json = json;
    auto ev = std::make_shared<MappedEvent>();
    const auto err = mapper->map(rec, std::nullopt, format_bit(OutputFormat::raw), *ev);
    ASSERT_FALSE(err) << *err;
    ev->source_name = "entra-audit";
    events.push_back(std::move(ev));
  }
  std::size_t rejected = 0;
  auto r = deliver(sink, events, 3, rejected);
  ASSERT_EQ(r.status, SendStatus::ok) << r.error;
  EXPECT_EQ(rejected, 0u);
  ASSERT_EQ(hec->event_count(), 3u);
  std::map<std::string, nlohmann::json> got;
  for (const auto& e : hec->events()) got[e.envelope["event"]["id"].get<std::string>()] = e.envelope["event"];
  EXPECT_EQ(got["Directory_r1"]["activityDisplayName"], "line1\nline2");
  EXPECT_EQ(got["Directory_r2"]["activityDisplayName"], "tab\there");
  EXPECT_EQ(got["Directory_r3"]["targetResources"][0]["id"], "x");
}

// 503 code 9 ("server is busy") on the second request of a batch cut into several: without acks
// the first request's events are done (HTTP 200 is the delivery), the rest are resent once, so
// every event arrives exactly once; with acks the first request's ackId is dropped with the
// failure and its events are resent too (at-least-once: duplicates, never a gap).
void busy_in_the_middle_of_a_batch(Fixture& f, bool ack) {
  hec::HecOptions o;
  o.ack_enabled = ack;
  f.start_hec(o);
  f.hec->fail_busy(1, /*after=*/1);
  auto s = f.settings();
  s.ack = ack;
  s.gzip = false;
  s.max_batch_bytes = 8'000;
  SplunkHecSink sink(s);
  sink.start();
  auto events = make_events(60, 200);  // ~330 bytes each: ~25 per request, 3 requests
  auto first = sink.send(events);
  ASSERT_EQ(first.status, SendStatus::retry) << first.error;
  EXPECT_NE(first.error.find("code 9"), std::string::npos) << first.error;
  EXPECT_TRUE(first.rejected.empty());
  if (ack) {
    EXPECT_EQ(first.completed, 0u);  // nothing counts before its ackId is indexed
  } else {
    EXPECT_GT(first.completed, 0u);
    EXPECT_LT(first.completed, events.size());
  }
  std::size_t rejected = 0;
  std::vector<EventPtr> rest(events.begin() + static_cast<std::ptrdiff_t>(first.completed), events.end());
  auto r = deliver(sink, rest, 5, rejected);
  ASSERT_EQ(r.status, SendStatus::ok) << r.error;
  EXPECT_EQ(rejected, 0u);
  const auto got = f.ids();
  for (std::size_t i = 0; i < events.size(); ++i) {
    const auto n = got.count("evt-" + std::to_string(i));
    if (ack) EXPECT_GE(n, 1u) << i;
    else EXPECT_EQ(n, 1u) << i;
  }
}

TEST_F(Fixture, BusyInTheMiddleOfABatchLosesNothingWithoutAcks) { busy_in_the_middle_of_a_batch(*this, false); }
TEST_F(Fixture, BusyInTheMiddleOfABatchLosesNothingWithAcks) { busy_in_the_middle_of_a_batch(*this, true); }

// Splunk forgets the ackIds of a channel that idled out (ackIdleCleanup): they answer false for
// good, even once the indexer would grant new ones. They never count as delivered: after
// ack_timeout the batch is resent on a fresh channel and then acknowledged.
TEST_F(Fixture, ExpiredAckIdsAreResentOnANewChannel) {
  hec::HecOptions o;
  o.ack_enabled = true;
  start_hec(o);
  hec->set_slow_acks(std::chrono::hours(1), 0);
  auto s = settings();
  s.ack = true;
  s.ack_timeout = 1500ms;
  SplunkHecSink sink(s);
  sink.start();
  const std::string channel = sink.channel();
  auto events = make_events(20);
  SendResult first;
  std::thread sender([&] { first = sink.send(events); });
  const bool polled = test::wait_until([&] { return hec->ack_polls() >= 1; }, 10s);
  hec->expire_acks();
  hec->set_slow_acks(0ms, 0);  // new ackIds are granted at once from now on
  sender.join();
  ASSERT_TRUE(polled);
  ASSERT_EQ(first.status, SendStatus::retry) << first.error;
  EXPECT_EQ(first.completed, 0u);
  EXPECT_NE(first.error.find("not indexed"), std::string::npos) << first.error;
  EXPECT_NE(sink.channel(), channel);
  auto r = sink.send(events);
  ASSERT_EQ(r.status, SendStatus::ok) << r.error;
  const auto got = ids();
  for (std::size_t i = 0; i < events.size(); ++i) EXPECT_EQ(got.count("evt-" + std::to_string(i)), 2u) << i;
}

// With acks on, an invalid object (400 code 6 with invalid-event-number) is dead-lettered with its
// code and the others, stored before it without an ackId, are resent and acknowledged.
TEST_F(Fixture, InvalidEventWithAcksIsDeadLetteredAndTheRestAcknowledged) {
  hec::HecOptions o;
  o.ack_enabled = true;
  start_hec(o);
  auto s = settings();
  s.ack = true;
  s.format = OutputFormat::raw;
  SplunkHecSink sink(s);
  sink.start();
  auto events = make_events(10);
  auto bad = std::make_shared<MappedEvent>(*events[6]);
  bad->raw = "{not json";
  events[6] = bad;
  auto r = sink.send(events);
  ASSERT_EQ(r.status, SendStatus::ok) << r.error;
  ASSERT_EQ(r.rejected.size(), 1u);
  EXPECT_EQ(r.rejected[0].index, 6u);
  EXPECT_NE(r.rejected[0].reason.find("code 6"), std::string::npos) << r.rejected[0].reason;
  std::multiset<std::string> got;
  for (const auto& e : hec->events()) got.insert(e.envelope["event"]["id"].get<std::string>());
  EXPECT_EQ(got.count("evt-6"), 0u);
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (i == 6) continue;
    EXPECT_GE(got.count("evt-" + std::to_string(i)), 1u) << i;
    bool acked = false;  // some copy of it arrived in a request that got an ackId
    for (const auto& e : hec->events())
      acked |= e.envelope["event"]["id"] == "evt-" + std::to_string(i) && e.ack_id.has_value();
    EXPECT_TRUE(acked) << i;
  }
}
