// A small bag of numeric attributes a source attaches to a record for the processors (e.g. "this
// record is state only", "this record ends a snapshot"). Core carries it from the source to the
// processor chain and never reads it: what a key means is agreed between the source that sets it
// and the processor that reads it (the keys in use are listed in connector/record/record_attributes.h).
// Up to kCapacity attributes live inline in the record: no heap allocation, ever.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <stdexcept>

namespace siem {

class RecordAttributes {
 public:
  using Key = std::uint16_t;
  static constexpr std::size_t kCapacity = 3;

  // Sets (or replaces) `key`. A source sets at most kCapacity distinct keys on one record; one more
  // is a programming error (std::logic_error), never a silent drop.
  void set(Key key, std::int64_t value) {
    for (std::uint8_t i = 0; i < size_; ++i)
      if (keys_[i] == key) {
        values_[i] = value;
        return;
      }
    if (size_ == kCapacity) throw std::logic_error("RecordAttributes: more than kCapacity attributes on one record");
    keys_[size_] = key;
    values_[size_] = value;
    ++size_;
  }
  std::optional<std::int64_t> get(Key key) const noexcept {
    for (std::uint8_t i = 0; i < size_; ++i)
      if (keys_[i] == key) return values_[i];
    return std::nullopt;
  }
  bool has(Key key) const noexcept { return get(key).has_value(); }
  bool empty() const noexcept { return size_ == 0; }

 private:
  std::array<std::int64_t, kCapacity> values_{};
  std::array<Key, kCapacity> keys_{};
  std::uint8_t size_ = 0;
};

}  // namespace siem
