// `validate`'s checks of the routing configuration, through build_pipeline(validate_only), as the
// `validate` command runs them: each error exactly, with its file:line:column and config path.
#include <gtest/gtest.h>

#include <string>

#include "connector/app/pipeline_builder.h"

namespace siem::app {
namespace {

// A graph_sign_ins source `signins`, a graph_pim source `pim` and a file source `files` (any kind),
// then `rest` (the pipeline and sinks sections) from line 5 (6 with the file source).
std::string config(const std::string& rest, bool with_file_source = false) {
  const std::string graph =
      "tenant_id: 00000000-0000-0000-0000-000000000000, auth: {method: managed_identity}";
  std::string text = "state_dir: /nonexistent/state\nsources:\n";
  text += "  - {name: signins, type: graph_sign_ins, " + graph + "}\n";
  text += "  - {name: pim, type: graph_pim, " + graph + "}\n";
  if (with_file_source) text += "  - {name: files, type: file, path: /dev/null}\n";
  return text + rest;
}

struct Checked {
  std::string errors;
  PipelineParts parts;
};

Checked check(const std::string& text) {
  Diagnostics diags;
  auto doc = ConfigDocument::load_string(text, "routes.yaml", diags);
  Checked c;
  if (!diags.has_errors())
    c.parts = build_pipeline(*doc, PluginRegistry::builtin(), /*validate_only=*/true, nullptr);
  c.errors = diags.format();
  return c;
}

const std::string kFileSink = "    type: file\n    path: /nonexistent/out.ndjson\n";

TEST(RouteConfig, ValidRoutesAndDropRuleAreRead) {
  const auto c = check(config(
      "pipeline:\n"
      "  drop:\n"
      "    - {kinds: [graph_sign_in], max_severity: 2, tags: [\"pa.signin.*\", schema_unknown]}\n"
      "sinks:\n"
      "  - name: pim-index\n" +
      kFileSink +
      "    route: {kinds: [graph_pim_request], exclude: [{tags: [\"pa.pim.activation\"], max_severity: 4}]}\n"
      "  - name: alerts\n" +
      kFileSink +
      "    format: cef\n"
      "    route: {sources: [signins, pim], tags: [\"pa.*\"], min_severity: 5}\n"
      "  - name: everything\n" +
      kFileSink));
  ASSERT_EQ(c.errors, "");
  ASSERT_EQ(c.parts.options.drop.size(), 1u);
  EXPECT_EQ(c.parts.options.drop[0].kinds, std::vector<SourceKind>{SourceKind::graph_sign_in});
  EXPECT_EQ(c.parts.options.drop[0].max_severity, 2);
  EXPECT_EQ(c.parts.options.drop[0].tags, (std::vector<std::string>{"pa.signin.*", "schema_unknown"}));
  ASSERT_EQ(c.parts.sinks.size(), 3u);
  EXPECT_EQ(c.parts.sinks[0].route.take.kinds, std::vector<SourceKind>{SourceKind::graph_pim_request});
  ASSERT_EQ(c.parts.sinks[0].route.exclude.size(), 1u);
  EXPECT_EQ(c.parts.sinks[0].route.exclude[0].max_severity, 4);
  EXPECT_EQ(c.parts.sinks[1].format, OutputFormat::cef);
  EXPECT_EQ(c.parts.sinks[1].route.take.sources, (std::vector<std::string>{"signins", "pim"}));
  EXPECT_EQ(c.parts.sinks[1].route.take.min_severity, 5);
  EXPECT_TRUE(c.parts.sinks[2].route.everything());
}

TEST(RouteConfig, UnknownKindWithDidYouMean) {
  const auto c = check(config("sinks:\n  - name: a\n" + kFileSink +
                              "    route: {kinds: [graph_pim_request, graph_signin]}\n"));
  EXPECT_EQ(
      c.errors,
      "routes.yaml:9:40: error: sinks[0].route.kinds[1]: unknown record kind 'graph_signin' (did you mean "
      "'graph_sign_in'?); known kinds: unknown, graph_directory_audit, graph_sign_in, graph_pim_request, "
      "graph_pim_instance, azure_activity, arm_pim_request, eventhub_audit, eventhub_sign_in, "
      "eventhub_activity, graph_risk_detection, graph_pim_alert, graph_security_alert, azure_defender_alert, "
            "privileged_inventory\n");
}

TEST(RouteConfig, UnknownSourceName) {
  const auto c = check(config("sinks:\n  - name: a\n" + kFileSink + "    route:\n      sources: [signin]\n"));
  EXPECT_EQ(c.errors,
            "routes.yaml:10:17: error: sinks[0].route.sources[0]: unknown source 'signin' (did you mean "
            "'signins'?); "
            "configured sources: pim, signins\n");
}

TEST(RouteConfig, TagPatternThatMatchesNoTag) {
  const auto c = check(config("sinks:\n  - name: a\n" + kFileSink +
                              "    route: {tags: [\"pa.role.*\", \"pa.sigin.*\", pa.pim.activaton]}\n"));
  EXPECT_EQ(
      c.errors,
      "routes.yaml:9:33: error: sinks[0].route.tags[1]: tag pattern 'pa.sigin.*' matches no tag the "
      "detections "
      "or the mapping produce (did you mean 'pa.signin.*'?); the tags are listed in docs/detections.md\n"
      "routes.yaml:9:47: error: sinks[0].route.tags[2]: tag pattern 'pa.pim.activaton' matches no tag the "
      "detections or the mapping produce (did you mean 'pa.pim.activation'?); the tags are listed in "
      "docs/detections.md\n");
}

TEST(RouteConfig, InvalidSeverities) {
  const auto c = check(config("sinks:\n  - name: a\n" + kFileSink +
                              "    route: {min_severity: 11}\n"
                              "  - name: b\n" +
                              kFileSink +
                              "    route: {min_severity: 7, max_severity: 3}\n"
                              "  - name: c\n" +
                              kFileSink + "    route: {min_severity: high}\n"));
  EXPECT_EQ(c.errors,
            "routes.yaml:9:27: error: sinks[0].route.min_severity: 11 is out of range [0, 10]\n"
            "routes.yaml:13:44: error: sinks[1].route.max_severity: max_severity 3 is below min_severity 7: "
            "no event "
            "matches\n"
            "routes.yaml:17:27: error: sinks[2].route.min_severity: expected an integer, found 'high'\n");
}

TEST(RouteConfig, SinkNoEventCanReach) {
  // A graph_sign_ins source delivers graph_sign_in only; graph_pim its requests (its roster
  // snapshots only with roster_events).
  const auto c = check(config("sinks:\n  - name: a\n" + kFileSink +
                              "    route: {kinds: [azure_activity, graph_pim_instance]}\n"
                              "  - name: b\n" +
                              kFileSink +
                              "    route: {sources: [signins], kinds: [graph_pim_request]}\n"
                              "  - name: c\n" +
                              kFileSink + "    route: {sources: [pim], kinds: [graph_pim_request]}\n"));
  EXPECT_EQ(c.errors,
            "routes.yaml:9:12: error: sinks[0].route: no event can reach this sink: its route takes kinds "
            "azure_activity, graph_pim_instance, after pipeline.drop and its exclude, from sources that "
            "deliver none "
            "of it (pim delivers graph_pim_request; signins delivers graph_sign_in)\n"
            "routes.yaml:13:12: error: sinks[1].route: no event can reach this sink: its route takes kinds "
            "graph_pim_request of signins, after pipeline.drop and its exclude, from sources that deliver "
            "none of it "
            "(pim delivers graph_pim_request; signins delivers graph_sign_in)\n");
}

TEST(RouteConfig, FileSourcesDeliverAnyKind) {
  const auto c =
      check(config("sinks:\n  - name: a\n" + kFileSink + "    route: {kinds: [azure_activity]}\n", true));
  EXPECT_EQ(c.errors, "");
}

TEST(RouteConfig, DropRuleThatRemovesEverythingASinkTakes) {
  const auto c =
      check(config("pipeline:\n  drop: [{kinds: [graph_pim_request]}]\n"
                   "sinks:\n  - name: a\n" +
                   kFileSink + "    route: {sources: [pim], exclude: [{kinds: [unknown]}]}\n"));
  EXPECT_EQ(
      c.errors,
      "routes.yaml:11:12: error: sinks[0].route: no event can reach this sink: its route takes every kind of "
      "pim, after pipeline.drop and its exclude, from sources that deliver none of it (pim delivers "
      "graph_pim_request; signins delivers graph_sign_in)\n");
}

TEST(RouteConfig, EmptyListsEntriesAndUnknownKeys) {
  const auto c =
      check(config("pipeline:\n  drop: [{}]\n"
                   "sinks:\n  - name: a\n" +
                   kFileSink + "    route: {kinds: [], kind: [unknown]}\n"));
  EXPECT_EQ(
      c.errors,
      "routes.yaml:6:10: error: pipeline.drop[0]: an entry without sources, kinds, tags or severity drops "
      "every "
      "event\n"
      "routes.yaml:11:20: error: sinks[0].route.kinds: an empty list matches no event; leave the key out to "
      "match every value\n"
      "routes.yaml:11:24: error: sinks[0].route: unknown key 'kind' (did you mean 'kinds'?)\n");
}

}  // namespace
}  // namespace siem::app
