#include <gtest/gtest.h>

#include "connector/core/event_codec.h"

namespace {

using siem::MappedEvent;
using siem::OutputFormat;

MappedEvent sample() {
  MappedEvent e;
  e.kind = siem::SourceKind::graph_sign_in;
  e.source_name = "signins";
  e.set_origin("file:12");
  e.set_id("abc");
  e.set_tenant_id("tenant-1");
  e.set_subscription_id("subscription-1");
  e.set_action("Sign-in");
  e.time_ms = 1'700'000'000'123;
  e.severity = 7;
  e.tier = 0;
  e.set_tags({"pa.one", "pa.two"});
  e.raw = R"({"id":"abc"})";
  e.ecs = R"({"event":{"id":"abc"}})";
  e.cef = "CEF:0|x";
  e.ocsf = "{\"class_uid\":3002}";
  return e;
}

TEST(EventCodec, RoundTripKeepsWhatTheSinkReads) {
  const auto e = sample();
  for (auto f : {OutputFormat::ecs, OutputFormat::cef, OutputFormat::ocsf, OutputFormat::raw}) {
    const auto d = siem::decode_buffered_event(siem::encode_buffered_event(e, f), f);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->payload(f), e.payload(f));
    EXPECT_EQ(d->raw, e.raw);
    EXPECT_EQ(d->id(), e.id());
    EXPECT_EQ(d->kind, e.kind);
    EXPECT_EQ(d->time_ms, e.time_ms);
    EXPECT_EQ(d->severity, e.severity);
    EXPECT_EQ(d->tier, e.tier);
    EXPECT_EQ(d->tags(), e.tags());
    EXPECT_EQ(d->source_name, e.source_name);
    EXPECT_EQ(d->tenant_id(), e.tenant_id());
    EXPECT_EQ(d->subscription_id(), e.subscription_id());
    EXPECT_EQ(d->action(), e.action());
    EXPECT_EQ(d->origin(), e.origin());
  }
}

TEST(EventCodec, EveryTruncationAndTrailingGarbageIsRefused) {
  const auto bytes = siem::encode_buffered_event(sample(), OutputFormat::ecs);
  for (std::size_t n = 0; n < bytes.size(); ++n)
    EXPECT_FALSE(siem::decode_buffered_event(std::string_view(bytes).substr(0, n), OutputFormat::ecs)) << n;
  EXPECT_FALSE(siem::decode_buffered_event(bytes + "x", OutputFormat::ecs));
  std::string huge = bytes;
  huge[2 + 24] = '\x7f';  // first string length byte: far beyond the data
  huge[2 + 24 + 7] = '\x7f';
  EXPECT_FALSE(siem::decode_buffered_event(huge, OutputFormat::ecs));
}

}  // namespace
