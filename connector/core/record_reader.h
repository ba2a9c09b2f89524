// Splits input text into single JSON records, whatever shape it arrives in:
//   - one JSON record per line (NDJSON),
//   - Graph / ARM list responses `{"value":[...]}` (also pretty-printed over many lines),
//   - Event Hubs envelopes `{"records":[...]}`,
//   - a single record spread over several lines, or several such documents back to back,
//   - a top-level JSON array of records `[{...}, {...}]` (the Entra admin center's JSON download of
//     sign-in / audit logs, `az monitor activity-log list`, Graph Explorer exports), on one line or
//     pretty-printed, of any size: it is split element by element, and may be read in pieces.
// Each record keeps its exact text (no re-serialisation) and the line it starts on, so errors read
// "FILE:LINE: reason". A broken document is reported once, with its line, and reading continues
// at the next line: one bad record never hides the others.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace siem {

// RecordSlice::index / ReadError::index when the record is not an element of a top-level array.
inline constexpr std::size_t kNoElement = SIZE_MAX;

struct RecordSlice {
  std::string_view json;  // the record's text (view into the input)
  std::size_t line = 0;   // 1-based line where the record starts
  std::size_t index = kNoElement;  // 0-based index in a top-level JSON array
};

struct ReadError {
  std::size_t line = 0;   // 1-based line of the offending document
  std::string reason;
  std::string_view text;  // the offending text (a line, or the document), for the dead-letter file
  // Non-zero when the document is longer than the caller's limit: its size in bytes. `text` then
  // holds only its first kOversizePrefixBytes and `reason` is empty (the caller names the limit).
  std::size_t oversize_bytes = 0;
  std::size_t index = kNoElement;  // 0-based index of the offending element of a top-level array
};

// How much of a document over the size limit is kept for the dead-letter file.
inline constexpr std::size_t kOversizePrefixBytes = 4096;

// The first kOversizePrefixBytes of `text`, shortened so as not to end inside a UTF-8 sequence.
std::string_view oversize_prefix(std::string_view text) noexcept;

// Finds the end of a document over the size limit without holding it: fed the input from the
// document's first byte on, in pieces of any size. A document whose first line alone is over the
// limit (NDJSON, a one-line Graph page) ends at the end of that line; a document over several
// lines (pretty-printed) ends at the end of the line where its brackets close, or, when it is
// broken, before the next line that starts with '{' (a new document; inner lines are indented).
// An element of a top-level array (`array_element`) ends right after its closing bracket, wherever
// that is on its line: the elements after it on the same line are still read.
class OversizeSkip {
 public:
  // `head` is the start of the document (at least `limit` bytes of it, or all of it read so far).
  OversizeSkip(std::string_view head, std::size_t limit, bool array_element = false) noexcept;
  // Looks at the next piece; returns how many bytes of it belong to the document (through its
  // last newline) when the document ends in it, nullopt when all of it belongs to the document.
  std::optional<std::size_t> feed(std::string_view piece) noexcept;
  // An array element's end is its closing bracket (or quote, or the end of a number): feed() then
  // returns the bytes through it, with no newline after.
  // What of `head` (as given to the constructor) is kept for the dead-letter file.
  std::string_view prefix(std::string_view head) const noexcept;
  std::uint64_t bytes() const noexcept { return bytes_; }  // bytes of the document fed so far
  std::uint64_t newlines() const noexcept { return newlines_; }
  bool array_element() const noexcept { return element_; }

 private:
  std::optional<std::size_t> feed_element(std::string_view piece) noexcept;
  bool by_brackets_ = false, element_ = false;
  bool opened_ = false, in_string_ = false, escape_ = false, line_start_ = false;
  std::uint64_t depth_ = 0;
  std::uint64_t bytes_ = 0, newlines_ = 0;
};

// When `start` (the beginning of a file or message) is UTF-16 text (a byte-order mark FF FE or FE FF,
// as Windows PowerShell's Out-File writes): why it cannot be read. Records must be UTF-8.
std::optional<std::string> utf16_reason(std::string_view start);

// Number of '\n' in `text` (memchr from one newline to the next: records are long, lines few).
std::size_t count_newlines(std::string_view text) noexcept;

// Where the reader stands in a top-level JSON array between two calls of split() (a file source
// reads a large array in pieces and checkpoints inside it). `inside` is false between documents.
struct ArrayCursor {
  bool inside = false;
  bool after_element = false;  // an element was read: ',' or ']' comes next
  std::size_t next_index = 0;  // index of the next element
  std::size_t open_line = 0;   // line of the array's '['
};

class RecordReader {
 public:
  using RecordFn = std::function<void(const RecordSlice&)>;
  using ErrorFn = std::function<void(const ReadError&)>;

  enum class Tail {
    complete,      // `text` is everything: an unterminated document is an error
    growing_file,  // the end of a file that may still be written: an unterminated last document
                   // waits, unless complete lines follow it (then it is a broken line: an error)
    cut_chunk,     // more of the file follows `text`: an unterminated last document always waits
  };

  // Splits `text`. `first_line` is the line number of text[0]. Returns the number of bytes consumed
  // (whole documents only): with Tail::growing_file / cut_chunk an incomplete last document is not
  // consumed, so the caller can read it again once more arrives. A document (or broken line) longer
  // than `max_document` bytes is reported as a ReadError with `oversize_bytes` set.
  // A top-level array's elements are each a record (with their index) and may be consumed one by
  // one: the bytes returned may end inside the array, and `cursor` (when given) then says so, for
  // the next call, which starts at the returned offset. Without a cursor, each call starts between
  // documents. An element that is not an object is a ReadError naming its index.
  // `end_line` (when given) receives the line of the returned offset: `first_line` plus the
  // newlines in the consumed text, counted as the text was read (no second pass over it).
  static std::size_t split(std::string_view text, const RecordFn& on_record, const ErrorFn& on_error,
                           std::size_t first_line = 1, Tail tail = Tail::complete,
                           std::size_t max_document = SIZE_MAX, ArrayCursor* cursor = nullptr,
                           std::size_t* end_line = nullptr);

 private:
  static std::size_t split_counting(std::string_view text, const RecordFn& on_record, const ErrorFn& on_error,
                                    std::size_t& line, Tail tail, std::size_t max_document, ArrayCursor* cursor);
};

}  // namespace siem
