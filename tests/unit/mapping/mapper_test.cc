#include "connector/enrichment/mapping_stage.h"
#include "connector/mapping/mapper.h"

#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <filesystem>
#include <iterator>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "connector/core/record_reader.h"
#include "connector/record/cef_parser.h"
#include "tests/support/sample_records.h"
#include "tests/support/wall_clock_mask.h"

namespace siem {
namespace {

using test::mask_wall_clock;
using test::wall_clock_ms;

struct Fixture {
  Diagnostics diags;
  std::shared_ptr<ConfigDocument> doc;
  std::unique_ptr<Mapper> mapper;
  explicit Fixture(const std::string& yaml = "{}", const std::filesystem::path& base = ".") {
    doc = ConfigDocument::load_string(yaml, "test.yaml", diags, base);
    auto root = doc->root();
    mapper = make_mapping_stage(root, nullptr);
  }
};

std::string read(const std::string& name) {
  std::ifstream in(std::string(SIEM_TEST_DATA_DIR) + "/" + name);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> records_of(const std::string& file) {
  std::vector<std::string> out;
  RecordReader::split(read(file), [&](const RecordSlice& s) { out.emplace_back(s.json); }, [](const ReadError&) {});
  return out;
}

const std::set<std::string> kKinds = {"alert", "asset", "enrichment", "event", "metric", "state", "pipeline_error", "signal"};
const std::set<std::string> kCategories = {"api", "authentication", "configuration", "database", "driver", "file", "host",
                                           "iam", "intrusion_detection", "library", "malware", "network", "package",
                                           "process", "registry", "session", "threat", "vulnerability", "web"};
const std::set<std::string> kTypes = {"access", "admin", "allowed", "change", "connection", "creation", "deletion",
                                      "denied", "device", "end", "error", "group", "indicator", "info", "installation",
                                      "protocol", "start", "user"};

TEST(Mapper, EverySampleMapsToValidEcsAndStrictCef) {
  Fixture f;
  ASSERT_FALSE(f.diags.has_errors()) << f.diags.format();
  std::size_t mapped = 0;
  for (const auto& [json, name] : testing::sample_records()) {
    RawRecord rec;
    rec.json = json;
    MappedEvent ev;
    auto err = f.mapper->map(rec, std::nullopt, format_bit(OutputFormat::ecs) | format_bit(OutputFormat::cef), ev);
    ASSERT_FALSE(err) << name << ": " << *err;
    auto ecs = nlohmann::json::parse(ev.ecs);
    EXPECT_EQ(ecs["event"]["id"], ev.id()) << name;
    EXPECT_TRUE(kKinds.count(ecs["event"]["kind"].get<std::string>())) << name;
    for (const auto& c : ecs["event"].value("category", nlohmann::json::array())) EXPECT_TRUE(kCategories.count(c.get<std::string>())) << name << " " << c;
    for (const auto& t : ecs["event"].value("type", nlohmann::json::array())) EXPECT_TRUE(kTypes.count(t.get<std::string>())) << name << " " << t;
    ASSERT_TRUE(ecs.contains("@timestamp")) << name;
    std::string cef_error;
    auto cef = parse_cef_strict(ev.cef, &cef_error);
    ASSERT_TRUE(cef) << name << ": " << cef_error << "\n" << ev.cef;
    EXPECT_EQ(cef->get("externalId"), ev.id()) << name;
    ++mapped;
  }
  EXPECT_GE(mapped, 30u);
}

// The phases as two pipeline workers run them (prepare of two records, enrich in input order, the
// finishes in the other order) give every event the tags, tier, severity and outputs map() gives:
// the event's tags (routing and the per-tag counts read them) are the ECS document's `tags`, the
// enrichment's detections and the engine's own, and nothing of one record stays for the next.
// Epoch-millisecond values taken from the wall clock while the test ran (a record without a time
// gets the mapping time as `rt`) read as NOW, so two mappings a millisecond apart compare equal.
TEST(Mapper, PhasesOnTwoScratchesGiveTheEventsOfMap) {
  const std::int64_t started_ms = wall_clock_ms();
  Fixture whole, phased;
  ASSERT_FALSE(whole.diags.has_errors()) << whole.diags.format();
  const FormatSet formats = format_bit(OutputFormat::ecs) | format_bit(OutputFormat::cef);
  const auto samples = testing::sample_records();
  std::array<std::unique_ptr<Mapper::Scratch>, 2> scratch{phased.mapper->make_scratch(), phased.mapper->make_scratch()};
  std::size_t with_pa = 0, compared = 0;
  for (std::size_t i = 0; i + 1 < samples.size(); i += 2) {
    std::array<RawRecord, 2> rec;
    std::array<MappedEvent, 2> ev, want;
    std::array<std::optional<std::string>, 2> err;
    for (std::size_t k = 0; k < 2; ++k) {
      rec[k].json = samples[i + k].json;
      err[k] = phased.mapper->prepare(*scratch[k], rec[k], std::nullopt, formats, ev[k]);
    }
    for (std::size_t k = 0; k < 2; ++k) phased.mapper->enrich(*scratch[k], rec[k], ev[k]);
    for (std::size_t k = 2; k-- > 0;)
      if (!err[k]) phased.mapper->finish(*scratch[k], rec[k], formats, ev[k]);
    for (std::size_t k = 0; k < 2; ++k) {
      const auto& name = samples[i + k].file;
      ASSERT_FALSE(err[k]) << name << ": " << *err[k];
      ASSERT_FALSE(whole.mapper->map(rec[k], std::nullopt, formats, want[k])) << name;
      EXPECT_EQ(ev[k].tags(), want[k].tags()) << name;
      EXPECT_EQ(ev[k].tier, want[k].tier) << name;
      EXPECT_EQ(ev[k].severity, want[k].severity) << name;
      const std::int64_t now_ms = wall_clock_ms();
      EXPECT_EQ(mask_wall_clock(ev[k].cef, started_ms, now_ms), mask_wall_clock(want[k].cef, started_ms, now_ms)) << name;
      const auto ecs = nlohmann::json::parse(ev[k].ecs);
      EXPECT_EQ(ecs.value("tags", std::vector<std::string>{}), ev[k].tags().to_vector()) << name;
      with_pa += std::any_of(ev[k].tags().begin(), ev[k].tags().end(), [](std::string_view t) { return t.rfind("pa.", 0) == 0; });
      ++compared;
    }
  }
  EXPECT_GE(compared, 30u);
  EXPECT_GE(with_pa, 3u) << "the samples give too few detections for the check to mean anything";
}

TEST(Mapper, KindDetectionOnRealPayloads) {
  Fixture f;
  const std::map<std::string, SourceKind> expected = {
      {"graph-directoryaudits-list-v1.json", SourceKind::graph_directory_audit},
      {"graph-directoryaudit-beta-update-user.json", SourceKind::graph_directory_audit},
      {"graph-signins-list-beta-mfa-fido2.json", SourceKind::graph_sign_in},
      {"graph-signins-list-v1-nextlink.json", SourceKind::graph_sign_in},
      {"graph-roleassignmentschedulerequests-list-v1.json", SourceKind::graph_pim_request},
      {"graph-roleeligibilityscheduleinstances-list-v1.json", SourceKind::graph_pim_instance},
      {"arm-pim-roleassignmentschedulerequests-list.json", SourceKind::arm_pim_request},
      {"arm-activitylog-event-administrative.json", SourceKind::azure_activity},
      {"arm-activitylog-values-filtered.json", SourceKind::azure_activity},
      {"eventhub-auditlogs-pim-record.json", SourceKind::eventhub_audit},
      {"eventhub-auditlogs-records-envelope.json", SourceKind::eventhub_audit},
      {"eventhub-signinlogs-record.json", SourceKind::eventhub_sign_in},
      {"elastic-eventhub-signinlogs-categories.ndjson", SourceKind::eventhub_sign_in},
      {"elastic-eventhub-auditlogs.ndjson", SourceKind::eventhub_audit},
      {"elastic-eventhub-activitylogs.ndjson", SourceKind::eventhub_activity},
      {"eventhub-activitylog-records-envelope.json", SourceKind::eventhub_activity},
      {"graph-riskdetections-list-v1.json", SourceKind::graph_risk_detection},
      {"graph-serviceprincipalriskdetections-list-v1.json", SourceKind::graph_risk_detection},
      {"graph-rolemanagementalerts-list-beta.json", SourceKind::graph_pim_alert},
      {"graph-rolemanagementalerts-list-beta-inactive.json", SourceKind::graph_pim_alert},
      {"graph-security-alerts-v2-list.json", SourceKind::graph_security_alert},
      {"arm-defender-alerts-subscription-list.json", SourceKind::azure_defender_alert},
      {"token-response-client-credentials.json", SourceKind::unknown},
      // Log Analytics rows: the kind of their Event Hubs shape
      {"loganalytics-auditlogs.ndjson", SourceKind::eventhub_audit},
      {"loganalytics-signinlogs.ndjson", SourceKind::eventhub_sign_in},
      {"loganalytics-aadnoninteractiveusersigninlogs.ndjson", SourceKind::eventhub_sign_in},
      {"loganalytics-aadserviceprincipalsigninlogs.ndjson", SourceKind::eventhub_sign_in},
      {"loganalytics-aadmanagedidentitysigninlogs.ndjson", SourceKind::eventhub_sign_in},
      {"loganalytics-azureactivity.ndjson", SourceKind::eventhub_activity},
      {"loganalytics-counterparts-eventhub.ndjson", SourceKind::eventhub_sign_in},
  };
  for (const auto& [file, kind] : expected) {
    for (const auto& json : records_of(file)) {
      RawRecord rec;
      rec.json = json;
      MappedEvent ev;
      ASSERT_FALSE(f.mapper->map(rec, std::nullopt, format_bit(OutputFormat::ecs), ev)) << file;
      EXPECT_EQ(ev.kind, kind) << file << ": detected " << to_string(ev.kind);
    }
  }
}

TEST(Mapper, EventTimeIsTheActivityTimeNotTheExportTime) {
  Fixture f;
  RawRecord rec;
  rec.json = records_of("eventhub-auditlogs-pim-record.json").at(0);
  MappedEvent ev;
  ASSERT_FALSE(f.mapper->map(rec, std::nullopt, format_bit(OutputFormat::ecs), ev));
  EXPECT_EQ(nlohmann::json::parse(ev.ecs)["@timestamp"], "2024-12-16T16:32:16.087Z");
  EXPECT_EQ(ev.id(), "PIM_123415");
}

TEST(Mapper, HostileUserControlledFieldsGiveOneWellFormedCefLine) {
  Fixture f;
  nlohmann::json r = nlohmann::json::parse(records_of("graph-signins-list-beta-failed-50126.json").at(0));
  const std::string evil = "eve|x=1\\ cs6=pa.fake\r\nCEF:0|forged|";
  r["userPrincipalName"] = evil;
  r["appDisplayName"] = evil;
  RawRecord rec;
  rec.json = r.dump();
  MappedEvent ev;
  ASSERT_FALSE(f.mapper->map(rec, std::nullopt, format_bit(OutputFormat::cef) | format_bit(OutputFormat::ecs), ev));
  EXPECT_EQ(ev.cef.find('\n'), std::string::npos);
  EXPECT_EQ(ev.cef.find('\r'), std::string::npos);
  std::string err;
  auto cef = parse_cef_strict(ev.cef, &err);
  ASSERT_TRUE(cef) << err << "\n" << ev.cef;
  EXPECT_EQ(cef->get("suser"), evil);
  EXPECT_EQ(cef->get("cs4"), evil);
  EXPECT_FALSE(cef->get("cs6").has_value());  // no injected key
  EXPECT_EQ(nlohmann::json::parse(ev.ecs)["user"]["name"], evil);
}

TEST(Mapper, InvalidJsonIsRepairedOrReported) {
  Fixture f;
  MappedEvent ev;
  RawRecord rec;
  rec.json = R"({"id":"x1","activityDisplayName":"Add user","activityDateTime":"2026-01-01T00:00:00Z","initiatedBy":{},})";
  ASSERT_FALSE(f.mapper->map(rec, std::nullopt, format_bit(OutputFormat::ecs), ev));
  EXPECT_NE(std::find(ev.tags().begin(), ev.tags().end(), "json_repaired"), ev.tags().end());
  EXPECT_EQ(f.mapper->stats().repaired_json, 1u);
  rec.json = R"({"id": "x2", "broken": )";
  auto err = f.mapper->map(rec, std::nullopt, format_bit(OutputFormat::ecs), ev);
  ASSERT_TRUE(err);
  EXPECT_NE(err->find("invalid JSON"), std::string::npos);
}

TEST(Mapper, UnknownShapesAreKeptAndTagged) {
  Fixture f;
  MappedEvent ev;
  RawRecord rec;
  rec.json = R"({"time":"2026-01-01T00:00:00Z","category":"RiskyUsers","operationName":"Risky user","properties":{"id":"r1"},"resourceId":"/tenants/t/providers/Microsoft.aadiam"})";
  ASSERT_FALSE(f.mapper->map(rec, std::nullopt, format_bit(OutputFormat::ecs), ev));
  EXPECT_EQ(ev.kind, SourceKind::unknown);
  EXPECT_NE(std::find(ev.tags().begin(), ev.tags().end(), "schema_unknown"), ev.tags().end());
  // properties.id of an unrecognised category may name the subject (here the risky user), not
  // the event: two states of one user must not share an event id.
  EXPECT_EQ(ev.id().rfind("siem-", 0), 0u) << ev.id();
  EXPECT_EQ(nlohmann::json::parse(ev.ecs)["azure"]["unknown"]["record_id"], "r1");
  const std::string first_id(ev.id());
  rec.json = R"({"time":"2026-01-01T01:00:00Z","category":"RiskyUsers","operationName":"Risky user","properties":{"id":"r1","riskState":"remediated"},"resourceId":"/tenants/t/providers/Microsoft.aadiam"})";
  ASSERT_FALSE(f.mapper->map(rec, std::nullopt, format_bit(OutputFormat::ecs), ev));
  EXPECT_NE(ev.id(), first_id);
  EXPECT_EQ(f.mapper->stats().schema_unknown, 2u);
}

// Some diagnostic exports send `properties` as a JSON document in a string. Every Event Hubs sample
// record, re-sent that way, maps to the same ECS (but event.original and .created) and CEF as the
// object form.
TEST(Mapper, PropertiesSentAsAJsonStringMapLikeTheObject) {
  Fixture as_object, as_string;
  std::size_t compared = 0;
  for (const auto& file : {"eventhub-auditlogs-records-envelope.json", "eventhub-auditlogs-pim-record.json",
                           "eventhub-signinlogs-record.json", "eventhub-activitylog-records-envelope.json",
                           "elastic-eventhub-auditlogs.ndjson", "elastic-eventhub-signinlogs-categories.ndjson",
                           "elastic-eventhub-activitylogs.ndjson"}) {
    for (const auto& text : records_of(file)) {
      auto j = nlohmann::json::parse(text);
      if (!j.contains("properties") || !j["properties"].is_object()) continue;
      RawRecord obj, str;
      obj.json = text;
      j["properties"] = j["properties"].dump(2);  // pretty, as some exporters write it
      str.json = j.dump();
      MappedEvent a, b;
      const auto formats = format_bit(OutputFormat::ecs) | format_bit(OutputFormat::cef);
      ASSERT_FALSE(as_object.mapper->map(obj, std::nullopt, formats, a)) << file;
      ASSERT_FALSE(as_string.mapper->map(str, std::nullopt, formats, b)) << file;
      EXPECT_EQ(a.kind, b.kind) << file;
      if (a.id().rfind("siem-", 0) == 0) {
        // A record without an id is named by a hash of the text received, which differs here.
        for (auto* out : {&b.cef, &b.ecs})
          if (const auto at = out->find(b.id()); at != std::string::npos) out->replace(at, b.id().size(), std::string(a.id()));
        b.set_id(a.id());
      }
      EXPECT_EQ(a.id(), b.id()) << file;
      EXPECT_EQ(a.cef, b.cef) << file;
      auto ea = nlohmann::json::parse(a.ecs), eb = nlohmann::json::parse(b.ecs);
      for (auto* e : {&ea, &eb})
        if (e->contains("event")) {
          (*e)["event"].erase("original");
          (*e)["event"].erase("created");  // the mapping time
        }
      EXPECT_EQ(ea, eb) << file;
      ++compared;
    }
  }
  EXPECT_GE(compared, 10u);
  EXPECT_EQ(as_string.mapper->stats().decoded_properties, compared);
  // A string that is not a JSON object stays a string.
  RawRecord rec;
  rec.json = R"({"time":"2026-01-01T00:00:00Z","category":"AuditLogs","properties":"{not json"})";
  MappedEvent ev;
  EXPECT_FALSE(as_string.mapper->map(rec, std::nullopt, format_bit(OutputFormat::ecs), ev));
  EXPECT_EQ(as_string.mapper->stats().decoded_properties, compared);
}

class OverrideTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("siem-map-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(OverrideTest, OverridesMergeOverShippedRules) {
  std::ofstream(dir_ / "site.yaml") << "kind: graph_sign_in\necs:\n  event.provider: {value: Contoso IdP}\n  host.os.full: null\n"
                                       "  labels.site: {value: hq}\ncef:\n  extension:\n    flexString2: {value: hq, label: site}\n";
  Fixture f("mappings: {overrides: [site.yaml]}\n", dir_);
  ASSERT_FALSE(f.diags.has_errors()) << f.diags.format();
  RawRecord rec;
  rec.json = records_of("graph-signins-list-beta-mfa-fido2.json").at(0);
  MappedEvent ev;
  ASSERT_FALSE(f.mapper->map(rec, std::nullopt, format_bit(OutputFormat::ecs) | format_bit(OutputFormat::cef), ev));
  auto ecs = nlohmann::json::parse(ev.ecs);
  EXPECT_EQ(ecs["event"]["provider"], "Contoso IdP");
  EXPECT_EQ(ecs["labels"]["site"], "hq");
  EXPECT_FALSE(ecs.contains("host"));
  EXPECT_EQ(parse_cef_strict(ev.cef)->get("flexString2"), "hq");  // cs5 is the engine's truncatedKeys
}

// OCSF rules are overridden like ECS ones; numeric target segments are array elements, and an
// object whose members mix indexes and names stays an object (the document is JSON either way).
TEST_F(OverrideTest, OcsfOverridesArraysAndMixedIndexesGiveValidJson) {
  std::ofstream(dir_ / "o.yaml") << "kind: graph_sign_in\nocsf:\n  unmapped.riskState: null\n"
                                    "  observables.0.name: {value: user.name}\n  observables.0.type_id: {value: 4}\n"
                                    "  observables.0.value: {from: userPrincipalName}\n  observables.1.name: {from: nothing.here}\n"
                                    "  unmapped.mixed.0: {value: a}\n  unmapped.mixed.b: {value: b}\n";
  Fixture f("mappings: {overrides: [o.yaml]}\n", dir_);
  ASSERT_FALSE(f.diags.has_errors()) << f.diags.format();
  RawRecord rec;
  rec.json = records_of("graph-signins-list-beta-mfa-fido2.json").at(0);
  MappedEvent ev;
  ASSERT_FALSE(f.mapper->map(rec, std::nullopt, format_bit(OutputFormat::ocsf), ev));
  EXPECT_TRUE(ev.ecs.empty());  // only the formats asked for
  const auto o = nlohmann::json::parse(ev.ocsf);
  EXPECT_EQ(o["class_uid"], 3002);
  EXPECT_EQ(o["type_uid"], 300201);
  ASSERT_TRUE(o["observables"].is_array()) << ev.ocsf;
  ASSERT_EQ(o["observables"].size(), 1u) << ev.ocsf;  // element 1 has no value: left out
  EXPECT_EQ(o["observables"][0]["value"], "testaccount1@contoso.com");
  EXPECT_FALSE(o["unmapped"].contains("riskState"));
  EXPECT_EQ(o["unmapped"]["mixed"], nlohmann::json({{"0", "a"}, {"b", "b"}}));
}

TEST_F(OverrideTest, MappingErrorsNameFileAndLine) {
  std::ofstream(dir_ / "bad.yaml") << "kind: graph_sign_in\necs:\n  user.name: {form: userPrincipalName}\n  user.id: {from: userId, type: integr}\n";
  Fixture f("mappings: {overrides: [bad.yaml]}\n", dir_);
  const auto text = f.diags.format();
  EXPECT_NE(text.find((dir_ / "bad.yaml").string() + ":3:"), std::string::npos) << text;
  EXPECT_NE(text.find("unknown rule key 'form' (did you mean 'from'?)"), std::string::npos) << text;
  EXPECT_NE(text.find((dir_ / "bad.yaml").string() + ":4:"), std::string::npos) << text;
  EXPECT_NE(text.find("unknown type 'integr' (did you mean 'integer'?)"), std::string::npos) << text;
}

// A template's [optional group] is left out when every placeholder in it is empty (a missing,
// null or empty value), in ECS (Value path) and CEF alike; unbalanced brackets name file and line.
TEST_F(OverrideTest, TemplateOptionalGroupsDropWhenTheirPlaceholdersAreEmpty) {
  std::ofstream(dir_ / "t.yaml")
      << "kind: graph_sign_in\necs:\n  message: {template: \"{userPrincipalName} signed in[ to {appDisplayName}]"
         "[ from {ipAddress}][ ({$tenant})]\"}\ncef:\n  extension:\n    msg: {template: \"[{appDisplayName}: ]{userPrincipalName}\"}\n";
  Fixture f("mappings: {overrides: [t.yaml]}\n", dir_);
  ASSERT_FALSE(f.diags.has_errors()) << f.diags.format();
  auto record = nlohmann::json::parse(records_of("graph-signins-list-beta-mfa-fido2.json").at(0));
  record["userPrincipalName"] = "a@b.c";
  record["appDisplayName"] = "Portal";
  record["ipAddress"] = "";
  record.erase("tenantId");
  record.erase("resourceTenantId");
  record.erase("homeTenantId");
  const auto formats = format_bit(OutputFormat::ecs) | format_bit(OutputFormat::cef);
  auto run = [&] {
    RawRecord rec;
    rec.json = record.dump();
    MappedEvent ev;
    EXPECT_FALSE(f.mapper->map(rec, std::nullopt, formats, ev));
    return std::pair(nlohmann::json::parse(ev.ecs).value("message", ""), parse_cef_strict(ev.cef)->get("msg").value_or(""));
  };
  EXPECT_EQ(run(), std::pair(std::string("a@b.c signed in to Portal"), std::string("Portal: a@b.c")));
  record["ipAddress"] = "192.0.2.1";
  record["appDisplayName"] = nullptr;
  EXPECT_EQ(run(), std::pair(std::string("a@b.c signed in from 192.0.2.1"), std::string("a@b.c")));

  for (const std::string bad : {"x[ {a}", "x] {a}", "[[{a}]]"}) {
    std::ofstream(dir_ / "bad.yaml") << "kind: graph_sign_in\necs:\n  message: {template: \"" << bad << "\"}\n";
    Fixture g("mappings: {overrides: [bad.yaml]}\n", dir_);
    EXPECT_NE(g.diags.format().find((dir_ / "bad.yaml").string() + ":3:"), std::string::npos) << bad << g.diags.format();
  }
}

// Found by fuzz_mapping_override: a CEF extension key is written verbatim into the line, so a key
// that is not a CEF key word ("src ip", a control character) produced lines a strict parser rejects.
TEST_F(OverrideTest, CefExtensionKeysMustBeKeyWords) {
  std::ofstream(dir_ / "keys.yaml") << "kind: graph_sign_in\ncef:\n  extension:\n    src ip: {from: ipAddress}\n"
                                       "    \"\\x19cs3\": {value: x, label: y}\n    cs3=x: {value: z}\n    cs2: {value: ok}\n";
  Fixture f("mappings: {overrides: [keys.yaml]}\n", dir_);
  const auto text = f.diags.format();
  EXPECT_NE(text.find((dir_ / "keys.yaml").string() + ":4:"), std::string::npos) << text;
  EXPECT_NE(text.find("CEF extension key 'src ip' must be letters, digits or '_'"), std::string::npos) << text;
  EXPECT_NE(text.find((dir_ / "keys.yaml").string() + ":5:"), std::string::npos) << text;
  EXPECT_NE(text.find("CEF extension key 'cs3=x'"), std::string::npos) << text;
  EXPECT_EQ(text.find("'cs2'"), std::string::npos) << text;
}

// The ECS writer runs a flat plan per kind: objects whose members all come out empty vanish with
// their keys, at any depth (deeper than its fixed stack of 16 levels too), constants next to them
// stay, and the commas between members are right whichever of them is missing.
TEST_F(OverrideTest, EcsObjectsNestDeeplyAndEmptyOnesVanish) {
  std::string deep = "labels";
  for (int i = 0; i < 20; ++i) deep += ".l" + std::to_string(i);
  std::ofstream(dir_ / "deep.yaml") << "kind: graph_sign_in\necs:\n"
                                    << "  " << deep << ".x: {from: ipAddress}\n"
                                    << "  " << deep << ".gone: {from: noSuchField}\n"
                                    << "  labels.empty.a.b: {from: noSuchField}\n"
                                    << "  labels.empty.c: {from: alsoMissing}\n"
                                    << "  labels.k1: {value: one}\n"
                                    << "  labels.mid.none: {from: noSuchField}\n"
                                    << "  labels.k2: {value: two}\n";
  Fixture f("mappings: {overrides: [deep.yaml]}\n", dir_);
  ASSERT_FALSE(f.diags.has_errors()) << f.diags.format();
  RawRecord rec;
  rec.json = records_of("graph-signins-list-beta-mfa-fido2.json").at(0);
  MappedEvent ev;
  ASSERT_FALSE(f.mapper->map(rec, std::nullopt, format_bit(OutputFormat::ecs), ev));
  const auto ecs = nlohmann::json::parse(ev.ecs);  // throws on a stray or missing comma
  const auto& labels = ecs.at("labels");
  EXPECT_FALSE(labels.contains("empty")) << labels.dump();
  EXPECT_FALSE(labels.contains("mid")) << labels.dump();
  EXPECT_EQ(labels.at("k1"), "one");
  EXPECT_EQ(labels.at("k2"), "two");
  const nlohmann::json* node = &labels;
  for (int i = 0; i < 20; ++i) node = &node->at(std::string("l").append(std::to_string(i)));  // not "l" + …: GCC 12 -O3 -Wrestrict
  EXPECT_EQ(*node, nlohmann::json({{"x", "131.107.159.37"}}));
}

// type: ip takes a plain dotted quad without inet_pton: what it keeps must stay exactly what
// inet_pton (IPv4, then IPv6) accepts, less the unspecified address (0.0.0.0, ::), which names no
// host (Entra writes 0.0.0.0 where it has no address).
TEST_F(OverrideTest, IpTypeKeepsWhatInetPtonAccepts) {
  std::ofstream(dir_ / "ip.yaml") << "kind: graph_sign_in\necs:\n  labels.ipcheck: {from: ipAddress, type: ip}\n";
  Fixture f("mappings: {overrides: [ip.yaml]}\n", dir_);
  ASSERT_FALSE(f.diags.has_errors()) << f.diags.format();
  auto record = nlohmann::json::parse(records_of("graph-signins-list-beta-mfa-fido2.json").at(0));
  for (const std::string ip :
       {"10.0.0.1", "0.0.0.0", "255.255.255.255", "256.0.0.1", "1.2.3", "1.2.3.4.5", "01.2.3.4", "1.2.3.04", "1.2.3.0",
        "1.2.3.4 ", " 1.2.3.4", "1..3.4", "1.2.3.", ".1.2.3", "1234.1.1.1", "1.2.3.999", "192.168.001.1", "100.200.250.199",
        "1.2.3.a", "fe80::1", "::ffff:1.2.3.4", "2001:db8::", "x", "1.2.3.4/24", "09.1.1.1", "9.1.1.1", "1.2.3.256",
        "::", "::0", "0:0:0:0:0:0:0:0", "::1", "0.0.0.1", "0.0.0.0:443", "[::]:443"}) {
    record["ipAddress"] = ip;
    RawRecord rec;
    rec.json = record.dump();
    MappedEvent ev;
    ASSERT_FALSE(f.mapper->map(rec, std::nullopt, format_bit(OutputFormat::ecs), ev));
    const auto ecs = nlohmann::json::parse(ev.ecs);
    unsigned char buf[16] = {};
    std::string bare = ip;  // what the ip type keeps of an address with a port
    if (bare == "0.0.0.0:443") bare = "0.0.0.0";
    if (bare == "[::]:443") bare = "::";
    const bool parsed = ::inet_pton(AF_INET, bare.c_str(), buf) == 1 || ::inet_pton(AF_INET6, bare.c_str(), buf) == 1;
    const bool unspecified = std::all_of(std::begin(buf), std::end(buf), [](unsigned char b) { return b == 0; });
    EXPECT_EQ(ecs.contains("labels") && ecs["labels"].contains("ipcheck"), parsed && !unspecified) << ip;
  }
}

// Logs also write an address with a port or an IPv6 zone; ip / ipv4 / ipv6 keep the bare address,
// and only of their family.
TEST_F(OverrideTest, IpTypesDropPortAndZoneAndKeepTheirFamily) {
  std::ofstream(dir_ / "ip.yaml") << "kind: graph_sign_in\necs:\n  labels.any: {from: ipAddress, type: ip}\n"
                                     "  labels.v4: {from: ipAddress, type: ipv4}\n  labels.v6: {from: ipAddress, type: ipv6}\n";
  Fixture f("mappings: {overrides: [ip.yaml]}\n", dir_);
  ASSERT_FALSE(f.diags.has_errors()) << f.diags.format();
  auto record = nlohmann::json::parse(records_of("graph-signins-list-beta-mfa-fido2.json").at(0));
  struct Case {
    std::string in, v4, v6;  // expected labels (empty: absent)
  };
  for (const Case& c : {Case{"20.190.128.5", "20.190.128.5", ""}, Case{"20.190.128.5:443", "20.190.128.5", ""},
                        Case{"[2001:db8::5]:443", "", "2001:db8::5"}, Case{"[2001:db8::5]", "", "2001:db8::5"},
                        Case{"fe80::1%eth0", "", "fe80::1"}, Case{"2001:db8::5", "", "2001:db8::5"},
                        Case{"::ffff:203.0.113.9", "", "::ffff:203.0.113.9"}, Case{"1.2.3.4:x", "", ""},
                        Case{"[1.2.3.4]:80", "1.2.3.4", ""}, Case{"host.example:443", "", ""}}) {
    record["ipAddress"] = c.in;
    RawRecord rec;
    rec.json = record.dump();
    MappedEvent ev;
    ASSERT_FALSE(f.mapper->map(rec, std::nullopt, format_bit(OutputFormat::ecs), ev));
    const auto labels = nlohmann::json::parse(ev.ecs).value("labels", nlohmann::json::object());
    EXPECT_EQ(labels.value("v4", ""), c.v4) << c.in;
    EXPECT_EQ(labels.value("v6", ""), c.v6) << c.in;
    EXPECT_EQ(labels.value("any", ""), c.v4.empty() ? c.v6 : c.v4) << c.in;
  }
}

}  // namespace
}  // namespace siem
