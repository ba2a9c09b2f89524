// yaml::load (libyaml) gives the tree yaml-cpp's YAML::Load gives, node for node: type, scalar,
// tag and position, for every shipped mapping file and for the YAML shapes they may use.
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "connector/config/yaml_tree.h"

namespace siem::yaml {
namespace {

// Empty when equal, else where and how they differ.
std::string diff(const Node& a, const Node& b, const std::string& at) {
  if (a.type() != b.type()) return fmt::format("{}: type {} vs {}", at, static_cast<int>(a.type()), static_cast<int>(b.type()));
  if (a.Mark().line != b.Mark().line || a.Mark().column != b.Mark().column)
    return fmt::format("{}: mark {}:{} vs {}:{}", at, a.Mark().line, a.Mark().column, b.Mark().line, b.Mark().column);
  if (a.Scalar() != b.Scalar()) return fmt::format("{}: scalar '{}' vs '{}'", at, a.Scalar(), b.Scalar());
  if (a.Tag() != b.Tag()) return fmt::format("{}: tag '{}' vs '{}'", at, a.Tag(), b.Tag());
  if (a.elements().size() != b.elements().size() || a.entries().size() != b.entries().size())
    return fmt::format("{}: size {} vs {}", at, a.size(), b.size());
  for (std::size_t i = 0; i < a.elements().size(); ++i)
    if (auto d = diff(a.elements()[i], b.elements()[i], fmt::format("{}[{}]", at, i)); !d.empty()) return d;
  for (std::size_t i = 0; i < a.entries().size(); ++i) {
    const auto& [ka, va] = a.entries()[i];
    const auto& [kb, vb] = b.entries()[i];
    if (auto d = diff(ka, kb, fmt::format("{}.<key {}>", at, i)); !d.empty()) return d;
    if (auto d = diff(va, vb, fmt::format("{}.{}", at, ka.Scalar())); !d.empty()) return d;
  }
  return {};
}

std::string against_yaml_cpp(const std::string& text) {
  try {
    return diff(load(text), from_yaml_cpp(YAML::Load(text)), "root");
  } catch (const YAML::Exception& e) {
    return std::string("refused: ") + e.what();
  }
}

TEST(YamlTree, EveryShippedMappingFileIsTheTreeYamlCppGives) {
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(std::string(SIEM_SOURCE_DIR) + "/mappings")) {
    if (e.path().extension() != ".yaml") continue;
    std::ifstream in(e.path(), std::ios::binary);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(against_yaml_cpp(text), "") << e.path();
    ++files;
  }
  EXPECT_GE(files, 15);
}

TEST(YamlTree, ScalarsNullsTagsAndPositionsMatchYamlCpp) {
  const char* cases[] = {
      "a: 1\nb: 'quoted'\nc: \"double \\u00e9 \\n\"\nd: plain text here\n",
      "a:\nb: ~\nc: null\nd: Null\ne: NULL\nf: ''\ng: 'null'\nh: nulls\n",
      "a: |\n  line one\n  line two\nb: >-\n  folded\n  text\nc: x\n",
      "seq:\n  - one\n  - {from: x, type: json}\n  - [a, b, 'c']\n  -\n  - - nested\nnext: 1\n",
      "# comment\nkind: graph_sign_in   # trailing\necs:\n  event.action: {value: sign-in}\n  user.name:\n    - from: a\n    - from: b\n      when: {path: c, equals: 'd'}\n",
      "anchor: &a {from: x}\nalias: *a\nlist: &l [1, 2]\nagain: *l\n",
      "tagged: !!str 123\nlocal: !foo bar\nmap: !!map {a: b}\n",
      "multi: first\n---\nsecond: document\n",
      "",
      "# only a comment\n",
      "plain multi\n  line scalar\n",
      "key with spaces: value\n? complex key\n: complex value\n",
      "a: {b: {c: {d: [1, {e: f}]}}}\n",
      "\xef\xbb\xbf" "bom: yes\n",
      "windows: line\r\nends: here\r\n",
      "empty_map: {}\nempty_seq: []\nlast:\n",
      "{a: \"\xc3\xa9\", b: x}\n",
      "a: \xc3\xa9t\xc3\xa9\nb: [\xc3\xa9, x, {k: \xe2\x82\xac}]\n",
      "a:\n  b:\nc: 1\ne: {x: , y: 1}\nf:   # comment\n\n  # more\ng: 2\n",
      "d: [a, , b]\n",
      "a: 1\nlast:",
      "a: \xc3\xa9\nb:\n  - \xc3\xa9\n  -\n  - {c: , \xc3\xa9: }\n",
  };
  for (const char* c : cases) EXPECT_EQ(against_yaml_cpp(c), "") << c;
}

TEST(YamlTree, SyntaxErrorsAreYamlCppsWithItsPosition) {
  const std::string bad[] = {"a: [1, 2\nb: 3\n", "a: b: c\n", "a:\n  - x\n y: z\n", "key: \"unterminated\n", "a: *nope\n",
                             "\t- tab\n", "lone: cr\rnext: line\n"};
  for (const auto& text : bad) {
    std::string ours, theirs;
    try {
      (void)load(text);
    } catch (const YAML::Exception& e) {
      ours = fmt::format("{}:{} {}", e.mark.line, e.mark.column, e.msg);
    }
    try {
      (void)from_yaml_cpp(YAML::Load(text));
    } catch (const YAML::Exception& e) {
      theirs = fmt::format("{}:{} {}", e.mark.line, e.mark.column, e.msg);
    }
    EXPECT_EQ(ours, theirs) << text;
  }
}

TEST(YamlTree, LookupsAndConversions) {
  const Node n = load("a: 1\nb: [x]\nc: 2.5\nd: 0x10\n");
  EXPECT_EQ(n["a"].Scalar(), "1");
  EXPECT_TRUE(n["b"].IsSequence());
  EXPECT_FALSE(n["missing"]);
  EXPECT_FALSE(n["a"]["x"]);  // a scalar has no entries
  EXPECT_EQ(n["a"].as<long long>(), 1);
  EXPECT_EQ(n["d"].as<long long>(), YAML::Load("0x10").as<long long>());
  EXPECT_DOUBLE_EQ(n["c"].as<double>(), 2.5);
  EXPECT_THROW((void)n["b"].as<double>(), YAML::BadConversion);
  const Node nulls = load("s: ~\nt: true\n");
  EXPECT_EQ(nulls["s"].as<std::string>(), YAML::Load("s: ~")["s"].as<std::string>());  // "null"
  EXPECT_THROW((void)nulls["s"].as<bool>(), YAML::BadConversion);
  EXPECT_TRUE(nulls["t"].as<bool>());
  EXPECT_THROW((void)load_file("/nonexistent/mapping.yaml"), YAML::BadFile);
}

TEST(YamlTree, DeepNestingIsLeftToYamlCppsGuard) {
  std::string deep;
  for (int i = 0; i < 1500; ++i) deep += "[";
  for (int i = 0; i < 1500; ++i) deep += "]";
  std::string ours, theirs;
  try {
    (void)load(deep);
  } catch (const YAML::Exception& e) {
    ours = e.msg;
  }
  try {
    (void)YAML::Load(deep);
  } catch (const YAML::Exception& e) {
    theirs = e.msg;
  }
  EXPECT_EQ(ours, theirs);
}

// Text read through yaml-cpp (here: a lone carriage return sends it there) is copied node by node;
// an alias naming itself, or one repeated at every level, is refused with a position instead of
// recursing without end or expanding into gigabytes.
TEST(YamlTree, AliasesExpandedWithoutBoundAreRefused) {
  std::string why;
  try {
    (void)load("x: 1\r\na: &a [*a]\n");
  } catch (const YAML::ParserException& e) {
    why = e.what();
  }
  EXPECT_NE(why.find("alias inside its own anchor"), std::string::npos) << why;

  std::string bomb = "# lone\rcarriage return\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i <= 8; ++i)
    bomb += fmt::format("a{0}: &a{0} [*a{1}, *a{1}, *a{1}, *a{1}, *a{1}, *a{1}, *a{1}, *a{1}, *a{1}, *a{1}]\n", i, i - 1);
  why.clear();
  try {
    (void)load(bomb);
  } catch (const YAML::ParserException& e) {
    why = e.what();
  }
  EXPECT_NE(why.find("once aliases are expanded"), std::string::npos) << why;
  // Aliases within the bound are copied as yaml-cpp reads them.
  EXPECT_EQ(against_yaml_cpp("# lone\rcarriage return\nbase: &b {k: v}\nuse: [*b, *b]\n"), "");
}

// Line breaks libyaml knows and yaml-cpp does not (NEL, LS, PS) and the escapes the two write
// differently: the text is read by yaml-cpp, so the tree is the one yaml-cpp gives.
TEST(YamlTree, LineBreaksAndEscapesTheReadersDisagreeOnAreYamlCpps) {
  for (const std::string text : {"a: \"x\xC2\x85y\"\n", "a: 'x\xE2\x80\xA8y'\n", "a: \"\\N\\_\"\n", "a: \"\\L\\P\"\n"})
    EXPECT_EQ(against_yaml_cpp(text), "") << text;
  // libyaml would read two keys here; yaml-cpp refuses the text, and so does load().
  EXPECT_THROW((void)load("enabled: x\xC2\x85kind: y\n"), YAML::ParserException);
  Node n = load("a: \"x\xC2\x85y\"\n");
  EXPECT_EQ(n["a"].Scalar(), "x\xC2\x85y");
}

}  // namespace
}  // namespace siem::yaml
