// The short texts of a mapped event (origin, id, tenant, subscription, action) and its tags, in one
// allocation. An event used to hold each in a string of its own and its tags in a vector of
// strings: 4-5 heap blocks per event (a GUID is over the strings' 15-byte inline buffer), each
// allocated on a mapping thread and freed on the sink thread that drops the event last. Packed,
// they are one block (none when they all fit in the buffer's inline bytes).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <iterator>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace siem {

// A read-only list of tags packed in an EventTexts' buffer: each tag's length (4 bytes, host
// order) then its bytes. Valid while the EventTexts that gave it is alive and unchanged.
class TagList {
 public:
  class iterator {
   public:
    // operator* returns a view by value (not a reference), so this is an input iterator to the
    // old categories but a forward iterator to C++20's concepts (multi-pass, equality-comparable).
    using iterator_category = std::input_iterator_tag;
    using iterator_concept = std::forward_iterator_tag;
    using value_type = std::string_view;
    using difference_type = std::ptrdiff_t;
    using pointer = const std::string_view*;
    using reference = std::string_view;
    iterator() = default;
    explicit iterator(const char* p) noexcept : p_(p) {}
    std::string_view operator*() const noexcept { return {p_ + sizeof(std::uint32_t), length()}; }
    iterator& operator++() noexcept {
      p_ += sizeof(std::uint32_t) + length();
      return *this;
    }
    iterator operator++(int) noexcept {
      iterator old = *this;
      ++*this;
      return old;
    }
    bool operator==(const iterator& o) const noexcept { return p_ == o.p_; }

   private:
    std::size_t length() const noexcept {
      std::uint32_t n;
      std::memcpy(&n, p_, sizeof n);
      return n;
    }
    const char* p_ = nullptr;
  };

  TagList() = default;
  TagList(const char* begin, const char* end, std::size_t count) noexcept : begin_(begin), end_(end), count_(count) {}
  iterator begin() const noexcept { return iterator(begin_); }
  iterator end() const noexcept { return iterator(end_); }
  std::size_t size() const noexcept { return count_; }
  bool empty() const noexcept { return count_ == 0; }
  bool contains(std::string_view tag) const noexcept {
    for (std::string_view t : *this)
      if (t == tag) return true;
    return false;
  }
  std::vector<std::string> to_vector() const { return {begin(), end()}; }
  friend bool operator==(const TagList& a, const TagList& b) noexcept {
    return a.count_ == b.count_ && std::string_view(a.begin_, static_cast<std::size_t>(a.end_ - a.begin_)) ==
                                       std::string_view(b.begin_, static_cast<std::size_t>(b.end_ - b.begin_));
  }
  friend bool operator==(const TagList& a, const std::vector<std::string>& b) noexcept {
    if (a.count_ != b.size()) return false;
    auto it = b.begin();
    for (std::string_view t : a)
      if (t != *it++) return false;
    return true;
  }

 private:
  const char* begin_ = nullptr;
  const char* end_ = nullptr;
  std::size_t count_ = 0;
};

class EventTexts {
 public:
  enum Field : std::uint8_t { origin, id, tenant_id, subscription_id, action, kFields };
  using Fields = std::array<std::string_view, kFields>;

  // A field's text; a NUL byte follows it (for C functions such as strcspn), also while no text
  // was ever set (the view then points at a static empty string, never null).
  std::string_view get(Field f) const noexcept {
    if (buf_.empty()) return std::string_view("", 0);
    const std::uint32_t begin = f == 0 ? 0 : end_[f - 1] + 1;
    return {buf_.data() + begin, end_[f] - begin};
  }
  TagList tags() const noexcept {
    if (tag_count_ == 0) return {};
    const char* base = buf_.data();
    return TagList(base + end_[kFields - 1] + 1, base + buf_.size(), tag_count_);
  }

  // Every field and the tags (`first` then `second`) at once: one allocation, none when they fit
  // in the string's inline bytes. Throws std::length_error past 4 GiB (a hostile buffer segment).
  void assign(const Fields& fields, std::span<const std::string> first, std::span<const std::string> second = {});
  void assign(const Fields& fields, const TagList& tags);
  // One field or the tags replaced: the others are copied into a new buffer (events built piece
  // by piece: tests, the command line, events read back from a disk buffer).
  void set(Field f, std::string_view value);
  void set_tags(std::span<const std::string> tags) { assign(all_fields(), tags); }
  void set_tags(std::initializer_list<std::string_view> tags);
  void add_tag(std::string_view tag);

  // The bytes this holds on the heap (0 when inline), for the sink queues' footprint.
  std::size_t heap_capacity() const noexcept {
    return buf_.capacity() > std::string().capacity() ? buf_.capacity() + 1 : 0;
  }

 private:
  Fields all_fields() const noexcept {
    Fields f;
    for (std::uint8_t i = 0; i < kFields; ++i) f[i] = get(static_cast<Field>(i));
    return f;
  }
  template <typename Tags>
  void build(const Fields& fields, std::size_t tag_bytes, std::size_t tag_count, const Tags& write_tags);

  std::string buf_;  // each field's bytes and a NUL, one after the other, then the tags (empty: all empty)
  std::array<std::uint32_t, kFields> end_{};  // where each field ends in buf_
  std::uint32_t tag_count_ = 0;
};

}  // namespace siem
