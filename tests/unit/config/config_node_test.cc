#include "connector/config/config_node.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <unistd.h>

namespace siem {
namespace {

struct Loaded {
  Diagnostics diags;
  std::shared_ptr<ConfigDocument> doc;
};

std::unique_ptr<Loaded> load(std::string_view yaml, std::filesystem::path base = ".") {
  auto l = std::make_unique<Loaded>();
  l->doc = ConfigDocument::load_string(yaml, "test.yaml", l->diags, std::move(base));
  return l;
}

TEST(ConfigNode, ReadsTypedValues) {
  auto l = load("name: a\ncount: 42\nratio: 0.5\nenabled: yes\npoll: 90s\nsize: 8MiB\nlist: [x, y]\n");
  auto root = l->doc->root();
  EXPECT_EQ(root.string("name"), "a");
  EXPECT_EQ(root.integer("count", 0), 42);
  EXPECT_DOUBLE_EQ(root.number("ratio", 0), 0.5);
  EXPECT_TRUE(root.boolean("enabled", false));
  EXPECT_EQ(root.duration("poll", {}), std::chrono::seconds(90));
  EXPECT_EQ(root.bytes("size", 0), 8u * 1024 * 1024);
  EXPECT_EQ(root.string_list("list"), (std::vector<std::string>{"x", "y"}));
  l->doc->report_unknown_keys();
  EXPECT_FALSE(l->diags.has_errors()) << l->diags.format();
}

TEST(ConfigNode, WrongTypeNamesLineAndColumn) {
  auto l = load("sources:\n  - name: a\n    poll_interval: often\n    count: many\n");
  auto src = l->doc->root().list("sources");
  ASSERT_EQ(src.size(), 1u);
  EXPECT_EQ(src[0].duration("poll_interval", std::chrono::seconds(60)), std::chrono::seconds(60));
  EXPECT_EQ(src[0].integer("count", 7), 7);
  const auto text = l->diags.format();
  EXPECT_NE(text.find("test.yaml:3:20: error: sources[0].poll_interval: expected a duration"), std::string::npos) << text;
  EXPECT_NE(text.find("test.yaml:4:12: error: sources[0].count: expected an integer"), std::string::npos) << text;
}

TEST(ConfigNode, UnknownKeyWithSuggestion) {
  auto l = load("sources:\n  - name: a\n    poll_intervall: 60s\n");
  auto src = l->doc->root().list("sources");
  (void)src[0].string("name");
  (void)src[0].duration("poll_interval", {});
  l->doc->report_unknown_keys();
  const auto text = l->diags.format();
  EXPECT_NE(text.find("test.yaml:3:5: error: sources[0]: unknown key 'poll_intervall' (did you mean 'poll_interval'?)"),
            std::string::npos)
      << text;
}

TEST(ConfigNode, MissingRequiredKeyNamesParent) {
  auto l = load("sinks:\n  - name: x\n");
  auto sinks = l->doc->root().list("sinks");
  (void)sinks[0].required_string("type");
  EXPECT_NE(l->diags.format().find("test.yaml:2:5: error: sinks[0]: missing required key 'type'"), std::string::npos)
      << l->diags.format();
}

TEST(ConfigNode, YamlSyntaxErrorHasLocation) {
  auto l = load("a: [1, 2\nb: c\n");
  ASSERT_TRUE(l->diags.has_errors());
  EXPECT_NE(l->diags.format().find("test.yaml:"), std::string::npos);
  EXPECT_NE(l->diags.format().find("YAML syntax error"), std::string::npos);
}

TEST(ConfigNode, EnvironmentExpansion) {
  ::setenv("SIEM_TEST_HOST", "kafka.example", 1);
  ::unsetenv("SIEM_TEST_UNSET");
  auto l = load("a: ${SIEM_TEST_HOST}:9092\nb: ${SIEM_TEST_UNSET:-fallback}\nc: ${SIEM_TEST_UNSET}\nd: $${LITERAL}\n");
  auto root = l->doc->root();
  EXPECT_EQ(root.string("a"), "kafka.example:9092");
  EXPECT_EQ(root.string("b"), "fallback");
  EXPECT_EQ(root.string("c", "dflt"), "dflt");
  EXPECT_EQ(root.string("d"), "${LITERAL}");
  EXPECT_NE(l->diags.format().find("environment variable 'SIEM_TEST_UNSET' is not set"), std::string::npos);
}

// interfaces.md shows `auth: {method: client_secret, client_id: …, client_secret: ${GRAPH_SECRET}}`:
// `${VAR}` unquoted in a flow mapping, which YAML alone refuses (braces end a flow scalar). It reads
// as written, positions included; a flow mapping broken otherwise still reports its own error.
TEST(ConfigNode, EnvironmentVariablesInFlowMappings) {
  ::setenv("SIEM_TEST_SECRET_F", "s3cr3t", 1);
  ::setenv("SIEM_TEST_HOST_F", "hec.example", 1);
  ::unsetenv("SIEM_TEST_UNSET_F");
  auto l = load("auth: {method: client_secret, client_id: abc, client_secret: ${SIEM_TEST_SECRET_F}}\n"
                "endpoints: {graph: \"https://${SIEM_TEST_HOST_F}\", arm: ${SIEM_TEST_UNSET_F:-https://arm.example}}\n"
                "list: [${SIEM_TEST_HOST_F}, $${LITERAL}, x]\n"
                "missing: {a: ${SIEM_TEST_UNSET_F}}\n");
  ASSERT_FALSE(l->diags.format().find("YAML syntax error") != std::string::npos) << l->diags.format();
  auto root = l->doc->root();
  auto auth = root.child("auth");
  EXPECT_EQ(auth.secret("client_secret").reveal(), "s3cr3t");
  EXPECT_EQ(auth.string("client_id"), "abc");
  EXPECT_EQ(root.child("endpoints").string("graph"), "https://hec.example");
  EXPECT_EQ(root.child("endpoints").string("arm"), "https://arm.example");
  EXPECT_EQ(root.string_list("list"), (std::vector<std::string>{"hec.example", "${LITERAL}", "x"}));
  EXPECT_EQ(root.child("missing").string("a", "dflt"), "dflt");
  EXPECT_NE(l->diags.format().find("test.yaml:4:14: error: missing.a: environment variable 'SIEM_TEST_UNSET_F'"),
            std::string::npos)
      << l->diags.format();

  auto broken = load("a: {b: ${SIEM_TEST_HOST_F}\nc: d\n");
  EXPECT_NE(broken->diags.format().find("YAML syntax error"), std::string::npos) << broken->diags.format();
}

// The flow-mapping rewrite never reads a text other than as written: a default holding a comma
// splits a flow list (`[${HOSTS:-a,b}]` would be `$(HOSTS:-a` and `b)`), and a document past the
// restore budget would keep `$(` text. Both report YAML's own error of the text, with its position.
TEST(ConfigNode, EnvironmentVariablesInFlowMappingsNeverMisread) {
  auto split = load("sinks:\n  kafka: {brokers: [${SIEM_TEST_HOSTS_F:-a,b}]}\n");
  const auto text = split->diags.format();
  EXPECT_NE(text.find("test.yaml:2:"), std::string::npos) << text;
  EXPECT_NE(text.find("YAML syntax error"), std::string::npos) << text;
  EXPECT_EQ(text.find("$("), std::string::npos) << text;
  EXPECT_FALSE(split->doc->root().valid());

  std::string big = "a: [";
  for (int i = 0; i < 100'001; ++i) big += "x,";
  big += "x]\nb: {c: ${SIEM_TEST_HOST_F}}\n";
  auto over = load(big);
  const auto over_text = over->diags.format();
  EXPECT_NE(over_text.find("test.yaml:2:"), std::string::npos) << over_text;
  EXPECT_NE(over_text.find("YAML syntax error"), std::string::npos) << over_text;
  EXPECT_FALSE(over->doc->root().valid());
}

TEST(ConfigNode, SecretsFromEnvAndFileAreNeverPrinted) {
  const auto dir = std::filesystem::temp_directory_path() / ("siem-secret-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "token") << "s3cr3t-from-file\n";
  ::setenv("SIEM_TEST_SECRET", "s3cr3t-from-env", 1);
  auto l = load("a: ${SIEM_TEST_SECRET}\nb: file:token\nc: file:/nonexistent/secret\nd: plain\n", dir);
  auto root = l->doc->root();
  EXPECT_EQ(root.secret("a").reveal(), "s3cr3t-from-env");
  EXPECT_EQ(root.secret("b").reveal(), "s3cr3t-from-file");
  EXPECT_TRUE(root.secret("c").empty());
  EXPECT_EQ(root.secret("d").reveal(), "plain");
  std::ostringstream os;
  os << root.secret("a");
  EXPECT_EQ(os.str(), "***");
  const auto text = l->diags.format();
  EXPECT_NE(text.find("cannot read secret file /nonexistent/secret"), std::string::npos) << text;
  EXPECT_EQ(text.find("s3cr3t"), std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST(ConfigNode, ExistingFileIsChecked) {
  auto l = load("ca: /definitely/not/here.pem\n");
  EXPECT_FALSE(l->doc->root().existing_file("ca").has_value());
  EXPECT_NE(l->diags.format().find("test.yaml:1:5: error: ca: file /definitely/not/here.pem does not exist"),
            std::string::npos)
      << l->diags.format();
}

TEST(ConfigNode, ChoiceSuggests) {
  auto l = load("format: eсs\nrfc: 5242\n");
  auto root = l->doc->root();
  EXPECT_EQ(root.choice("rfc", {"5424", "3164"}, "5424"), "5424");
  EXPECT_NE(l->diags.format().find("'5242' is not one of: 5424, 3164"), std::string::npos) << l->diags.format();
}

TEST(ConfigNode, FreeFormMapIsNotChecked) {
  auto l = load("properties:\n  linger.ms: 5\n  compression.codec: zstd\n");
  auto m = l->doc->root().string_map("properties");
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].first, "linger.ms");
  l->doc->report_unknown_keys();
  EXPECT_FALSE(l->diags.has_errors()) << l->diags.format();
}

TEST(ConfigNode, Timestamps) {
  auto l = load("a: 2026-11-01T00:00:00Z\nb: 2026-03-04T10:15:30.1234567+01:00\nc: yesterday\n");
  auto root = l->doc->root();
  EXPECT_EQ(root.optional_timestamp("a"), 1793491200000);
  EXPECT_EQ(root.optional_timestamp("b"), 1772615730123);
  EXPECT_FALSE(root.optional_timestamp("c").has_value());
  EXPECT_TRUE(l->diags.has_errors());
}

TEST(ConfigNode, SizesAndMalformedSizes) {
  auto l = load("a: 512KiB\nb: 1GB\nc: 1048576\nd: 12 parsecs\ne: -3MiB\n");
  auto root = l->doc->root();
  EXPECT_EQ(root.bytes("a", 0), 512u * 1024);
  EXPECT_EQ(root.bytes("b", 0), 1'000'000'000u);
  EXPECT_EQ(root.bytes("c", 0), 1'048'576u);
  EXPECT_EQ(root.bytes("d", 7), 7u);
  EXPECT_EQ(root.bytes("e", 9), 9u);
  const auto text = l->diags.format();
  EXPECT_NE(text.find("test.yaml:4:4: error: d: expected a size"), std::string::npos) << text;
  EXPECT_NE(text.find("test.yaml:5:4: error: e: expected a size"), std::string::npos) << text;
}

TEST(ConfigNode, MalformedDurationAndBooleanAndRange) {
  auto l = load("pipeline:\n  drain_timeout: 10 minutes\n  enabled: maybe\n  workers: 500\n");
  auto p = l->doc->root().child("pipeline");
  EXPECT_EQ(p.duration("drain_timeout", std::chrono::seconds(30)), std::chrono::seconds(30));
  EXPECT_TRUE(p.boolean("enabled", true));
  EXPECT_EQ(p.integer("workers", 2, 1, 64), 2);
  const auto text = l->diags.format();
  EXPECT_NE(text.find("test.yaml:2:18: error: pipeline.drain_timeout: expected a duration"), std::string::npos) << text;
  EXPECT_NE(text.find("test.yaml:3:12: error: pipeline.enabled: expected true or false, found 'maybe'"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("test.yaml:4:12: error: pipeline.workers: 500 is out of range [1, 64]"), std::string::npos)
      << text;
}

TEST(ConfigNode, StructureTypeErrors) {
  auto l = load("sources: {name: a}\nsinks:\n  - just-a-string\nenrichment: [1]\nlist: {a: 1}\n");
  auto root = l->doc->root();
  EXPECT_TRUE(root.list("sources").empty());
  EXPECT_TRUE(root.list("sinks").empty());
  EXPECT_FALSE(root.child("enrichment").valid());
  EXPECT_TRUE(root.string_list("list").empty());
  const auto text = l->diags.format();
  EXPECT_NE(text.find("test.yaml:1:10: error: sources: expected a list, found a mapping"), std::string::npos) << text;
  EXPECT_NE(text.find("test.yaml:3:5: error: sinks[0]: expected a mapping of keys, found a scalar"), std::string::npos)
      << text;
  EXPECT_NE(text.find("test.yaml:4:13: error: enrichment: expected a mapping of keys, found a list"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("test.yaml:5:7: error: list: expected a list of strings, found a mapping"), std::string::npos)
      << text;
}

TEST(ConfigNode, UnknownKeysOnlyInVisitedMappingsAndNestedPaths) {
  auto l = load("sources:\n  - name: a\n    auth:\n      method: client_secret\n      cliend_id: x\n"
                "unvisited:\n  whatever: 1\n");
  auto src = l->doc->root().list("sources");
  auto auth = src[0].child("auth");
  (void)src[0].string("name");
  (void)auth.string("method");
  (void)auth.string("client_id");
  l->doc->report_unknown_keys();
  const auto text = l->diags.format();
  EXPECT_NE(text.find("test.yaml:5:7: error: sources[0].auth: unknown key 'cliend_id' (did you mean 'client_id'?)"),
            std::string::npos)
      << text;
  // The root was visited: 'unvisited' is unknown there; its own children are not reported again.
  EXPECT_NE(text.find("test.yaml:6:1: error: unknown key 'unvisited'"), std::string::npos) << text;
  EXPECT_EQ(text.find("whatever"), std::string::npos) << text;
}

TEST(ConfigNode, RequiredValuesAndEmptyStrings) {
  auto l = load("name: ''\n");
  auto root = l->doc->root();
  EXPECT_EQ(root.required_string("name"), "");
  EXPECT_TRUE(root.secret("token", /*required=*/true).empty());
  EXPECT_FALSE(root.existing_file("ca_file", /*required=*/true).has_value());
  const auto text = l->diags.format();
  EXPECT_NE(text.find("test.yaml:1:7: error: name: must not be empty"), std::string::npos) << text;
  EXPECT_NE(text.find("missing required secret 'token'"), std::string::npos) << text;
  EXPECT_NE(text.find("missing required key 'ca_file'"), std::string::npos) << text;
}

TEST(ConfigNode, SecretFilePathMayUseEnvironment) {
  const auto dir = std::filesystem::temp_directory_path() / ("siem-secret-env-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "hec-token") << "0000-token\r\n";
  ::setenv("SIEM_TEST_CRED_DIR", dir.c_str(), 1);
  ::unsetenv("SIEM_TEST_NO_DIR");
  auto l = load("a: file:${SIEM_TEST_CRED_DIR}/hec-token\nb: file:${SIEM_TEST_NO_DIR}/x\nc: 'file:'\n");
  auto root = l->doc->root();
  EXPECT_EQ(root.secret("a").reveal(), "0000-token");
  EXPECT_TRUE(root.secret("b").empty());
  EXPECT_TRUE(root.secret("c").empty());
  const auto text = l->diags.format();
  EXPECT_NE(text.find("test.yaml:2:4: error: b: secret file path: environment variable 'SIEM_TEST_NO_DIR' is not set"), std::string::npos) << text;
  EXPECT_NE(text.find("test.yaml:3:4: error: c: secret 'file:' needs a path"), std::string::npos) << text;
  EXPECT_EQ(text.find("0000-token"), std::string::npos) << text;
  std::filesystem::remove_all(dir);
}

TEST(ConfigNode, MissingEnvironmentSecretNamesVariableNotValue) {
  ::unsetenv("SIEM_TEST_MISSING_SECRET");
  auto l = load("auth:\n  client_secret: ${SIEM_TEST_MISSING_SECRET}\n");
  EXPECT_TRUE(l->doc->root().child("auth").secret("client_secret", true).empty());
  EXPECT_NE(l->diags.format().find("test.yaml:2:18: error: auth.client_secret: secret: environment variable "
                                   "'SIEM_TEST_MISSING_SECRET' is not set"),
            std::string::npos)
      << l->diags.format();
}

TEST(ConfigNode, RelativePathsResolveAgainstConfigDirectory) {
  auto l = load("state_dir: state\nabs: /var/lib/x\n", "/etc/siem-connector");
  auto root = l->doc->root();
  EXPECT_EQ(root.file_path("state_dir"), std::filesystem::path("/etc/siem-connector/state"));
  EXPECT_EQ(root.file_path("abs"), std::filesystem::path("/var/lib/x"));
}

TEST(ConfigNode, LoadFileReportsMissingFileAndSyntaxLine) {
  Diagnostics d1;
  auto missing = ConfigDocument::load_file("/nonexistent/siem.yaml", d1);
  EXPECT_FALSE(missing->root().valid());
  EXPECT_NE(d1.format().find("/nonexistent/siem.yaml: error: cannot read the configuration file"), std::string::npos)
      << d1.format();

  const auto file = std::filesystem::temp_directory_path() / ("siem-bad-" + std::to_string(::getpid()) + ".yaml");
  std::ofstream(file) << "sources:\n  - name: a\n    type: file\n   path: x\n";
  Diagnostics d2;
  auto bad = ConfigDocument::load_file(file, d2);
  EXPECT_FALSE(bad->root().valid());
  EXPECT_NE(d2.format().find(file.string() + ":4:"), std::string::npos) << d2.format();
  std::filesystem::remove(file);
}

TEST(ConfigNode, RootMustBeAMapping) {
  auto l = load("- a\n- b\n");
  EXPECT_NE(l->diags.format().find("test.yaml:1:1: error: the configuration must be a mapping"), std::string::npos)
      << l->diags.format();
}

TEST(ConfigNode, DuplicateKeysAreErrors) {
  auto l = load("state_dir: a\nsources:\n  - name: x\n    type: file\n    name: y\nstate_dir: b\n");
  const auto text = l->diags.format();
  EXPECT_NE(text.find("test.yaml:5:5: error: sources[0]: duplicate key 'name' (first defined at line 3)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("test.yaml:6:1: error: duplicate key 'state_dir' (first defined at line 1)"), std::string::npos)
      << text;
}

TEST(ConfigNode, MalformedEnvironmentReferences) {
  ::setenv("SIEM_TEST_HOST", "kafka.example", 1);
  auto l = load("a: ${SIEM_TEST_HOST\nb: ${}\nc: ${not-a-name}\nd: cost $5\ne: ${SIEM_TEST_HOST:-x}-$$HOME\n"
                "f: [ok, '${OPEN']\n");
  auto root = l->doc->root();
  EXPECT_EQ(root.string("a", "dflt"), "dflt");
  EXPECT_EQ(root.string("b", "dflt"), "dflt");
  EXPECT_EQ(root.string("c", "dflt"), "dflt");
  EXPECT_EQ(root.string("d"), "cost $5");
  EXPECT_EQ(root.string("e"), "kafka.example-$HOME");
  EXPECT_EQ(root.string_list("f"), (std::vector<std::string>{"ok"}));
  const auto text = l->diags.format();
  EXPECT_NE(text.find("test.yaml:1:4: error: a: unterminated '${'"), std::string::npos) << text;
  EXPECT_NE(text.find("test.yaml:2:4: error: b: '${}' is not a valid environment variable reference"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("test.yaml:3:4: error: c: '${not-a-name}' is not a valid"), std::string::npos) << text;
  EXPECT_NE(text.find("test.yaml:6:9: error: f[1]: unterminated '${'"), std::string::npos) << text;
}

TEST(Durations, Forms) {
  using std::chrono::milliseconds;
  EXPECT_EQ(parse_duration("250ms"), milliseconds(250));
  EXPECT_EQ(parse_duration("90s"), milliseconds(90'000));
  EXPECT_EQ(parse_duration("30m"), milliseconds(1'800'000));
  EXPECT_EQ(parse_duration("2h"), milliseconds(7'200'000));
  EXPECT_EQ(parse_duration("1d"), milliseconds(86'400'000));
  EXPECT_EQ(parse_duration("1h30m"), milliseconds(5'400'000));
  EXPECT_EQ(parse_duration("1.5s"), milliseconds(1'500));
  EXPECT_EQ(parse_duration("45"), milliseconds(45'000));
  EXPECT_FALSE(parse_duration(""));
  EXPECT_FALSE(parse_duration("5 minutes"));
  EXPECT_FALSE(parse_duration("-5s"));
  EXPECT_FALSE(parse_duration("10x"));
  EXPECT_FALSE(parse_duration("s"));
  EXPECT_FALSE(parse_duration("1h30"));
  EXPECT_FALSE(parse_duration("ms"));
  EXPECT_FALSE(parse_duration("1H"));
}

TEST(DidYouMean, OnlyPlausibleTypos) {
  EXPECT_EQ(did_you_mean("lookbak", {"lookback", "start_at"}), "lookback");
  EXPECT_FALSE(did_you_mean("zzzzzz", {"lookback", "start_at"}));
  EXPECT_EQ(did_you_mean("poll_intervall", {"poll_interval", "lookback", "tenant_id"}), "poll_interval");
  EXPECT_EQ(did_you_mean("fromat", {"format", "path"}), "format");
  EXPECT_FALSE(did_you_mean("x", {}));
}

}  // namespace
}  // namespace siem
