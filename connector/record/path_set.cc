#include "connector/record/json_access.h"

#include <algorithm>
#include <cassert>
#include <array>
#include <atomic>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <spdlog/spdlog.h>

#include "connector/record/json_fold.h"

namespace siem::json {

void PathSet::add(const Path& path, int slot) {
  std::uint32_t cur = 0;
  std::string lookup;  // child_of_'s key of the next segment under `cur`
  for (const auto& seg : path.segments_) {
    // Wildcards are rejected by contract; a numeric segment matches the key "N" in objects.
    const std::string key = seg.index ? std::to_string(*seg.index) : seg.key;
    lookup.assign(std::to_string(cur)).append(seg.index ? "#" : ".").append(key);
    const auto [it, added] = child_of_.try_emplace(lookup, static_cast<std::uint32_t>(nodes_.size()));
    const std::uint32_t next = it->second;
    if (added) {
      Node n;
      n.key = key;
      n.folded_first = key.empty() ? '\0' : lower(key.front());
      n.index = seg.index;
      n.key_at = static_cast<std::uint32_t>(keys_.size());
      keys_ += key;
      if (cur == 0) {
        const auto k = Fields::key(key);
        root_keys_.push_back(RootKey{next, n.key_at, static_cast<std::uint32_t>(key.size()), k.bucket, k.folded_last});
      }
      nodes_.push_back(std::move(n));
      nodes_[cur].children.push_back(next);  // finish() sorts them by key length and indexes them
      if (seg.index) nodes_[cur].any_index_child = true;
    }
    cur = next;
  }
  nodes_[cur].slots.push_back(slot);  // several spellings of one path ("a.0", "a.00") share a node; "" is the root
  slots_.push_back(slot);
  if (covered_.size() <= static_cast<std::size_t>(slot)) covered_.resize(static_cast<std::size_t>(slot) + 1, 0);
  covered_[static_cast<std::size_t>(slot)] = 1;
  guesses_.reset();  // unfinished: finish() indexes the children and builds the guesses for the complete set
}

void PathSet::finish() {
  // Every node's tables and guesses, from scratch (sets are built once, before any record).
  std::uint32_t at = 0;
  for (std::uint32_t n = 0; n < nodes_.size(); ++n) {
    auto& kids = nodes_[n].children;  // in the order added: a stable sort keeps it within a length
    std::stable_sort(kids.begin(), kids.end(),
                     [this](std::uint32_t a, std::uint32_t b) { return nodes_[a].key.size() < nodes_[b].key.size(); });
    index_children(n);
    nodes_[n].guess_at = at;
    at += 1 + static_cast<std::uint32_t>(nodes_[n].kids.size());
  }
  guesses_ = std::shared_ptr<std::atomic<std::uint32_t>[]>(new std::atomic<std::uint32_t>[at]());  // all 0
}

// A set resolved without finish() after its last add() (a caller's mistake; the loader finishes its
// sets): resolved through a finished copy, slow but with the results of a finished set.
namespace {
std::atomic<std::uint64_t> unfinished_resolves_{0};
}  // namespace

std::uint64_t PathSet::unfinished_resolves() noexcept { return unfinished_resolves_.load(std::memory_order_relaxed); }

PathSet PathSet::finished_copy() const {
  assert(false && "PathSet resolved without finish() after its last add()");
  if (unfinished_resolves_.fetch_add(1, std::memory_order_relaxed) == 0)
    spdlog::warn("path set resolved unfinished: finish() was not called after its last add(), so every resolve "
                 "copies and finishes it ({} paths; logged once)", slots_.size());
  PathSet done = *this;
  done.finish();
  return done;
}

void PathSet::index_children(std::uint32_t n) {
  Node& node = nodes_[n];
  node.kids.clear();
  node.branches.clear();
  node.run_start.clear();
  if (node.children.empty()) return;
  node.run_start.assign(nodes_[node.children.back()].key.size() + 2, 0);
  for (std::size_t l = 0, k = 0; l < node.run_start.size(); ++l) {
    while (k < node.children.size() && nodes_[node.children[k]].key.size() < l) ++k;
    node.run_start[l] = static_cast<std::uint32_t>(k);
  }
  // How many children share each case-folded key (one pass, not a search of the siblings per child).
  std::unordered_map<std::string, std::uint32_t> folded;
  folded.reserve(node.children.size());
  const auto fold = [](std::string key) {
    for (auto& ch : key) ch = lower(ch);
    return key;
  };
  for (const auto c : node.children) ++folded[fold(nodes_[c].key)];
  for (const auto c : node.children) {
    const Node& child = nodes_[c];
    const bool leaf = child.children.empty();
    if (!leaf) node.branches.push_back(static_cast<std::uint32_t>(node.kids.size()));
    const std::int32_t slot = child.slots.size() == 1 ? child.slots.front() : Node::kSeveral;
    const bool unique_fold = folded[fold(child.key)] == 1;
    node.kids.push_back(Node::Kid{c, child.key_at, static_cast<std::uint32_t>(child.key.size()), slot,
                                  child.folded_first, leaf, unique_fold});
  }
}

bool PathSet::contains(int slot) const noexcept { return std::find(slots_.begin(), slots_.end(), slot) != slots_.end(); }

void PathSet::resolve(element root, std::vector<Result>& results, std::uint64_t generation) const {
  if (!guesses_ && nodes_.size() > 1) [[unlikely]]
    return finished_copy().resolve(root, results, generation);  // finish() was not called after the last add()
  stamp(root, results, generation);
  walk(0, root, results, generation);
}

void PathSet::resolve(element root, const Fields& root_index, std::vector<Result>& results,
                      std::uint64_t generation) const {
  if (!guesses_ && nodes_.size() > 1) [[unlikely]]
    return finished_copy().resolve(root, root_index, results, generation);  // finish() was not called after the last add()
  stamp(root, results, generation);
  walk_root(root, &root_index, results, generation);
}

void PathSet::resolve_touched(element root, const Fields* root_index, std::vector<Result>& results,
                              std::uint64_t generation) const {
  if (!guesses_ && nodes_.size() > 1) [[unlikely]]
    return finished_copy().resolve_touched(root, root_index, results, generation);  // no finish() after the last add()
  settle_root(root, results, generation);
  walk_root(root, root_index, results, generation);
}

void PathSet::walk_root(element root, const Fields* root_index, std::vector<Result>& results,
                        std::uint64_t generation) const {
  if (!root_index || !root.is_object()) return walk(0, root, results, generation);
  const char* keys = keys_.data();
  for (const auto& r : root_keys_) {
    const Fields::Key key{std::string_view(keys + r.key_at, r.key_size), r.bucket, r.folded_last};
    if (const element* v = root_index->find_here(key)) settle(r.node, *v, results, generation);
  }
}

// The slots of the node reached by `value` take it (or read as missing when it is null), stamped.
[[gnu::always_inline]] inline void PathSet::settle(std::uint32_t c, element value, std::vector<Result>& results,
                                                   std::uint64_t generation) const {
  const Node& child_node = nodes_[c];
  const bool found = !value.is_null();
  for (int slot : child_node.slots) {
    auto& r = results[static_cast<std::size_t>(slot)];
    r.generation = generation;
    r.found = found;
    r.value = value;
  }
  if (!child_node.children.empty()) walk(c, value, results, generation);
}

// A leaf's slots take `value`, or read as missing when it is null (an earlier duplicate key may
// have set them).
[[gnu::always_inline]] inline void PathSet::settle_leaf(const Node::Kid& kid, element value, std::vector<Result>& results,
                                                        std::uint64_t generation) const {
  const bool found = !value.is_null();
  if (kid.slot != Node::kSeveral) {
    auto& r = results[static_cast<std::size_t>(kid.slot)];
    r.generation = generation;
    r.found = found;
    r.value = value;
    return;
  }
  for (int slot : nodes_[kid.node].slots) {
    auto& r = results[static_cast<std::size_t>(slot)];
    r.generation = generation;
    r.found = found;
    r.value = value;
  }
}

void PathSet::stamp(element root, std::vector<Result>& results, std::uint64_t generation) const {
  for (int s : slots_) {
    auto& r = results[static_cast<std::size_t>(s)];
    r.generation = generation;
    r.found = false;
  }
  settle_root(root, results, generation);
}

void PathSet::settle_root(element root, std::vector<Result>& results, std::uint64_t generation) const {
  const bool found = !root.is_null();
  for (int s : nodes_[0].slots) {
    auto& r = results[static_cast<std::size_t>(s)];
    r.generation = generation;
    r.found = found;
    r.value = root;
  }
}

// walk()'s scan of one object's fields (inline there: an out-of-line call cost more).
template <class FieldRange>
[[gnu::always_inline]] inline void PathSet::match(const Node& node, const FieldRange& fields, std::vector<Result>& results,
                    std::uint64_t generation) const {
  const auto& kids = node.kids;
  constexpr std::size_t kMaxKids = 128;  // kids.size() <= kMaxKids: walk()'s check
  // Per child: whether a key matched it exactly or case-folded. A leaf takes the value at once
  // (a later duplicate overwrites it: the last wins; an exact match is not overwritten by a
  // folded one); a child with children keeps the last exact and the last case-folded match in
  // `m` and is settled after the scan. Only the first kids.size() flags are used, so only they are
  // cleared (this runs for every object of every record).
  struct Match {
    element exact, folded;
  };
  union Scratch {
    Scratch() {}
    ~Scratch() {}
    Match m[kMaxKids];
  } scratch;
  Match* m = scratch.m;
  enum : std::uint8_t { kExact = 1, kFolded = 2 };
  std::array<std::uint8_t, kMaxKids> flags;
  std::fill_n(flags.begin(), kids.size(), std::uint8_t{0});
  const std::size_t min_len = kids.front().key_size, max_len = kids.back().key_size;
  const char* keys = keys_.data();
  // guess[0]: the child the first matching field is expected to match; guess[1 + i]: the one after
  // child i (position + 1; 0: none). `after` is where the guess now in `g` came from.
  std::atomic<std::uint32_t>* const guess = guesses_.get() + node.guess_at;
  std::uint32_t after = 0;
  std::uint32_t g = guess[0].load(std::memory_order_relaxed);
  for (const auto& field : fields) {
    const std::string_view k = field.key;
    if (g != 0) {
      const auto& kid = kids[g - 1];
      // What the search below does for a field that matches this child exactly and no other.
      if (kid.key_size == k.size() && kid.unique_fold && same_bytes(k.data(), keys + kid.key_at, k.size())) {
        const std::size_t i = g - 1;
        if (kid.leaf) settle_leaf(kid, field.value, results, generation);
        else m[i].exact = field.value;
        flags[i] |= kExact;
        after = 1 + static_cast<std::uint32_t>(i);
        g = guess[after].load(std::memory_order_relaxed);
        continue;
      }
    }
    if (k.size() < min_len || k.size() > max_len) continue;
    // Children are sorted by key length: only those of this length can match.
    const auto lo = kids.begin() + node.run_start[k.size()], hi = kids.begin() + node.run_start[k.size() + 1];
    const char k0 = k.empty() ? '\0' : lower(k.front());
    std::uint32_t matched = 0;  // the last child this field matched (position + 1)
    for (auto it = lo; it != hi; ++it) {
      // Keys of one length often differ in the first character: a cheap reject before comparing.
      if (it->folded_first != k0) continue;
      const auto i = static_cast<std::size_t>(it - kids.begin());
      const std::string_view want(keys + it->key_at, it->key_size);
      if (same_bytes(k.data(), want.data(), k.size())) {  // k.size() == want.size()
        if (it->leaf) settle_leaf(*it, field.value, results, generation);
        else m[i].exact = field.value;  // duplicate keys: the last one wins
        flags[i] |= kExact;
      } else if (!(flags[i] & kExact) && iequals(k, want)) {
        if (it->leaf) settle_leaf(*it, field.value, results, generation);
        else m[i].folded = field.value;
        flags[i] |= kFolded;
      } else {
        continue;
      }
      matched = static_cast<std::uint32_t>(i) + 1;
    }
    if (matched != 0) {  // the guess was not this child: the next record of this order takes it
      if (guess[after].load(std::memory_order_relaxed) != matched) guess[after].store(matched, std::memory_order_relaxed);
      after = matched;
      g = guess[after].load(std::memory_order_relaxed);
    }
  }
  for (const auto i : node.branches) {
    if (flags[i] & kExact) settle(kids[i].node, m[i].exact, results, generation);
    else if (flags[i] & kFolded) settle(kids[i].node, m[i].folded, results, generation);
  }
}

void PathSet::walk(std::uint32_t index, element e, std::vector<Result>& results, std::uint64_t generation) const {
  const Node& node = nodes_[index];
  if (node.children.empty()) return;
  if (e.is_array()) {
    if (!node.any_index_child) return;
    for (auto c : node.children)
      if (nodes_[c].index)
        if (auto item = at(e, *nodes_[c].index)) settle(c, *item, results, generation);
    return;
  }
  if (!e.is_object()) return;
  const auto& kids = node.kids;
  constexpr std::size_t kMaxKids = 128;
  if (kids.size() > kMaxKids) {  // not seen in shipped mappings: one lookup per key
    for (const auto& kid : kids)
      if (auto v = child(e, nodes_[kid.node].key)) settle(kid.node, *v, results, generation);
    return;
  }
  match(node, e.get_object().value_unsafe(), results, generation);
}

}  // namespace siem::json
