// Internal to connector/record: the ASCII case-folding functions and Fields::find_here(), inline
// in both json_access.cc and path_set.cc (their hot paths). Not part of the module's interface.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "connector/record/json_access.h"

namespace siem::json {

namespace fold {
// ASCII case folding without the locale machinery of std::tolower (this is the hot path).
inline char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c | 0x20) : c; }

// lower() of eight bytes at once: a byte gets 0x20 when it is 'A'..'Z' (high bit clear, its low
// seven bits >= 'A' and not > 'Z'); other bytes, non-ASCII ones included, are unchanged.
inline std::uint64_t lower8(std::uint64_t x) {
  constexpr std::uint64_t kOnes = 0x0101010101010101ULL, kHigh = 0x8080808080808080ULL;
  const std::uint64_t low7 = x & ~kHigh;
  const std::uint64_t ge_a = low7 + kOnes * (0x80 - 'A');
  const std::uint64_t gt_z = low7 + kOnes * (0x7f - 'Z');
  const std::uint64_t upper = ge_a & ~gt_z & ~x & kHigh;
  return x | (upper >> 2);
}

inline std::uint64_t load8(const char* p) {
  std::uint64_t w;
  std::memcpy(&w, p, 8);
  return w;
}
inline std::uint32_t load4(const char* p) {
  std::uint32_t w;
  std::memcpy(&w, p, 4);
  return w;
}

// a[0, n) == b[0, n), compared a word at a time with the last word overlapping the one before
// (keys are short: this stays inline instead of calling memcmp for each candidate).
inline bool same_bytes(const char* a, const char* b, std::size_t n) {
  if (n >= 8) {
    for (std::size_t i = 0; i + 8 < n; i += 8)
      if (load8(a + i) != load8(b + i)) return false;
    return load8(a + n - 8) == load8(b + n - 8);
  }
  if (n >= 4) return load4(a) == load4(b) && load4(a + n - 4) == load4(b + n - 4);
  for (std::size_t i = 0; i < n; ++i)
    if (a[i] != b[i]) return false;
  return true;
}

// A cheap reject before iequals(k, key) for a key k of key's (non-zero) length: its last byte must
// fold to `last`, lower(key.back()). Same-length keys mostly differ there (URIs, ids with one
// shared prefix), and iequals would compare them from the start.
inline bool folds_to(std::string_view k, char last) { return lower(k.back()) == last; }
}  // namespace fold

using namespace fold;

// An exact match ends the search (the chain lists the last duplicate first); a key of the same
// length and folded last byte that is not one sends the lookup to find_folded(), out of line, so
// this path keeps no registers to save (PathSet::resolve inlines it for every root key).
[[gnu::always_inline]] inline const element* Fields::find_here(const Key& key) const {
  const std::size_t n = key.text.size();
  bool maybe_folded = false;
  for (auto i = heads_[key.bucket]; i != kNone; i = entries_[i].next) {
    const Entry& e = entries_[i];
    if (e.key.size() != n) continue;
    if (same_bytes(e.key.data(), key.text.data(), n)) return &e.value;  // exact before folded
    maybe_folded = maybe_folded || folds_to(e.key, key.folded_last);
  }
  return maybe_folded ? find_folded(key) : nullptr;
}

}  // namespace siem::json
