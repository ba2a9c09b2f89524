// What a queued record or event costs in memory, for the byte bounds of the pipeline's queues
// (`pipeline.queue_bytes`, a sink's `buffer.max_bytes`). The charge is what the entry keeps alive on
// the heap, not the length of its text: each string's allocated capacity (not its size: a string
// grown by appending holds up to twice its length) rounded up to the allocator's size class, the
// object itself and its shared_ptr control block. Measured against the process's resident size in
// docs/performance.md ("Memory").
#pragma once

#include <bit>
#include <cstddef>
#include <string>
#include <vector>

#include "connector/core/event.h"

namespace siem {

// The bytes malloc really hands out for a request of `n`: jemalloc's size classes (16-byte steps up
// to 128, then four classes per doubling), which glibc's 16-byte granularity plus header stays under.
constexpr std::size_t allocation_size(std::size_t n) noexcept {
  if (n <= 128) return (n + 15) & ~std::size_t{15};
  const std::size_t step = std::bit_floor(n - 1) / 4;  // 4 classes between 2^k and 2^(k+1)
  return (n + step - 1) / step * step;
}

// Heap bytes behind a std::string: nothing while the text fits the inline buffer.
inline std::size_t heap_bytes(const std::string& s) noexcept {
  return s.capacity() > std::string().capacity() ? allocation_size(s.capacity() + 1) : 0;
}

// A record's text: its own string's allocation, or, for a view into a shared read block, its share
// of the block (its length: the records split from a block cover it, and the file source bounds the
// blocks alive, record_text.h).
inline std::size_t heap_bytes(const RecordText& t) noexcept {
  return t.shares_block() ? t.size() : heap_bytes(t.owned());
}

template <typename T>
std::size_t heap_bytes(const std::vector<T>& v) noexcept {
  return v.capacity() > 0 ? allocation_size(v.capacity() * sizeof(T)) : 0;
}

// A record in the input queue (its strings; the RawRecord itself sits in its batch's vector).
inline std::size_t footprint(const RawRecord& r) noexcept {
  return sizeof(RawRecord) + heap_bytes(r.json) + heap_bytes(r.origin) + heap_bytes(r.tenant_hint) +
         heap_bytes(r.read_error);
}

// An event in a sink queue: everything it keeps alive (the original record, every mapped payload,
// ids and tags), not only one sink's payload, with the make_shared block that holds it.
inline std::size_t footprint(const MappedEvent& e) noexcept {
  constexpr std::size_t kControlBlock = 16;  // std::make_shared's use counts before the object
  std::size_t n = allocation_size(sizeof(MappedEvent) + kControlBlock) + heap_bytes(e.raw) + heap_bytes(e.ecs) +
                  heap_bytes(e.cef) + heap_bytes(e.ocsf) + heap_bytes(e.source_name);
  if (const std::size_t texts = e.texts.heap_capacity()) n += allocation_size(texts);
  return n;
}

}  // namespace siem
