// The declared config schema (connector/config/schema.h): a key the code reads that no table
// declares is caught here, with the table to add it to; unknown-key errors come from the tables.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <set>

#include <yaml-cpp/yaml.h>

#include "connector/app/pipeline_builder.h"
#include "connector/app/schema_docs.h"

namespace fs = std::filesystem;
using namespace siem;

namespace {

struct Built {
  Diagnostics diags;
  std::shared_ptr<ConfigDocument> doc;
};

std::unique_ptr<Built> build_file(const fs::path& file, const PluginRegistry& registry = PluginRegistry::builtin()) {
  auto b = std::make_unique<Built>();
  b->doc = ConfigDocument::load_file(file, b->diags);
  app::build_pipeline(*b->doc, registry, /*validate_only=*/true, nullptr);
  return b;
}

std::unique_ptr<Built> build_text(const std::string& yaml, const PluginRegistry& registry = PluginRegistry::builtin()) {
  auto b = std::make_unique<Built>();
  b->doc = ConfigDocument::load_string(yaml, "test.yaml", b->diags, SIEM_TEST_DATA_DIR "/schema");
  app::build_pipeline(*b->doc, registry, /*validate_only=*/true, nullptr);
  return b;
}

std::string lines(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += "  " + s + "\n";
  return out;
}

std::vector<fs::path> yaml_files(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".yaml") out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

// The variables the example configs name (as config/examples' validate test sets them).
void set_example_environment() {
  const std::string scratch = (fs::temp_directory_path() / "siem-schema-test").string();
  fs::create_directories(scratch);
  const std::pair<const char*, std::string> vars[] = {
      {"SIEM_STATE_DIR", scratch + "/state"}, {"SIEM_OUTPUT_FILE", scratch + "/events.ndjson"},
      {"ENTRA_TENANT_ID", "11111111-2222-3333-4444-555555555555"}, {"AZURE_TENANT_ID", "11111111-2222-3333-4444-555555555555"},
      {"GRAPH_CLIENT_ID", "66666666-7777-8888-9999-000000000000"}, {"AZURE_CLIENT_ID", "66666666-7777-8888-9999-000000000000"},
      {"GRAPH_CLIENT_SECRET", "not-a-real-secret"}, {"AZURE_FEDERATED_TOKEN_FILE", SIEM_TEST_DATA_DIR "/schema/files/federated-token"},
      {"AZURE_SUBSCRIPTION_ID", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"}, {"SPLUNK_HEC_URL", "https://127.0.0.1:8088"},
      {"SPLUNK_HEC_TOKEN", "00000000-0000-0000-0000-000000000000"},
      {"EVENTHUB_CONNECTION_STRING", "Endpoint=sb://example.servicebus.windows.net/;SharedAccessKeyName=listen;SharedAccessKey=bm90LWEta2V5"},
      {"KAFKA_BROKER", "127.0.0.1:9093"}, {"KAFKA_USERNAME", "siem"}, {"KAFKA_PASSWORD", "not-a-real-password"},
      {"SYSLOG_HOST", "127.0.0.1"}};
  for (const auto& [k, v] : vars) ::setenv(k, v.c_str(), 1);
}

const char* const kHowToDeclare =
    "Every key the code reads must be declared in the key table (config::Section) of its section, next to the "
    "code that reads it; each violation above names the table and where it is.";

}  // namespace

// Every example config, read as `validate` reads it, reads only declared keys.
TEST(ConfigSchema, ExampleConfigsReadOnlyDeclaredKeys) {
  set_example_environment();
  auto files = yaml_files(SIEM_SOURCE_DIR "/config/examples");
  files.push_back(SIEM_SOURCE_DIR "/config/quickstart.yaml");
  for (const auto& f : files) {
    auto b = build_file(f);
    EXPECT_TRUE(b->doc->schema_violations().empty())
        << f << ": keys read that no table declares:\n" << lines(b->doc->schema_violations()) << kHowToDeclare;
  }
}

// tests/data/schema/*.yaml set (nearly) every key of every plugin, with each auth method, SASL/TLS
// and Event Hubs variant, so every branch that reads keys runs; they must validate cleanly and
// read only declared keys. Every registered plugin type must appear in them.
TEST(ConfigSchema, EveryPluginIsExercisedAndReadsOnlyDeclaredKeys) {
  std::set<std::string> sources, sinks;
  for (const auto& f : yaml_files(SIEM_TEST_DATA_DIR "/schema")) {
    auto b = build_file(f);
    EXPECT_FALSE(b->diags.has_errors()) << f << ":\n" << b->diags.format();
    EXPECT_TRUE(b->doc->schema_violations().empty())
        << f << ": keys read that no table declares:\n" << lines(b->doc->schema_violations()) << kHowToDeclare;
    const YAML::Node root = YAML::LoadFile(f.string());
    for (const auto& s : root["sources"]) sources.insert(s["type"].as<std::string>());
    for (const auto& s : root["sinks"]) sinks.insert(s["type"].as<std::string>());
  }
  const auto& registry = PluginRegistry::builtin();
  for (const auto& t : registry.source_types()) {
    EXPECT_NE(registry.source_keys(t), nullptr) << "source type " << t << " registers no key table (add_source)";
    EXPECT_TRUE(sources.count(t)) << "source type " << t << " is in no config of tests/data/schema/: add an entry "
                                  << "of that type setting its keys, so that the keys it reads are checked";
  }
  for (const auto& t : registry.sink_types()) {
    EXPECT_NE(registry.sink_keys(t), nullptr) << "sink type " << t << " registers no key table (add_sink)";
    EXPECT_TRUE(sinks.count(t)) << "sink type " << t << " is in no config of tests/data/schema/: add an entry "
                                << "of that type setting its keys, so that the keys it reads are checked";
  }
}

namespace {

const config::Section& nested_table() {
  static const config::Section s{"test.nested", "nested", {}, {{"inner", config::Type::string, "", "declared"}}};
  return s;
}

const config::Section& test_table() {
  static const config::Section s{"test", "the top level", {}, {
      {"declared", config::Type::string, "", "a declared key"},
      {"nested", config::Type::section, "", "a nested table", {}, &nested_table()},
      {"mode", config::Type::choice, "a", "an enum", {"a", "b"}},
      {"free", config::Type::map, "", "free-form"},
  }};
  return s;
}

}  // namespace

TEST(ConfigSchema, UndeclaredReadIsRecordedWithTheTableToAddItTo) {
  Diagnostics diags;
  auto doc = ConfigDocument::load_string("declared: x\nfree: {anything: 1}\n", "t.yaml", diags);
  doc->set_schema(test_table());
  auto root = doc->root();
  root.string("declared");
  root.child("free").string("anything");  // keys of a map are data: not checked
  EXPECT_TRUE(doc->schema_violations().empty()) << lines(doc->schema_violations());
  root.string("sneaky");                    // absent from the file: still a read the table must declare
  root.child("nested").integer("outer", 1);  // absent section: its table is still checked
  ASSERT_EQ(doc->schema_violations().size(), 2u) << lines(doc->schema_violations());
  EXPECT_NE(doc->schema_violations()[0].find("'sneaky', which the table of section 'test' does not declare"),
            std::string::npos) << doc->schema_violations()[0];
  EXPECT_NE(doc->schema_violations()[0].find("schema_test.cc:"), std::string::npos) << doc->schema_violations()[0];
  EXPECT_NE(doc->schema_violations()[1].find("nested: the code reads key 'outer', which the table of section "
                                             "'test.nested' does not declare"),
            std::string::npos) << doc->schema_violations()[1];
}

TEST(ConfigSchema, ChoiceValuesMustMatchTheTable) {
  Diagnostics diags;
  auto doc = ConfigDocument::load_string("mode: b\n", "t.yaml", diags);
  doc->set_schema(test_table());
  auto root = doc->root();
  EXPECT_EQ(root.choice("mode", {"a", "b"}, "a"), "b");
  EXPECT_TRUE(doc->schema_violations().empty()) << lines(doc->schema_violations());
  root.choice("mode", {"a", "b", "c"}, "a");
  ASSERT_EQ(doc->schema_violations().size(), 1u);
  EXPECT_NE(doc->schema_violations()[0].find("differ from the 'allowed' list"), std::string::npos);
}

TEST(ConfigSchema, GetterTypeMustMatchTheTable) {
  Diagnostics diags;
  auto doc = ConfigDocument::load_string("declared: '5'\n", "t.yaml", diags);
  doc->set_schema(test_table());
  auto root = doc->root();
  EXPECT_EQ(root.string("declared"), "5");
  root.child("free");
  EXPECT_TRUE(doc->schema_violations().empty()) << lines(doc->schema_violations());
  EXPECT_EQ(root.integer("declared", 0), 5);
  ASSERT_EQ(doc->schema_violations().size(), 1u);
  EXPECT_NE(doc->schema_violations()[0].find("reads 'declared' as integer, but its table declares it as string"),
            std::string::npos) << doc->schema_violations()[0];
}

// A plugin that reads a key its table lacks, and one registered without a table, are caught
// through build_pipeline as `validate` and `run` use it.
TEST(ConfigSchema, PluginReadsAreCheckedAgainstItsTable) {
  static const config::Section source_table{"probe_source", "sources[] with type: probe", {}, {
      {"declared", config::Type::string, "", "declared"}}};
  PluginRegistry registry;
  registry.add_source("probe", "test source", [](const ConfigNode& cfg, const PluginContext&) -> std::unique_ptr<Source> {
    cfg.string("declared");
    cfg.string("forgotten");
    return nullptr;
  }, &source_table);
  registry.add_sink("untabled", "test sink", [](const ConfigNode& cfg, const PluginContext&) {
    cfg.string("anything");
    return SinkInstance{};
  });
  auto b = build_text("state_dir: state\nsources: [{name: a, type: probe, declared: x}]\n"
                      "sinks: [{name: b, type: untabled}]\n",
                      registry);
  const auto& v = b->doc->schema_violations();
  const std::string all = lines(v);
  EXPECT_NE(all.find("sources[0]: the code reads key 'forgotten', which the table of section 'probe_source'"),
            std::string::npos) << all;
  EXPECT_NE(all.find("sink type 'untabled' registers no key table"), std::string::npos) << all;
  EXPECT_EQ(all.find("'declared'"), std::string::npos) << all;
}

// A sink's `format` is read once, with the common sink keys, by the builder: the factory gets it
// (PluginContext::format) without reading the key, the type's default applies when it is not set,
// and a bad value is reported at its line.
TEST(ConfigSchema, SinkFormatIsReadOnceAndHandedToTheFactory) {
  struct NullSink final : Sink {
    void start() override {}
    SendResult send(std::span<const EventPtr>) override { return SendResult::success(); }
  };
  static const config::Section table{"probe_sink", "sinks[] with type: probe", {}, {}};
  std::vector<OutputFormat> handed;
  PluginRegistry registry;
  registry.add_source("probe", "test source", [](const ConfigNode&, const PluginContext&) -> std::unique_ptr<Source> {
    return nullptr;
  }, &table);
  registry.add_sink("probe", "test sink", [&](const ConfigNode&, const PluginContext& ctx) {
    handed.push_back(ctx.format);
    return SinkInstance{std::make_unique<NullSink>()};
  }, &table, OutputFormat::cef);
  Diagnostics diags;
  auto doc = ConfigDocument::load_string("state_dir: state\nsources: [{name: a, type: probe}]\n"
                                         "sinks: [{name: b, type: probe}, {name: c, type: probe, format: ocsf}]\n",
                                         "test.yaml", diags);
  auto parts = app::build_pipeline(*doc, registry, /*validate_only=*/true, nullptr);
  EXPECT_FALSE(diags.has_errors()) << diags.format();
  EXPECT_TRUE(doc->schema_violations().empty()) << lines(doc->schema_violations());
  ASSERT_EQ(handed, (std::vector<OutputFormat>{OutputFormat::cef, OutputFormat::ocsf}));
  ASSERT_EQ(parts.sinks.size(), 2u);
  EXPECT_EQ(parts.sinks[0].format, OutputFormat::cef);
  EXPECT_EQ(parts.sinks[1].format, OutputFormat::ocsf);

  Diagnostics bad_diags;
  auto bad = ConfigDocument::load_string("state_dir: state\nsources: [{name: a, type: probe}]\n"
                                         "sinks:\n  - {name: b, type: probe, format: xml}\n",
                                         "test.yaml", bad_diags);
  app::build_pipeline(*bad, registry, /*validate_only=*/true, nullptr);
  EXPECT_NE(bad_diags.format().find("test.yaml:4:"), std::string::npos) << bad_diags.format();
  EXPECT_NE(bad_diags.format().find("sinks[0].format: 'xml' is not one of: ecs, cef, ocsf, raw"), std::string::npos)
      << bad_diags.format();
}

namespace {

std::string pim_config(const std::string& extra) {
  return "state_dir: state\n"
         "sources:\n"
         "  - name: pim\n"
         "    type: graph_pim\n"
         "    tenant_id: 11111111-2222-3333-4444-555555555555\n"
         "    auth: {method: client_secret, client_id: 66666666-7777-8888-9999-000000000000, client_secret: x}\n" +
         extra + "sinks: [{name: out, type: stdout}]\n";
}

}  // namespace

// `roster: false` with `roster_events: true` (both documented) is valid: the accepted keys are the
// table's, not the keys one code path happened to read.
TEST(ConfigSchema, RosterFalseWithRosterEventsValidates) {
  auto b = build_text(pim_config("    roster: false\n    roster_events: true\n"));
  EXPECT_FALSE(b->diags.has_errors()) << b->diags.format();
}

TEST(ConfigSchema, UnknownKeysAreCheckedAgainstTheTableWithASuggestion) {
  auto b = build_text(pim_config("    roster_evnts: true\n    auth_extra: 1\n"));
  const std::string out = b->diags.format();
  EXPECT_NE(out.find("sources[0]: unknown key 'roster_evnts' (did you mean 'roster_events'?)"), std::string::npos) << out;
  EXPECT_NE(out.find("sources[0]: unknown key 'auth_extra'"), std::string::npos) << out;
  // A key of another type's table is unknown here (`event_types` belongs to graph_sign_ins).
  auto c = build_text(pim_config("    event_types: [interactiveUser]\n"));
  EXPECT_NE(c->diags.format().find("unknown key 'event_types'"), std::string::npos) << c->diags.format();
  // Nested tables: a typo in `auth` and in a sink's `batch`.
  auto d = build_text(pim_config("") + "pipeline: {queue_event: 5}\n");
  EXPECT_NE(d->diags.format().find("pipeline: unknown key 'queue_event' (did you mean 'queue_events'?)"),
            std::string::npos) << d->diags.format();
}

// `describe` lists the keys of the tables, nested ones dotted, with secrets marked.
TEST(ConfigSchema, DescribeListsEveryKeyOfAPlugin) {
  const auto& registry = PluginRegistry::builtin();
  const auto catalog = app::schema_catalog(registry);
  const std::string pim = app::describe_text(registry, catalog, "graph_pim");
  for (const char* key : {"\nname ", "\ntype ", "\ntenant_id ", "\nauth.client_secret ", "\ntls.ca_file ",
                          "\nroster ", "\nroster_events ", "\nlookback ", "\nmax_page_bytes "})
    EXPECT_NE(pim.find(key), std::string::npos) << key << " missing from:\n" << pim;
  EXPECT_NE(pim.find("auth.client_secret"), std::string::npos);
  const std::string hec = app::describe_text(registry, catalog, "splunk_hec");
  const auto rows = static_cast<std::size_t>(std::count(hec.begin(), hec.end(), '\n'));
  EXPECT_GE(rows, 30u) << hec;  // name, type, format, batch/retry/buffer and the 19 HEC keys
  EXPECT_TRUE(app::describe_text(registry, catalog, "no_such_type").empty());
  EXPECT_NE(app::describe_markdown(registry, catalog, "syslog").find("| `tls.server_name` | string |"),
            std::string::npos);
}

TEST(ConfigSchema, SplicedDocsNameEverySection) {
  const auto catalog = app::schema_catalog(PluginRegistry::builtin());
  std::vector<std::string> problems;
  const std::string out =
      app::splice_key_tables("a\n<!-- keys: pipeline -->\nOLD-TABLE-ROW\n<!-- /keys -->\nb\n", catalog, problems);
  EXPECT_NE(out.find("<!-- keys: pipeline -->\n| key | type | default | |\n"), std::string::npos) << out;
  EXPECT_NE(out.find("| `queue_events` | integer | `10000` |"), std::string::npos) << out;
  EXPECT_EQ(out.find("OLD-TABLE-ROW"), std::string::npos) << out;
  EXPECT_NE(out.find("<!-- /keys -->\nb\n"), std::string::npos) << out;
  // Only `pipeline` has a region: every other section is reported as missing from the docs.
  EXPECT_NE(lines(problems).find("the keys of section 'splunk_hec'"), std::string::npos) << lines(problems);
  problems.clear();
  app::splice_key_tables("<!-- keys: nope -->\n<!-- /keys -->\n", catalog, problems);
  EXPECT_NE(lines(problems).find("no key table has the id 'nope'"), std::string::npos);
}
