// The lookups with work done in advance must answer as the general ones they stand for:
// Fields::find() with a prepared key (bucket and folded last byte computed once) and PathSet's
// resolve through the root's index, against child() and Path::first(), on generated objects whose
// keys collide in one bucket, repeat (exactly and case-folded, in every order) and hold nulls.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <simdjson.h>

#include "connector/mapping/enrichment_interface.h"
#include "connector/mapping/mapping_rules.h"
#include "connector/record/json_access.h"

namespace siem::json {
namespace {

std::string describe(const std::optional<element>& e) { return e ? to_json(*e) : "<none>"; }
std::string describe(const element* e) { return e ? to_json(*e) : "<none>"; }

// Keys that share lengths, first and last bytes (so buckets and the cheap rejects) and differ in
// case only: every lookup meets exact, folded and same-length near misses.
const std::vector<std::string> kKeys = {"a", "A", "ab", "aB", "Ab", "AB", "ba", "abc", "aBc", "axc", "ABC", "id", "Id",
                                        "ID", "level", "Level", "LEVEL", "lEvel", "levem", "properties",
                                        "Properties", "propertiez", "x1", "", "0", "00", "resultType", "resulttype"};

// A small deterministic generator (the test's loops are bounded by its counts, not by chance).
struct Lcg {
  std::uint64_t s;
  std::uint32_t next(std::uint32_t n) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<std::uint32_t>((s >> 33) % n);
  }
};

// An object of `n` members drawn from kKeys (repeats allowed), values: their position, null, or a
// nested object holding some of the keys again.
std::string object_text(Lcg& rng, std::size_t n, int depth) {
  std::string doc = "{";
  for (std::size_t i = 0; i < n; ++i) {
    if (i) doc += ',';
    doc += '"' + kKeys[rng.next(static_cast<std::uint32_t>(kKeys.size()))] + "\":";
    const auto kind = rng.next(5);
    if (kind == 0) doc += "null";
    else if (kind == 1 && depth > 0) doc += object_text(rng, rng.next(6), depth - 1);
    else doc += std::to_string(i);
  }
  return doc + "}";
}

TEST(Fields, PreparedKeysAnswerLikeChild) {
  simdjson::dom::parser parser;
  Lcg rng{17};
  Fields reused;
  for (int round = 0; round < 400; ++round) {
    const std::string doc = object_text(rng, rng.next(24), 0);
    element root;
    ASSERT_EQ(parser.parse(doc).get(root), simdjson::SUCCESS) << doc;
    reused.assign(root);
    ASSERT_EQ(reused.chained_entries(), as_object(root).size()) << doc;  // bounded: before any lookup
    const Fields fresh(root);
    for (const auto& k : kKeys) {
      SCOPED_TRACE("key '" + k + "' of " + doc);
      const auto expected = describe(child(root, k));
      EXPECT_EQ(describe(reused.find(Fields::key(k))), expected);
      EXPECT_EQ(describe(fresh.get(k)), expected);
      EXPECT_EQ(fresh.has(k), child(root, k).has_value());
    }
  }
}

// Every path of one and two keys from kKeys (and numeric ones), resolved in one pass through the
// root's index and by a scan of the root's fields, gives Path::first()'s answer, null at the end
// read as missing (also when an earlier duplicate of the key was not null). Paths ending at a key
// that others continue from ("a" and "a.b") and several spellings of one path are among them.
TEST(PathSet, ThroughTheRootIndexAnswersLikePathFirstOnGeneratedRecords) {
  std::vector<std::string> texts;
  for (const auto& a : kKeys) {
    if (a.empty()) continue;
    texts.push_back(a);
    for (const char* b : {"a", "AB", "level", "0", "id"}) texts.push_back(a + "." + b);
  }
  for (const char* more : {"a.00", "ab..level", "0.a"}) texts.push_back(more);
  std::vector<Path> paths;
  paths.reserve(texts.size());
  PathSet set;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    paths.emplace_back(texts[i]);
    set.add(paths.back(), static_cast<int>(i));
  }
  set.finish();
  simdjson::dom::parser parser;
  Lcg rng{29};
  std::vector<PathSet::Result> results(texts.size()), scanned(texts.size());
  Fields index;
  for (std::uint32_t round = 1; round <= 300; ++round) {
    const std::string doc = object_text(rng, rng.next(20), 1);
    element root;
    ASSERT_EQ(parser.parse(doc).get(root), simdjson::SUCCESS) << doc;
    index.assign(root);
    ASSERT_EQ(index.chained_entries(), as_object(root).size()) << doc;  // bounded: before any lookup
    set.resolve(root, index, results, round);
    set.resolve(root, scanned, round);  // the root's fields scanned against the trie instead
    for (std::size_t i = 0; i < texts.size(); ++i) {
      SCOPED_TRACE("path '" + texts[i] + "' of " + doc);
      const auto expected = describe(paths[i].first(root));
      ASSERT_EQ(results[i].generation, round);
      EXPECT_EQ(describe(results[i].found ? std::optional<element>(results[i].value) : std::nullopt), expected);
      ASSERT_EQ(scanned[i].generation, round);
      EXPECT_EQ(describe(scanned[i].found ? std::optional<element>(scanned[i].value) : std::nullopt), expected);
    }
  }
}

// The mapper resolves a record's paths without a stamping pass over every slot
// (PathSet::resolve_touched through PathCache): a slot the walk does not reach keeps an earlier
// record's result and must read as missing, through PathCache::find() and RecordPaths::value(),
// on every record of a run whose records find and miss the paths in turn; a path outside the set
// (its slot after the set's) is looked up on demand as before. Each record is resolved twice: the
// second walk takes the guessed order of keys the first one learned (PathSet's guesses), which
// must not change an answer where keys repeat or differ only in case.
TEST(PathSet, ResolvedWithoutStampingReadsLikePathFirstRecordAfterRecord) {
  std::vector<std::string> texts;
  for (const auto& a : kKeys) {
    if (a.empty()) continue;
    texts.push_back(a);
    for (const char* b : {"a", "AB", "level", "0"}) texts.push_back(a + "." + b);
  }
  const std::size_t in_set = texts.size();
  for (const char* more : {"id.a", "Level.level", "x1.0"}) texts.push_back(more);  // not in the set
  std::vector<Path> paths;
  paths.reserve(texts.size());
  PathSet set;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    paths.emplace_back(texts[i]);
    paths.back().slot = static_cast<int>(i);
    if (i < in_set) set.add(paths.back(), static_cast<int>(i));
  }
  set.finish();
  std::vector<int> slots(texts.size());
  for (std::size_t i = 0; i < slots.size(); ++i) slots[i] = static_cast<int>(i);
  mapping::PathCache cache;
  cache.entries.resize(texts.size());
  Lcg rng{41};
  Fields index;
  for (int round = 0; round < 300; ++round) {
    simdjson::dom::parser parser;  // a new document each record: a stale element is a dangling one
    const std::string doc = object_text(rng, rng.next(20), 1);
    element root;
    ASSERT_EQ(parser.parse(doc).get(root), simdjson::SUCCESS) << doc;
    index.assign(root);
    // Twice: the second walk meets the keys in the order the first one left as its guesses.
    for (int pass = 0; pass < 2; ++pass) {
      cache.next_record(round % 3 ? &index : nullptr);  // through the root's index, or by a scan
      cache.resolve_also(set, root);
      const RecordPaths values{cache.entries.data(), slots.data(), in_set, {}, std::nullopt, cache.generation};
      for (std::size_t i = 0; i < texts.size(); ++i) {
        SCOPED_TRACE("path '" + texts[i] + "' of " + doc + " pass " + std::to_string(pass));
        const auto expected = describe(paths[i].first(root));
        if (i < in_set) {
          EXPECT_EQ(describe(values.value(i)), expected);
        }
        EXPECT_EQ(describe(cache.find(paths[i], root)), expected);
        EXPECT_EQ(describe(cache.find(paths[i], root)), expected);  // the memo
      }
    }
  }
}

}  // namespace
}  // namespace siem::json
