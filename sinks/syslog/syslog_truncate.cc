// Truncation of a message body to the size left after the header (formats.md §4.6): the cut on a
// character boundary outside CEF escape pairs (safe_cut) and the shortening of a CEF line value by
// value (fit_body). Moved out of syslog_format.cc unchanged.
#include "sinks/syslog/syslog_truncate.h"

#include <cctype>
#include <string>
#include <vector>

#include "sinks/syslog/syslog_format.h"

namespace siem::syslog {

namespace {

// Where a CEF line's extension starts (after the seventh unescaped '|'), or npos.
std::size_t cef_extension_start(std::string_view body) noexcept {
  if (body.rfind("CEF:", 0) != 0) return std::string_view::npos;
  int pipes = 0;
  for (std::size_t i = 0; i < body.size(); ++i) {
    if (body[i] == '\\') {
      ++i;  // an escape pair: \\ or \|
      continue;
    }
    if (body[i] == '|' && ++pipes == 7) return i + 1;
  }
  return std::string_view::npos;
}

bool is_key_char(char c) noexcept { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_'; }

// formats.md §4.6: a CEF line longer than `budget` loses bytes from its largest msg or csN value
// first (cs5, the engine's list of truncated keys, and cs6, the pinned privileged-access tags, are
// kept), each cut on a character boundary and never inside an escape pair, so every key arrives.
// Returns the shortened line in `out`; false when `body` is not CEF-shaped (then it is cut at its end).
bool shrink_cef_values(std::string_view body, std::size_t budget, std::string& out) {
  const std::size_t ext = cef_extension_start(body);
  if (ext == std::string_view::npos) return false;
  struct Pair {
    std::size_t value, end;  // the value's bytes in `body`: [value, end)
    std::size_t keep;        // how many of them are kept
    bool shrinkable;
  };
  std::vector<Pair> pairs;
  for (std::size_t i = ext; i < body.size(); ++i) {
    if (i != ext && body[i - 1] != ' ') continue;
    std::size_t k = i;
    while (k < body.size() && is_key_char(body[k])) ++k;
    if (k == i || k >= body.size() || body[k] != '=') continue;  // a key is a word and an '=' (values escape theirs)
    const std::string_view key = body.substr(i, k - i);
    if (!pairs.empty()) pairs.back().end = i - 1;  // the previous value ends before the space
    const bool cs = key.size() == 3 && key[0] == 'c' && key[1] == 's' && key[2] >= '1' && key[2] <= '6' &&
                    key[2] != '5' && key[2] != '6';
    pairs.push_back({k + 1, body.size(), 0, cs || key == "msg"});
    i = k;
  }
  for (auto& p : pairs) p.keep = p.end - p.value;
  std::size_t size = body.size();
  for (int round = 0; size > budget && round < 64; ++round) {
    Pair* largest = nullptr;
    for (auto& p : pairs)
      if (p.shrinkable && p.keep > 0 && (!largest || p.keep > largest->keep)) largest = &p;
    if (!largest) break;
    const std::size_t excess = size - budget;
    const std::size_t want = largest->keep > excess ? largest->keep - excess : 0;
    const std::size_t keep = safe_cut(body.substr(largest->value, largest->keep), want, true);
    size -= largest->keep - keep;
    largest->keep = keep;
  }
  out.clear();
  std::size_t from = 0;
  for (const auto& p : pairs) {
    out.append(body.substr(from, p.value + p.keep - from));
    from = p.end;
  }
  out.append(body.substr(from));
  return true;
}

}  // namespace

// The body to send when it exceeds `budget`: a CEF line shortened value by value (in `scratch`),
// else the body itself, which the caller cuts at its end.
std::string_view fit_body(std::string_view body, std::size_t budget, bool cef, std::string& scratch) {
  if (!cef || body.size() <= budget) return body;
  return shrink_cef_values(body, budget, scratch) ? std::string_view(scratch) : body;
}


std::size_t safe_cut(std::string_view body, std::size_t limit, bool cef) noexcept {
  if (limit >= body.size()) return body.size();
  std::size_t cut = limit;
  // Back off over UTF-8 continuation bytes so the cut lands on the start of a character.
  while (cut > 0 && (static_cast<unsigned char>(body[cut]) & 0xC0) == 0x80) --cut;
  if (cef) {
    // Count the backslashes right before the cut: an odd count means the last one opens an escape
    // pair whose second character would be cut off, so drop it too.
    std::size_t bs = 0;
    while (bs < cut && body[cut - 1 - bs] == '\\') ++bs;
    if (bs % 2 == 1) --cut;
  }
  return cut;
}

}  // namespace siem::syslog
