// The CEF encoder's plans (constant header fields and extension pieces encoded when the rules are
// loaded, values written by the text shortcuts and escaped where they lie) against the general
// path, write_cef_general(), on rule shapes the shipped files do not have: constants that need
// escaping or cutting, labels with '=', $host when the event's host is not the one the plan was
// built with, a mapping the encoder was not built from. The shipped rules over every sample are
// compared by FastPaths.* (tests/support/fast_path_check.cc). And the paths a CEF-only pipeline
// resolves (KindMapping::cef_paths): the same CEF line as with every path resolved.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include <simdjson.h>

#include "connector/config/config_node.h"
#include "connector/enrichment/mapping_stage.h"
#include "connector/mapping/cef_encoder.h"
#include "connector/mapping/kind_detect.h"
#include "connector/mapping/mapper.h"
#include "connector/mapping/mapping_rules.h"
#include "connector/record/cef_parser.h"
#include "connector/record/shipped_files.h"
#include "connector/record/time_parse.h"
#include "tests/support/sample_records.h"

namespace siem {
namespace {

class CefEncoderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("siem-cef-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // The shipped files with `override_yaml` over them.
  mapping::MappingSet load(const std::string& override_yaml) {
    auto files = shipped_mapping_files(find_mappings_dir());
    std::ofstream(dir_ / "override.yaml") << override_yaml;
    files.push_back((dir_ / "override.yaml").string());
    Diagnostics diags;
    auto set = mapping::MappingSet::load(files, diags);
    EXPECT_FALSE(diags.has_errors()) << diags.format();
    return set;
  }

  // The encoder's line and the general path's for `json` under kind `kind` of `set`; the encoder
  // is built with `encoder_host`, the event's $host is `event_host`.
  std::pair<std::string, std::string> both(const mapping::MappingSet& set, SourceKind kind, const std::string& json,
                                           const std::string& encoder_host, const std::string& event_host,
                                           const mapping::KindMapping* rules = nullptr) {
    simdjson::dom::element root;
    EXPECT_EQ(parser_.parse(json).get(root), simdjson::SUCCESS);
    const auto& m = rules ? *rules : set.for_kind(kind);
    cache_.entries.assign(std::max<std::size_t>(set.path_slots(), 4096), {});  // room for another set's slots
    cache_.resolve(m, root);
    mapping::EvalContext ctx;
    ctx.cache = &cache_;
    ctx.record = root;
    ctx.kind = m.kind;
    ctx.time_ms = 1'772'619'330'123;
    ctx.id = &id_;
    ctx.tenant = &id_;
    ctx.host = &event_host;
    format_time_ms(ctx.time_ms, time_text_);
    ctx.time_text = &time_text_;
    ctx.severity = 12;  // clamped to 10 by both
    std::string line, general;
    mapping::make_cef_encoder(set, encoder_host)->encode(mapping::MappedRecord{m, ctx}, line);
    mapping::write_cef_general(m, ctx, general);
    return {line, general};
  }

  std::filesystem::path dir_;
  simdjson::dom::parser parser_;
  mapping::PathCache cache_;
  std::string id_ = "id-1", time_text_;
};

const char* kSignIn =
    R"({"id":"s1","createdDateTime":"2026-03-04T10:15:30Z","userPrincipalName":"a=b\\c@contoso.com",)"
    R"("ipAddress":"10.1.2.3","appDisplayName":"App | One\nTwo","status":{"errorCode":0},"isInteractive":true})";

// Constants that need escaping (header '|' and '\', extension '=' and a line break), a constant
// longer than its key's limit (left to the event: truncatedKeys), a label with '=' and '\', a
// key too long for the short form, and $host.
TEST_F(CefEncoderTest, ConstantsLabelsAndLimitsAsTheGeneralPath) {
  const std::string act(70, 'x');  // act's limit is 63
  const auto set = load("kind: graph_sign_in\ncef:\n  vendor: \"Ven|dor\\\\\"\n  product: \"P\\u2028Q\"\n"
                        "  name: {value: \"N|ame\"}\n  extension:\n    act: {value: " + act + "}\n"
                        "    cs1: {value: \"a=b\\\\c\\nd\", label: \"lab=el\\\\\"}\n"
                        "    dvchost: $host\n    cs2: {from: userPrincipalName, label: \"x=y\"}\n"
                        "    " + std::string(70, 'k') + ": {from: appDisplayName}\n    cs4: {from: status.errorCode}\n");
  const auto [line, general] = both(set, SourceKind::graph_sign_in, kSignIn, "h=1", "h=1");
  EXPECT_EQ(line, general);
  EXPECT_EQ(line.rfind("CEF:0|Ven\\|dor\\\\|P Q|1.0|SignIn:interactiveUser|N\\|ame|10|", 0), 0u) << line;
  EXPECT_NE(line.find(" act=" + std::string(63, 'x') + " "), std::string::npos) << line;
  EXPECT_NE(line.find(" cs1Label=lab\\=el\\\\ cs1=a\\=b\\\\c\\nd "), std::string::npos) << line;
  EXPECT_NE(line.find(" dvchost=h\\=1 "), std::string::npos) << line;
  EXPECT_NE(line.find(" cs2Label=x\\=y cs2=a\\=b\\\\c@contoso.com "), std::string::npos) << line;
  EXPECT_NE(line.find(" " + std::string(70, 'k') + "=App | One\\nTwo "), std::string::npos) << line;
  EXPECT_NE(line.find(" cs4=0 "), std::string::npos) << line;
  EXPECT_NE(line.find("cs5Label=truncatedKeys cs5=act"), std::string::npos) << line;
  ASSERT_TRUE(parse_cef_strict(line)) << line;
}

// A plan holds $host's value when it was built: an event with another host, or a mapping the
// encoder was not built from, takes the general path and gets its own values.
TEST_F(CefEncoderTest, OtherHostOrOtherRulesTakeTheGeneralPath) {
  const auto set = load("kind: graph_sign_in\ncef:\n  product: $host\n");
  {
    const auto [line, general] = both(set, SourceKind::graph_sign_in, kSignIn, "planned", "actual");
    EXPECT_EQ(line, general);
    EXPECT_EQ(line.rfind("CEF:0|Microsoft|actual|1.0|", 0), 0u) << line;
    EXPECT_NE(line.find(" dvchost=actual "), std::string::npos) << line;
  }
  const auto other = load("kind: graph_sign_in\ncef:\n  extension:\n    cs4: {value: other}\n");
  const auto [line, general] = both(set, SourceKind::graph_sign_in, kSignIn, "h", "h", &other.for_kind(SourceKind::graph_sign_in));
  EXPECT_EQ(line, general);
  EXPECT_NE(line.find(" cs4=other"), std::string::npos) << line;
}

// Every sample under its own kind, mapped by a pipeline that wants CEF alone (only the CEF paths
// resolved) and by one that wants ECS and OCSF too: the same CEF line.
TEST(CefPaths, CefAloneGivesTheLineOfEveryFormat) {
  Diagnostics diags;
  auto doc = ConfigDocument::load_string("{}", "test.yaml", diags);
  auto root = doc->root();
  auto alone = make_mapping_stage(root, nullptr), all = make_mapping_stage(root, nullptr);
  ASSERT_TRUE(alone && all) << diags.format();
  const std::regex rt(R"(rt=\d+)");  // the mapping time, for records without one
  std::size_t compared = 0;
  for (const auto& sample : testing::sample_records()) {
    RawRecord rec;
    rec.json = sample.json;
    MappedEvent a, b;
    ASSERT_FALSE(alone->map(rec, std::nullopt, format_bit(OutputFormat::cef), a)) << sample.file;
    ASSERT_FALSE(all->map(rec, std::nullopt,
                          format_bit(OutputFormat::ecs) | format_bit(OutputFormat::cef) | format_bit(OutputFormat::ocsf), b))
        << sample.file;
    EXPECT_TRUE(a.ecs.empty() && a.ocsf.empty());
    EXPECT_EQ(std::regex_replace(a.cef, rt, "rt=T"), std::regex_replace(b.cef, rt, "rt=T")) << sample.file;
    ++compared;
  }
  EXPECT_GT(compared, 30u);
}

}  // namespace
}  // namespace siem
