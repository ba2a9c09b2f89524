#include <gtest/gtest.h>

#include <sys/mman.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

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

// A disk buffer written by an earlier binary must still decode: the bytes below are what the
// encoder of 623444f (before the event's texts were packed) wrote for golden(), in the ECS and raw
// formats. Today's encoder writes the same bytes and the decoder reads them back into the event.
MappedEvent golden() {
  MappedEvent e = sample();
  e.tier = 2;
  e.set_tags({"pa.one", "", "pa.two"});
  return e;
}

constexpr std::string_view kEcs(
    "\x01\x02\x7b\x68\xe5\xcf\x8b\x01\x00\x00\x07\x00\x00\x00\x00\x00\x00\x00\x02\x00"
    "\x00\x00\x00\x00\x00\x00\x07\x00\x00\x00\x00\x00\x00\x00\x73\x69\x67\x6e\x69\x6e"
    "\x73\x07\x00\x00\x00\x00\x00\x00\x00\x66\x69\x6c\x65\x3a\x31\x32\x03\x00\x00\x00"
    "\x00\x00\x00\x00\x61\x62\x63\x08\x00\x00\x00\x00\x00\x00\x00\x74\x65\x6e\x61\x6e"
    "\x74\x2d\x31\x0e\x00\x00\x00\x00\x00\x00\x00\x73\x75\x62\x73\x63\x72\x69\x70\x74"
    "\x69\x6f\x6e\x2d\x31\x07\x00\x00\x00\x00\x00\x00\x00\x53\x69\x67\x6e\x2d\x69\x6e"
    "\x0c\x00\x00\x00\x00\x00\x00\x00\x7b\x22\x69\x64\x22\x3a\x22\x61\x62\x63\x22\x7d"
    "\x16\x00\x00\x00\x00\x00\x00\x00\x7b\x22\x65\x76\x65\x6e\x74\x22\x3a\x7b\x22\x69"
    "\x64\x22\x3a\x22\x61\x62\x63\x22\x7d\x7d\x03\x00\x00\x00\x00\x00\x00\x00\x06\x00"
    "\x00\x00\x00\x00\x00\x00\x70\x61\x2e\x6f\x6e\x65\x00\x00\x00\x00\x00\x00\x00\x00"
    "\x06\x00\x00\x00\x00\x00\x00\x00\x70\x61\x2e\x74\x77\x6f",
    214);
constexpr std::string_view kRaw(
    "\x01\x02\x7b\x68\xe5\xcf\x8b\x01\x00\x00\x07\x00\x00\x00\x00\x00\x00\x00\x02\x00"
    "\x00\x00\x00\x00\x00\x00\x07\x00\x00\x00\x00\x00\x00\x00\x73\x69\x67\x6e\x69\x6e"
    "\x73\x07\x00\x00\x00\x00\x00\x00\x00\x66\x69\x6c\x65\x3a\x31\x32\x03\x00\x00\x00"
    "\x00\x00\x00\x00\x61\x62\x63\x08\x00\x00\x00\x00\x00\x00\x00\x74\x65\x6e\x61\x6e"
    "\x74\x2d\x31\x0e\x00\x00\x00\x00\x00\x00\x00\x73\x75\x62\x73\x63\x72\x69\x70\x74"
    "\x69\x6f\x6e\x2d\x31\x07\x00\x00\x00\x00\x00\x00\x00\x53\x69\x67\x6e\x2d\x69\x6e"
    "\x0c\x00\x00\x00\x00\x00\x00\x00\x7b\x22\x69\x64\x22\x3a\x22\x61\x62\x63\x22\x7d"
    "\x00\x00\x00\x00\x00\x00\x00\x00\x03\x00\x00\x00\x00\x00\x00\x00\x06\x00\x00\x00"
    "\x00\x00\x00\x00\x70\x61\x2e\x6f\x6e\x65\x00\x00\x00\x00\x00\x00\x00\x00\x06\x00"
    "\x00\x00\x00\x00\x00\x00\x70\x61\x2e\x74\x77\x6f",
    192);

void expect_same_event(const MappedEvent& d, const MappedEvent& e, OutputFormat f) {
  EXPECT_EQ(d.kind, e.kind);
  EXPECT_EQ(d.time_ms, e.time_ms);
  EXPECT_EQ(d.severity, e.severity);
  EXPECT_EQ(d.tier, e.tier);
  EXPECT_EQ(d.source_name, e.source_name);
  EXPECT_EQ(d.origin(), e.origin());
  EXPECT_EQ(d.id(), e.id());
  EXPECT_EQ(d.tenant_id(), e.tenant_id());
  EXPECT_EQ(d.subscription_id(), e.subscription_id());
  EXPECT_EQ(d.action(), e.action());
  EXPECT_EQ(d.raw, e.raw);
  EXPECT_EQ(d.tags(), (std::vector<std::string>{"pa.one", "", "pa.two"}));
  if (f != OutputFormat::raw) {
    EXPECT_EQ(d.payload(f), e.payload(f));
  }
  for (auto other : {OutputFormat::ecs, OutputFormat::cef, OutputFormat::ocsf}) {
    if (other != f) {
      EXPECT_TRUE(d.payload(other).empty());
    }
  }
}

TEST(EventCodec, BytesOfTheEarlierFormatDecodeAndAreWrittenTheSame) {
  const MappedEvent e = golden();
  for (auto [f, bytes] : {std::pair{OutputFormat::ecs, kEcs}, std::pair{OutputFormat::raw, kRaw}}) {
    EXPECT_EQ(siem::encode_buffered_event(e, f), bytes) << static_cast<int>(f);
    const auto d = siem::decode_buffered_event(bytes, f);
    ASSERT_TRUE(d) << static_cast<int>(f);
    expect_same_event(*d, e, f);
  }
}

// A record whose texts add up to more than 4 GiB (an event's texts are one buffer of at most that)
// is refused, not thrown on. The record is a view over untouched anonymous memory: its pages read
// as zeros (length 0 for every later string) and are never written but for the first.
TEST(EventCodec, TextsOver4GiBAreRefused) {
  constexpr std::uint64_t kOrigin = std::uint64_t{std::numeric_limits<std::uint32_t>::max()} + 1;
  const std::size_t header = 2 + 3 * 8 + 8 + 8;  // format, kind, 3 numbers, source name, origin length
  const std::size_t size = header + kOrigin + 4 * 8 + 8 + 8 + 8;  // 4 fields, raw, payload, tag count
  void* m = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED) GTEST_SKIP() << "no address space for a 4 GiB mapping";
  char* p = static_cast<char*>(m);
  const std::string small = siem::encode_buffered_event(MappedEvent{}, OutputFormat::ecs);
  std::memcpy(p, small.data(), 2 + 3 * 8 + 8);  // a default event's header and empty source name
  for (int i = 0; i < 8; ++i) p[header - 8 + static_cast<std::size_t>(i)] = static_cast<char>((kOrigin >> (8 * i)) & 0xFF);
  EXPECT_FALSE(siem::decode_buffered_event(std::string_view(p, size), OutputFormat::ecs));
  munmap(m, size);
}

}  // namespace
