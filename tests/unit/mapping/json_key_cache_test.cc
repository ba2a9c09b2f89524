// The elastic / snake and compact JSON shapes remember each key's member prefix per thread, in a
// table indexed by a hash of the key's size and first and last 8 bytes. Keys that differ anywhere
// (in the middle of a long key too, where the hash cannot see it) must each get their own prefix:
// every key of 1-70 bytes is written right after one that differs from it in one byte, at every
// position, and must come out as itself.
#include <gtest/gtest.h>

#include <string>

#include <simdjson.h>

#include "connector/mapping/expression.h"

namespace siem::mapping {
namespace {

// `{"key":"x"}` through the shape (lower-case letters and digits: snake_case leaves them as they are).
std::string shaped(simdjson::dom::parser& parser, const std::string& key, bool compact) {
  const std::string doc = "{\"" + key + "\":\"x\"}";
  simdjson::dom::element e;
  EXPECT_EQ(parser.parse(doc).get(e), simdjson::SUCCESS);
  std::string out;
  if (compact) write_compact_json(out, e);
  else write_elastic(out, e, true);
  return out;
}

TEST(JsonKeyCache, KeysDifferingInOneByteAnywhereKeepTheirOwnPrefix) {
  constexpr std::string_view kAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  simdjson::dom::parser parser;
  for (const bool compact : {false, true}) {
    for (std::size_t n = 1; n <= 70; ++n) {
      std::string a;
      for (std::size_t i = 0; i < n; ++i) a += kAlphabet[(i * 7) % kAlphabet.size()];
      for (std::size_t at = 0; at < n; ++at) {
        std::string b = a;
        b[at] = b[at] == 'q' ? 'r' : 'q';
        // Each order, each key twice: the second time from the table.
        for (const auto& [first, second] : {std::pair{a, b}, std::pair{b, a}}) {
          for (int round = 0; round < 2; ++round) {
            ASSERT_EQ(shaped(parser, first, compact), "{\"" + first + "\":\"x\"}") << n << " " << at;
            ASSERT_EQ(shaped(parser, second, compact), "{\"" + second + "\":\"x\"}") << n << " " << at;
          }
        }
      }
      // One byte longer or shorter, the same first and last bytes.
      const std::string longer = a.substr(0, n / 2) + "z" + a.substr(n / 2);
      ASSERT_EQ(shaped(parser, a, compact), "{\"" + a + "\":\"x\"}") << n;
      ASSERT_EQ(shaped(parser, longer, compact), "{\"" + longer + "\":\"x\"}") << n;
    }
  }
}

}  // namespace
}  // namespace siem::mapping
