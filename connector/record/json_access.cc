#include "connector/record/json_access.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstring>
#include <exception>
#include <random>

#include <emmintrin.h>

#include <fmt/format.h>

#include "connector/record/encoding.h"
#include "connector/record/json_fold.h"

namespace siem::json {

namespace {
// lower() of s into out (s.size() bytes), a word at a time.
inline void lower_into(std::string_view s, char* out) {
  std::size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    std::uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    w = lower8(w);
    std::memcpy(out + i, &w, 8);
  }
  for (; i < s.size(); ++i) out[i] = lower(s[i]);
}
}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  const std::size_t n = a.size();
  if (n >= 8) {  // a word at a time, the last word overlapping the one before
    for (std::size_t i = 0; i + 8 < n; i += 8) {
      const std::uint64_t x = load8(a.data() + i), y = load8(b.data() + i);
      if (x != y && lower8(x) != lower8(y)) return false;
    }
    const std::uint64_t x = load8(a.data() + n - 8), y = load8(b.data() + n - 8);
    return x == y || lower8(x) == lower8(y);
  }
  for (std::size_t i = 0; i < n; ++i)
    if (a[i] != b[i] && lower(a[i]) != lower(b[i])) return false;
  return true;
}

bool iequals_lowered(std::string_view s, std::string_view lowered) {
  if (s.size() != lowered.size()) return false;
  const std::size_t n = s.size();
  if (n >= 8) {  // a word at a time, the last word overlapping the one before
    for (std::size_t i = 0; i + 8 < n; i += 8)
      if (lower8(load8(s.data() + i)) != load8(lowered.data() + i)) return false;
    return lower8(load8(s.data() + n - 8)) == load8(lowered.data() + n - 8);
  }
  for (std::size_t i = 0; i < n; ++i)
    if (lower(s[i]) != lowered[i]) return false;
  return true;
}

bool icontains(std::string_view h, std::string_view n) {
  if (n.empty()) return true;
  if (n.size() > h.size()) return false;
  const char first = lower(n.front());
  if (n.size() == 1 && !(first >= 'a' && first <= 'z'))  // "@", ".", ":": no case to fold
    return std::memchr(h.data(), first, h.size()) != nullptr;
  // Candidates start with the needle's first character in either case: found 16 bytes at a time
  // (SSE2), the rest compared only there. Bytes that are not ASCII letters match only themselves.
  const char upper = first >= 'a' && first <= 'z' ? static_cast<char>(first & ~0x20) : first;
  const __m128i lo = _mm_set1_epi8(first), up = _mm_set1_epi8(upper);
  const std::size_t candidates = h.size() - n.size() + 1;  // positions a match can start at
  std::size_t i = 0;
  while (i < candidates) {
    if (i + 16 <= h.size()) {
      const __m128i block = _mm_loadu_si128(reinterpret_cast<const __m128i*>(h.data() + i));
      const unsigned mask = static_cast<unsigned>(
          _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(block, lo), _mm_cmpeq_epi8(block, up))));
      if (mask == 0) {
        i += 16;
        continue;
      }
      i += static_cast<std::size_t>(__builtin_ctz(mask));
      if (i >= candidates) return false;
    } else if (lower(h[i]) != first) {
      ++i;
      continue;
    }
    std::size_t k = 1;
    while (k < n.size() && lower(h[i + k]) == lower(n[k])) ++k;
    if (k == n.size()) return true;
    ++i;
  }
  return false;
}

std::uint64_t ihash(std::string_view s, std::uint64_t seed) noexcept {
  constexpr std::uint64_t kMul = 0x9E3779B97F4A7C15ULL;
  const std::size_t n = s.size();
  std::uint64_t h = seed ^ (n * kMul);  // the seed enters before the first word is mixed in
  const auto mix = [&h](std::uint64_t w) {
    h = (h ^ w) * kMul;
    h ^= h >> 29;
  };
  if (n >= 8) {  // a word at a time, the last word overlapping the one before (as iequals)
    for (std::size_t i = 0; i + 8 < n; i += 8) mix(lower8(load8(s.data() + i)));
    mix(lower8(load8(s.data() + n - 8)));
  } else {
    std::uint64_t w = 0;
    for (std::size_t i = 0; i < n; ++i) w = (w << 8) | static_cast<unsigned char>(lower(s[i]));
    mix(w);
  }
  return h ^ (h >> 32);
}

std::uint64_t ihash_seed() noexcept {
  static const std::uint64_t seed = [] {
    std::uint64_t v = 0;
    try {
      std::random_device device;
      v = (static_cast<std::uint64_t>(device()) << 32) ^ device();
    } catch (const std::exception&) {  // no entropy source: the clock and where the stack lies
      int here = 0;
      v = static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
          static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(&here));
    }
    return v;
  }();
  return seed;
}

bool istarts_with(std::string_view s, std::string_view p) { return s.size() >= p.size() && iequals(s.substr(0, p.size()), p); }

std::string to_lower(std::string_view s) {
  std::string out(s.size(), '\0');
  lower_into(s, out.data());
  return out;
}

LowerKey::LowerKey(std::string_view s) {
  if (s.size() > inline_.size()) {
    heap_ = to_lower(s);
    view_ = heap_;
    return;
  }
  lower_into(s, inline_.data());
  view_ = std::string_view(inline_.data(), s.size());
}

std::optional<element> child(element obj, std::string_view key) {
  if (!obj.is_object()) return std::nullopt;
  const simdjson::dom::object o = obj.get_object().value_unsafe();
  std::optional<element> exact, folded;
  const char last = key.empty() ? '\0' : lower(key.back());
  for (auto field : o) {
    if (field.key.size() != key.size()) continue;
    if (same_bytes(field.key.data(), key.data(), key.size())) exact = field.value;  // duplicate keys: the last one wins
    else if (!exact && folds_to(field.key, last) && iequals(field.key, key)) folded = field.value;
  }
  if (exact) return exact;
  return folded;
}

void children(element obj, const std::string_view* keys, std::size_t n, std::optional<element>* out) {
  for (std::size_t i = 0; i < n; ++i) out[i].reset();
  if (!obj.is_object() || n == 0) return;
  constexpr std::size_t kMax = 8;
  if (n > kMax) {  // not used so: one scan per key
    for (std::size_t i = 0; i < n; ++i) out[i] = child(obj, keys[i]);
    return;
  }
  // Per key as in child(): the last exact match, else the last case-folded one.
  bool exact[kMax] = {};
  const simdjson::dom::object o = obj.get_object().value_unsafe();
  for (auto field : o) {
    const std::string_view k = field.key;
    for (std::size_t i = 0; i < n; ++i) {
      if (k.size() != keys[i].size()) continue;
      if (same_bytes(k.data(), keys[i].data(), k.size())) {
        out[i] = field.value;
        exact[i] = true;
      } else if (!exact[i] && folds_to(k, lower(keys[i].back())) && iequals(k, keys[i])) {
        out[i] = field.value;
      }
    }
  }
}

Fields::Fields(element obj) { assign(obj); }

void Fields::assign(element obj) {
  heads_.fill(kNone);
  count_ = 0;
  simdjson::dom::object o;
  if (obj.get_object().get(o) != simdjson::SUCCESS) return;
  // One pass: each field written into the storage kept from earlier records and chained into its
  // bucket at once (front to back, so each bucket lists its keys in reverse document order: the
  // first exact match a lookup meets is the last duplicate, which wins). The storage is sized once
  // (scope_count() saturates for huge objects: the loop still grows it as it goes) and keeps its
  // size: only the chains reach its entries, so no entry is constructed or freed per record.
  const std::size_t expected = o.size();
  if (entries_.size() < expected) entries_.resize(expected);
  Entry* entries = entries_.data();
  std::size_t room = entries_.size();
  std::uint32_t n = 0;
  for (auto field : o) {
    if (n == room) {
      entries_.resize(room * 2 + 1);
      entries = entries_.data();
      room = entries_.size();
    }
    Entry& e = entries[n];
    e.key = field.key;
    e.value = field.value;
    auto& head = heads_[key(field.key).bucket];
    e.next = head;
    head = n++;
  }
  count_ = n;
}

// No exact match: the last case-folded one in document order (the first the chain meets).
[[gnu::noinline]] const element* Fields::find_folded(const Key& key) const {
  for (auto i = heads_[key.bucket]; i != kNone; i = entries_[i].next) {
    const Entry& e = entries_[i];
    if (e.key.size() == key.text.size() && folds_to(e.key, key.folded_last) && iequals(e.key, key.text)) return &e.value;
  }
  return nullptr;
}

const element* Fields::find(const Key& key) const { return find_here(key); }

std::size_t Fields::chained_entries() const {
  std::size_t n = 0;
  for (const std::uint32_t head : heads_)
    for (auto i = head; i != kNone; i = entries_[i].next)
      if (i >= count_ || ++n > count_) return SIZE_MAX;  // only the last object's entries
  return n;
}

std::optional<element> at(element arr, std::size_t index) {
  simdjson::dom::array a;
  if (arr.get_array().get(a) != simdjson::SUCCESS) return std::nullopt;
  element e;
  if (a.at(index).get(e) != simdjson::SUCCESS) return std::nullopt;
  return e;
}

Path::Path(std::string_view dotted) : text_(dotted) {
  std::size_t start = 0;
  while (start <= dotted.size()) {
    auto dot = dotted.find('.', start);
    if (dot == std::string_view::npos) dot = dotted.size();
    std::string_view seg = dotted.substr(start, dot - start);
    // A URI key (token claims: "claims.http://schemas.microsoft.com/identity/claims/objectidentifier")
    // or an OData annotation ("@odata.type") holds dots of its own: it takes the rest of the path.
    if (seg.find("://") != std::string_view::npos || (!seg.empty() && seg.front() == '@')) {
      dot = dotted.size();
      seg = dotted.substr(start);
    }
    if (!seg.empty()) {
      Segment s;
      std::size_t idx = 0;
      auto [p, ec] = std::from_chars(seg.data(), seg.data() + seg.size(), idx);
      if (seg == "*") {
        s.wildcard = true;
        fans_out_ = true;
      } else if (ec == std::errc() && p == seg.data() + seg.size()) {
        s.index = idx;
      } else {
        s.key = std::string(seg);
      }
      segments_.push_back(std::move(s));
    }
    start = dot + 1;
  }
}

void Path::walk(element e, std::size_t i, std::vector<element>& out) const {
  if (i == segments_.size()) {
    if (!e.is_null()) out.push_back(e);
    return;
  }
  const auto& s = segments_[i];
  if (s.wildcard) {
    simdjson::dom::array a;
    if (e.get_array().get(a) != simdjson::SUCCESS) return;
    for (element item : a) walk(item, i + 1, out);
    return;
  }
  if (s.index) {
    // An index on an object is taken as a key ("0"), on an array as a position.
    if (e.is_array()) {
      if (auto c = at(e, *s.index)) walk(*c, i + 1, out);
      return;
    }
    if (auto c = child(e, std::to_string(*s.index))) walk(*c, i + 1, out);
    return;
  }
  if (auto c = child(e, s.key)) walk(*c, i + 1, out);
}

// The first match of walk(), found without collecting every match into a vector (the enrichment
// and the raw-only mapping resolve paths this way for every record).
std::optional<element> Path::first_from(element e, std::size_t i) const {
  for (; i < segments_.size(); ++i) {
    const auto& s = segments_[i];
    if (s.wildcard) {
      simdjson::dom::array a;
      if (e.get_array().get(a) != simdjson::SUCCESS) return std::nullopt;
      for (element item : a)
        if (auto found = first_from(item, i + 1)) return found;
      return std::nullopt;
    }
    std::optional<element> c;
    if (!s.index) c = child(e, s.key);
    else if (e.is_array()) c = at(e, *s.index);  // an index on an array is a position,
    else c = child(e, std::to_string(*s.index));  // on an object a key ("0")
    if (!c) return std::nullopt;
    e = *c;
  }
  if (e.is_null()) return std::nullopt;
  return e;
}

std::optional<element> Path::first(element root) const { return first_from(root, 0); }

std::optional<element> Path::first(element root, const Fields& index) const {
  if (segments_.empty() || !root.is_object()) return first_from(root, 0);
  const auto& s = segments_.front();
  if (s.wildcard) return std::nullopt;  // an object is not an array: first_from() finds nothing either
  // child(root, key) is what first_from() takes for a key and, on an object, for an index ("0").
  const auto c = s.index ? index.get(std::to_string(*s.index)) : index.get(s.key);
  if (!c) return std::nullopt;
  return first_from(*c, 1);
}

void Path::all(element root, std::vector<element>& out) const { walk(root, 0, out); }

std::string child_text(element obj, std::string_view key) {
  std::string s;
  if (auto c = child(obj, key)) scalar_text(*c, s);
  return s;
}

bool scalar_text(element e, std::string& out) {
  switch (e.type()) {
    case simdjson::dom::element_type::STRING: {
      // clear() + append(): the text is never part of `out` (it is in the record's document), so
      // assign()'s general replace, which allows for that, is not needed.
      const std::string_view s = e.get_string().value_unsafe();
      out.clear();
      out.append(s.data(), s.size());
      return true;
    }
    case simdjson::dom::element_type::INT64: out = std::to_string(e.get_int64().value_unsafe()); return true;
    case simdjson::dom::element_type::UINT64: out = std::to_string(e.get_uint64().value_unsafe()); return true;
    case simdjson::dom::element_type::DOUBLE: out = fmt::format("{}", e.get_double().value_unsafe()); return true;
    case simdjson::dom::element_type::BOOL: out = e.get_bool().value_unsafe() ? "true" : "false"; return true;
    case simdjson::dom::element_type::OBJECT:
      if (const auto v = localized_value(e)) return scalar_text(*v, out);
      return false;
    default: return false;
  }
}

namespace {
// `[]` and `{}` parsed once and never changed: their views are valid for the whole run, from any
// thread (read only).
struct EmptyContainers {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  EmptyContainers() { root = parser.parse(std::string_view(R"({"a":[],"o":{}})")).value(); }
};
const EmptyContainers& empty_containers() {
  static const EmptyContainers e;
  return e;
}
}  // namespace

simdjson::dom::array empty_array() { return empty_containers().root["a"].get_array().value_unsafe(); }
simdjson::dom::object empty_object() { return empty_containers().root["o"].get_object().value_unsafe(); }

std::optional<element> localized_value(element e) {
  simdjson::dom::object o;
  if (e.get_object().get(o) != simdjson::SUCCESS) return std::nullopt;
  std::optional<element> value;
  std::size_t members = 0;
  for (const auto field : o) {
    if (++members > 2) return std::nullopt;
    if (iequals(field.key, "value")) value = field.value;
    else if (!iequals(field.key, "localizedValue")) return std::nullopt;
  }
  if (!value || value->is_null() || value->is_object() || value->is_array()) return std::nullopt;
  return value;
}

std::optional<std::string> text_at(element root, const Path& path) {
  auto e = path.first(root);
  if (!e) return std::nullopt;
  std::string s;
  if (!scalar_text(*e, s)) return std::nullopt;
  return s;
}

void append_json(std::string& out, element e) {
  char digits[24];
  switch (e.type()) {
    case simdjson::dom::element_type::STRING:
      // simdjson escapes exactly like append_json_string for the valid UTF-8 a parsed document holds.
      encoding::append_json_string(out, e.get_string().value_unsafe());
      return;
    case simdjson::dom::element_type::INT64: {
      auto r = std::to_chars(digits, digits + sizeof digits, e.get_int64().value_unsafe());
      out.append(digits, r.ptr);
      return;
    }
    case simdjson::dom::element_type::UINT64: {
      auto r = std::to_chars(digits, digits + sizeof digits, e.get_uint64().value_unsafe());
      out.append(digits, r.ptr);
      return;
    }
    case simdjson::dom::element_type::BOOL: out += e.get_bool().value_unsafe() ? "true" : "false"; return;
    case simdjson::dom::element_type::NULL_VALUE: out += "null"; return;
    case simdjson::dom::element_type::OBJECT: {
      out += '{';
      bool first = true;
      for (auto field : as_object(e)) {
        // ,"key": then the value, the separators joined to the strings' appends (fewer calls).
        encoding::append_json_string(out, first ? std::string_view() : std::string_view(",", 1), field.key);
        first = false;
        if (field.value.is_string()) {
          encoding::append_json_string(out, ":", field.value.get_string().value_unsafe());
          continue;
        }
        out += ':';
        append_json(out, field.value);
      }
      out += '}';
      return;
    }
    case simdjson::dom::element_type::ARRAY: {
      out += '[';
      bool first = true;
      for (element item : as_array(e)) {
        if (!first) out += ',';
        first = false;
        append_json(out, item);
      }
      out += ']';
      return;
    }
    case simdjson::dom::element_type::DOUBLE: break;
  }
  out += simdjson::to_string(e);  // simdjson's shortest round-trip form for doubles
}

std::string to_json(element e) {
  std::string out;
  append_json(out, e);
  return out;
}

std::string unquote(std::string_view s) {
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') {
    // The text between the quotes, each backslash and the byte after it (when that byte is not the
    // closing quote) written as that byte (\n, \t, \r as the control characters). The runs between
    // backslashes are copied whole (audit property values: GUIDs and names, rarely any backslash).
    std::string out;
    out.reserve(s.size() - 2);
    const std::size_t end = s.size() - 1;  // the closing quote
    std::size_t i = 1;
    while (i < end) {
      const void* hit = std::memchr(s.data() + i, '\\', end - i);
      const std::size_t j = hit ? static_cast<std::size_t>(static_cast<const char*>(hit) - s.data()) : end;
      out.append(s.data() + i, j - i);
      if (j == end) break;
      if (j + 1 == end) {  // a backslash just before the closing quote: kept as it is
        out += '\\';
        break;
      }
      switch (s[j + 1]) {
        case 'n': out += '\n'; break;
        case 't': out += '\t'; break;
        case 'r': out += '\r'; break;
        default: out += s[j + 1];
      }
      i = j + 2;
    }
    return out;
  }
  return std::string(s);
}

}  // namespace siem::json
