// PathSet (all of a kind's paths resolved in one pass) must give exactly what Path::first() gives
// for each path: exact key before case-folded, last duplicate wins, numeric segments as array
// positions or object keys, null at the end is "not found", the empty path is the record.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <simdjson.h>

#include "connector/record/json_access.h"

namespace siem::json {
namespace {

const char* kRecord = R"({
  "id": "first", "ID": "folded", "id": "last",
  "Level": "4",
  "level2": null,
  "properties": {"Status": {"errorCode": 50126}, "status": {"errorCode": 0, "failureReason": "x"},
                 "targets": [{"id": "t0"}, {"id": "t1", "type": "User"}],
                 "byKey": {"0": "zero", "1": {"deep": true}}},
  "PROPERTIES": {"onlyFolded": "no"},
  "odd": {"a": 1, "A": 2, "A": 3},
  "arr": [[1, 2], [3, {"k": "v"}]]
})";

std::vector<std::string> paths() {
  return {"id", "Id", "iD", "level", "Level", "level2", "missing", "properties", "properties.status.errorCode",
          "properties.Status.errorCode", "properties.STATUS.failureReason", "properties.targets.0.id",
          "properties.targets.1.type", "properties.targets.2.id", "properties.targets.id", "properties.byKey.0",
          "properties.byKey.1.deep", "properties.byKey.01.deep", "PROPERTIES.onlyFolded", "properties.onlyFolded",
          "odd.a", "odd.A", "arr.1.1.k", "arr.0.1", "arr.0.1.x", "id.x", "", "odd"};
}

std::string describe(const std::optional<element>& e) {
  if (!e) return "<none>";
  return to_json(*e);
}

TEST(PathSet, ResolvesLikePathFirstForEveryPath) {
  simdjson::dom::parser parser;
  element root;
  ASSERT_EQ(parser.parse(std::string(kRecord)).get(root), simdjson::SUCCESS);
  const auto texts = paths();
  std::vector<Path> compiled;
  PathSet set;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    compiled.emplace_back(texts[i]);
    set.add(compiled.back(), static_cast<int>(i));
  }
  set.finish();
  std::vector<PathSet::Result> results(texts.size());
  set.resolve(root, results, 7);
  for (std::size_t i = 0; i < texts.size(); ++i) {
    SCOPED_TRACE("path '" + texts[i] + "'");
    EXPECT_EQ(results[i].generation, 7u);
    const auto expected = compiled[i].first(root);
    const std::optional<element> got = results[i].found ? std::optional<element>(results[i].value) : std::nullopt;
    EXPECT_EQ(describe(got), describe(expected));
  }
  // Through the root's index (the mapper's resolve): the same results.
  std::vector<PathSet::Result> indexed(texts.size());
  set.resolve(root, Fields(root), indexed, 8);
  for (std::size_t i = 0; i < texts.size(); ++i) {
    SCOPED_TRACE("path '" + texts[i] + "' through the root index");
    EXPECT_EQ(indexed[i].generation, 8u);
    const std::optional<element> got = indexed[i].found ? std::optional<element>(indexed[i].value) : std::nullopt;
    EXPECT_EQ(describe(got), describe(compiled[i].first(root)));
  }
  // Spot checks of the semantics themselves.
  EXPECT_EQ(describe(results[0].found ? std::optional<element>(results[0].value) : std::nullopt), "\"last\"");
  EXPECT_FALSE(results[5].found);  // null at the end
  EXPECT_EQ(to_json(results[8].value), "0");
}

// Path::first(root, index): the first key through the root's index answers as the scan does, for
// every path (fan-out and numeric first segments included) of records with duplicate, case-folded
// and numeric keys.
TEST(PathFirst, ThroughTheRootIndexAnswersLikeTheScan) {
  simdjson::dom::parser parser;
  auto texts = paths();
  for (const char* more : {"*", "*.id", "properties.targets.*.id", "0", "00", "1.x", "a.0", "*.0"})
    texts.emplace_back(more);
  for (const char* record : {kRecord, R"({"0": "zero", "00": "double", "1": {"x": "one"}, "a": [7], "id": null})"}) {
    element root;
    ASSERT_EQ(parser.parse(std::string(record)).get(root), simdjson::SUCCESS);
    const Fields index(root);
    for (const auto& text : texts) {
      SCOPED_TRACE("path '" + text + "' of " + record);
      const Path p(text);
      EXPECT_EQ(describe(p.first(root, index)), describe(p.first(root)));
    }
  }
}

TEST(PathSet, SpellingsOfOnePathShareTheResult) {
  simdjson::dom::parser parser;
  element root;
  ASSERT_EQ(parser.parse(std::string(kRecord)).get(root), simdjson::SUCCESS);
  PathSet set;
  const Path a("properties.targets.1.id"), b("properties.targets.01.id"), c("properties..targets.1.id");
  set.add(a, 0);
  set.add(b, 1);
  set.add(c, 2);
  set.finish();
  std::vector<PathSet::Result> results(3);
  set.resolve(root, results, 1);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(results[static_cast<std::size_t>(i)].found) << i;
    EXPECT_EQ(to_json(results[static_cast<std::size_t>(i)].value), "\"t1\"") << i;
  }
}

TEST(PathSet, AStaleResultIsResetOnTheNextRecord) {
  simdjson::dom::parser parser;
  PathSet set;
  const Path p("user.name");
  set.add(p, 0);
  set.finish();
  std::vector<PathSet::Result> results(1);
  element root;
  ASSERT_EQ(parser.parse(std::string(R"({"user":{"name":"alice"}})")).get(root), simdjson::SUCCESS);
  set.resolve(root, results, 1);
  EXPECT_TRUE(results[0].found);
  ASSERT_EQ(parser.parse(std::string(R"({"user":"alice"})")).get(root), simdjson::SUCCESS);
  set.resolve(root, results, 2);
  EXPECT_EQ(results[0].generation, 2u);
  EXPECT_FALSE(results[0].found);
}

// finish() builds the guesses once the set is complete; a path added after it (more children under
// a node that records were already walked with) needs finish() again, and the results are exact.
TEST(PathSet, PathsAddedAfterFinishResolveOnceFinishedAgain) {
  simdjson::dom::parser parser;
  PathSet set;
  const Path a("user.name"), b("user.id"), c("user.mail"), d("tenant");
  set.add(a, 0);
  set.add(b, 1);
  set.finish();
  std::vector<PathSet::Result> results(4);
  element root;
  ASSERT_EQ(parser.parse(std::string(R"({"user":{"id":"1","name":"alice","mail":"m"},"tenant":"t"})")).get(root),
            simdjson::SUCCESS);
  set.resolve(root, results, 1);  // the guesses learn id, then name
  ASSERT_TRUE(results[0].found && results[1].found);
  set.add(c, 2);
  set.add(d, 3);
  set.finish();
  for (std::uint64_t generation = 2; generation < 5; ++generation) {
    set.resolve(root, results, generation);
    const char* want[] = {"\"alice\"", "\"1\"", "\"m\"", "\"t\""};
    for (std::size_t i = 0; i < 4; ++i) {
      ASSERT_TRUE(results[i].found) << i;
      EXPECT_EQ(results[i].generation, generation);
      EXPECT_EQ(to_json(results[i].value), want[i]) << i;
    }
  }
}

}  // namespace
}  // namespace siem::json

namespace siem::json {
namespace {

TEST(Fields, AnswersLikeChildForEveryKey) {
  simdjson::dom::parser parser;
  element root;
  ASSERT_EQ(parser.parse(std::string(kRecord)).get(root), simdjson::SUCCESS);
  const Fields fields(root);
  for (std::string_view key : {"id", "ID", "Id", "level", "Level", "LEVEL", "level2", "properties", "PROPERTIES",
                               "Properties", "odd", "arr", "missing", "", "i"}) {
    SCOPED_TRACE(std::string(key));
    EXPECT_EQ(describe(fields.get(key)), describe(child(root, key)));
  }
  const Fields odd(*child(root, "odd"));
  EXPECT_EQ(describe(odd.get("A")), "3");  // exact, last duplicate
  EXPECT_EQ(describe(odd.get("a")), "1");
  const Fields not_an_object(*child(root, "arr"));
  EXPECT_FALSE(not_an_object.get("0").has_value());
}

// An index kept across records (the mapper's) is re-pointed with assign(): it then answers for the
// new object only, nothing of the previous one left over.
TEST(Fields, AssignIndexesTheNewObjectOnly) {
  simdjson::dom::parser parser;
  element root;
  ASSERT_EQ(parser.parse(std::string(kRecord)).get(root), simdjson::SUCCESS);
  // The chains reach exactly the new object's fields (checked by a bounded walk before any lookup:
  // an index left chained to the previous object's entries could loop).
  const auto size_of = [](element e) { return e.is_object() ? json::as_object(e).size() : std::size_t{0}; };
  Fields fields;
  ASSERT_EQ(fields.chained_entries(), 0u);
  EXPECT_FALSE(fields.get("id").has_value());
  fields.assign(root);
  ASSERT_EQ(fields.chained_entries(), size_of(root));
  EXPECT_EQ(describe(fields.get("id")), describe(child(root, "id")));
  const element odd = *child(root, "odd");
  fields.assign(odd);
  ASSERT_EQ(fields.chained_entries(), size_of(odd));
  for (std::string_view key : {"id", "ID", "Level", "properties", "A", "a", "missing"}) {
    SCOPED_TRACE(std::string(key));
    EXPECT_EQ(describe(fields.get(key)), describe(child(odd, key)));
  }
  fields.assign(*child(root, "arr"));
  ASSERT_EQ(fields.chained_entries(), 0u);
  EXPECT_FALSE(fields.get("A").has_value());
  fields.assign(root);
  ASSERT_EQ(fields.chained_entries(), size_of(root));
  EXPECT_EQ(describe(fields.get("Level")), describe(child(root, "Level")));
}

}  // namespace
// icontains skips to candidates by the needle's first character (16 bytes at a time; memchr for a
// caseless one-byte needle):
// the answer must stay that of comparing the needle at every position case-insensitively.
// as_array / as_object of an element that is not one are empty views that can be iterated (a
// default simdjson view cannot: it has no document), and of one that is, the element itself.
TEST(JsonViews, AsArrayAndAsObjectOfOtherTypesAreEmpty) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  ASSERT_EQ(parser.parse(std::string_view(R"({"s":"x","n":1,"z":null,"a":[1,2],"o":{"k":1}})")).get(root), simdjson::SUCCESS);
  for (const char* key : {"s", "n", "z", "o"}) {
    std::size_t n = 0;
    for ([[maybe_unused]] auto item : siem::json::as_array(root[key].value())) ++n;
    EXPECT_EQ(n, 0u) << key;
  }
  for (const char* key : {"s", "n", "z", "a"}) {
    std::size_t n = 0;
    for (auto field : siem::json::as_object(root[key].value())) n += field.key.size() + 1;
    EXPECT_EQ(n, 0u) << key;
  }
  std::size_t items = 0, fields = 0;
  for (auto item : siem::json::as_array(root["a"].value())) items += item.is_int64() ? 1 : 0;
  for (auto field : siem::json::as_object(root["o"].value())) fields += field.key == "k" ? 1 : 0;
  EXPECT_EQ(items, 2u);
  EXPECT_EQ(fields, 1u);
}

TEST(CaseInsensitive, IcontainsFindsWhatAFullScanFinds) {
  const auto naive = [](std::string_view h, std::string_view n) {
    if (n.size() > h.size()) return false;
    for (std::size_t i = 0; i + n.size() <= h.size(); ++i)
      if (iequals(h.substr(i, n.size()), n)) return true;
    return false;
  };
  const std::vector<std::string> haystacks = {"", "a", "user@Contoso.com", "Add member to role (PIM activation)",
                                              "fe80::1", "10.0.0.1", "aaab", "AAAB", "x@", "@", "#EXT#user",
                                              std::string("nul\0byte", 8), "Z[`{@", "ab\xc3\xa9" "cd"};
  const std::vector<std::string> needles = {"", "@", ".", ":", "a", "A", "ab", "AAB", "aab", "to role", "(pim activation)",
                                            "#ext#", "x", "@C", "[", "`", "{", "Z", "z", std::string("\0", 1), "\xc3\xa9",
                                            "Add member to role (PIM activation) and more"};
  for (const auto& h : haystacks)
    for (const auto& n : needles) EXPECT_EQ(icontains(h, n), naive(h, n)) << "'" << h << "' contains '" << n << "'";
  // Haystacks of 1 to 70 bytes, past the 16-byte blocks the candidate search reads at once, with a
  // match at every position (and none), the needle's first character repeated before it.
  const std::vector<std::string> long_needles = {"aB", "ab", "AB", "b", "xa", "@c", "xxxxxxxxxxxxxxxxaB", "aaB", "Ba"};
  for (std::size_t len = 1; len <= 70; ++len) {
    for (std::size_t at = 0; at <= len; ++at) {
      std::string h(len, 'x');
      if (at + 2 <= len) h.replace(at, 2, "aB");
      if (at > 0 && at < len) h[at - 1] = 'A';
      for (const auto& n : long_needles) EXPECT_EQ(icontains(h, n), naive(h, n)) << "'" << h << "' contains '" << n << "'";
    }
  }
}

// to_lower and LowerKey fold eight bytes at a time: every byte value, at every position of keys of
// every length around the word size and the inline buffer, must fold as the byte-wise ASCII rule.
TEST(CaseInsensitive, LowerFoldsEveryByteLikeTheAsciiRule) {
  const auto naive = [](std::string_view s) {
    std::string out(s);
    for (auto& c : out)
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + ('a' - 'A'));
    return out;
  };
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  for (std::size_t len : {0u, 1u, 7u, 8u, 9u, 15u, 16u, 17u, 36u, 127u, 128u, 129u, 256u})
    for (std::size_t start = 0; start + len <= all.size(); start += len ? 5 : 1) {
      const std::string_view s = std::string_view(all).substr(start, len);
      EXPECT_EQ(to_lower(s), naive(s)) << start << "+" << len;
      EXPECT_EQ(LowerKey(s).view(), naive(s)) << start << "+" << len;
      if (!len) break;
    }
  EXPECT_EQ(to_lower("User@Contoso.COM [Z@`{]"), "user@contoso.com [z@`{]");
}

// iequals and the exact key compares of child(), Fields and PathSet read keys a word at a time (the
// last word overlapping): every length around the word sizes, with a difference or a case change at
// every position and every byte value at one position, must answer as the byte-wise rules.
TEST(CaseInsensitive, KeyComparesAnswerAsTheByteWiseRules) {
  const auto fold = [](unsigned char c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; };
  const auto naive = [&](std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
      if (fold(static_cast<unsigned char>(a[i])) != fold(static_cast<unsigned char>(b[i]))) return false;
    return true;
  };
  for (std::size_t len = 1; len <= 40; ++len) {
    std::string key;
    for (std::size_t i = 0; i < len; ++i) key += static_cast<char>('a' + i % 26);
    for (std::size_t at = 0; at < len; ++at) {
      for (int b = 0; b < 256; b += (at == len / 2 ? 1 : 37)) {
        std::string other = key;
        other[at] = static_cast<char>(b);
        EXPECT_EQ(iequals(other, key), naive(other, key)) << len << " " << at << " " << b;
        // The case-folded hash (the roster's index) agrees with iequals: equal keys hash alike, and
        // a changed byte changes the hash (no collision among these few thousand keys).
        EXPECT_EQ(ihash(other) == ihash(key), naive(other, key)) << len << " " << at << " " << b;
        // The record has the changed key only: found exactly, case-folded or not at all.
        simdjson::dom::parser parser;
        std::string doc = "{\"";
        for (char c : other) {
          char hex[8];
          std::snprintf(hex, sizeof hex, "\\u%04x", static_cast<unsigned char>(c) < 0x80 ? static_cast<unsigned char>(c) : 0x3f);
          doc += hex;
        }
        doc += "\":1}";
        const element root = parser.parse(doc).value();
        const std::string stored(as_object(root).begin().key());
        const bool expect = naive(stored, key);
        EXPECT_EQ(child(root, key).has_value(), expect) << len << " " << at << " " << b;
        EXPECT_EQ(Fields(root).get(key).has_value(), expect) << len << " " << at << " " << b;
        const std::string_view keys[] = {"zz", key};  // a second key of another length
        std::optional<element> found[2];
        children(root, keys, 2, found);
        EXPECT_EQ(found[1].has_value(), expect) << len << " " << at << " " << b;
        EXPECT_FALSE(found[0].has_value());
        PathSet set;
        set.add(Path(key), 0);
        set.finish();
        std::vector<PathSet::Result> results(1);
        set.resolve(root, results, 1);
        EXPECT_EQ(results[0].found, expect) << len << " " << at << " " << b;
      }
    }
  }
}

// children() reads several keys in one pass: for each key the answer of child() (the last exact
// match, else the last case-folded one, null values included), whatever the other keys are.
TEST(Children, AnswerAsChildForEachKey) {
  simdjson::dom::parser parser;
  const element root =
      parser
          .parse(std::string_view(R"({"Id":1,"id":2,"ID":3,"name":null,"NAME":"x","Type":"a","type":"b","TYPE":"c",)"
                                  R"("upn":"u","UPN":"U","other":[1],"iD":4,"Name":"y"})"))
          .value();
  const std::vector<std::string_view> all{"id", "ID", "name", "Name", "nAmE", "type", "TyPe", "upn", "missing", "other", "iD", ""};
  for (std::size_t n = 1; n <= 8; ++n)
    for (std::size_t start = 0; start + n <= all.size(); ++start) {
      std::optional<element> found[8];
      children(root, all.data() + start, n, found);
      for (std::size_t i = 0; i < n; ++i) {
        const auto want = child(root, all[start + i]);
        ASSERT_EQ(found[i].has_value(), want.has_value()) << all[start + i];
        if (want) {
          EXPECT_EQ(to_json(*found[i]), to_json(*want)) << all[start + i];
        }
      }
    }
  // The template form, as the facts use it.
  static constexpr std::array<std::string_view, 3> kKeys{"type", "NAME", "nothing"};
  const auto [type, name, nothing] = children(root, kKeys);
  EXPECT_EQ(to_json(*type), "\"b\"");
  EXPECT_EQ(to_json(*name), "\"x\"");
  EXPECT_FALSE(nothing.has_value());
}

// append_json / to_json write a member's key, separator and string value with joined appends: the
// text must stay simdjson's own compact form, for every record sample and a few hand-made shapes.
TEST(AppendJson, WritesSimdjsonsCompactForm) {
  simdjson::dom::parser parser;
  const auto same = [&](const std::string& text, const std::string& what) {
    element root;
    ASSERT_EQ(parser.parse(text).get(root), simdjson::SUCCESS) << what;
    EXPECT_EQ(to_json(root), simdjson::to_string(root)) << what;
  };
  same(R"({"a":"x\"y","":"","b":["s",1,{"c":"d","e":[]},{}],"f":{"g":"h","i":null,"j":true,"k":-1.5},"l":"\\"})", "shapes");
  same(R"(["a",{"b":"c"},[{"d":""}]])", "array");
  std::size_t records = 0;
  for (const auto& entry : std::filesystem::directory_iterator(SIEM_TEST_DATA_DIR)) {
    const auto ext = entry.path().extension();
    if (ext != ".json" && ext != ".ndjson") continue;
    std::ifstream in(entry.path());
    if (ext == ".json") {
      std::stringstream text;
      text << in.rdbuf();
      same(text.str(), entry.path().filename().string());
      ++records;
      continue;
    }
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
      if (line.empty()) continue;
      same(line, entry.path().filename().string() + ":" + std::to_string(n));
      ++records;
    }
  }
  EXPECT_GT(records, 40u);
}

// unquote() against the byte-by-byte rule written out plainly: every text of up to seven bytes
// over quotes, backslashes, the escape letters and a plain letter (quoted or not, backslashes at
// every position, one just before the closing quote).
TEST(Unquote, AnswersAsTheByteWiseRule) {
  const auto reference = [](std::string_view s) {
    if (!(s.size() >= 2 && s.front() == '"' && s.back() == '"')) return std::string(s);
    std::string out;
    for (std::size_t i = 1; i + 1 < s.size(); ++i) {
      if (s[i] == '\\' && i + 2 < s.size()) {
        ++i;
        out += s[i] == 'n' ? '\n' : s[i] == 't' ? '\t' : s[i] == 'r' ? '\r' : s[i];
      } else {
        out += s[i];
      }
    }
    return out;
  };
  const std::string alphabet = "\"\\ntra";
  std::size_t checked = 0;
  for (std::size_t len = 0; len <= 7; ++len) {
    std::vector<std::size_t> digit(len, 0);
    for (;;) {
      std::string s;
      for (const auto d : digit) s += alphabet[d];
      ASSERT_EQ(unquote(s), reference(s)) << s;
      ++checked;
      std::size_t k = 0;
      while (k < len && ++digit[k] == alphabet.size()) digit[k++] = 0;
      if (k == len) break;
    }
  }
  EXPECT_EQ(checked, 335923u);  // 6^0 + ... + 6^7
  EXPECT_EQ(unquote("\"Global Administrator\""), "Global Administrator");
  EXPECT_EQ(unquote("\"62e90394-69f5-4237-9190-012177145e10\""), "62e90394-69f5-4237-9190-012177145e10");
}

}  // namespace siem::json
