// Where the JSON writers' bytes go (internal to connector/mapping): appended to a std::string
// (StringOut), or written through a cursor into room made in advance (CursorOut), which spares a
// capacity check and an append call per member. The document writer (json_document.cc), the
// elastic / snake / compact JSON shapes of a record's objects (json_shapes.cc) and the rules'
// shortcuts and conversions (fast_paths_forms.h, conversion_table.cc) write through either; both
// give the same bytes.
#pragma once

#include <algorithm>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <simdjson.h>

#include "connector/record/encoding.h"

namespace siem::mapping {

// Where a document's bytes go. The general writer (the reference the tests compare with) appends
// them to the output string one by one (StringOut); the shortcuts' writer writes them through a
// cursor into room made in advance (CursorOut). Both give the same bytes.
class StringOut {
 public:
  explicit StringOut(std::string& out) : out_(out) {}
  void put(std::string_view t) { out_ += t; }
  void put_short(std::string_view t) { out_ += t; }
  void put(char c) { out_ += c; }
  // `n` bytes to write from the returned position on; advance() says where they ended.
  char* room(std::size_t n) {
    const std::size_t size = out_.size();
    out_.resize(size + n);
    return out_.data() + size;
  }
  void advance(char* to) { out_.resize(static_cast<std::size_t>(to - out_.data())); }
  std::size_t mark() const { return out_.size(); }
  void truncate(std::size_t mark) { out_.resize(mark); }
  std::string_view since(std::size_t mark) const { return std::string_view(out_).substr(mark); }
  // What was written from `mark` on, to change in place (valid until the next write).
  char* data_at(std::size_t mark) { return out_.data() + mark; }
  void json_string(std::string_view prefix, std::string_view s) { encoding::append_json_string(out_, prefix, s); }
  // `write(std::string&)` appends to a string and says whether to keep what it appended.
  template <class F>
  bool with_string(F&& write) {
    const std::size_t mark = out_.size();
    if (write(out_)) return true;
    out_.resize(mark);
    return false;
  }

 private:
  std::string& out_;
};

// Texts escaped straight into the cursor up to this size; longer ones (their bound is six times
// their size) through the scratch string, so that the room made never exceeds what is written by
// more than a few KiB.
inline constexpr std::size_t kDirectText = 1024;
// The scratch string's capacity kept between documents at most.
inline constexpr std::size_t kScratchKept = 64 * 1024;

// The thread's scratch string: what the writers that still append to a std::string (texts over
// kDirectText, the shapes' scalars through json::append_json) write before it is copied to the
// cursor (json_document.cc). The rules' and conversions' writers write through the cursor itself.
std::string& json_scratch();

class CursorOut {
 public:
  // Room for `expect` bytes after what `out` holds (which stays as it is). The room is made with
  // std::string::resize, which fills it: in steps of at most kStep bytes (filling a hint of a few
  // KiB in one call measured 4.6 k more instructions per ECS event: glibc's memset takes another
  // path above 2 KiB).
  CursorOut(std::string& out, std::size_t expect) : out_(out), base_(out.size()) {
    for (std::size_t made = 0; made < expect; made += kStep) out_.resize(base_ + std::min(expect, made + kStep));
    at_ = out_.data() + base_;
    end_ = out_.data() + out_.size();
  }
  // At least `n` bytes writable from the returned position; advance() moves past what was written.
  char* room(std::size_t n) {
    if (static_cast<std::size_t>(end_ - at_) < n) grow(n);
    return at_;
  }
  void advance(char* to) { at_ = to; }
  void put(std::string_view t) {
    char* p = room(t.size());
    encoding::copy_bytes(p, t.data(), t.size());
    at_ = p + t.size();
  }
  // put() of a text known to be short (a few tens of bytes): copied without a memcpy call.
  void put_short(std::string_view t) {
    char* p = room(t.size());
    encoding::copy_short(p, t.data(), t.size());
    at_ = p + t.size();
  }
  void put(char c) { *room(1) = c, ++at_; }
  std::size_t mark() const { return static_cast<std::size_t>(at_ - out_.data()); }
  void truncate(std::size_t mark) { at_ = out_.data() + mark; }
  std::string_view since(std::size_t mark) const {
    return std::string_view(out_.data() + mark, static_cast<std::size_t>(at_ - out_.data()) - mark);
  }
  char* data_at(std::size_t mark) { return out_.data() + mark; }
  [[gnu::always_inline]] void json_string(std::string_view prefix, std::string_view s) {
    if (s.size() <= kDirectText) {
      at_ = encoding::write_json_string(room(prefix.size() + encoding::json_string_bound(s.size())), prefix, s);
      return;
    }
    with_string([&](std::string& t) {
      encoding::append_json_string(t, prefix, s);
      return true;
    });
  }
  template <class F>
  bool with_string(F&& write) {
    std::string& t = json_scratch();
    t.clear();
    if (!write(t)) return false;
    put(t);
    return true;
  }
  CursorOut(const CursorOut&) = delete;
  CursorOut& operator=(const CursorOut&) = delete;
  // A writer that threw: the output ends where the writing stopped, not with the unwritten room.
  ~CursorOut() {
    if (!finished_) out_.resize(mark());
  }
  // Cuts the output to what was written; returns the document's size.
  std::size_t finish() {
    finished_ = true;
    const std::size_t size = mark();
    out_.resize(size);
    if (json_scratch().capacity() > kScratchKept) std::string().swap(json_scratch());
    return size - base_;
  }

 private:
  [[gnu::noinline]] void grow(std::size_t n) {
    const std::size_t used = mark();
    out_.resize(used + std::max(n, kGrow));
    at_ = out_.data() + used;
    end_ = out_.data() + out_.size();
  }

  static constexpr std::size_t kStep = 2048, kGrow = 1024;

  std::string& out_;
  std::size_t base_;
  char* at_ = nullptr;
  char* end_ = nullptr;
  bool finished_ = false;
};

// A shortcut's answer written through the cursor (Rule::append_json): true and false as the
// shortcut gives them; on nullopt (a case left to the general evaluator) whatever the shortcut may
// have written before giving up is taken out again, so that the general writer starts where the
// shortcut started (as StringOut::with_string() discards a failed write).
template <class Write>
[[gnu::always_inline]] inline std::optional<bool> write_or_rewind(CursorOut& out, Write&& write) {
  const std::size_t mark = out.mark();
  const std::optional<bool> written = write(out);
  if (!written) out.truncate(mark);
  return written;
}

// Elastic's shape (`elastic`: object keys in snake_case, arrays turned into objects keyed "0",
// "1"...) or `snake` (arrays kept), written to `out`; `max_items`: an array at the top is cut to its
// first max_items items. write_elastic() (expression.h) is this on a StringOut.
template <class Out>
void write_elastic_to(Out& out, simdjson::dom::element e, bool arrays_as_objects, std::size_t max_items);
// What json::append_json() writes (simdjson's compact form), keys remembered like the elastic
// shape's. write_compact_json() (expression.h) is this on a StringOut.
template <class Out>
void write_compact_json_to(Out& out, simdjson::dom::element e);

extern template void write_elastic_to(StringOut&, simdjson::dom::element, bool, std::size_t);
extern template void write_elastic_to(CursorOut&, simdjson::dom::element, bool, std::size_t);
extern template void write_compact_json_to(StringOut&, simdjson::dom::element);
extern template void write_compact_json_to(CursorOut&, simdjson::dom::element);

}  // namespace siem::mapping
