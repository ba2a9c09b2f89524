// The pool of delivered events recycled to the mapping stage (event_pool.h): what it keeps, its
// bounds, and that a recycled event is indistinguishable from a new one but for its buffers.
#include "connector/core/event_pool.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "connector/core/event_codec.h"

namespace siem {
namespace {

std::shared_ptr<MappedEvent> filled(std::size_t text_bytes = 3000) {
  auto e = std::make_shared<MappedEvent>();
  e->ack = AckHandle{3, 77};
  e->kind = SourceKind::graph_sign_in;
  e->source_name = "a source name longer than the inline buffer";
  e->origin = "/var/log/entra/signins.ndjson:12345";
  e->id = "6f1c2d3e-0000-4a5b-8c9d-0123456789ab";
  e->tenant_id = "72f988bf-86f1-41af-91ab-2d7cd011db47";
  e->subscription_id = "0b1f6471-1bf0-4dda-aec3-cb9272f09590";
  e->action = "Sign-in activity of a user";
  e->time_ms = 1772619331002;
  e->severity = 7;
  e->tier = 0;
  e->tags = {"pa.privileged_sign_in_from_new_country", "pa.tier0"};
  e->raw = std::string(text_bytes, 'r');
  e->ecs = std::string(text_bytes, 'e');
  e->cef = std::string(text_bytes / 2, 'c');
  e->ocsf = std::string(text_bytes / 2, 'o');
  return e;
}

// Every field, through the event codec (the disk buffer's complete encoding of an event), and the
// ones it may leave out.
void expect_default(const MappedEvent& e) {
  const MappedEvent fresh;
  for (const auto f : {OutputFormat::raw, OutputFormat::ecs, OutputFormat::cef, OutputFormat::ocsf})
    EXPECT_EQ(encode_buffered_event(e, f), encode_buffered_event(fresh, f));
  EXPECT_EQ(e.ack.source, fresh.ack.source);
  EXPECT_EQ(e.ack.seq, fresh.ack.seq);
  EXPECT_EQ(e.kind, fresh.kind);
  EXPECT_EQ(e.source_name, fresh.source_name);
  EXPECT_EQ(e.origin, fresh.origin);
  EXPECT_EQ(e.id, fresh.id);
  EXPECT_EQ(e.tenant_id, fresh.tenant_id);
  EXPECT_EQ(e.subscription_id, fresh.subscription_id);
  EXPECT_EQ(e.action, fresh.action);
  EXPECT_EQ(e.time_ms, fresh.time_ms);
  EXPECT_EQ(e.severity, fresh.severity);
  EXPECT_EQ(e.tier, fresh.tier);
  EXPECT_EQ(e.tags, fresh.tags);
  EXPECT_EQ(e.raw, fresh.raw);
  EXPECT_EQ(e.ecs, fresh.ecs);
  EXPECT_EQ(e.cef, fresh.cef);
  EXPECT_EQ(e.ocsf, fresh.ocsf);
}

TEST(EventPool, ResetGivesADefaultEvent) {
  auto e = filled();
  const auto ecs_capacity = e->ecs.capacity();
  EventPool::reset(*e);
  expect_default(*e);
  EXPECT_EQ(e->ecs.capacity(), ecs_capacity);  // the point: the buffer stays
}

TEST(EventPool, RecyclesOnlyEventsNobodyElseHolds) {
  EventPool pool(10, 1u << 20);
  auto held = filled();
  EventPtr other_ref = held;  // a second holder (another sink's queue): not recycled
  std::vector<EventPtr> batch{held, filled()};
  held.reset();
  const MappedEvent* sole = batch[1].get();
  pool.give_back(batch);
  EXPECT_TRUE(batch.empty());
  EXPECT_EQ(pool.size(), 1u);
  EXPECT_EQ(other_ref->id, "6f1c2d3e-0000-4a5b-8c9d-0123456789ab");  // untouched
  auto again = pool.take();
  EXPECT_EQ(again.get(), sole);
  expect_default(*again);
  EXPECT_GE(again->ecs.capacity(), 3000u);
  EXPECT_EQ(again->raw.capacity(), std::string().capacity());  // the source's buffers are not kept
  EXPECT_EQ(again->origin.capacity(), std::string().capacity());
  EXPECT_EQ(pool.size(), 0u);
  EXPECT_EQ(pool.bytes(), 0u);
  EXPECT_EQ(pool.reused(), 1u);
  auto fresh = pool.take();  // empty: a new one
  expect_default(*fresh);
  EXPECT_EQ(pool.reused(), 1u);
}

TEST(EventPool, BoundedInEventsAndBytes) {
  EventPool by_count(3, 1u << 20);
  std::vector<EventPtr> batch;
  for (int i = 0; i < 5; ++i) batch.push_back(filled());
  by_count.give_back(batch);
  EXPECT_EQ(by_count.size(), 3u);

  const std::size_t one = [] {
    auto e = filled();
    e->raw.clear();
    e->raw.shrink_to_fit();
    e->origin.clear();
    e->origin.shrink_to_fit();
    return footprint(*e);
  }();
  EventPool by_bytes(100, 2 * one + one / 2);
  for (int i = 0; i < 5; ++i) batch.push_back(filled());
  by_bytes.give_back(batch);
  EXPECT_EQ(by_bytes.size(), 2u);
  EXPECT_EQ(by_bytes.bytes(), 2 * one);  // charged as the queues charge them

  EventPool large(100, 1u << 20);
  batch.push_back(filled(EventPool::kMaxPooledEventBytes));  // one very large record's event
  large.give_back(batch);
  EXPECT_EQ(large.size(), 0u);
}

}  // namespace
}  // namespace siem
