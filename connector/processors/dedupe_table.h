// The cross-path dedupe table: which record ids (per kind family) were seen, from which source,
// and when; bounded by age (window) and by count (max_ids, oldest forgotten first). I/O free and
// clock free (times are passed in), so the bounds and the persisted form are unit-tested directly.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "connector/core/event.h"

namespace siem::dedupe {

// Record kinds that are the same record reaching the connector by two paths: Graph (or ARM)
// pulled, and the diagnostic-settings export (Event Hubs, or a file of its records). Each has the
// same id on both paths (interfaces.md, "Identity of a mapped event").
enum class Family : std::uint8_t { none = 0, directory_audit = 1, sign_in = 2, activity = 3 };
Family family_of(SourceKind kind) noexcept;
std::string_view to_string(Family f) noexcept;

class Table {
 public:
  // Source of an entry: an index into owners() (source names, as persisted).
  using Owner = std::uint16_t;
  enum class Result : std::uint8_t {
    first,        // not seen (within the bounds): remembered with this owner, pass it
    same_source,  // seen from this same source before: pass it (a re-read may be a redelivery)
    duplicate,    // seen from another source: the copy to drop
  };

  Table(std::int64_t window_ms, std::size_t max_ids) : window_ms_(window_ms), max_ids_(max_ids) {}

  // The owner index of a source name (added when new).
  Owner owner(std::string_view source_name);
  const std::vector<std::string>& owners() const noexcept { return owners_; }

  // Looks up (family, id) seen at `now_ms` by `owner`, forgetting first what the bounds exclude.
  Result check(Family family, std::string_view id, Owner owner, std::int64_t now_ms);

  std::size_t size() const noexcept { return order_.size(); }
  std::uint64_t evicted_by_age() const noexcept { return evicted_age_; }
  std::uint64_t evicted_by_count() const noexcept { return evicted_count_; }

  // The persisted form (versioned, length-checked binary). parse() throws std::runtime_error on
  // anything malformed; entries of owners not in `keep_owners` are left out (their source is no
  // longer configured: its copy may never have been delivered, so it must not suppress others),
  // and so are those the bounds exclude at `now_ms`.
  std::string serialize() const;
  static Table parse(std::string_view data, std::int64_t window_ms, std::size_t max_ids,
                     const std::vector<std::string>& keep_owners, std::int64_t now_ms);

 private:
  using Digest = std::array<std::uint8_t, 16>;
  struct DigestHash {
    std::size_t operator()(const Digest& d) const noexcept;
  };
  struct Entry {
    std::int64_t seen_ms = 0;
    Owner owner = 0;
  };
  static Digest digest(Family family, std::string_view id);
  void insert(const Digest& d, Entry e);
  void expire(std::int64_t now_ms);

  std::int64_t window_ms_;
  std::size_t max_ids_;
  std::vector<std::string> owners_;
  std::unordered_map<Digest, Entry, DigestHash> entries_;
  std::deque<Digest> order_;  // oldest first
  std::int64_t last_ms_ = INT64_MIN;  // seen times are kept non-decreasing (a clock step back)
  std::uint64_t evicted_age_ = 0, evicted_count_ = 0;
};

}  // namespace siem::dedupe
