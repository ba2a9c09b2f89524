// The ECS/OCSF writer's shared size hint (JsonProgram::SizeHint): stored only on large changes, so
// the threads that share a plan do not write its cache line per document; a huge record raises it
// at most twice per document and a run of smaller documents brings it back within a bounded count.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>

#include "connector/mapping/json_document.h"

namespace siem::mapping {
namespace {

using Hint = JsonProgram::SizeHint;

static_assert(alignof(Hint) == 64 && sizeof(Hint) == 64, "the hint has a cache line of its own");

TEST(JsonSizeHint, DocumentsWithinAnEighthChangeNothing) {
  Hint hint;
  hint.saw(4096);  // grows from kStart (2048) to the document
  ASSERT_EQ(hint.get(), 4096u);
  for (std::uint32_t i = 0; i < 1000; ++i) {
    hint.saw(3600 + (i * 37) % 497);  // 3600..4096: less than 1/8 below
    ASSERT_EQ(hint.get(), 4096u) << "document " << i;
  }
}

TEST(JsonSizeHint, AHugeRecordRaisesItAtMostTwice) {
  Hint hint;
  hint.saw(1u << 20);
  EXPECT_EQ(hint.get(), 2 * Hint::kStart);
  hint.saw(1u << 20);
  hint.saw(1u << 20);
  EXPECT_EQ(hint.get(), Hint::kMax);
  hint.saw(1u << 20);
  EXPECT_EQ(hint.get(), Hint::kMax);
}

TEST(JsonSizeHint, SmallerDocumentsBringItBackSoon) {
  Hint hint;
  for (int i = 0; i < 4; ++i) hint.saw(1u << 20);
  ASSERT_EQ(hint.get(), Hint::kMax);
  const std::size_t doc = 1500;
  std::size_t count = 0;
  while (hint.get() - doc >= hint.get() / 8 && count < 10'000) {
    hint.saw(doc);
    ++count;
    ASSERT_GE(hint.get(), doc);
  }
  // Seven halvings of the gap, kPatience documents each (the per-thread count may start part way).
  EXPECT_LE(count, 8u * Hint::kPatience);
  EXPECT_GE(hint.get(), doc);
  const std::uint32_t settled = hint.get();
  for (int i = 0; i < 1000; ++i) hint.saw(doc);
  EXPECT_EQ(hint.get(), settled);
}

}  // namespace
}  // namespace siem::mapping
