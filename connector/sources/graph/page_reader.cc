#include "connector/sources/graph/page_reader.h"

#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace siem::sources {
namespace {

// A forward-only pass over JSON text. It finds where strings and bracketed values end and how
// deep they nest, nothing more: a record's own syntax is checked by the parser that reads it.
class Scanner {
 public:
  explicit Scanner(std::string_view text) : s_(text) {}

  void skip_ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }
  char peek() {
    skip_ws();
    return pos_ < s_.size() ? s_[pos_] : '\0';
  }
  bool at_end() {
    skip_ws();
    return pos_ >= s_.size();
  }
  void expect(char c, std::string_view what) {
    if (peek() != c) throw fail(fmt::format("expected {}", what));
    ++pos_;
  }
  // The raw text between the quotes of the string at the cursor (escapes left as they are).
  std::string_view string() {
    if (peek() != '"') throw fail("expected a string");
    const std::size_t start = ++pos_;
    while (pos_ < s_.size()) {
      const char c = s_[pos_];
      if (c == '\\') {
        pos_ += 2;
        continue;
      }
      if (c == '"') return s_.substr(start, pos_++ - start);
      ++pos_;
    }
    throw fail("unterminated string");
  }
  struct Value {
    std::string_view text;
    std::size_t depth = 0;  // 0 for a scalar, 1 for a flat object or array
  };
  // Skips the value at the cursor.
  Value value() {
    const char c = peek();
    const std::size_t start = pos_;
    if (c == '"') {
      string();
      return {s_.substr(start, pos_ - start), 0};
    }
    if (c == '{' || c == '[') {
      std::size_t depth = 0, deepest = 0;
      while (pos_ < s_.size()) {
        const char ch = s_[pos_];
        if (ch == '"') {
          string();
          continue;
        }
        if (ch == '{' || ch == '[') {
          deepest = std::max(deepest, ++depth);
        } else if ((ch == '}' || ch == ']') && --depth == 0) {
          ++pos_;
          return {s_.substr(start, pos_ - start), deepest};
        }
        ++pos_;
      }
      throw fail("unterminated object or array");
    }
    while (pos_ < s_.size() && std::string_view(",}] \t\r\n").find(s_[pos_]) == std::string_view::npos) ++pos_;
    if (pos_ == start) throw fail("expected a value");
    return {s_.substr(start, pos_ - start), 0};
  }
  PageError fail(std::string_view what) const { return PageError(fmt::format("{} at byte {}", what, pos_)); }

 private:
  std::string_view s_;
  std::size_t pos_ = 0;
};

std::optional<std::string> link_value(std::string_view key, std::string_view text) {
  const auto v = nlohmann::json::parse(text, nullptr, false);
  if (v.is_null()) return std::nullopt;  // ARM ends with "nextLink": null
  if (!v.is_string()) throw PageError(fmt::format("\"{}\" is not a string", key));
  return v.get<std::string>();
}

void read_records(Scanner& sc, const PageLimits& limits, Page& page) {
  sc.expect('[', "'[' after \"value\"");
  if (sc.peek() == ']') {
    sc.expect(']', "']'");
    return;
  }
  for (;;) {
    const auto v = sc.value();
    PageRecord r{v.text, {}};
    if (v.depth > static_cast<std::size_t>(limits.max_depth))
      r.error = fmt::format("record nested {} levels deep (limit {})", v.depth, limits.max_depth);
    else if (v.text.size() > limits.max_record_bytes)
      r.error = fmt::format("record of {} bytes exceeds max_record_bytes ({} bytes)", v.text.size(), limits.max_record_bytes);
    page.records.push_back(r);
    if (sc.peek() == ']') {
      sc.expect(']', "']'");
      return;
    }
    sc.expect(',', "',' or ']' in \"value\"");
  }
}

}  // namespace

Page split_page(std::string_view body, const PageLimits& limits) {
  Scanner sc(body);
  Page page;
  bool has_value = false;
  sc.expect('{', "a JSON object");
  if (sc.peek() == '}') throw PageError("no \"value\" array");
  for (;;) {
    const std::string_view key = sc.string();
    sc.expect(':', "':'");
    if (key == "value") {
      if (has_value) throw PageError("two \"value\" members");
      has_value = true;
      read_records(sc, limits, page);
    } else {
      const auto v = sc.value();
      if (v.depth > static_cast<std::size_t>(limits.max_depth))
        throw PageError(fmt::format("a member beside \"value\" is nested {} levels deep (limit {})", v.depth, limits.max_depth));
      if (key == "@odata.nextLink" || key == "nextLink") page.next_link = link_value(key, v.text);
      else if (key == "@odata.deltaLink") page.delta_link = link_value(key, v.text);
    }
    if (sc.peek() == '}') {
      sc.expect('}', "'}'");
      break;
    }
    sc.expect(',', "',' or '}'");
  }
  if (!sc.at_end()) throw sc.fail("data after the page object");
  if (!has_value) throw PageError("no \"value\" array");
  return page;
}

}  // namespace siem::sources
