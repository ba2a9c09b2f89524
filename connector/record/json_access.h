// Reading Entra / Azure records: case-insensitive key lookup (Microsoft's casing varies: "Type" vs
// "type", "Level" vs "level"), compiled dotted paths with array indexes and `*` fan-out, and
// scalar-to-text conversion.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <simdjson.h>

namespace siem::json {

using simdjson::dom::element;

// An empty array / object of a document parsed once (a default-constructed simdjson view has no
// document: iterating it dereferences a null tape).
simdjson::dom::array empty_array();
simdjson::dom::object empty_object();

// Array / object views of an element (empty when it is not one). Returned by value: iterating the
// member of a temporary simdjson_result would dangle.
inline simdjson::dom::array as_array(element e) {
  simdjson::dom::array a;
  if (e.get_array().get(a) != simdjson::SUCCESS) return empty_array();
  return a;
}
inline simdjson::dom::object as_object(element e) {
  simdjson::dom::object o;
  if (e.get_object().get(o) != simdjson::SUCCESS) return empty_object();
  return o;
}

// Child by key: exact match first, then case-insensitive. Duplicate keys: the last one wins.
std::optional<element> child(element obj, std::string_view key);
// child(obj, keys[i]) into out[i] for each of the n keys, in one pass over obj (for a few keys of
// a small object read together, where an index would cost more than it saves). n <= 8.
void children(element obj, const std::string_view* keys, std::size_t n, std::optional<element>* out);
template <std::size_t N>
std::array<std::optional<element>, N> children(element obj, const std::array<std::string_view, N>& keys) {
  static_assert(N <= 8);
  std::array<std::optional<element>, N> out;
  children(obj, keys.data(), N, out.data());
  return out;
}
// One object's fields indexed once, for code that looks up many keys of the same object (the
// enrichment facts, kind detection): get() answers exactly like child() without a scan per key.
class Fields {
  // Keys are bucketed by a case-insensitive hash (length, first and last character), so a lookup
  // compares only the few keys of one bucket; building the index is one pass (no sort, which
  // cost more than the lookups it saved).
  static constexpr std::size_t kBuckets = 64;

 public:
  // A key with what a lookup computes from it (its bucket, its last byte case-folded) worked out
  // once: a literal's at compile time (get() is inline), a rule set's keys when it is built.
  struct Key {
    std::string_view text;
    std::uint32_t bucket = 0;
    char folded_last = '\0';
  };
  static constexpr Key key(std::string_view text) noexcept {
    if (text.empty()) return Key{text, 0, '\0'};
    // c | 0x20 folds the case of letters (and merges a few punctuation pairs: only more compares).
    const auto first = static_cast<unsigned char>(text.front() | 0x20);
    const auto last = static_cast<unsigned char>(text.back() | 0x20);
    const char b = text.back();
    return Key{text, static_cast<std::uint32_t>((text.size() * 31 + first * 7 + last) % kBuckets),
               b >= 'A' && b <= 'Z' ? static_cast<char>(b | 0x20) : b};
  }

  explicit Fields(element obj);
  Fields() { heads_.fill(kNone); }  // an empty index, for assign()
  // Indexes `obj` instead, reusing the storage (an index kept across records allocates once).
  void assign(element obj);
  // The value of `key` in the object (exact match first, else case-insensitive; the last duplicate
  // wins), or null: what child() answers, as a pointer into the index (valid until assign()).
  const element* find(const Key& key) const;
  std::optional<element> get(const Key& key) const {
    if (const element* v = find(key)) return *v;
    return std::nullopt;
  }
  std::optional<element> get(std::string_view key) const { return get(Fields::key(key)); }
  bool has(std::string_view key) const { return find(Fields::key(key)) != nullptr; }
  // The number of entries the buckets' chains reach (the fields of the object last assigned), or
  // SIZE_MAX when a chain leaves the storage or runs longer than it (a cycle): a bounded walk, for
  // the index's tests to check before they look anything up.
  std::size_t chained_entries() const;

 private:
  static constexpr std::uint32_t kNone = UINT32_MAX;
  struct Entry {
    std::string_view key;
    element value;
    std::uint32_t next = kNone;  // the next entry of the same bucket, in reverse document order
  };
  friend class PathSet;
  // find(), inline where json_access.cc looks up many keys; the case-folded search out of line.
  const element* find_here(const Key& key) const;
  const element* find_folded(const Key& key) const;
  std::vector<Entry> entries_;  // document order from 0; as large as the largest object indexed (reused)
  std::array<std::uint32_t, kBuckets> heads_;  // first entry of each bucket
  std::uint32_t count_ = 0;  // the entries of the object last assigned: entries_[0, count_)
};

// Child by array index.
std::optional<element> at(element arr, std::size_t index);

// A dotted path compiled once: "initiatedBy.user.userPrincipalName", "targetResources.0.id",
// "targetResources.*.userPrincipalName" (fan-out over arrays). A segment holding "://" (a token
// claim URI such as "claims.http://schemas.microsoft.com/identity/claims/objectidentifier") or
// starting with '@' (an OData annotation such as "@odata.type") takes the rest of the path as one key.
class Path {
 public:
  Path() = default;
  explicit Path(std::string_view dotted);
  const std::string& text() const noexcept { return text_; }
  bool empty() const noexcept { return segments_.empty(); }
  bool fans_out() const noexcept { return fans_out_; }

  // First match (for fan-out paths: the first element that resolves).
  std::optional<element> first(element root) const;
  // The same answer for an object `root` whose fields `index` holds (json::Fields of root): the
  // first segment through the index instead of a scan of root's fields.
  std::optional<element> first(element root, const Fields& index) const;

  // A slot in a per-record lookup cache, assigned when a rule set interns its paths (-1: none).
  int slot = -1;
  // Every match (fan-out paths give one per array element that resolves).
  void all(element root, std::vector<element>& out) const;

 private:
  friend class PathSet;
  struct Segment {
    std::string key;
    std::optional<std::size_t> index;
    bool wildcard = false;
  };
  void walk(element e, std::size_t i, std::vector<element>& out) const;
  std::optional<element> first_from(element e, std::size_t i) const;
  std::vector<Segment> segments_;
  std::string text_;
  bool fans_out_ = false;
};

// Many paths resolved together against one record: a trie of their segments, so each object on
// the way is scanned once (one pass over its fields, matching every key the paths want there)
// instead of once per path and segment. Results are exactly those of Path::first() for each path:
// exact key match first (the last duplicate wins), else a case-insensitive one; a numeric segment
// is a position in an array and a key in an object; null at the end is "not found". Fan-out
// paths are not accepted (they have no single result).
class PathSet {
 public:
  struct Result {
    // The resolve() call that set it. 64 bits: a counter bumped once per record cannot wrap in a
    // process's lifetime (at 32 bits it wrapped after 2^32 records, and a slot left untouched since
    // then read as found again, its element in a long-gone record).
    std::uint64_t generation = 0;
    bool found = false;
    element value;
  };
  // Adds `path` (fans_out() must be false) with its result at results[slot] (slot >= 0). The set
  // needs finish() again before the next resolve(). Linear in the path's length (a child is found
  // through a table, not a search of its siblings).
  void add(const Path& path, int slot);
  // Indexes the children of the nodes added so far and builds their table of guesses, once the set
  // is complete: call it after the last add() and before any resolve(), and before the set is
  // shared by threads. A resolve() of a set added to since (a mistake) is answered through a
  // finished copy of it: the same results, at the cost of building the copy every time.
  void finish();
  // Resolves of a set not finished after its last add(), in this process so far (a misuse: each
  // copies and finishes the set; the first one logs a warning, debug builds assert).
  static std::uint64_t unfinished_resolves() noexcept;
  bool empty() const noexcept { return slots_.empty(); }
  // Whether a path was added with this slot.
  bool contains(int slot) const noexcept;
  // Resolves every path against `root` into results[slot], stamping each with `generation`
  // (found or not); finish() was called after the last add(). `results` must be large enough for every slot added.
  void resolve(element root, std::vector<Result>& results, std::uint64_t generation) const;
  // The same, `root_index` the json::Fields of `root` (an object): the root's children looked up
  // through it instead of a scan of the root's fields.
  void resolve(element root, const Fields& root_index, std::vector<Result>& results, std::uint64_t generation) const;
  // resolve() without its stamping pass over every slot (`root_index`: the root's json::Fields, or
  // null): only the slots whose path reaches a key are written (found, or not when its value is
  // null), stamped with `generation`. Every other slot of the set keeps what an earlier record left
  // there: the caller reads a slot the set covers() whose generation is not `generation` as
  // missing (PathCache does).
  void resolve_touched(element root, const Fields* root_index, std::vector<Result>& results,
                       std::uint64_t generation) const;
  // Whether a path was added with this slot, in constant time (a table by slot).
  bool covers(int slot) const noexcept {
    return slot >= 0 && static_cast<std::size_t>(slot) < covered_.size() && covered_[static_cast<std::size_t>(slot)] != 0;
  }

 private:
  struct Node {
    std::string key;                  // object key this node is reached by ("3" for index segments)
    std::uint32_t key_at = 0;         // where the same key starts in keys_
    char folded_first = '\0';         // key's first character, lower-cased (a quick reject)
    std::optional<std::size_t> index; // array position, for numeric segments
    std::vector<int> slots;           // the paths that end here
    std::vector<std::uint32_t> children;  // sorted by key length by finish(): a key's candidates are one run
    // For each key length L up to the longest child key + 1: the position in `children` of the
    // first child whose key is at least L long (where the run of length L starts).
    std::vector<std::uint32_t> run_start;
    // `children` again, each with what matching a key needs, side by side (walk() scans them for
    // every key of every object; a node's key lives in keys_, not in the child node).
    struct Kid {
      std::uint32_t node;
      std::uint32_t key_at;  // in keys_
      std::uint32_t key_size;
      // A child without children of its own (a leaf: most are) is settled as soon as its key
      // matches, into its one slot (or its node's slots when it has several: kSeveral); the
      // others after the scan (their values are walked further).
      std::int32_t slot;
      char folded_first;
      bool leaf;
      // No sibling's key equals this one case-folded: a field matching it exactly matches no other
      // child, so a guessed match settles the field alone (see `guesses_`).
      bool unique_fold;
    };
    static constexpr std::int32_t kSeveral = -1;
    std::vector<Kid> kids;
    std::vector<std::uint32_t> branches;  // the positions in `kids` of the children that are not leaves
    bool any_index_child = false;
    std::uint32_t guess_at = 0;  // this node's guesses in guesses_: 1 + kids.size() of them
  };
  // Rebuilds node n's tables of its children (kids, run_start, branches) from `children` (sorted
  // by key length). Linear in the number of children.
  void index_children(std::uint32_t n);
  PathSet finished_copy() const;  // counts and, the first time in the process, warns (an assert in debug builds)
  void settle_leaf(const Node::Kid& kid, element value, std::vector<Result>& results, std::uint64_t generation) const;
  void walk(std::uint32_t node, element e, std::vector<Result>& results, std::uint64_t generation) const;
  // walk()'s match of an object's fields against node's children (`fields`: a simdjson object;
  // any range of fields with .key and .value in document order would do), inline in walk().
  template <class FieldRange>
  void match(const Node& node, const FieldRange& fields, std::vector<Result>& results, std::uint64_t generation) const;
  void settle(std::uint32_t node, element value, std::vector<Result>& results, std::uint64_t generation) const;
  void stamp(element root, std::vector<Result>& results, std::uint64_t generation) const;
  // The root path's slots ("": the record itself), stamped with `generation`.
  void settle_root(element root, std::vector<Result>& results, std::uint64_t generation) const;
  void walk_root(element root, const Fields* root_index, std::vector<Result>& results, std::uint64_t generation) const;
  // The root's children as Fields keys (bucket and folded last byte worked out when added), for
  // resolve() through the root's index; the text is at key_at in keys_.
  struct RootKey {
    std::uint32_t node;
    std::uint32_t key_at, key_size;  // the text in keys_ (which moves as it grows: no view kept)
    std::uint32_t bucket;
    char folded_last;
  };
  std::vector<RootKey> root_keys_;
  std::string keys_;  // every node's key, one after another
  std::vector<Node> nodes_{Node{}};
  // add()'s table of the nodes by parent and segment: "<parent>.<key>" (a key segment) or
  // "<parent>#<n>" (an index segment).
  std::unordered_map<std::string, std::uint32_t> child_of_;
  std::vector<int> slots_;            // every slot added
  std::vector<std::uint8_t> covered_;  // by slot: 1 for every slot added (covers())
  // Records of one kind list their keys in one order (Graph and Azure write them so): per node, the
  // child the first matching field of the last object walked there matched, and after each child
  // the child the next matching field matched (position in `kids` + 1; 0: none). walk() compares
  // a field with the guess before it searches the field's run of children. Only a hint: a wrong or
  // stale guess costs the compare, never a different result. Shared by the threads that resolve
  // with this set (relaxed atomics: a plain load, and a store only when the order changed). Built
  // by finish(), once the set is complete (null after an add()).
  std::shared_ptr<std::atomic<std::uint32_t>[]> guesses_;
};

// An Azure LocalizableString ({"value": "Administrative", "localizedValue": "Administrative"}: the
// Activity Log's operationName, category, status, subStatus, resourceType ... in the REST shape and
// in some Event Hubs records): its `value` when `e` is an object of `value` (a scalar, not null) and
// at most `localizedValue` besides; nullopt for anything else.
std::optional<element> localized_value(element e);
// Scalar as text: strings as is, numbers and booleans in JSON form, a LocalizableString as its
// value; false for null, other objects and arrays.
bool scalar_text(element e, std::string& out);
// The scalar text of obj[key] (scalar_text), or empty when the key is missing or not a scalar.
std::string child_text(element obj, std::string_view key);
std::optional<std::string> text_at(element root, const Path& path);
// Compact JSON text of any element (exactly simdjson::to_string's), appended / returned.
void append_json(std::string& out, element e);
std::string to_json(element e);

// Case-insensitive ASCII helpers.
bool iequals(std::string_view a, std::string_view b);
// iequals(s, x) for `lowered` == to_lower(x), worked out in advance: only `s` is folded.
bool iequals_lowered(std::string_view s, std::string_view lowered);
bool icontains(std::string_view haystack, std::string_view needle);
// A hash of `s` case-folded as iequals() folds it: iequals(a, b) implies ihash(a, seed) ==
// ihash(b, seed), so a hash table keyed by it finds any spelling's case without a lower-cased copy
// of the key. `seed` keys the hash: the tables it indexes hold keys taken from input events (the
// roster's principals), and an unkeyed hash would let crafted keys fill one bucket. Not a
// cryptographic MAC; nothing may persist or order output by it (it differs between processes).
std::uint64_t ihash(std::string_view s, std::uint64_t seed) noexcept;
// The process's seed for ihash(): drawn once from std::random_device on first use.
std::uint64_t ihash_seed() noexcept;
inline std::uint64_t ihash(std::string_view s) noexcept { return ihash(s, ihash_seed()); }
bool istarts_with(std::string_view s, std::string_view prefix);
std::string to_lower(std::string_view s);

// `s` lower-cased like to_lower(), for looking it up among lower-case keys (roster, break-glass
// accounts) without allocating: the enrichment does such lookups for every event, and UPNs and
// object ids fit the inline buffer (longer keys use the heap). Not copyable: view() points inside.
class LowerKey {
 public:
  explicit LowerKey(std::string_view s);
  LowerKey(const LowerKey&) = delete;
  LowerKey& operator=(const LowerKey&) = delete;
  std::string_view view() const noexcept { return view_; }

 private:
  std::array<char, 128> inline_;
  std::string heap_;
  std::string_view view_;
};

// Strips one level of JSON quoting: "\"Global Administrator\"" -> Global Administrator. Values that
// are not quoted strings come back unchanged.
std::string unquote(std::string_view s);

}  // namespace siem::json
