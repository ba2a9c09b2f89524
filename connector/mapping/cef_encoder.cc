// The CEF encoder: one ArcSight CEF line per event (header fields, then the extension keys in
// rule order), with the implementation standard's length limits.
//
// Built once per rule set: a plan per kind holds what never changes from one event to the next,
// encoded already (the header's constant fields, each ` key=` / ` keyLabel=label key=` prefix, the
// whole ` key=value` of a constant extension, each key's length limit), so an event only writes
// the values that depend on it. write_cef_general() is the same line without a plan: every value
// through Rule::evaluate(); the encoder equals it byte for byte (tests/unit/mapping/cef_encoder_test.cc,
// tests/support/fast_path_check.cc) and falls back to it for a mapping it has no plan for.
#include "connector/mapping/cef_encoder.h"

#include <algorithm>
#include <array>
#include <memory>
#include <string>
#include <vector>

#include "connector/mapping/expression.h"
#include "connector/record/encoding.h"

namespace siem::mapping {

namespace {

// CEF extension limits (implementation standard rev. 25). externalId is pinned to the whole id.
std::size_t cef_max_length(std::string_view key) {
  if (key == "act" || key == "outcome") return 63;
  if (key == "app") return 31;
  if (key == "dvchost") return 100;
  if (key == "deviceExternalId") return 255;
  if (key == "externalId") return 4096;
  return 1023;
}

// Header field limits: vendor, product, version, class id, name.
constexpr std::array<std::size_t, 5> kHeaderMax = {63, 63, 63, 1023, 512};

std::array<const Rule*, 5> header_rules(const KindMapping& m) {
  return {&m.cef_vendor, &m.cef_product, &m.cef_version, &m.cef_class_id, &m.cef_name};
}

// "0|" ... "10|": the severity field and the header's last bar.
constexpr std::array<std::string_view, 11> kSeverityField = {"0|", "1|", "2|", "3|", "4|", "5|",
                                                             "6|", "7|", "8|", "9|", "10|"};
std::string_view severity_field(int severity) { return kSeverityField[static_cast<std::size_t>(std::clamp(severity, 0, 10))]; }

// Where a rule's text is taken from, kept between the rules of an event and between events (no
// allocation per event once grown).
struct TextScratch {
  std::string written;  // append_text()'s output, or a Value's formatted text
  std::string owned;    // a text cut to its key's limit, or the tail of a value to escape
  Value held;           // evaluate()'s value, for the shapes the fast paths leave to it
};

TextScratch& thread_scratch() {
  static thread_local TextScratch scratch;
  return scratch;
}

// evaluate()'s text for `r`, by the general path. false: no value. `text` stays valid until the
// next call with the same scratch.
bool evaluated_text(const Rule& r, const EvalContext& ctx, TextScratch& scratch, std::string_view& text) {
  scratch.held = r.evaluate(ctx);
  const Value& v = scratch.held;
  if (v.empty()) return false;
  if (v.kind == Value::Kind::string || v.kind == Value::Kind::json) {
    text = v.s;
  } else {
    scratch.written = v.text();
    text = scratch.written;
  }
  return true;
}

// The text evaluate().text() gives for `r`, without a Value where the fast paths know the shape:
// a view of the record's or the context's string (plain rules), the text written into
// `scratch.written` (direct rules: templates, maps, numbers, lists, conversions), else the value
// evaluate() gives. false: no value.
bool rule_text(const Rule& r, const EvalContext& ctx, TextScratch& scratch, std::string_view& text) {
  if (r.plain) {
    if (const auto found = r.string_view(ctx, text)) return *found;
  }
  if (r.direct) {
    scratch.written.clear();
    if (const auto written = r.append_text(ctx, scratch.written)) {
      text = scratch.written;
      return *written;
    }
  }
  return evaluated_text(r, ctx, scratch, text);
}

// `text` cut to `max` bytes (whole UTF-8 characters) in `scratch.owned` when longer. true: cut.
bool cut_to(std::string_view& text, std::size_t max, TextScratch& scratch) {
  if (text.size() <= max) return false;
  scratch.owned.assign(text);
  encoding::truncate_utf8(scratch.owned, max);
  text = scratch.owned;
  return true;
}

void note_truncated(std::string& truncated, std::string_view key) {
  if (!truncated.empty()) truncated += ',';
  truncated += key;
}

// The truncatedKeys list, after the extension keys.
void append_truncated(std::string& out, const std::string& truncated, bool first) {
  if (truncated.empty()) return;
  out += first ? "" : " ";
  out += "cs5Label=truncatedKeys cs5=";
  encoding::append_cef_extension_value(out, truncated);
}

// " key=" ahead of a value, and " keyLabel=label" before it for a rule with a label, encoded.
std::string extension_prefix(const Rule& r) {
  std::string prefix;
  if (!r.label.empty()) {
    prefix += ' ';
    prefix += r.target;
    prefix += "Label=";
    encoding::append_cef_extension_value(prefix, r.label);
  }
  prefix += ' ';
  prefix += r.target;
  prefix += '=';
  return prefix;
}

// The text of a rule whose value never depends on the record or the event (Rule::constant_json
// says which), as evaluate().text() gives it; false otherwise. `host`: the value of $host.
bool constant_text(const Rule& r, const std::string& host, std::string& text) {
  std::string json;
  if (!r.constant_json(host, json)) return false;
  EvalContext ctx;
  ctx.host = &host;
  TextScratch scratch;
  std::string_view view;
  if (!evaluated_text(r, ctx, scratch, view)) return false;
  text.assign(view);
  return true;
}

}  // namespace

void write_cef_general(const KindMapping& m, const EvalContext& ctx, std::string& out) {
  TextScratch& scratch = thread_scratch();
  out += "CEF:0|";
  const auto header = header_rules(m);
  for (std::size_t i = 0; i < header.size(); ++i) {
    std::string_view text;
    if (evaluated_text(*header[i], ctx, scratch, text)) {
      cut_to(text, kHeaderMax[i], scratch);
      encoding::append_cef_header(out, text);
    }
    out += '|';
  }
  out += severity_field(ctx.severity);
  bool first = true;
  std::string truncated;
  for (const auto& r : m.cef_extension) {
    std::string_view text;
    if (!evaluated_text(r, ctx, scratch, text)) continue;
    if (cut_to(text, cef_max_length(r.target), scratch)) note_truncated(truncated, r.target);
    const std::string prefix = extension_prefix(r);
    out.append(prefix, first ? 1 : 0);
    encoding::append_cef_extension_value(out, text);
    first = false;
  }
  append_truncated(out, truncated, first);
}

namespace {

// One kind's line, as far as it is known before the event.
struct CefPlan {
  // A header field whose value depends on the event, after the constant text before it.
  struct HeaderField {
    std::string before;  // "CEF:0|..." up to this field (constant fields encoded, their bars)
    const Rule* rule;
    std::size_t max;
  };
  // One extension key. `rule` null: a constant ` key=value`, encoded whole in `text`; else `text`
  // is the ` [keyLabel=label ]key=` before the rule's value. Each starts with the space that
  // separates it from the key before (left out for the event's first key).
  struct Extension {
    const Rule* rule;
    std::string text;
    std::size_t max;
    // The rule is exactly `$id`, `$tenant`, `$host`, `$time` or `$time_ms`: read from the context
    // (Var::unknown: any other rule).
    Var var = Var::unknown;
  };

  const KindMapping* mapping = nullptr;
  bool host_constant = false;  // some constant text is $host's value
  std::vector<HeaderField> header;
  std::string header_tail;  // after the last field that depends on the event, up to the severity
  std::vector<Extension> extensions;
};

// The variable a rule is exactly (one alternative `$name`, no condition, no type), for those the
// encoder reads from the context itself; Var::unknown otherwise.
Var variable_of(const Rule& r) {
  if (r.alternatives.size() != 1) return Var::unknown;
  const Expr& e = *r.alternatives.front();
  if (e.src != Expr::Src::virt || !e.when.empty() || !e.plain()) return Var::unknown;
  switch (e.var) {
    case Var::id: case Var::tenant: case Var::host: case Var::time: case Var::time_ms: return e.var;
    default: return Var::unknown;
  }
}

// The context's string for a string variable of variable_of(); null when the context has none
// (then the text shortcuts or evaluate() decide, as for any rule).
const std::string* variable_text(Var var, const EvalContext& ctx) {
  switch (var) {
    case Var::id: return ctx.id;
    case Var::tenant: return ctx.tenant;
    case Var::host: return ctx.host;
    case Var::time: return ctx.time_text;
    default: return nullptr;
  }
}

CefPlan make_plan(const KindMapping& m, const std::string& host) {
  CefPlan plan;
  plan.mapping = &m;
  const auto uses_host = [](const Rule& r) {
    return !r.alternatives.empty() && r.alternatives.front()->src == Expr::Src::virt &&
           r.alternatives.front()->var == Var::host;
  };
  std::string before = "CEF:0|";
  const auto header = header_rules(m);
  for (std::size_t i = 0; i < header.size(); ++i) {
    std::string text;
    if (constant_text(*header[i], host, text)) {
      encoding::truncate_utf8(text, kHeaderMax[i]);
      encoding::append_cef_header(before, text);
      plan.host_constant = plan.host_constant || uses_host(*header[i]);
    } else {
      plan.header.push_back({std::move(before), header[i], kHeaderMax[i]});
      before.clear();
    }
    before += '|';
  }
  plan.header_tail = std::move(before);
  for (const auto& r : m.cef_extension) {
    const std::size_t max = cef_max_length(r.target);
    std::string prefix = extension_prefix(r), text;
    if (constant_text(r, host, text) && text.size() <= max) {  // a cut value is left to the event (truncatedKeys)
      encoding::append_cef_extension_value(prefix, text);
      plan.extensions.push_back({nullptr, std::move(prefix), max});
      plan.host_constant = plan.host_constant || uses_host(r);
    } else {
      plan.extensions.push_back({&r, std::move(prefix), max, variable_of(r)});
    }
  }
  return plan;
}

// Appends a rule's value, escaped, after its ` key=` prefix (already in `out`, from `start`):
// copied or written straight into `out` by the text shortcuts, cut to `max` first, and escaped
// there when it must be (most values need nothing). false: no value (`out` is left at `start`). true with `cut`:
// the value was cut to its limit.
bool append_value(const CefPlan::Extension& x, const EvalContext& ctx, TextScratch& scratch, std::string& out,
                  bool& cut) {
  const Rule& r = *x.rule;
  const std::size_t max = x.max;
  const std::size_t start = out.size();
  std::string_view text;
  bool found = false, in_out = false;
  if (x.var == Var::time_ms) {  // rt: every event
    append_int(out, ctx.time_ms);
    return true;  // digits: nothing to escape, within any key's limit
  }
  if (x.var != Var::unknown) {  // $id, $tenant, $host, $time
    if (const std::string* s = variable_text(x.var, ctx)) {
      if (s->empty()) return false;
      text = *s;
      found = true;
    }
  } else if (const json::Path* p = r.single_path) {  // {from: path}: most keys; a string at once
    const auto e = find_path(*p, ctx);
    if (!e) return false;
    if (e->is_string()) {
      text = e->get_string().value_unsafe();
      if (text.empty()) return false;
      found = true;
    }
  } else if (r.plain) {
    if (const auto viewed = r.string_view(ctx, text)) {
      if (!*viewed) return false;
      found = true;
    }
  }
  if (!found && r.direct) {
    if (const auto written = r.append_text(ctx, out)) {
      if (!*written) return false;
      found = in_out = true;
    }
  }
  if (!found && !evaluated_text(r, ctx, scratch, text)) return false;
  if (in_out && out.size() - start > max) {  // written, but too long: cut as a view
    scratch.written.assign(out, start);
    out.resize(start);
    text = scratch.written;
    in_out = false;
  }
  if (!in_out) {
    cut = cut_to(text, max, scratch);
    out.append(text);
  }
  // Escaped where it lies: the scan can read the 16 bytes ending the line, whatever the value's length.
  encoding::escape_cef_extension_tail(out, start, scratch.owned);
  return true;
}

void write_cef(const CefPlan& plan, const EvalContext& ctx, std::string& out) {
  TextScratch& scratch = thread_scratch();
  out.reserve(1024);
  for (const auto& field : plan.header) {
    out += field.before;
    std::string_view text;
    if (!rule_text(*field.rule, ctx, scratch, text)) continue;
    cut_to(text, field.max, scratch);
    encoding::append_cef_header(out, text);
  }
  out += plan.header_tail;
  out += severity_field(ctx.severity);
  bool first = true;
  std::string truncated;
  for (const auto& e : plan.extensions) {
    const std::size_t skip = first ? 1 : 0;
    if (!e.rule) {
      out.append(e.text, skip);
      first = false;
      continue;
    }
    const std::size_t mark = out.size();
    out.append(e.text, skip);
    bool cut = false;
    if (!append_value(e, ctx, scratch, out, cut)) {
      out.resize(mark);
      continue;
    }
    if (cut) note_truncated(truncated, e.rule->target);
    first = false;
  }
  append_truncated(out, truncated, first);
}

class CefEncoder final : public Encoder {
 public:
  CefEncoder(const MappingSet& set, const std::string& host) : host_(host) {
    plans_[0] = make_plan(set.for_kind(SourceKind::unknown), host);
    for (auto k : all_source_kinds()) plans_[static_cast<std::size_t>(k)] = make_plan(set.for_kind(k), host);
  }
  std::string_view name() const override { return "cef"; }
  OutputFormat format() const override { return OutputFormat::cef; }
  void encode(const MappedRecord& record, std::string& out) const override {
    const auto k = static_cast<std::size_t>(record.rules.kind);
    const CefPlan* plan = k < plans_.size() ? &plans_[k] : nullptr;
    // A plan holds the rules of the set the encoder was built from, and $host's value then.
    if (plan && plan->mapping == &record.rules && (!plan->host_constant || (record.ctx.host && *record.ctx.host == host_)))
      write_cef(*plan, record.ctx, out);
    else
      write_cef_general(record.rules, record.ctx, out);
  }

 private:
  std::string host_;
  std::array<CefPlan, static_cast<std::size_t>(kLastSourceKind) + 1> plans_;
};

}  // namespace

std::unique_ptr<Encoder> make_cef_encoder(const MappingSet& set, const std::string& host) {
  return std::make_unique<CefEncoder>(set, host);
}

}  // namespace siem::mapping
