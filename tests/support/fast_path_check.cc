#include "tests/support/fast_path_check.h"

#include <optional>
#include <string_view>

#include <fmt/format.h>
#include <simdjson.h>

#include "connector/mapping/cef_encoder.h"
#include "connector/mapping/enrichment_interface.h"
#include "connector/mapping/json_document.h"
#include "connector/mapping/json_out.h"
#include "connector/record/time_parse.h"

namespace siem::testing {

using mapping::EvalContext;
using mapping::Rule;
using mapping::Value;

namespace {

void check_string_view(const Rule& r, const EvalContext& ctx, const Value& v, FastPathReport& report,
                       const std::string& where) {
  if (!r.plain) return;
  std::string_view text;
  const auto found = r.string_view(ctx, text);
  if (!found) return;  // another shape: left to evaluate()
  ++report.compared;
  if (*found && (v.empty() || text != v.text()))
    report.disagreements.push_back(fmt::format("string_view {:?} but evaluate {:?}{}: {}", text, v.text(),
                                               v.empty() ? " (empty)" : "", where));
  if (!*found && !v.empty())
    report.disagreements.push_back(fmt::format("string_view no value but evaluate {:?}: {}", v.text(), where));
}

// Rule::append_text against evaluate().text() (the CEF encoder's form), for direct rules.
void check_text(const Rule& r, const EvalContext& ctx, const Value& v, FastPathReport& report, const std::string& where) {
  if (!r.direct) return;
  std::string text = "<";  // what the output held before must stay untouched
  const auto written = r.append_text(ctx, text);
  ++report.compared;
  if (!written && text != "<")
    report.disagreements.push_back(fmt::format("append_text unsupported yet wrote {:?}: {}", text, where));
  std::string expected = "<";  // built with += : GCC 12 at -O3 reports a false -Wrestrict on "<" + text
  if (written && *written && !v.empty()) expected += v.text();
  if (written && *written && (v.empty() || text != expected))
    report.disagreements.push_back(fmt::format("append_text {:?} but evaluate {:?}{}: {}", text.substr(1), v.text(),
                                               v.empty() ? " (empty)" : "", where));
  if (written && !*written && (text != "<" || !v.empty()))
    report.disagreements.push_back(fmt::format("append_text no value but evaluate {:?}: {}", v.text(), where));
}

// Rule::append_json through the document writer's cursor (CursorOut) against its std::string form:
// the same answer and the same bytes. No room is made in advance, so the cursor grows at its
// first write and, for the long variants, again mid-value.
void check_cursor(const Rule& r, const EvalContext& ctx, const std::optional<bool>& written_to_string,
                  const std::string& to_string, FastPathReport& report, const std::string& where) {
  std::string out = "<";  // what the output held before must stay untouched
  std::optional<bool> written;
  {
    mapping::CursorOut cursor(out, 0);
    written = r.append_json(ctx, cursor);
    cursor.finish();
  }
  ++report.compared;
  if (written != written_to_string || out != to_string)
    report.disagreements.push_back(fmt::format("append_json through the cursor {} {:?} but to a string {} {:?}: {}",
                                               written ? (*written ? "value" : "none") : "unsupported", out,
                                               written_to_string ? (*written_to_string ? "value" : "none") : "unsupported",
                                               to_string, where));
}

}  // namespace

void check_fast_paths(const mapping::MappingSet& set, const mapping::KindMapping& m, const std::string& json,
                      bool with_enrichment, FastPathReport& report) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(json).get(root) != simdjson::SUCCESS || !root.is_object()) {
    report.disagreements.push_back("not a JSON object: " + json);
    return;
  }
  mapping::PathCache cache;
  cache.entries.resize(set.path_slots());
  cache.resolve(m, root, true);
  EnrichmentResult pa;
  if (with_enrichment) {
    pa.tags = {"pa.role.assigned", "pa.role.tier0"};
    pa.roles = {"Global Administrator", "Privileged \"Role\" Administrator"};
    pa.role_ids = {"62e90394-69f5-4237-9190-012177145e10"};
    pa.tier = 0;
    pa.severity = 8;
    pa.risk_score = 80.25;
    pa.detections.push_back(Detection{"pa.role.assigned", 8, "a role was assigned"});
    // A reason that quotes record values: escaped in the JSON and text forms as evaluate() does.
    pa.detections.push_back(Detection{"pa.\"x\"", -3, "user \"a\\b\"\x01\n\xE2\x80\xA8\xFF done"});
  }
  const std::string id = "id-1", tenant = with_enrichment ? "tenant-1" : "", host = "host\"1";
  const std::vector<std::string> extra =
      with_enrichment ? std::vector<std::string>{"schema_unknown"} : std::vector<std::string>{};
  constexpr std::int64_t kTime = 1'772'619'330'123, kNow = 1'772'619'999'000;
  std::string time_text, now_text;
  format_time_ms(kTime, time_text);
  format_time_ms(kNow, now_text);
  EvalContext ctx;
  ctx.cache = &cache;
  ctx.record = root;
  ctx.kind = m.kind;
  ctx.time_ms = kTime;
  ctx.now_ms = kNow;
  ctx.id = &id;
  ctx.tenant = &tenant;
  ctx.enrichment = &pa;
  ctx.host = &host;
  ctx.extra_tags = &extra;
  const RecordText raw = json;
  ctx.raw = &raw;
  ctx.time_text = &time_text;
  ctx.now_text = &now_text;
  ctx.severity = with_enrichment ? 8 : 3;

  auto where = [&](const Rule& r) {
    return fmt::format("rule {} of {} on {}", r.target, to_string(m.kind), json.substr(0, 2000));
  };
  // The OCSF rules see the event's class and activity, as the OCSF encoder gives them.
  for (const auto& r : m.ocsf) {
    const Value v = r.evaluate(ctx);
    if (v.kind == Value::Kind::integer && r.target == "class_uid") ctx.ocsf_class_uid = static_cast<std::int32_t>(v.i);
    if (v.kind == Value::Kind::integer && r.target == "activity_id") ctx.ocsf_activity_id = static_cast<std::int32_t>(v.i);
  }
  for (const auto* rules : {&m.ecs, &m.ocsf}) {
    for (const auto& r : *rules) {
      const Value v = r.evaluate(ctx);
      std::string expected;
      if (!v.empty()) mapping::append_value_json(expected, v);
      if (r.direct) {
        std::string direct = "<";  // what the output held before must stay untouched
        const auto written = r.append_json(ctx, direct);
        ++report.compared;
        if (!written && direct != "<")
          report.disagreements.push_back(fmt::format("append_json unsupported yet wrote {:?}: {}", direct, where(r)));
        if (written && *written && direct != "<" + expected)
          report.disagreements.push_back(fmt::format("append_json {:?} but evaluate {:?}: {}", direct.substr(1), expected, where(r)));
        if (written && !*written && (direct != "<" || !v.empty()))
          report.disagreements.push_back(fmt::format("append_json no value but evaluate {:?}: {}", expected, where(r)));
        check_cursor(r, ctx, written, direct, report, where(r));
      }
      check_string_view(r, ctx, v, report, where(r));
      check_text(r, ctx, v, report, where(r));
    }
  }
  // The whole documents of the ECS and OCSF writers against their general form (every member from
  // evaluate(), no constant folded in advance): the writer's own shortcuts (record strings,
  // $variables, nested objects) and the rules' fast paths, in place.
  for (const bool ocsf : {false, true}) {
    const auto& rules = ocsf ? m.ocsf : m.ecs;
    const mapping::JsonProgram fast(rules, host, ocsf);
    const mapping::JsonProgram general(rules, host, ocsf, mapping::JsonProgram::Writer::general);
    std::string written = "<", expected = "<";  // what the output held before must stay untouched
    mapping::write_json_document(fast, rules, ctx, written);
    mapping::write_json_document(general, rules, ctx, expected);
    ++report.compared;
    if (written != expected) {
      std::size_t at = 0;
      while (at < written.size() && at < expected.size() && written[at] == expected[at]) ++at;
      const std::size_t from = at > 60 ? at - 60 : 0;
      report.disagreements.push_back(
          fmt::format("{} document differs at byte {}: {:?} but general {:?}: kind {} on {}",
                      ocsf ? "ocsf" : "ecs", at, written.substr(from, 160), expected.substr(from, 160),
                      to_string(m.kind), json.substr(0, 2000)));
    }
  }
  const auto check_cef = [&](const Rule& r) {
    const Value v = r.evaluate(ctx);
    check_string_view(r, ctx, v, report, where(r));
    check_text(r, ctx, v, report, where(r));
  };
  for (const auto* r : {&m.cef_vendor, &m.cef_product, &m.cef_version, &m.cef_class_id, &m.cef_name}) check_cef(*r);
  for (const auto& r : m.cef_extension) check_cef(r);
  // The CEF encoder (a plan per kind, values written by the text shortcuts and escaped in place)
  // against the general path, for the whole line.
  const auto cef = mapping::make_cef_encoder(set, host);
  std::string line, general;
  cef->encode(mapping::MappedRecord{m, ctx}, line);
  mapping::write_cef_general(m, ctx, general);
  ++report.compared;
  if (line != general)
    report.disagreements.push_back(fmt::format("CEF encoder {:?} but the general path {:?}: kind {} on {}", line, general,
                                               to_string(m.kind), json.substr(0, 2000)));
  // Integer constants under conditions (the CEF base severity, OCSF class_uid / activity_id).
  const auto check_integer = [&](const Rule& r) {
    std::optional<std::int64_t> constant;
    if (!r.integer_constant(ctx, constant)) return;
    ++report.compared;
    const Value v = r.evaluate(ctx);
    const bool agree = constant ? v.kind == Value::Kind::integer && v.i == *constant : v.empty();
    if (!agree)
      report.disagreements.push_back(fmt::format("integer_constant {} but evaluate {:?}: {}",
                                                 constant ? std::to_string(*constant) : "none", v.text(), where(r)));
  };
  check_integer(m.cef_severity);
  for (const auto* rules : {&m.ecs, &m.ocsf, &m.cef_extension})
    for (const auto& r : *rules) check_integer(r);
}

}  // namespace siem::testing
