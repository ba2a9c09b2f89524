// The general evaluator: $variables, conditions, templates and Expr::eval(), which every rule can
// take (the writers' shortcuts in fast_paths.cc give the same output for the shapes they know).
#include <algorithm>
#include <charconv>
#include <cmath>

#include "connector/mapping/expression.h"
#include "connector/record/encoding.h"
#include "connector/record/time_parse.h"

namespace siem::mapping {

Var var_of(std::string_view name) {
  static const std::pair<std::string_view, Var> names[] = {
      {"$time", Var::time},         {"$time_ms", Var::time_ms},
      {"$now", Var::now},           {"$kind", Var::kind},
      {"$id", Var::id},             {"$tenant", Var::tenant},
      {"$host", Var::host},         {"$version", Var::version},
      {"$severity", Var::severity}, {"$record", Var::record},
      {"$tags", Var::tags},         {"$pa.tags", Var::pa_tags},
      {"$pa.detection_names", Var::pa_detection_names}, {"$pa.tier", Var::pa_tier},
      {"$pa.severity", Var::pa_severity}, {"$pa.risk_score", Var::pa_risk_score},
      {"$pa.roles", Var::pa_roles}, {"$pa.role_ids", Var::pa_role_ids},
      {"$pa.detections", Var::pa_detections},
      {"$ocsf.class_uid", Var::ocsf_class_uid}, {"$ocsf.activity_id", Var::ocsf_activity_id},
      {"$ocsf.category_uid", Var::ocsf_category_uid}, {"$ocsf.type_uid", Var::ocsf_type_uid}};
  for (const auto& [n, v] : names)
    if (n == name) return v;
  return Var::unknown;  // yields nothing, as an unknown name always has
}

Value virtual_value(Var var, const EvalContext& ctx) {
  const auto* pa = ctx.enrichment;
  auto list = [](const std::vector<std::string>& l) {
    Value v;
    v.kind = Value::Kind::list;
    v.list = l;
    return v;
  };
  switch (var) {
    case Var::unknown: return {};
    case Var::time: return str(ctx.time_text ? *ctx.time_text : format_time_ms(ctx.time_ms));
    case Var::time_ms: return integer(ctx.time_ms);
    case Var::now: return str(ctx.now_text ? *ctx.now_text : format_time_ms(ctx.now_ms));
    case Var::kind: return str(std::string(to_string(ctx.kind)));
    case Var::id: return ctx.id ? str(*ctx.id) : Value{};
    case Var::tenant: return ctx.tenant ? str(*ctx.tenant) : Value{};
    case Var::host: return ctx.host ? str(*ctx.host) : Value{};
    case Var::version: return str(SIEM_VERSION);
    case Var::severity: return integer(ctx.severity);
    case Var::record: return ctx.raw ? str(std::string(*ctx.raw)) : Value{};
    // The OCSF class and activity of the event being written (set by the OCSF encoder from the
    // kind's class_uid / activity_id rules); category and type follow from them.
    case Var::ocsf_class_uid: return ctx.ocsf_class_uid >= 0 ? integer(ctx.ocsf_class_uid) : Value{};
    case Var::ocsf_activity_id: return ctx.ocsf_activity_id >= 0 ? integer(ctx.ocsf_activity_id) : Value{};
    case Var::ocsf_category_uid: return ctx.ocsf_class_uid >= 0 ? integer(ctx.ocsf_class_uid / 1000) : Value{};
    case Var::ocsf_type_uid:
      if (ctx.ocsf_class_uid < 0 || ctx.ocsf_activity_id < 0) return {};
      return integer(std::int64_t{ctx.ocsf_class_uid} * 100 + ctx.ocsf_activity_id);
    case Var::tags: {
      Value v;
      v.kind = Value::Kind::list;
      if (pa) v.list = pa->tags;
      if (ctx.extra_tags) v.list.insert(v.list.end(), ctx.extra_tags->begin(), ctx.extra_tags->end());
      return v;
    }
    default: break;
  }
  if (!pa) return {};
  switch (var) {
    case Var::pa_tags: return list(pa->tags);
    case Var::pa_detection_names: {
      Value v;
      v.kind = Value::Kind::list;
      for (const auto& d : pa->detections) v.list.push_back(d.name);
      return v;
    }
    case Var::pa_tier: return pa->tier >= 0 ? integer(pa->tier) : Value{};
    case Var::pa_severity: return pa->severity > 0 ? integer(pa->severity) : Value{};
    case Var::pa_risk_score: return pa->severity > 0 ? real(pa->risk_score) : Value{};
    case Var::pa_roles: return list(pa->roles);
    case Var::pa_role_ids: return list(pa->role_ids);
    case Var::pa_detections: {
      if (pa->detections.empty()) return {};
      Value v;
      v.kind = Value::Kind::json;
      v.s = "[";
      for (std::size_t i = 0; i < pa->detections.size(); ++i) {
        const auto& d = pa->detections[i];
        if (i > 0) v.s += ',';
        v.s += "{\"name\":";
        encoding::append_json_string(v.s, d.name);
        v.s += ",\"severity\":";
        v.s += std::to_string(d.severity);
        v.s += ",\"reason\":";
        encoding::append_json_string(v.s, d.reason);
        v.s += '}';
      }
      v.s += ']';
      return v;
    }
    default: return {};
  }
}

namespace {

// Whether `text` equals one of the condition's values, case-insensitively, for a condition that
// was not prepared (no lowered values): each value compared as it is.
[[gnu::noinline]] bool any_equal_unprepared(const Condition& c, std::string_view text) {
  return std::any_of(c.values.begin(), c.values.end(), [&](const std::string& x) { return json::iequals(text, x); });
}

// Whether `text` equals one of the condition's values, case-insensitively. Most texts have no
// value's length: one bit test answers them.
inline bool any_equal(const Condition& c, std::string_view text) {
  const std::size_t n = text.size();
  if (((c.lengths >> std::min<std::size_t>(n, 63)) & 1) == 0)
    return c.lowered.size() != c.values.size() && any_equal_unprepared(c, text);
  for (const auto& x : c.lowered)
    if (x.size() == n && json::iequals_lowered(text, x)) return true;
  return false;
}

// contains / starts_with on a present value's text.
[[gnu::noinline]] bool text_matches(const Condition& c, std::string_view text) {
  if (c.op == Condition::Op::contains)
    return std::any_of(c.values.begin(), c.values.end(), [&](const std::string& x) { return json::icontains(text, x); });
  return std::any_of(c.values.begin(), c.values.end(), [&](const std::string& x) { return json::istarts_with(text, x); });
}

// A comparing condition (not exists / missing) on the text of a value that is present.
inline bool text_holds(const Condition& c, std::string_view text) {
  using Op = Condition::Op;
  switch (c.op) {
    case Op::equals:
    case Op::in: return any_equal(c, text);
    case Op::not_equals:
    case Op::not_in: return !any_equal(c, text);
    case Op::contains:
    case Op::starts_with: return text_matches(c, text);
    case Op::exists:
    case Op::missing: break;  // answered by the callers
  }
  return false;
}

// The same for a record value that is not a string. An integer (an error code against "0") is
// compared as a number with the values that are an integer's text, when the condition compares
// whole values and was prepared (its text is the digits: case plays no part); otherwise as the
// text scalar_text() writes, in a stack buffer. Other scalars as their text, objects and arrays
// as JSON.
[[gnu::noinline]] bool element_holds(const Condition& c, element e) {
  using Op = Condition::Op;
  const auto type = e.type();
  if (type == simdjson::dom::element_type::INT64 && c.op != Op::contains && c.op != Op::starts_with &&
      c.lowered.size() == c.values.size()) {
    const std::int64_t i = e.get_int64().value_unsafe();
    const bool equal = std::find(c.integers.begin(), c.integers.end(), i) != c.integers.end();
    return (c.op == Op::equals || c.op == Op::in) == equal;
  }
  if (type == simdjson::dom::element_type::INT64 || type == simdjson::dom::element_type::UINT64) {
    char digits[24];
    const auto r = type == simdjson::dom::element_type::INT64
                       ? std::to_chars(digits, digits + sizeof digits, e.get_int64().value_unsafe())
                       : std::to_chars(digits, digits + sizeof digits, e.get_uint64().value_unsafe());
    return text_holds(c, std::string_view(digits, static_cast<std::size_t>(r.ptr - digits)));
  }
  std::string owned;
  if (!json::scalar_text(e, owned)) owned = json::to_json(e);
  return text_holds(c, owned);
}

// A condition on a $variable: its value's text.
[[gnu::noinline]] bool variable_holds(const Condition& c, const EvalContext& ctx) {
  using Op = Condition::Op;
  const Value v = virtual_value(c.var, ctx);
  if (c.op == Op::exists || c.op == Op::missing) return !v.empty() == (c.op == Op::exists);
  if (v.empty()) return c.op == Op::not_equals || c.op == Op::not_in;
  return text_holds(c, v.text());
}

// Appends the scalar text of `e` (json::scalar_text) to `out`, a record string without a copy.
// Returns whether it appended anything (false for an empty string or a non-scalar).
template <class Out>
bool append_scalar_text(element e, Out& out) {
  if (e.is_string()) {
    const std::string_view sv = e.get_string().value_unsafe();
    out.put(sv);
    return !sv.empty();
  }
  const auto type = e.type();
  if (type == simdjson::dom::element_type::INT64 || type == simdjson::dom::element_type::UINT64) {
    // an error code: its digits as std::to_string writes them, in place, without a string
    constexpr std::size_t kDigits = 24;  // the longest int64 and uint64 fit
    char* p = out.room(kDigits);
    out.advance(type == simdjson::dom::element_type::INT64
                    ? std::to_chars(p, p + kDigits, e.get_int64().value_unsafe()).ptr
                    : std::to_chars(p, p + kDigits, e.get_uint64().value_unsafe()).ptr);
    return true;
  }
  std::string t;
  if (!json::scalar_text(e, t)) return false;
  out.put(t);
  return !t.empty();
}

}  // namespace

void Condition::prepare() {
  lowered.clear();
  integers.clear();
  lengths = 0;
  for (const auto& v : values) {
    lowered.push_back(json::to_lower(v));
    lengths |= std::uint64_t{1} << std::min<std::size_t>(v.size(), 63);
    // An integer's text as to_chars writes it, and nothing else: what the record's integer must be.
    std::int64_t i = 0;
    const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), i);
    if (ec != std::errc() || end != v.data() + v.size()) continue;
    char digits[24];
    const auto r = std::to_chars(digits, digits + sizeof digits, i);
    if (std::string_view(digits, static_cast<std::size_t>(r.ptr - digits)) == v) integers.push_back(i);
  }
}

bool condition_holds_general(const Condition& c, const EvalContext& ctx) {
  using Op = Condition::Op;
  if (!c.virt.empty()) return variable_holds(c, ctx);
  const auto e = find_path(c.path, ctx);
  if (c.op == Op::exists || c.op == Op::missing) return e.has_value() == (c.op == Op::exists);  // no text needed
  if (!e) return c.op == Op::not_equals || c.op == Op::not_in;  // a missing value equals nothing
  if (e->is_string()) return text_holds(c, e->get_string().value_unsafe());  // no copy
  return element_holds(c, *e);
}

// A template's text appended to `out`; false when every placeholder was empty (then the rule
// gives no value). An optional group whose placeholders are all empty is taken out again.
bool render_template(const std::vector<TemplatePart>& parts, const EvalContext& ctx, std::string& out) {
  StringOut to(out);
  return render_template(parts, ctx, to);
}

namespace {

template <class Out>
bool render_parts(const std::vector<TemplatePart>& parts, const EvalContext& ctx, Out& out) {
  bool any = false;
  bool group_any = false;
  std::size_t group_start = 0;
  for (const auto& p : parts) {
    bool filled = false;
    if (p.group == TemplatePart::Group::open) {
      group_start = out.mark();
      group_any = false;
      continue;
    }
    if (p.group == TemplatePart::Group::close) {
      if (!group_any) out.truncate(group_start);
      continue;
    }
    if (p.path) {
      if (auto e = find_path(*p.path, ctx)) filled = append_scalar_text(*e, out);
    } else if (!p.virt.empty()) {
      const std::string* known = nullptr;  // the variables the context holds as text: no Value
      switch (p.var) {
        case Var::id: known = ctx.id; break;
        case Var::tenant: known = ctx.tenant; break;
        case Var::host: known = ctx.host; break;
        default: break;
      }
      if (known) {
        filled = !known->empty();
        out.put(*known);
      } else {
        const auto v = virtual_value(p.var, ctx).text();
        filled = !v.empty();
        out.put(v);
      }
    } else {
      out.put(p.literal);
    }
    any = any || filled;
    group_any = group_any || filled;
  }
  return any;
}

}  // namespace

bool render_template(const std::vector<TemplatePart>& parts, const EvalContext& ctx, StringOut& out) {
  return render_parts(parts, ctx, out);
}

bool render_template(const std::vector<TemplatePart>& parts, const EvalContext& ctx, CursorOut& out) {
  return render_parts(parts, ctx, out);
}

namespace {
// The first `n` items of an array, as JSON.
std::string head_json(element array, std::size_t n) {
  std::string out = "[";
  std::size_t i = 0;
  for (element item : json::as_array(array)) {
    if (i == n) break;
    if (i++ > 0) out += ',';
    json::append_json(out, item);
  }
  out += ']';
  return out;
}
}  // namespace

Value Expr::raw(const EvalContext& ctx) const {
  switch (src) {
    case Src::value: return constant;
    case Src::virt: return virtual_value(var, ctx);
    case Src::tpl: {
      std::string out;
      return render_template(parts, ctx, out) ? str(std::move(out)) : Value{};
    }
    case Src::all: {
      Value v;
      v.kind = Value::Kind::list;
      std::vector<element> found;
      for (const auto& p : paths) {
        if (p.fans_out()) p.all(ctx.record, found);
        else if (auto e = find_path(p, ctx)) found.push_back(*e);  // at most one match: the resolved one
      }
      std::string s;
      for (auto e : found) {
        if (!json::scalar_text(e, s) || s.empty()) continue;
        const auto a = ip_address(conversion, s);
        if (!a) continue;
        if (std::find(v.list.begin(), v.list.end(), *a) == v.list.end()) v.list.emplace_back(*a);
      }
      return v;
    }
    case Src::from:
      for (const auto& p : paths) {
        auto e = find_path(p, ctx);
        if (e) e = from_value(*e);
        if (e) {
          Value v = conversion == Conversion::elastic || conversion == Conversion::snake || conversion == Conversion::json
                        ? Value{}
                        : from_element(*e);
          if (conversion == Conversion::elastic || conversion == Conversion::snake) {
            v.kind = Value::Kind::json;
            write_elastic(v.s, *e, conversion == Conversion::elastic, max_items.value_or(std::numeric_limits<std::size_t>::max()));
          } else if (conversion == Conversion::json) {
            v.kind = Value::Kind::json;
            v.s = max_items && e->is_array() ? head_json(*e, *max_items) : json::to_json(*e);
          } else if (max_items && e->is_array() && conversion == Conversion::list) {
            v.s = head_json(*e, *max_items);
          }
          if (!v.empty()) return v;
        }
      }
      return {};
  }
  return {};
}


Value Expr::eval(const EvalContext& ctx) const {
  for (const auto& c : when)
    if (!condition_holds(c, ctx)) return {};
  Value v = raw(ctx);
  if (has_lookup && !v.empty()) {
    const std::string key = v.text();
    bool hit = false;
    for (const auto& [k, mapped] : lookup) {
      if (json::iequals(k, key)) {
        v = mapped;
        hit = true;
        break;
      }
    }
    if (!hit && fallback) v = *fallback;
  }
  if (v.empty() && fallback) v = *fallback;
  v = convert(std::move(v), ctx, std::nullopt);
  if (max_items && conversion == Conversion::count && v.kind == Value::Kind::integer)
    v = v.i > static_cast<std::int64_t>(*max_items) ? integer(v.i - static_cast<std::int64_t>(*max_items)) : Value{};
  if (multiply && !v.empty()) {
    if (v.kind == Value::Kind::integer) {
      const double r = static_cast<double>(v.i) * *multiply;
      v = std::floor(r) == r && std::fabs(r) < 9e18 ? integer(static_cast<std::int64_t>(r)) : real(r);
    } else if (v.kind == Value::Kind::real) {
      v = real(v.d * *multiply);
    } else {
      double d = 0;
      const auto t = v.text();
      auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), d);
      if (ec == std::errc() && p == t.data() + t.size()) {
        const double r = d * *multiply;
        v = std::floor(r) == r && std::fabs(r) < 9e18 ? integer(static_cast<std::int64_t>(r)) : real(r);
      } else {
        v = {};
      }
    }
  }
  return v;
}

Value Rule::evaluate(const EvalContext& ctx) const {
  for (const auto& a : alternatives) {
    Value v = a->eval(ctx);
    if (!v.empty()) return v;
  }
  return {};
}

}  // namespace siem::mapping
