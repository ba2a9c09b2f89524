// The writers' shortcuts: a rule's value written straight into the output (append_json), or
// handed over as a view (string_view), for the shapes they know; anything else is left to the
// general evaluator (expression.cc), whose output they must equal byte for byte
// (tests/unit/mapping/fast_paths_test.cc).
#include <algorithm>
#include <charconv>
#include <cmath>
#include <iterator>

#include <fmt/format.h>

#include "connector/mapping/expression.h"
#include "connector/record/encoding.h"
#include "connector/record/time_parse.h"

namespace siem::mapping {

Expr::Written Expr::append_plain_json(const EvalContext& ctx, std::string& out) const {
  for (const auto& c : when)
    if (!condition_holds(c, ctx)) return Written::nothing;
  if (src == Src::value) {
    if (constant.empty()) return Written::nothing;
    append_value_json(out, constant);
    return Written::value;
  }
  if (src == Src::virt) {
    const std::string* text = nullptr;  // the string-valued variables, without a copy
    switch (var) {
      case Var::time: text = ctx.time_text; break;
      case Var::now: text = ctx.now_text; break;
      case Var::id: text = ctx.id; break;
      case Var::tenant: text = ctx.tenant; break;
      case Var::host: text = ctx.host; break;
      default: break;
    }
    if (text) {
      if (text->empty()) return Written::nothing;
      encoding::append_json_string(out, *text);
      return Written::value;
    }
    // The numeric and list variables every event has ($severity, $tags, $pa.*), without building a
    // Value (the lists were copied into one): what virtual_value() + append_value_json() write.
    const auto* pa = ctx.enrichment;
    const auto write_int = [&out](std::int64_t i) {
      append_int(out, i);
      return Written::value;
    };
    const auto write_list = [&out](const std::vector<std::string>* a, const std::vector<std::string>* b) {
      if ((!a || a->empty()) && (!b || b->empty())) return Written::nothing;
      out += '[';
      bool first = true;
      for (const auto* l : {a, b}) {
        if (!l) continue;
        for (const auto& x : *l) {
          if (!first) out += ',';
          first = false;
          encoding::append_json_string(out, x);
        }
      }
      out += ']';
      return Written::value;
    };
    switch (var) {
      case Var::severity: return write_int(ctx.severity);
      case Var::time_ms: return write_int(ctx.time_ms);
      case Var::tags: return write_list(pa ? &pa->tags : nullptr, ctx.extra_tags);
      case Var::pa_tags: return pa ? write_list(&pa->tags, nullptr) : Written::nothing;
      case Var::pa_roles: return pa ? write_list(&pa->roles, nullptr) : Written::nothing;
      case Var::pa_role_ids: return pa ? write_list(&pa->role_ids, nullptr) : Written::nothing;
      case Var::pa_tier: return pa && pa->tier >= 0 ? write_int(pa->tier) : Written::nothing;
      default: break;
    }
    const Value v = virtual_value(var, ctx);
    if (v.empty()) return Written::nothing;
    append_value_json(out, v);
    return Written::value;
  }
  // Like raw(): the first path with a non-empty value decides.
  for (const auto& p : paths) {
    auto e = find_path(p, ctx);
    if (!e) continue;
    auto type = e->type();
    if ((type == simdjson::dom::element_type::OBJECT || type == simdjson::dom::element_type::ARRAY) && !structured()) {
      e = json::localized_value(*e);  // as from_value()
      if (!e) continue;
      type = e->type();
    }
    const std::size_t mark = out.size();
    if (conversion == Conversion::json || conversion == Conversion::elastic || conversion == Conversion::snake) {
      if (conversion == Conversion::json) json::append_json(out, *e);
      else write_elastic(out, *e, conversion == Conversion::elastic);
      const std::string_view written(out.data() + mark, out.size() - mark);
      if (written.empty() || written == "null" || written == "{}" || written == "[]") {  // Value::empty()
        out.resize(mark);
        continue;
      }
      return Written::value;
    }
    if (type == simdjson::dom::element_type::STRING) {
      const std::string_view sv = e->get_string().value_unsafe();
      if (sv.empty()) continue;
      const auto a = ip_address(conversion, sv);
      if (!a) return Written::nothing;
      encoding::append_json_string(out, *a);
      return Written::value;
    }
    if (is_ip(conversion)) return Written::unsupported;
    char digits[24];
    switch (type) {
      case simdjson::dom::element_type::INT64: {
        auto r = std::to_chars(digits, digits + sizeof digits, e->get_int64().value_unsafe());
        out.append(digits, r.ptr);
        return Written::value;
      }
      case simdjson::dom::element_type::UINT64: {  // as from_element(): a signed integer
        auto r = std::to_chars(digits, digits + sizeof digits, static_cast<std::int64_t>(e->get_uint64().value_unsafe()));
        out.append(digits, r.ptr);
        return Written::value;
      }
      case simdjson::dom::element_type::BOOL:
        out += e->get_bool().value_unsafe() ? "true" : "false";
        return Written::value;
      case simdjson::dom::element_type::NULL_VALUE: continue;
      case simdjson::dom::element_type::OBJECT:
      case simdjson::dom::element_type::ARRAY: {
        json::append_json(out, *e);
        const std::string_view written(out.data() + mark, out.size() - mark);
        if (written == "{}" || written == "[]") {
          out.resize(mark);
          continue;
        }
        return Written::value;
      }
      default: return Written::unsupported;  // doubles: formatted by Value
    }
  }
  return Written::nothing;
}

// The element raw() takes its value from for a `from` expression: the first path whose value is
// not empty (null, "", {} and [] are). false: none.
bool Expr::first_value(const EvalContext& ctx, element& e) const {
  for (const auto& p : paths) {
    auto found = find_path(p, ctx);
    if (found) found = from_value(*found);
    if (!found) continue;
    switch (found->type()) {
      case simdjson::dom::element_type::NULL_VALUE: continue;
      case simdjson::dom::element_type::STRING:
        if (found->get_string().value_unsafe().empty()) continue;
        break;
      case simdjson::dom::element_type::OBJECT:
        if (json::as_object(*found).begin() == json::as_object(*found).end()) continue;
        break;
      case simdjson::dom::element_type::ARRAY:
        if (json::as_array(*found).begin() == json::as_array(*found).end()) continue;
        break;
      default: break;
    }
    e = *found;
    return true;
  }
  return false;
}

namespace {

// `text` lower-cased as a JSON string (escaping commutes with ASCII lower-casing: escapes and the
// replacement character hold no upper-case ASCII letters).
void append_lower_json(std::string& out, std::string_view text) {
  const std::size_t mark = out.size();
  encoding::append_json_string(out, text);
  for (std::size_t i = mark; i < out.size(); ++i)
    if (out[i] >= 'A' && out[i] <= 'Z') out[i] = static_cast<char>(out[i] | 0x20);
}

// The text Value::text() gives from_element(e) for a string, an integer or a boolean (the key a
// `map` looks up). false for other types.
bool lookup_text(element e, std::string_view& text, char (&digits)[24]) {
  switch (e.type()) {
    case simdjson::dom::element_type::STRING: text = e.get_string().value_unsafe(); return true;
    case simdjson::dom::element_type::INT64:
    case simdjson::dom::element_type::UINT64: {
      const auto i = e.type() == simdjson::dom::element_type::INT64 ? e.get_int64().value_unsafe()
                                                                    : static_cast<std::int64_t>(e.get_uint64().value_unsafe());
      const auto r = std::to_chars(digits, digits + sizeof digits, i);
      text = std::string_view(digits, static_cast<std::size_t>(r.ptr - digits));
      return true;
    }
    case simdjson::dom::element_type::BOOL: text = e.get_bool().value_unsafe() ? "true" : "false"; return true;
    default: return false;
  }
}

}  // namespace

// eval() of a `from` expression with a `map` (and maybe a default, a type none or lower).
Expr::Written Expr::append_lookup_json(const EvalContext& ctx, std::string& out) const {
  element e;
  const Value* chosen = nullptr;  // a map / default value; null: the record's value as it is
  std::string_view text;
  char digits[24];
  if (first_value(ctx, e)) {
    if (!lookup_text(e, text, digits)) return Written::unsupported;
    for (const auto& [k, mapped] : lookup) {
      if (json::iequals(k, text)) {
        chosen = &mapped;
        break;
      }
    }
    if (!chosen && fallback) chosen = &*fallback;
  } else {
    if (!fallback) return Written::nothing;
    chosen = &*fallback;
  }
  if (chosen && chosen->empty() && fallback) chosen = &*fallback;
  if (!chosen) {  // the record's value, not in the map and no default
    if (conversion == Conversion::lower) append_lower_json(out, text);
    else if (e.type() == simdjson::dom::element_type::STRING) encoding::append_json_string(out, text);
    else out += text;  // an integer or a boolean: JSON as their text
    return Written::value;
  }
  if (conversion == Conversion::lower) {
    if (chosen->kind == Value::Kind::none || chosen->kind == Value::Kind::list) return Written::nothing;
    const std::string t = chosen->text();
    if (t.empty()) return Written::nothing;
    append_lower_json(out, t);
    return Written::value;
  }
  if (chosen->empty()) return Written::nothing;
  append_value_json(out, *chosen);
  return Written::value;
}

Expr::Written Expr::append_direct_json(const EvalContext& ctx, std::string& out) const {
  if (is_plain) return append_plain_json(ctx, out);
  for (const auto& c : when)
    if (!condition_holds(c, ctx)) return Written::nothing;
  if (src == Src::tpl) {
    // The text raw() builds, in a buffer kept between records (no Value, no allocation).
    static thread_local std::string text;
    text.clear();
    if (!render_template(parts, ctx, text)) return Written::nothing;
    encoding::append_json_string(out, text);
    return Written::value;
  }
  if (src == Src::all) {
    // raw(): the distinct non-empty texts of every match, in order; strings only here.
    static thread_local std::vector<element> found;
    found.clear();
    for (const auto& p : paths) {
      if (p.fans_out()) p.all(ctx.record, found);
      else if (auto e = find_path(p, ctx)) found.push_back(*e);
    }
    constexpr std::size_t kMax = 32;
    std::string_view texts[kMax];
    std::size_t n = 0;
    for (auto e : found) {
      if (e.type() == simdjson::dom::element_type::OBJECT) {  // a LocalizableString gives its value
        const auto v = json::localized_value(e);
        if (!v) continue;
        e = *v;
      }
      switch (e.type()) {
        case simdjson::dom::element_type::STRING: break;
        case simdjson::dom::element_type::NULL_VALUE:
        case simdjson::dom::element_type::OBJECT:
        case simdjson::dom::element_type::ARRAY: continue;  // no scalar text
        default: return Written::unsupported;
      }
      const std::string_view raw = e.get_string().value_unsafe();
      if (raw.empty()) continue;
      const auto sv = ip_address(conversion, raw);
      if (!sv) continue;
      if (std::find(texts, texts + n, *sv) != texts + n) continue;
      if (n == kMax) return Written::unsupported;
      texts[n++] = *sv;
    }
    if (n == 0) return Written::nothing;
    out += '[';
    for (std::size_t i = 0; i < n; ++i) {
      if (i > 0) out += ',';
      encoding::append_json_string(out, texts[i]);
    }
    out += ']';
    return Written::value;
  }
  if (has_lookup) return append_lookup_json(ctx, out);
  element e;
  if (!first_value(ctx, e)) return Written::nothing;
  const auto fast = conversion_row(conversion).fast;
  return fast ? fast(e, multiply, out) : Written::unsupported;
}

Expr::Written Expr::plain_string(const EvalContext& ctx, std::string_view& text) const {
  for (const auto& c : when)
    if (!condition_holds(c, ctx)) return Written::nothing;
  if (src == Src::value) {
    if (constant.kind != Value::Kind::string) return Written::unsupported;
    if (constant.s.empty()) return Written::nothing;
    text = constant.s;
    return Written::value;
  }
  if (src == Src::virt) {
    const std::string* s = nullptr;
    switch (var) {
      case Var::time: s = ctx.time_text; break;
      case Var::id: s = ctx.id; break;
      case Var::tenant: s = ctx.tenant; break;
      case Var::host: s = ctx.host; break;
      default: return Written::unsupported;
    }
    if (!s) return Written::unsupported;
    if (s->empty()) return Written::nothing;
    text = *s;
    return Written::value;
  }
  if (conversion != Conversion::none && !is_ip(conversion)) return Written::unsupported;
  for (const auto& p : paths) {
    const auto e = find_path(p, ctx);
    if (!e) continue;
    if (e->type() == simdjson::dom::element_type::NULL_VALUE) continue;
    if (e->type() != simdjson::dom::element_type::STRING) return Written::unsupported;
    const std::string_view sv = e->get_string().value_unsafe();
    if (sv.empty()) continue;
    const auto a = ip_address(conversion, sv);
    if (!a) return Written::nothing;
    text = *a;
    return Written::value;
  }
  return Written::nothing;
}

std::optional<bool> Rule::string_view(const EvalContext& ctx, std::string_view& text) const {
  for (const auto& a : alternatives) {
    switch (a->plain_string(ctx, text)) {
      case Expr::Written::value: return true;
      case Expr::Written::nothing: continue;
      case Expr::Written::unsupported: return std::nullopt;
    }
  }
  return false;
}

std::optional<bool> Rule::append_json(const EvalContext& ctx, std::string& out) const {
  for (const auto& a : alternatives) {
    switch (a->append_direct_json(ctx, out)) {
      case Expr::Written::value: return true;
      case Expr::Written::nothing: continue;
      case Expr::Written::unsupported: return std::nullopt;
    }
  }
  return false;
}

bool Rule::integer_constant(const EvalContext& ctx, std::optional<std::int64_t>& value) const {
  const bool all_integers = std::all_of(alternatives.begin(), alternatives.end(), [](const ExprPtr& e) {
    return e->is_plain && e->src == Expr::Src::value && e->constant.kind == Value::Kind::integer;
  });
  if (!all_integers) return false;
  value.reset();
  for (const auto& a : alternatives) {
    if (std::all_of(a->when.begin(), a->when.end(), [&](const Condition& c) { return condition_holds(c, ctx); })) {
      value = a->constant.i;
      break;
    }
  }
  return true;
}

bool Rule::constant_json(const std::string& host, std::string& out) const {
  return !alternatives.empty() && alternatives.front()->constant_json(host, out);
}

}  // namespace siem::mapping
