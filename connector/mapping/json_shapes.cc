// The elastic / snake and compact JSON shapes of a record's objects (json_out.h), written to either
// output of the JSON writers: the conversions' and rules' std::string (write_elastic,
// write_compact_json: expression.h) or the document writer's cursor.
#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <limits>

#include "connector/mapping/expression.h"
#include "connector/mapping/json_out.h"
#include "connector/record/encoding.h"
#include "connector/record/json_access.h"

namespace siem::mapping {

namespace {

inline bool ascii_upper(char c) { return c >= 'A' && c <= 'Z'; }
inline bool ascii_lower(char c) { return c >= 'a' && c <= 'z'; }
inline bool ascii_digit(char c) { return c >= '0' && c <= '9'; }

// camelCase / PascalCase to snake_case: "userPrincipalName" -> user_principal_name,
// "IPAddress" -> ip_address. Appends to `out`. Every key of an elastic/snake shape goes through
// here, so it writes into space reserved up front (at most one '_' per character) rather than
// appending character by character.
void append_snake(std::string& out, std::string_view key) {
  const std::size_t start = out.size();
  out.resize(start + 2 * key.size());
  char* p = out.data() + start;
  for (std::size_t i = 0; i < key.size(); ++i) {
    const char c = key[i];
    if (ascii_upper(c)) {
      const bool prev_lower = i > 0 && (ascii_lower(key[i - 1]) || ascii_digit(key[i - 1]));
      const bool next_lower = i + 1 < key.size() && ascii_lower(key[i + 1]);
      const bool prev_upper = i > 0 && ascii_upper(key[i - 1]);
      if (prev_lower || (prev_upper && next_lower)) *p++ = '_';
      *p++ = static_cast<char>(c | 0x20);
    } else {
      *p++ = c;
    }
  }
  out.resize(static_cast<std::size_t>(p - out.data()));
}

// The key in snake_case as a JSON string. Keys needing no escaping (all real ones) are written
// straight into `out`.
void append_snake_key(std::string& out, std::string_view key) {
  const bool plain = std::none_of(key.begin(), key.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return c < 0x20 || c == '"' || c == '\\' || c >= 0x80;
  });
  if (plain) {
    out += '"';
    append_snake(out, key);
    out += '"';
    return;
  }
  std::string snake;
  append_snake(snake, key);
  encoding::append_json_string(out, snake);
}

// Records repeat the same keys (every sign-in's conditional access policies, device detail...):
// each key's member prefix (,"snake_key": or, for the compact JSON form, ,"key":) is remembered per
// thread in a small table indexed by a hash of the key, so a key seen before is one compare and one
// append instead of a conversion. A slot holds the last key that hashed there; a different key just
// replaces it.
class KeyCache {
 public:
  explicit KeyCache(bool snake) : snake_(snake) {}
  // `key` as an object member's key: ,"key": (no comma when `first`). Valid until the next call.
  // Inlined into the shapes' loops (GCC would call it: a call per member costs more than the hit).
  [[gnu::always_inline]] std::string_view prefix(std::string_view key, bool first) {
    // Keys come from the record: only short ones are remembered, so the table stays a few tens of
    // KiB per thread whatever the records hold; a longer key is converted each time into one
    // scratch slot, released again once it grew large.
    if (key.size() > kMaxCachedKey) {
      Slot& slot = long_key(key);
      fill(slot, key, Words{});
      return text_of(slot, first);
    }
    const Words w = words(key);
    Slot& slot = slots_[hash(w, key.size()) % kSlots];
    if (!slot.valid || !same_key(slot, key, w)) fill(slot, key, w);
    return text_of(slot, first);
  }

 private:
  static constexpr std::size_t kSlots = 512;
  static constexpr std::size_t kMaxCachedKey = 64;
  // The key's first and last 8 bytes (a shorter key: all of its bytes, in overlapping pieces), read
  // without a memcpy call: with its size they tell keys of up to 16 bytes apart, and a longer one's
  // middle is compared word by word.
  struct Words {
    std::uint64_t head = 0, tail = 0;
  };
  struct Slot {
    bool valid = false;
    Words words;
    std::string key, text;
  };
  static std::uint64_t load8(const char* p) {
    std::uint64_t w;
    std::memcpy(&w, p, sizeof w);
    return w;
  }
  static std::uint32_t load4(const char* p) {
    std::uint32_t w;
    std::memcpy(&w, p, sizeof w);
    return w;
  }
  static Words words(std::string_view key) {
    const char* p = key.data();
    const std::size_t n = key.size();
    if (n >= 8) return {load8(p), load8(p + n - 8)};
    if (n >= 4) return {load4(p) | (std::uint64_t{load4(p + n - 4)} << 32), 0};
    if (n > 0) {
      const auto b = [&](std::size_t i) { return std::uint64_t{static_cast<unsigned char>(p[i])}; };
      return {b(0) | (b(n / 2) << 8) | (b(n - 1) << 16), 0};
    }
    return {};
  }
  static bool same_key(const Slot& slot, std::string_view key, Words w) {
    const std::size_t n = key.size();
    if (slot.key.size() != n || slot.words.head != w.head || slot.words.tail != w.tail) return false;
    // Up to 16 bytes the words hold every byte; past that the middle, 8 bytes at a time (the last
    // word may overlap the tail, which is equal already).
    for (std::size_t i = 8; i + 8 < n; i += 8)
      if (load8(slot.key.data() + i) != load8(key.data() + i)) return false;
    return true;
  }
  static std::string_view text_of(const Slot& slot, bool first) {
    const std::size_t skip = first ? 1 : 0;
    return std::string_view(slot.text.data() + skip, slot.text.size() - skip);
  }
  // A key not seen before (or no longer): out of line, so that the common case stays small.
  [[gnu::noinline]] void fill(Slot& slot, std::string_view key, Words w) const {
    slot.valid = true;
    slot.words = w;
    slot.key.assign(key);
    slot.text.assign(1, ',');
    if (snake_) append_snake_key(slot.text, key);
    else encoding::append_json_string(slot.text, key);
    slot.text += ':';
  }
  [[gnu::noinline]] Slot& long_key(std::string_view key) {
    if (long_.key.capacity() > 4 * kMaxCachedKey + key.size()) long_ = Slot{};  // let a big one go
    return long_;
  }
  // Length and the first and last 8 bytes (keys of one record differ there, not in the middle).
  static std::size_t hash(Words w, std::size_t size) noexcept {
    const std::uint64_t h = (w.head * 0x9E3779B97F4A7C15ull) ^ (w.tail * 0xC2B2AE3D27D4EB4Full) ^ (size * 0x165667B19E3779F9ull);
    return static_cast<std::size_t>(h >> 55);  // the top bits: they depend on every byte read
  }
  bool snake_;
  std::array<Slot, kSlots> slots_;
  Slot long_;  // a key longer than kMaxCachedKey, converted on each use
};

// The threads' key caches of the two shapes, shared by every output type's writer.
KeyCache& snake_keys() {
  static thread_local KeyCache keys(true);
  return keys;
}
KeyCache& compact_keys() {
  static thread_local KeyCache keys(false);
  return keys;
}

}  // namespace

namespace {

constexpr std::size_t kAll = std::numeric_limits<std::size_t>::max();

// A scalar or array as json::append_json() writes it (simdjson's compact form): integers, booleans
// and null written in place, doubles (simdjson's own number form) and arrays through a string.
template <class Out>
void append_plain_json(Out& out, element e) {
  switch (e.type()) {
    case simdjson::dom::element_type::INT64: put_int(out, e.get_int64().value_unsafe()); return;
    case simdjson::dom::element_type::UINT64: put_int(out, e.get_uint64().value_unsafe()); return;
    case simdjson::dom::element_type::BOOL:
      out.put(e.get_bool().value_unsafe() ? std::string_view("true") : std::string_view("false"));
      return;
    case simdjson::dom::element_type::NULL_VALUE: out.put(std::string_view("null")); return;
    default:
      out.with_string([&](std::string& s) {
        json::append_json(s, e);
        return true;
      });
  }
}

}  // namespace

// Elastic's shape: object keys in snake_case, arrays turned into objects keyed "0", "1", ...
// Members that are null or an empty string are left out, as everywhere in the output (an array
// keeps its items, whose positions are their keys).
template <class Out>
void write_elastic_to(Out& out, element e, bool arrays_as_objects, std::size_t max_items) {
  switch (e.type()) {
    case simdjson::dom::element_type::OBJECT: {
      KeyCache& keys = snake_keys();
      out.put('{');
      bool first = true;
      for (auto field : json::as_object(e)) {
        const auto type = field.value.type();
        if (type == simdjson::dom::element_type::NULL_VALUE ||
            (type == simdjson::dom::element_type::STRING && field.value.get_string().value_unsafe().empty()))
          continue;
        const std::string_view prefix = keys.prefix(field.key, first);
        first = false;
        if (type == simdjson::dom::element_type::STRING) {  // the member in one append (as append_json writes it)
          out.json_string(prefix, field.value.get_string().value_unsafe());
          continue;
        }
        out.put(prefix);
        write_elastic_to(out, field.value, arrays_as_objects, kAll);
      }
      out.put('}');
      return;
    }
    case simdjson::dom::element_type::ARRAY: {
      out.put(arrays_as_objects ? '{' : '[');
      std::size_t i = 0;
      for (element item : json::as_array(e)) {
        if (i == max_items) break;
        // The separator and (elastic) the position's key, ,"N": -- joined to a string item's append.
        char buf[32];
        char* p = buf;
        if (i > 0) *p++ = ',';
        if (arrays_as_objects) {
          *p++ = '"';
          p = std::to_chars(p, buf + sizeof buf, i).ptr;
          *p++ = '"';
          *p++ = ':';
        }
        const std::string_view prefix(buf, static_cast<std::size_t>(p - buf));
        if (item.type() == simdjson::dom::element_type::STRING) {
          out.json_string(prefix, item.get_string().value_unsafe());
        } else {
          out.put_short(prefix);
          write_elastic_to(out, item, arrays_as_objects, kAll);
        }
        ++i;
      }
      out.put(arrays_as_objects ? '}' : ']');
      return;
    }
    default: append_plain_json(out, e);
  }
}

// json::append_json()'s compact text with the members' key prefixes remembered (KeyCache): an object
// member whose value is a string is one append. Arrays and scalars are json::append_json()'s.
template <class Out>
void write_compact_json_to(Out& out, element e) {
  if (e.type() != simdjson::dom::element_type::OBJECT) {
    append_plain_json(out, e);
    return;
  }
  KeyCache& keys = compact_keys();
  out.put('{');
  bool first = true;
  for (auto field : json::as_object(e)) {
    const std::string_view prefix = keys.prefix(field.key, first);
    first = false;
    if (field.value.type() == simdjson::dom::element_type::STRING) {
      out.json_string(prefix, field.value.get_string().value_unsafe());
      continue;
    }
    out.put(prefix);
    write_compact_json_to(out, field.value);
  }
  out.put('}');
}

template void write_elastic_to(StringOut&, element, bool, std::size_t);
template void write_elastic_to(CursorOut&, element, bool, std::size_t);
template void write_compact_json_to(StringOut&, element);
template void write_compact_json_to(CursorOut&, element);

void write_elastic(std::string& out, element e, bool arrays_as_objects, std::size_t max_items) {
  StringOut to(out);
  write_elastic_to(to, e, arrays_as_objects, max_items);
}

void write_compact_json(std::string& out, element e) {
  StringOut to(out);
  write_compact_json_to(to, e);
}

}  // namespace siem::mapping
