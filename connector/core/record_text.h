// A record's text as the pipeline carries it from a source to the mapper, the dead-letter file and
// the sinks (RawRecord::json, MappedEvent::raw): either a string of its own, or a view into an
// immutable read block that a source shares between the records it split from it (the file source:
// no copy of each record out of its read buffer). A view keeps its block alive (reference counted),
// so the block lives until the last record or event that points into it is freed; a source bounds
// how many bytes of its blocks may be alive at once (ReadBlock::Budget) and copies records out
// instead beyond that, so one slow event cannot pin an unbounded number of blocks.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstring>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>

namespace siem {

// Bytes readable after a record's text for the mapping stage's JSON parser: simdjson reads up to
// SIMDJSON_PADDING (64) bytes past the end of its input (their content does not affect the parse)
// and, given a text with less room than that after it, first copies the whole record into a padded
// buffer of its own.
inline constexpr std::size_t kRecordParseSlack = 64;

// A buffer a source reads into and then only reads from: `capacity()` bytes, followed by
// kRecordParseSlack readable bytes. While it exists its capacity is counted in its budget's
// `live` bytes.
class ReadBlock {
 public:
  // The bytes of blocks alive for one source, shared by the source and its blocks (a block may
  // outlive its source: its events wait in a sink queue).
  struct Budget {
    explicit Budget(std::size_t max_bytes) : max(max_bytes) {}
    const std::size_t max;
    std::atomic<std::size_t> live{0};
    // Whether a block of `bytes` may be made now: while the total stays within `max`. A source
    // whose read is not allowed a shared block still reads (into a block of its own, freed once
    // its records are copied out), so a block larger than `max` is never shared.
    bool allows(std::size_t bytes) const noexcept {
      const std::size_t now = live.load(std::memory_order_acquire);
      return bytes <= max && now + bytes <= max;
    }
  };

  ReadBlock(std::size_t capacity, std::shared_ptr<Budget> budget)
      : data_(std::make_unique_for_overwrite<char[]>(capacity + kRecordParseSlack)),
        capacity_(capacity),
        budget_(std::move(budget)) {
    if (budget_) budget_->live.fetch_add(capacity_, std::memory_order_acq_rel);
  }
  ReadBlock(const ReadBlock&) = delete;
  ReadBlock& operator=(const ReadBlock&) = delete;
  ~ReadBlock() {
    if (budget_) budget_->live.fetch_sub(capacity_, std::memory_order_acq_rel);
  }

  char* data() noexcept { return data_.get(); }
  const char* data() const noexcept { return data_.get(); }
  std::size_t capacity() const noexcept { return capacity_; }
  // After `size` bytes were read into it: the slack after them is given a defined content (the
  // parser reads it; memory checkers would flag uninitialised bytes), so a record that ends at the
  // last byte read has its kRecordParseSlack bytes too.
  void seal(std::size_t size) noexcept { std::memset(data_.get() + size, ' ', kRecordParseSlack); }

 private:
  std::unique_ptr<char[]> data_;
  std::size_t capacity_;
  std::shared_ptr<Budget> budget_;
};

class RecordText {
 public:
  RecordText() = default;
  RecordText(std::string text) : owned_(std::move(text)) {}  // NOLINT: a string is a record's text
  RecordText(const char* text) : owned_(text) {}             // NOLINT
  // A view of `text`, which lies inside `block` (after the block was sealed past it).
  RecordText(std::shared_ptr<const ReadBlock> block, std::string_view text) noexcept
      : block_(std::move(block)), view_(text) {}

  RecordText& operator=(std::string text) {
    block_.reset();
    view_ = {};
    owned_ = std::move(text);
    return *this;
  }
  RecordText& operator=(const char* text) { return *this = std::string(text); }
  // Its own copy of `text`, with kRecordParseSlack bytes of capacity after it (one allocation).
  void assign(std::string_view text) {
    block_.reset();
    view_ = {};
    owned_.clear();
    owned_.reserve(text.size() + kRecordParseSlack);
    owned_.append(text);
  }
  void clear() noexcept {
    block_.reset();
    view_ = {};
    owned_.clear();
  }

  std::string_view view() const noexcept { return block_ ? view_ : std::string_view(owned_); }
  operator std::string_view() const noexcept { return view(); }  // NOLINT: read as a view
  const char* data() const noexcept { return view().data(); }
  std::size_t size() const noexcept { return view().size(); }
  bool empty() const noexcept { return size() == 0; }

  // kRecordParseSlack bytes are readable after the text (the parser reads it where it is).
  bool padded() const noexcept { return block_ || owned_.capacity() - owned_.size() >= kRecordParseSlack; }
  // A view into a shared read block (else: a string of its own).
  bool shares_block() const noexcept { return block_ != nullptr; }
  // The string of its own (empty for a view).
  const std::string& owned() const noexcept { return owned_; }

  friend bool operator==(const RecordText& a, std::string_view b) noexcept { return a.view() == b; }
  friend std::ostream& operator<<(std::ostream& os, const RecordText& t) { return os << t.view(); }

 private:
  std::string owned_;
  std::shared_ptr<const ReadBlock> block_;
  std::string_view view_;
};

}  // namespace siem
