#include "connector/core/record_reader.h"

#include <algorithm>
#include <cstring>
#include <optional>

#include <simdjson.h>

#include "connector/core/record_reader_array.h"

namespace siem {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; }

// Finds the end (one past) of the JSON value that starts at text[pos] when it is an object or an
// array, by bracket matching outside strings. nullopt when the text ends first.
std::optional<std::size_t> value_end(std::string_view text, std::size_t pos) {
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = pos; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '{' || c == '[') ++depth;
    else if (c == '}' || c == ']') {
      if (--depth == 0) return i + 1;
      if (depth < 0) return std::nullopt;
    }
  }
  return std::nullopt;
}

// True when a later line holds a complete one-line JSON object: then an unterminated document
// before it is broken (a truncated NDJSON line), not a document still being written.
bool complete_line_follows(std::string_view text, std::size_t from) {
  std::size_t p = from;
  while (p < text.size()) {
    const std::size_t start = p + 1;
    std::size_t eol = text.find('\n', start);
    if (eol == std::string_view::npos) return false;  // the last line may still be growing
    std::size_t b = start;
    while (b < eol && (text[b] == ' ' || text[b] == '\t' || text[b] == '\r')) ++b;
    if (b < eol && text[b] == '{') {
      auto e = value_end(text, b);
      if (e && *e <= eol) return true;
    }
    p = eol;
  }
  return false;
}

// Substring search with glibc's memmem (a shift table; string_view::find stops at every '"' of a
// JSON text, which is most of the cost of reading a file of large records).
bool contains(std::string_view hay, std::string_view needle) noexcept {
  return ::memmem(hay.data(), hay.size(), needle.data(), needle.size()) != nullptr;
}

// Whether a one-line document may be a list document ({"value":[...]} or {"records":[...]}), so
// that it must be parsed here. A list document's key is followed by `:` and `[` (JSON whitespace
// between); so for each '[' (one memchr pass) the key before it is looked at: written `value` or
// `records` literally, it may be a list; written with escapes (at most 42 bytes: "records" as
// \uXXXX escapes), the older test decides (the key's name anywhere in the text), so the outcome
// is the one of that test for every document. Records that merely have a "value" field
// (directory audits' additionalDetails, sign-ins' authentication details) are no longer parsed
// twice.
bool may_be_list(std::string_view doc) noexcept {
  constexpr std::size_t kMaxKeyText = 42;
  const char* const base = doc.data();
  const char* const end = base + doc.size();
  for (const char* at = base; at < end;) {
    const auto* hit = static_cast<const char*>(std::memchr(at, '[', static_cast<std::size_t>(end - at)));
    if (!hit) break;
    at = hit + 1;
    std::size_t p = static_cast<std::size_t>(hit - base);
    while (p > 0 && is_space(doc[p - 1])) --p;
    if (p == 0 || doc[p - 1] != ':') continue;
    --p;
    while (p > 0 && is_space(doc[p - 1])) --p;
    if (p == 0 || doc[p - 1] != '"') continue;
    const std::size_t close = p - 1;  // the key's closing quote
    // Its opening quote: the nearest '"' before it not escaped by an odd run of backslashes.
    bool escapes = false;
    std::optional<std::size_t> open;
    // The common case at memrchr/memchr speed: the nearest '"' within the window, no backslash
    // between it and the closing quote nor right before it. That is what the loop below finds
    // (the same window: the kMaxKeyText + 1 bytes before the closing quote).
    const std::size_t window = std::min(close, kMaxKeyText + 1);
    if (const auto* q = static_cast<const char*>(::memrchr(base + close - window, '"', window))) {
      const auto quote = static_cast<std::size_t>(q - base);
      if ((quote == 0 || doc[quote - 1] != '\\') && !std::memchr(q + 1, '\\', close - quote - 1)) open = quote;
    }
    for (std::size_t i = close; !open && i > 0 && close - i <= kMaxKeyText;) {
      --i;
      if (doc[i] == '\\') {
        escapes = true;
        continue;
      }
      if (doc[i] != '"') continue;
      std::size_t backslashes = 0;
      while (backslashes < i && doc[i - 1 - backslashes] == '\\') ++backslashes;
      if (backslashes % 2 == 0) {
        open = i;
        break;
      }
    }
    if (!open) continue;  // longer than any spelling of "value" / "records"
    if (escapes) return contains(doc, "\"value\"") || contains(doc, "\"records\"");
    const std::string_view key = doc.substr(*open + 1, close - *open - 1);
    if (key == "value" || key == "records") return true;
  }
  return false;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// If `doc` is a list document ({"value": [...]} or {"records": [...]}), calls on_record for each
// element with its own line, and returns true. `doc` has been validated as JSON by the caller.
bool split_list(std::string_view doc, std::size_t doc_line, const RecordReader::RecordFn& on_record,
                std::string_view list_key) {
  // Walk the top-level object's keys to find the list, then each element at depth 2.
  std::size_t line = doc_line;
  std::size_t i = 1;  // past '{'
  auto advance_to = [&](std::size_t to) {
    line += static_cast<std::size_t>(std::count(doc.begin() + static_cast<std::ptrdiff_t>(i),
                                                doc.begin() + static_cast<std::ptrdiff_t>(to), '\n'));
    i = to;
  };
  while (i < doc.size()) {
    // find next key string at depth 1
    std::size_t k = i;
    while (k < doc.size() && doc[k] != '"' && doc[k] != '}') ++k;
    if (k >= doc.size() || doc[k] == '}') return false;
    std::size_t kend = k + 1;
    while (kend < doc.size() && doc[kend] != '"') kend += doc[kend] == '\\' ? 2 : 1;
    const std::string_view key = doc.substr(k + 1, kend - k - 1);
    std::size_t v = kend + 1;
    while (v < doc.size() && (is_space(doc[v]) || doc[v] == ':')) ++v;
    if (v >= doc.size()) return false;
    std::size_t vend;
    if (doc[v] == '{' || doc[v] == '[') {
      auto e = value_end(doc, v);
      if (!e) return false;
      vend = *e;
    } else if (doc[v] == '"') {
      vend = v + 1;
      while (vend < doc.size() && doc[vend] != '"') vend += doc[vend] == '\\' ? 2 : 1;
      ++vend;
    } else {
      vend = v;
      while (vend < doc.size() && doc[vend] != ',' && doc[vend] != '}') ++vend;
    }
    if (key == list_key && doc[v] == '[') {
      advance_to(v + 1);
      while (i < vend - 1) {
        std::size_t s = i;
        while (s < vend - 1 && (is_space(doc[s]) || doc[s] == ',')) ++s;
        if (s >= vend - 1) break;
        std::size_t e;
        if (doc[s] == '{' || doc[s] == '[') {
          e = *value_end(doc, s);
        } else {  // a scalar element: not a record, but hand it on so the mapper reports it
          e = s;
          bool in_str = false;
          while (e < vend - 1 && (in_str || (doc[e] != ',' && !is_space(doc[e])))) {
            if (doc[e] == '\\' && in_str) ++e;
            else if (doc[e] == '"') in_str = !in_str;
            ++e;
          }
        }
        advance_to(s);
        on_record(RecordSlice{doc.substr(s, e - s), line});
        advance_to(e);
      }
      return true;
    }
    // Count the lines skipped to the next key: a list after other keys on earlier lines (e.g.
    // "@odata.context") starts further down than the document.
    std::size_t next = vend;
    while (next < doc.size() && (is_space(doc[next]) || doc[next] == ',')) ++next;
    advance_to(std::min(next, doc.size()));
  }
  return false;
}

// Decides whether a parsed top-level object is a list document and which key holds the list.
std::optional<std::string_view> list_key_of(simdjson::dom::element root) {
  simdjson::dom::object obj;
  if (root.get_object().get(obj) != simdjson::SUCCESS) return std::nullopt;
  for (std::string_view key : {"records", "value"}) {
    simdjson::dom::array arr;
    if (obj.at_key(key).get_array().get(arr) != simdjson::SUCCESS) continue;
    // A record that merely has a `value` array field (rare) is not a list document: list documents
    // carry nothing but the list and OData / paging annotations.
    bool only_annotations = true;
    for (auto field : obj) {
      const std::string_view k = field.key;
      if (k == key || k.find('@') != std::string_view::npos || k == "nextLink") continue;
      only_annotations = false;
      break;
    }
    if (only_annotations) return key;
  }
  return std::nullopt;
}

}  // namespace

std::size_t count_newlines(std::string_view text) noexcept {
  std::size_t n = 0;
  const char* p = text.data();
  const char* const end = p + text.size();
  while (p < end) {
    const void* nl = std::memchr(p, '\n', static_cast<std::size_t>(end - p));
    if (!nl) break;
    ++n;
    p = static_cast<const char*>(nl) + 1;
  }
  return n;
}

std::optional<std::string> utf16_reason(std::string_view start) {
  if (!start.starts_with("\xFF\xFE") && !start.starts_with("\xFE\xFF")) return std::nullopt;
  return std::string("the text is UTF-16 (byte-order mark ") + (start[0] == '\xFF' ? "FF FE" : "FE FF") +
         "); records must be UTF-8, e.g. iconv -f UTF-16 -t UTF-8";
}

std::string_view oversize_prefix(std::string_view text) noexcept {
  if (text.size() <= kOversizePrefixBytes) return text;
  std::size_t n = kOversizePrefixBytes;
  // Back off over continuation bytes (10xxxxxx) to the start of the sequence they belong to.
  for (int i = 0; i < 3 && n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80; ++i) --n;
  return text.substr(0, n);
}

OversizeSkip::OversizeSkip(std::string_view head, std::size_t limit, bool array_element) noexcept
    : element_(array_element) {
  const std::size_t first_eol = head.find('\n');
  by_brackets_ = first_eol != std::string_view::npos && first_eol < limit;
}

std::optional<std::size_t> OversizeSkip::feed_element(std::string_view piece) noexcept {
  for (std::size_t i = 0; i < piece.size(); ++i) {
    const char c = piece[i];
    std::optional<std::size_t> end;  // bytes of the piece through the element, when it ends here
    if (in_string_) {
      if (escape_) {
        escape_ = false;
      } else if (c == '\\') {
        escape_ = true;
      } else if (c == '"') {
        in_string_ = false;
        if (depth_ == 0) end = i + 1;  // a string element
      }
    } else if (c == '"') {
      in_string_ = opened_ = true;
    } else if (c == '{' || c == '[') {
      ++depth_;
      opened_ = true;
    } else if (c == '}' || c == ']') {
      if (depth_ == 0) end = i;  // a number or literal ends before the array's ']'
      else if (--depth_ == 0) end = i + 1;
    } else if (!opened_ && (c == ',' || is_space(c))) {
      end = i;  // a number or literal ends
    }
    if (end) {
      bytes_ += *end;
      return end;
    }
    newlines_ += c == '\n';
  }
  bytes_ += piece.size();
  return std::nullopt;
}

std::string_view OversizeSkip::prefix(std::string_view head) const noexcept {
  return oversize_prefix(by_brackets_ ? head : head.substr(0, head.find('\n')));
}

std::optional<std::size_t> OversizeSkip::feed(std::string_view piece) noexcept {
  if (element_) return feed_element(piece);
  if (!by_brackets_) {
    const void* nl = std::memchr(piece.data(), '\n', piece.size());
    if (!nl) {
      bytes_ += piece.size();
      return std::nullopt;
    }
    const auto n = static_cast<std::size_t>(static_cast<const char*>(nl) - piece.data()) + 1;
    bytes_ += n;
    ++newlines_;
    return n;
  }
  for (std::size_t i = 0; i < piece.size(); ++i) {
    const char c = piece[i];
    // A line starting with '{' while the document is still open starts the next document (the
    // lines inside a pretty-printed one are indented): this one was broken and ends before it,
    // so a missing bracket cannot swallow the rest of the file.
    if (line_start_ && c == '{' && depth_ > 0) {
      bytes_ += i;
      return i;
    }
    line_start_ = c == '\n';
    if (c == '\n') {
      ++newlines_;
      in_string_ = escape_ = false;  // a JSON string holds no raw newline
      if (opened_ && depth_ == 0) {
        bytes_ += i + 1;
        return i + 1;
      }
      continue;
    }
    if (in_string_) {
      if (escape_) escape_ = false;
      else if (c == '\\') escape_ = true;
      else if (c == '"') in_string_ = false;
    } else if (c == '"') {
      in_string_ = true;
    } else if (c == '{' || c == '[') {
      ++depth_;
      opened_ = true;
    } else if ((c == '}' || c == ']') && depth_ > 0) {
      --depth_;
    }
  }
  bytes_ += piece.size();
  return std::nullopt;
}

std::size_t RecordReader::split(std::string_view text, const RecordFn& on_record, const ErrorFn& on_error,
                                std::size_t first_line, Tail tail, std::size_t max_document, ArrayCursor* cursor,
                                std::size_t* end_line) {
  std::size_t line = first_line;
  const std::size_t consumed = split_counting(text, on_record, on_error, line, tail, max_document, cursor);
  if (end_line) *end_line = line;
  return consumed;
}

// split() with `line` (the line of text[0] on entry) advanced to the line of the offset it returns.
std::size_t RecordReader::split_counting(std::string_view text, const RecordFn& on_record, const ErrorFn& on_error,
                                         std::size_t& line, Tail tail, std::size_t max_document, ArrayCursor* cursor) {
  const bool partial_tail = tail != Tail::complete;
  thread_local simdjson::dom::parser parser;
  std::size_t pos = 0;
  auto count_lines = [&](std::size_t from, std::size_t to) { line += count_newlines(text.substr(from, to - from)); };
  if (line == 1) {
    if (auto why = utf16_reason(text)) {  // one clear error instead of one per line
      on_error(ReadError{1, std::move(*why), text});
      count_lines(0, text.size());
      return text.size();
    }
  }
  ArrayCursor own;
  ArrayCursor& array = cursor ? *cursor : own;
  if (array.inside) {  // resuming inside a top-level array
    const auto step = detail::split_array(text, pos, line, array, on_record, on_error, tail, max_document);
    if (step.wait) return step.pos;
    pos = step.pos;
  }
  while (pos < text.size()) {
    // Skip blank space between documents, and a UTF-8 byte-order mark (Windows tools start files
    // with one; concatenated files carry one per file).
    std::size_t start = pos;
    while (start < text.size()) {
      if (is_space(text[start])) ++start;
      else if (text.compare(start, 3, "\xEF\xBB\xBF") == 0) start += 3;
      else break;
    }
    count_lines(pos, start);
    pos = start;
    if (pos >= text.size()) break;

    const std::size_t eol_raw = text.find('\n', pos);
    const std::size_t eol = eol_raw == std::string_view::npos ? text.size() : eol_raw;
    if (partial_tail && eol_raw == std::string_view::npos && text[pos] != '[') {
      // The last line has no newline yet: a writer may still be appending to it. (An array is
      // read element by element below.)
      if (text[pos] != '{') return pos;
      auto end = value_end(text, pos);
      if (!end) return pos;
    }

    std::optional<std::size_t> end;
    // Fast path for NDJSON: a line that starts with '{' and ends with '}' is taken as one record
    // without scanning it here (the mapper parses it anyway and reports it if it is not JSON).
    std::size_t last = eol;
    while (last > pos && is_space(text[last - 1])) --last;
    if (text[pos] == '{' && last > pos + 1 && text[last - 1] == '}' && (eol_raw != std::string_view::npos || !partial_tail))
      end = last;
    else if (text[pos] == '[') {
      // A top-level array of records: its elements are read one by one (record_reader_array.cc),
      // and it may end anywhere (a large one is read in pieces).
      array = ArrayCursor{true, false, 0, line};
      const auto step = detail::split_array(text, pos + 1, line, array, on_record, on_error, tail, max_document);
      if (step.wait) return step.pos;
      pos = step.pos;
      continue;
    } else if (text[pos] == '{') end = value_end(text, pos);
    std::string_view doc;
    std::size_t doc_end = 0;
    bool ok = false;
    if (end && trim(text.substr(*end, (text.find('\n', *end) == std::string_view::npos ? text.size()
                                                                                        : text.find('\n', *end)) -
                                          *end))
                   .empty()) {
      doc = text.substr(pos, *end - pos);
      doc_end = *end;
      ok = true;
    }
    if (!ok && partial_tail && !end && (text[pos] == '{' || text[pos] == '[') &&
        (tail == Tail::cut_chunk || !complete_line_follows(text, eol))) {
      // An unterminated document at the tail of a growing file: wait for more.
      return pos;
    }
    if (!ok && eol - pos > max_document) {
      on_error(ReadError{line, {}, oversize_prefix(text.substr(pos, eol - pos)), eol - pos});
      count_lines(pos, eol);
      pos = eol;
      continue;
    }
    if (!ok) {
      // Not a well-delimited document: report this line and go on with the next one.
      const std::string_view bad = text.substr(pos, eol - pos);
      std::string reason = "invalid JSON: ";
      if (text[pos] != '{' && text[pos] != '[') {
        reason += "a record must be a JSON object";
      } else if (!end) {
        reason += "unterminated object or array";
      } else {
        reason += "unexpected text after the closing bracket";
      }
      on_error(ReadError{line, std::move(reason), trim(bad)});
      count_lines(pos, eol);
      pos = eol;
      continue;
    }

    if (doc.size() > max_document) {
      on_error(ReadError{line, {}, oversize_prefix(doc), doc.size()});
      count_lines(pos, doc_end);
      pos = doc_end;
      continue;
    }
    // A complete single-line record is handed on without parsing when it cannot be a list
    // document (the mapper parses it anyway); anything else is validated here.
    // (eol is the first newline at or after pos, so a document ending before it is one line.)
    const bool single_line = doc_end <= eol;
    if (single_line && !may_be_list(doc)) {
      on_record(RecordSlice{doc, line});
      pos = doc_end;
      continue;
    }
    simdjson::dom::element root;
    const auto err = parser.parse(doc.data(), doc.size()).get(root);
    if (err != simdjson::SUCCESS) {
      if (single_line) {
        on_record(RecordSlice{doc, line});  // the mapper repairs or reports it
      } else {
        // A multi-line span that is not valid JSON: report its first line, resume after it.
        on_error(ReadError{line, std::string("invalid JSON document: ") + simdjson::error_message(err),
                           trim(text.substr(pos, eol - pos))});
        count_lines(pos, eol);
        pos = eol;
        continue;
      }
    } else if (auto key = list_key_of(root)) {
      // split_list walks the key names as written: a list key spelled with \u escapes is not found
      // there, and the document is then handed on whole rather than lost.
      if (!split_list(doc, line, on_record, *key)) on_record(RecordSlice{doc, line});
    } else {
      on_record(RecordSlice{doc, line});
    }
    count_lines(pos, doc_end);
    pos = doc_end;
  }
  return text.size();
}

}  // namespace siem
