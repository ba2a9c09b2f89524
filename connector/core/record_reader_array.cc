#include "connector/core/record_reader_array.h"

#include <optional>
#include <string>

#include <fmt/format.h>

namespace siem::detail {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; }

// One past the end of the element starting at text[pos], nullopt when the text ends first. Objects
// and arrays by bracket matching outside strings (iterative: a hostile nesting depth costs time
// linear in its size, never stack; the mapper's parser bounds the depth it accepts), strings by
// their closing quote, other scalars at the next ',', ']' or space.
std::optional<std::size_t> element_end(std::string_view text, std::size_t pos) {
  const char first = text[pos];
  if (first == '{' || first == '[' || first == '"') {
    std::size_t depth = 0;
    bool in_string = false;
    for (std::size_t i = pos; i < text.size(); ++i) {
      const char c = text[i];
      if (in_string) {
        if (c == '\\') {
          ++i;
        } else if (c == '"') {
          in_string = false;
          if (depth == 0) return i + 1;  // a string element
        }
        continue;
      }
      if (c == '"') in_string = true;
      else if (c == '{' || c == '[') ++depth;
      else if ((c == '}' || c == ']') && --depth == 0) return i + 1;
    }
    return std::nullopt;
  }
  for (std::size_t i = pos; i < text.size(); ++i)
    if (text[i] == ',' || text[i] == ']' || is_space(text[i])) return i;
  return std::nullopt;
}

std::string_view kind_of(char c) {
  switch (c) {
    case '[': return "an array";
    case '"': return "a string";
    case 't': case 'f': return "a boolean";
    case 'n': return "null";
    default: return (c == '-' || (c >= '0' && c <= '9')) ? "a number" : "not a JSON value";
  }
}

std::string where(const ArrayCursor& c) {
  return fmt::format("element {} of the JSON array opened at line {}", c.next_index, c.open_line);
}

}  // namespace

ArrayStep split_array(std::string_view text, std::size_t pos, std::size_t& line, ArrayCursor& cur,
                      const RecordReader::RecordFn& on_record, const RecordReader::ErrorFn& on_error,
                      RecordReader::Tail tail, std::size_t max_document) {
  const bool complete = tail == RecordReader::Tail::complete;
  while (true) {
    while (pos < text.size() && is_space(text[pos])) line += text[pos++] == '\n';
    if (pos >= text.size()) {
      if (!complete) return {pos, true};
      on_error(ReadError{cur.open_line,
                         fmt::format("invalid JSON: the JSON array opened at line {} is not closed (the input "
                                     "ends after {} elements)",
                                     cur.open_line, cur.next_index),
                         // No text to keep (only blank space follows the last element); an empty
                         // view at the start, not at the end, so that a caller does not take it
                         // for an unterminated last line.
                         text.substr(0, 0)});
      cur = ArrayCursor{};
      return {pos, false};
    }
    const char c = text[pos];
    if (c == ']') {  // (a trailing comma before it is let pass)
      cur = ArrayCursor{};
      return {pos + 1, false};
    }
    if (c == ',' && cur.after_element) {
      cur.after_element = false;
      ++pos;
      continue;
    }
    if (c == ',' || cur.after_element) {
      // Not an array of records after all: report it and read on as separate documents.
      on_error(ReadError{line,
                         fmt::format("invalid JSON: expected {} at {}", cur.after_element ? "',' or ']'" : "a value",
                                     where(cur)),
                         text.substr(pos, std::min<std::size_t>(text.find('\n', pos), text.size()) - pos),
                         0, cur.next_index});
      cur = ArrayCursor{};
      return {c == ',' ? pos + 1 : pos, false};
    }
    const auto end = element_end(text, pos);
    if (!end) {
      if (!complete) return {pos, true};
      const std::string_view rest = text.substr(pos);
      on_error(ReadError{line, fmt::format("invalid JSON: {} is cut off by the end of the input", where(cur)),
                         oversize_prefix(rest), 0, cur.next_index});
      line += count_newlines(rest);
      cur = ArrayCursor{};
      return {text.size(), false};
    }
    const std::string_view element = text.substr(pos, *end - pos);
    if (element.size() > max_document) {
      on_error(ReadError{line, {}, oversize_prefix(element), element.size(), cur.next_index});
    } else if (c != '{') {
      on_error(ReadError{line, fmt::format("{} is {}, not a JSON object (a record)", where(cur), kind_of(c)),
                         oversize_prefix(element), 0, cur.next_index});
    } else {
      on_record(RecordSlice{element, line, cur.next_index});
    }
    line += count_newlines(element);
    pos = *end;
    cur.after_element = true;
    ++cur.next_index;
  }
}

}  // namespace siem::detail
