// The bytes the pipeline's queues charge a record or an event (connector/core/footprint.h): what it
// holds on the heap, so that `queue_bytes` / `buffer.max_bytes` bound the resident size.
#include "connector/core/footprint.h"

#include <gtest/gtest.h>

namespace siem {
namespace {

TEST(Footprint, AllocationSizesFollowTheAllocatorsClasses) {
  EXPECT_EQ(allocation_size(1), 16u);
  EXPECT_EQ(allocation_size(16), 16u);
  EXPECT_EQ(allocation_size(17), 32u);
  EXPECT_EQ(allocation_size(128), 128u);
  EXPECT_EQ(allocation_size(129), 160u);   // four classes between 128 and 256
  EXPECT_EQ(allocation_size(256), 256u);
  EXPECT_EQ(allocation_size(2049), 2560u);
  EXPECT_EQ(allocation_size(5000), 5120u);
  for (std::size_t n = 1; n < 1'000'000; n = n * 3 / 2 + 1) {
    EXPECT_GE(allocation_size(n), n);
    EXPECT_LE(allocation_size(n), n + n / 4 + 16) << n;  // never more than a class step above
  }
}

TEST(Footprint, ARecordIsChargedTheCapacityOfItsText) {
  RawRecord r;
  r.json = "{\"id\":1}";  // inline: no heap
  const std::size_t small = footprint(r);
  EXPECT_EQ(small, sizeof(RawRecord));
  std::string grown = "{\"id\":1}";
  grown.reserve(64 * 1024);  // the text is short, the allocation is not
  r.json = std::move(grown);
  EXPECT_GE(footprint(r), small + 64 * 1024);
  r.origin = std::string(100, 'o');
  r.tenant_hint = std::string(40, 't');
  r.read_error = std::string(50, 'e');
  EXPECT_GE(footprint(r), small + 64 * 1024 + 190);
}

TEST(Footprint, AnEventIsChargedEveryPayloadAsAllocated) {
  MappedEvent e;
  const std::size_t empty = footprint(e);
  EXPECT_GE(empty, sizeof(MappedEvent));
  e.raw = std::string(2000, 'r');
  e.ecs = std::string(2300, 'j');
  e.cef = std::string(700, 'c');
  e.ocsf = std::string(1600, 'o');
  e.set_id(std::string(36, 'i'));
  e.set_tags({std::string(30, 'a'), std::string(30, 'b')});
  const std::size_t filled = footprint(e);
  EXPECT_GE(filled, empty + 2000 + 2300 + 700 + 1600 + 36 + 60 + 2 * sizeof(std::uint32_t));  // the texts' one block
  // A document grown by appending keeps its larger allocation: that is what the queue holds.
  std::string grown;
  for (int i = 0; i < 2300; ++i) grown += 'j';
  ASSERT_GT(grown.capacity(), grown.size() + 100);
  e.ecs = std::move(grown);
  EXPECT_GE(footprint(e), filled - allocation_size(2301) + e.ecs.capacity());
}

// Exact: the texts' one block is charged as allocated (the test above bounds from below only, and
// the rounding of the other strings' allocations would hide a missing term).
TEST(Footprint, AnEventIsChargedItsPackedTextsExactly) {
  MappedEvent t;
  const std::size_t b = footprint(t);
  EXPECT_EQ(t.texts.heap_capacity(), 0u);
  t.set_id(std::string(200, 'i'));
  ASSERT_GE(t.texts.heap_capacity(), 200u + EventTexts::kFields);  // the id and a NUL per field
  EXPECT_EQ(footprint(t), b + allocation_size(t.texts.heap_capacity()));
  EXPECT_GE(footprint(t), b + 200);
  t.set_tags({std::string(300, 'a')});
  EXPECT_EQ(footprint(t), b + allocation_size(t.texts.heap_capacity()));
  EXPECT_GE(footprint(t), b + 500 + sizeof(std::uint32_t));
}

}  // namespace
}  // namespace siem
