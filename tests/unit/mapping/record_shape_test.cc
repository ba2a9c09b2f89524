// Record shapes and field types through the real Mapper: a Log Analytics row of each table maps
// like the same record in its Event Hubs shape, and no ECS field that is a keyword (a scalar) in
// the shipped mappings ever receives an object or an array, over every sample and the
// type-swapping variants of them.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include "connector/config/config_node.h"
#include "connector/core/record_reader.h"
#include "connector/enrichment/mapping_stage.h"
#include "connector/mapping/mapper.h"
#include "connector/record/cef_parser.h"
#include "connector/record/shipped_files.h"
#include "tests/support/record_variants.h"
#include "tests/support/sample_records.h"

namespace siem {
namespace {

struct Fixture {
  Diagnostics diags;
  std::shared_ptr<ConfigDocument> doc;
  std::unique_ptr<Mapper> mapper;
  Fixture() {
    doc = ConfigDocument::load_string("{}", "test.yaml", diags, ".");
    auto root = doc->root();
    mapper = make_mapping_stage(root, nullptr);
  }
};

std::string record_of(const std::string& file, std::size_t index) {
  std::ifstream in(std::string(SIEM_TEST_DATA_DIR) + "/" + file);
  std::stringstream ss;
  ss << in.rdbuf();
  std::vector<std::string> out;
  RecordReader::split(ss.str(), [&](const RecordSlice& s) { out.emplace_back(s.json); }, [](const ReadError&) {});
  return index < out.size() ? out[index] : std::string();
}

struct Mapped {
  MappedEvent event;
  nlohmann::json ecs;
  std::optional<CefRecord> cef;
};

Mapped map_both(Mapper& mapper, const std::string& json) {
  Mapped m;
  RawRecord rec;
  rec.json = json;
  const auto err = mapper.map(rec, std::nullopt, format_bit(OutputFormat::ecs) | format_bit(OutputFormat::cef), m.event);
  EXPECT_FALSE(err) << (err ? *err : "");
  m.ecs = nlohmann::json::parse(m.event.ecs.empty() ? "{}" : m.event.ecs);
  m.cef = parse_cef_strict(m.event.cef);
  return m;
}

const nlohmann::json* at(const nlohmann::json& doc, const std::string& dotted) {
  const nlohmann::json* node = &doc;
  std::size_t start = 0;
  while (start <= dotted.size()) {
    const auto dot = std::min(dotted.find('.', start), dotted.size());
    const std::string key = dotted.substr(start, dot - start);
    if (!node->is_object() || !node->contains(key)) return nullptr;
    node = &(*node)[key];
    start = dot + 1;
  }
  return node;
}

struct Pair {
  std::string table;
  std::string la_file;
  std::size_t la_index;
  std::string eh_file;
  std::size_t eh_index;
  // The Event Hubs Activity Log schema has no eventDataId: there the id is a content hash, while the
  // row's EventDataId is the Activity Log's own id (as in the REST shape).
  bool same_id = true;
};

// Each Log Analytics sample and the Event Hubs sample of the same record (tests/data/PROVENANCE.md).
const std::vector<Pair>& pairs() {
  static const std::vector<Pair> p = {
      {"AuditLogs", "loganalytics-auditlogs.ndjson", 0, "eventhub-auditlogs-pim-record.json", 0},
      {"AuditLogs (dynamic columns as JSON text)", "loganalytics-auditlogs.ndjson", 1, "eventhub-auditlogs-pim-record.json", 0},
      {"SigninLogs", "loganalytics-signinlogs.ndjson", 0, "elastic-eventhub-signinlogs-categories.ndjson", 0},
      {"AADNonInteractiveUserSignInLogs", "loganalytics-aadnoninteractiveusersigninlogs.ndjson", 0,
       "elastic-eventhub-signinlogs-categories.ndjson", 1},
      {"AADServicePrincipalSignInLogs", "loganalytics-aadserviceprincipalsigninlogs.ndjson", 0,
       "loganalytics-counterparts-eventhub.ndjson", 0},
      {"AADManagedIdentitySignInLogs", "loganalytics-aadmanagedidentitysigninlogs.ndjson", 0,
       "loganalytics-counterparts-eventhub.ndjson", 1},
      {"AzureActivity", "loganalytics-azureactivity.ndjson", 0, "eventhub-activitylog-records-envelope.json", 0, false},
  };
  return p;
}

TEST(RecordShapes, EachLogAnalyticsTableMapsLikeItsEventHubsCounterpart) {
  Fixture f;
  ASSERT_FALSE(f.diags.has_errors()) << f.diags.format();
  for (const auto& p : pairs()) {
    SCOPED_TRACE(p.table);
    const std::string la_json = record_of(p.la_file, p.la_index);
    const std::string eh_json = record_of(p.eh_file, p.eh_index);
    ASSERT_FALSE(la_json.empty()) << p.la_file;
    ASSERT_FALSE(eh_json.empty()) << p.eh_file;
    const Mapped la = map_both(*f.mapper, la_json);
    const Mapped eh = map_both(*f.mapper, eh_json);
    EXPECT_EQ(la.event.kind, eh.event.kind);
    EXPECT_EQ(la.event.raw, la_json);  // event.original stays the row as received
    if (p.same_id) EXPECT_EQ(la.event.id(), eh.event.id());
    else EXPECT_EQ(la.event.id(), nlohmann::json::parse(la_json).at("EventDataId").get<std::string>());
    EXPECT_EQ(la.event.time_ms, eh.event.time_ms);
    EXPECT_EQ(la.event.tags(), eh.event.tags());
    EXPECT_EQ(la.event.severity, eh.event.severity);
    EXPECT_EQ(la.event.tier, eh.event.tier);
    EXPECT_EQ(la.event.action(), eh.event.action());
    EXPECT_FALSE(la.event.id().empty());
    for (const std::string field : {"@timestamp", p.same_id ? "event.id" : "event.kind", "event.action", "event.outcome", "event.dataset",
                                    "event.category", "event.type", "user", "tags", "event.severity"}) {
      const auto* a = at(la.ecs, field);
      const auto* b = at(eh.ecs, field);
      EXPECT_EQ(a ? a->dump() : "absent", b ? b->dump() : "absent") << field;
    }
    EXPECT_NE(at(la.ecs, "event.outcome"), nullptr);
    ASSERT_TRUE(la.cef && eh.cef) << la.event.cef << "\n" << eh.event.cef;
    for (const std::string key : {p.same_id ? "externalId" : "cat", "rt", "act", "outcome", "suser", "suid", "cs6"})
      EXPECT_EQ(la.cef->get(key), eh.cef->get(key)) << key;
    EXPECT_EQ(la.cef->severity, eh.cef->severity);
  }
  EXPECT_EQ(f.mapper->stats().log_analytics_rows, pairs().size());
}

// Query results and some exports leave out the Type column: the columns place the row.
TEST(RecordShapes, RowsWithoutTypeArePlacedByTheirColumns) {
  Fixture f;
  for (const auto& p : pairs()) {
    SCOPED_TRACE(p.table);
    const std::string with_type = record_of(p.la_file, p.la_index);
    auto row = nlohmann::json::parse(with_type);
    ASSERT_EQ(row.erase("Type"), 1u);
    const Mapped a = map_both(*f.mapper, with_type);
    const Mapped b = map_both(*f.mapper, row.dump());
    EXPECT_EQ(a.event.kind, b.event.kind);
    EXPECT_EQ(a.event.tags(), b.event.tags());
    for (const std::string field : {"event.id", "event.dataset", "azure.signinlogs.category", "user", "@timestamp"}) {
      const auto* x = at(a.ecs, field);
      const auto* y = at(b.ecs, field);
      EXPECT_EQ(x ? x->dump() : "absent", y ? y->dump() : "absent") << field;
    }
  }
}

// The rows' own times: TimeGenerated is when the workspace took the row in, later than the
// activity; the activity time wins wherever the row has one.
TEST(RecordShapes, TheActivityTimeWinsOverTimeGenerated) {
  Fixture f;
  const Mapped audit = map_both(*f.mapper, record_of("loganalytics-auditlogs.ndjson", 0));
  EXPECT_EQ(audit.ecs["@timestamp"], "2024-12-16T16:32:16.087Z");  // ActivityDateTime; TimeGenerated is 16:33:02
  const Mapped signin = map_both(*f.mapper, record_of("loganalytics-signinlogs.ndjson", 0));
  EXPECT_EQ(signin.ecs["@timestamp"], "2019-10-18T09:45:48.072Z");  // CreatedDateTime; TimeGenerated is 09:47:12
  auto row = nlohmann::json::parse(record_of("loganalytics-signinlogs.ndjson", 0));
  row.erase("CreatedDateTime");
  const Mapped fallback = map_both(*f.mapper, row.dump());
  EXPECT_EQ(fallback.ecs["@timestamp"], "2019-10-18T09:47:12.118Z");  // no activity time: TimeGenerated
}

// What each shipped ECS target may hold, from the mapping files: a structure where the rule says so
// (type json / snake / elastic / list, a list constant, `all`, a list $variable), a scalar everywhere
// else (ECS keyword, ip, date, number fields).
struct TargetShapes {
  std::set<std::string> objects;  // may hold an object (and arrays inside it)
  std::set<std::string> arrays;   // may hold an array of scalars
  std::set<std::string> all;
};

void classify(const std::string& target, const YAML::Node& rule, TargetShapes& s) {
  s.all.insert(target);
  if (rule.IsSequence()) {
    for (const auto& alt : rule) classify(target, alt, s);
    return;
  }
  auto variable = [&](const std::string& v) {
    if (v == "$tags" || v == "$pa.tags" || v == "$pa.roles" || v == "$pa.role_ids" || v == "$pa.detection_names")
      s.arrays.insert(target);
    if (v == "$pa.detections") s.objects.insert(target);
  };
  if (rule.IsScalar()) {
    variable(rule.Scalar());
    return;
  }
  if (!rule.IsMap()) return;
  if (rule["from"] && rule["from"].IsScalar()) variable(rule["from"].Scalar());
  const std::string type = rule["type"] ? rule["type"].Scalar() : "";
  if (type == "json" || type == "snake" || type == "elastic") s.objects.insert(target);
  if (type == "list" || rule["all"] || (rule["value"] && rule["value"].IsSequence())) s.arrays.insert(target);
}

TargetShapes shipped_target_shapes() {
  TargetShapes s;
  for (const auto& file : shipped_mapping_files(find_mappings_dir())) {
    const YAML::Node doc = YAML::LoadFile(file);
    if (!doc["ecs"]) continue;
    for (auto it = doc["ecs"].begin(); it != doc["ecs"].end(); ++it) classify(it->first.Scalar(), it->second, s);
  }
  return s;
}

// The ECS fields of `ecs` that hold what their target may not: "field: value" for each.
std::vector<std::string> misplaced(const nlohmann::json& ecs, const TargetShapes& shapes) {
  std::vector<std::string> out;
  auto inside_object = [&](const std::string& target) {  // a member of a structured target
    for (auto dot = target.find('.'); dot != std::string::npos; dot = target.find('.', dot + 1))
      if (shapes.objects.count(target.substr(0, dot))) return true;
    return shapes.objects.count(target) > 0;
  };
  for (const auto& target : shapes.all) {
    const auto* v = at(ecs, target);
    if (!v || inside_object(target)) continue;
    const bool array_ok = shapes.arrays.count(target) > 0;
    if (v->is_object() || (v->is_array() && !array_ok)) {
      out.push_back(target + ": " + v->dump());
      continue;
    }
    if (v->is_array())
      for (const auto& item : *v)
        if (item.is_object() || item.is_array()) out.push_back(target + ": " + v->dump());
  }
  return out;
}

TEST(RecordShapes, NoScalarEcsFieldEverReceivesAnObjectOrAnArray) {
  Fixture f;
  ASSERT_FALSE(f.diags.has_errors()) << f.diags.format();
  const TargetShapes shapes = shipped_target_shapes();
  // The fields the issue names, all scalars in ECS / Elastic's integration.
  for (const std::string scalar : {"event.action", "event.outcome", "event.reason", "user.name", "user.id", "source.ip",
                                   "azure.activitylogs.operation_name", "azure.activitylogs.category",
                                   "azure.activitylogs.result_type", "azure.activitylogs.result_signature"}) {
    EXPECT_TRUE(shapes.all.count(scalar)) << scalar;
    EXPECT_FALSE(shapes.objects.count(scalar) || shapes.arrays.count(scalar)) << scalar;
  }
  std::size_t checked = 0;
  for (const auto& sample : testing::sample_records()) {
    std::vector<std::string> records{sample.json};
    for (auto& v : testing::record_variants(sample.json)) records.push_back(std::move(v));
    for (const auto& json : records) {
      RawRecord rec;
      rec.json = json;
      MappedEvent ev;
      if (f.mapper->map(rec, std::nullopt, format_bit(OutputFormat::ecs), ev)) continue;  // not an object
      const auto ecs = nlohmann::json::parse(ev.ecs);
      const auto bad = misplaced(ecs, shapes);
      ASSERT_TRUE(bad.empty()) << sample.file << ": " << bad.front() << "\nrecord: " << json;
      ++checked;
    }
  }
  EXPECT_GT(checked, 1'500u);
}

}  // namespace
}  // namespace siem
