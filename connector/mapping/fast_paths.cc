// The writers' shortcuts: a rule's value written straight into the output, as JSON (append_json,
// the ECS / OCSF writer) or as text (append_text, the CEF encoder), or handed over as a view
// (string_view), for the shapes they know; anything else is left to the general evaluator
// (expression.cc), whose output they must equal byte for byte (tests/unit/mapping/fast_paths_test.cc).
#include "connector/mapping/fast_paths_forms.h"

namespace siem::mapping {

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
  StringOut to(out);
  return fast_paths_detail::append_in_form<Form::json>(alternatives, ctx, to);
}

std::optional<bool> Rule::append_json(const EvalContext& ctx, CursorOut& out) const {
  return fast_paths_detail::append_in_form<Form::json>(alternatives, ctx, out);
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
