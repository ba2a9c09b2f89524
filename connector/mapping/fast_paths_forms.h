// The writers' shortcuts that write a rule's value in one of the two forms (expression.h, Form):
// JSON for the ECS / OCSF writer (Rule::append_json, fast_paths.cc) and text for the CEF encoder
// (Rule::append_text, fast_paths_text.cc). Templates on the form, instantiated in those two files
// only, so the JSON writer's code is compiled (and inlined) as if the text form did not exist; and
// on the output (json_out.h): a std::string (StringOut) or the document writer's cursor
// (CursorOut), into which the values are escaped and written in place, with no copy.
// Internal to connector/mapping; each must equal the general evaluator (expression.cc) byte for
// byte (tests/unit/mapping/fast_paths_test.cc).
#pragma once

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <type_traits>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "connector/mapping/expression.h"
#include "connector/record/encoding.h"
#include "connector/record/time_parse.h"

namespace siem::mapping {

namespace fast_paths_detail {

// append_value_json(v) or v.text(), by form.
template <class Out>
void append_value(Out& out, const Value& v, Form form) {
  if (form == Form::json) write_value_json(out, v);
  else if (v.kind == Value::Kind::string || v.kind == Value::Kind::json) out.put(v.s);
  else out.put(v.text());
}

// A list's item after those since `mark`: JSON items are separated by ','; Value::text() puts a ','
// before an item once its text is not empty.
template <class Out>
void append_list_item(Out& out, std::size_t mark, std::string_view item, Form form) {
  if (form == Form::json) {
    out.json_string(out.mark() > mark + 1 ? std::string_view(",", 1) : std::string_view(), item);  // after the '['
    return;
  }
  if (out.mark() > mark) out.put(',');
  out.put(item);
}

// Whether encoding::write_json_string() writes the `n` bytes at `p` as they are between the quotes:
// none of them encoding::json_needs_escaping(), tested by the escaper's own encoding::json_special_mask().
// Reads 16 bytes at a time: the 15 bytes after the text must be readable (what they hold is masked off).
inline bool json_plain_text(const char* p, std::size_t n) {
#if defined(__SSE2__)
  for (std::size_t i = 0; i < n; i += 16) {
    unsigned mask = encoding::json_special_mask(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i)));
    if (n - i < 16) mask &= (1u << (n - i)) - 1;
    if (mask != 0) return false;
  }
  return true;
#else
  for (std::size_t i = 0; i < n; ++i)
    if (encoding::json_needs_escaping(static_cast<unsigned char>(p[i]))) return false;
  return true;
#endif
}

}  // namespace fast_paths_detail

template <Form form, class Out>
Expr::Written Expr::append_plain(const EvalContext& ctx, Out& out) const {
  for (const auto& c : when)
    if (!condition_holds(c, ctx)) return Written::nothing;
  if (src == Src::value) {
    if (constant.empty()) return Written::nothing;
    fast_paths_detail::append_value(out, constant, form);
    return Written::value;
  }
  if (src == Src::virt) {
    // The variables every event has ($time, $severity, $tags, $pa.*...), without building a Value
    // (the lists were copied into one): what virtual_value() + append_value_json() write.
    switch (shape_of(var)) {
      case VarShape::text:
        if (const std::string* text = text_variable(var, ctx)) {
          if (text->empty()) return Written::nothing;
          append_string(out, *text, form);
          return Written::value;
        }
        break;  // $time / $now not formatted in advance: virtual_value() formats them
      case VarShape::integer:
        put_int(out, int_variable(var, ctx));
        return Written::value;
      case VarShape::list: {
        const ListVariable l = list_variable(var, ctx);
        if (l.empty()) return Written::nothing;
        const std::size_t mark = out.mark();
        if (form == Form::json) out.put('[');
        for (const auto* v : {l.a, l.b}) {
          if (!v) continue;
          for (const auto& x : *v) fast_paths_detail::append_list_item(out, mark, x, form);
        }
        if (form == Form::json) out.put(']');
        return Written::value;
      }
      case VarShape::other: break;
    }
    const auto* pa = ctx.enrichment;
    switch (var) {
      case Var::pa_tier:
        if (!pa || pa->tier < 0) return Written::nothing;
        put_int(out, pa->tier);
        return Written::value;
      case Var::pa_risk_score:  // a real: the same text in both forms
        if (!pa || pa->severity <= 0) return Written::nothing;
        put_real(out, pa->risk_score);
        return Written::value;
      case Var::pa_detections:  // JSON text in both forms, as virtual_value() builds it
        if (!pa || pa->detections.empty()) return Written::nothing;
        for (std::size_t i = 0; i < pa->detections.size(); ++i) {
          const auto& d = pa->detections[i];
          out.json_string(i == 0 ? std::string_view("[{\"name\":") : std::string_view(",{\"name\":"), d.name);
          out.put(std::string_view(",\"severity\":"));
          put_int(out, d.severity);
          out.json_string(std::string_view(",\"reason\":"), d.reason);
          out.put('}');
        }
        out.put(']');
        return Written::value;
      default: break;
    }
    const Value v = virtual_value(var, ctx);
    if (v.empty()) return Written::nothing;
    fast_paths_detail::append_value(out, v, form);
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
    const std::size_t mark = out.mark();
    if (conversion == Conversion::json || conversion == Conversion::elastic || conversion == Conversion::snake) {
      if (conversion == Conversion::json) write_compact_json_to(out, *e);
      else write_elastic_to(out, *e, conversion == Conversion::elastic, std::numeric_limits<std::size_t>::max());
      const std::string_view written = out.since(mark);
      if (written.empty() || written == "null" || written == "{}" || written == "[]") {  // Value::empty()
        out.truncate(mark);
        continue;
      }
      return Written::value;
    }
    if (type == simdjson::dom::element_type::STRING) {
      const std::string_view sv = e->get_string().value_unsafe();
      if (sv.empty()) continue;
      const auto a = ip_address(conversion, sv);
      if (!a) return Written::nothing;
      append_string(out, *a, form);
      return Written::value;
    }
    if (is_ip(conversion)) return Written::unsupported;
    switch (type) {
      case simdjson::dom::element_type::INT64:
        put_int(out, e->get_int64().value_unsafe());
        return Written::value;
      case simdjson::dom::element_type::UINT64:  // as from_element(): a signed integer
        put_int(out, static_cast<std::int64_t>(e->get_uint64().value_unsafe()));
        return Written::value;
      case simdjson::dom::element_type::BOOL:
        out.put(e->get_bool().value_unsafe() ? std::string_view("true") : std::string_view("false"));
        return Written::value;
      case simdjson::dom::element_type::DOUBLE:  // as Value's text and JSON of a real: fmt's shortest form
        put_real(out, e->get_double().value_unsafe());
        return Written::value;
      case simdjson::dom::element_type::NULL_VALUE: continue;
      case simdjson::dom::element_type::OBJECT:
      case simdjson::dom::element_type::ARRAY: {
        write_compact_json_to(out, *e);
        const std::string_view written = out.since(mark);
        if (written == "{}" || written == "[]") {
          out.truncate(mark);
          continue;
        }
        return Written::value;
      }
      default: return Written::unsupported;
    }
  }
  return Written::nothing;
}


namespace fast_paths_detail {

// `text` lower-cased, as a JSON string or as it is (escaping commutes with ASCII lower-casing:
// escapes and the replacement character hold no upper-case ASCII letters).
template <class Out>
void append_lower(Out& out, std::string_view text, Form form) {
  const std::size_t mark = out.mark();
  append_string(out, text, form);
  const std::size_t n = out.mark() - mark;
  char* p = out.data_at(mark);
  for (std::size_t i = 0; i < n; ++i)
    if (p[i] >= 'A' && p[i] <= 'Z') p[i] = static_cast<char>(p[i] | 0x20);
}

// The text Value::text() gives from_element(e) for a string, an integer or a boolean (the key a
// `map` looks up). false for other types.
inline bool lookup_text(element e, std::string_view& text, char (&digits)[24]) {
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

}  // namespace fast_paths_detail

// eval() of a `from` expression with a `map` (and maybe a default, a type none or lower).
template <Form form, class Out>
Expr::Written Expr::append_lookup(const EvalContext& ctx, Out& out) const {
  element e;
  const Value* chosen = nullptr;  // a map / default value; null: the record's value as it is
  std::string_view text;
  char digits[24];
  if (first_value(ctx, e)) {
    if (!fast_paths_detail::lookup_text(e, text, digits)) return Written::unsupported;
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
    if (conversion == Conversion::lower) fast_paths_detail::append_lower(out, text, form);
    else if (e.type() == simdjson::dom::element_type::STRING) append_string(out, text, form);
    else out.put(text);  // an integer or a boolean: JSON as their text
    return Written::value;
  }
  if (conversion == Conversion::lower) {
    if (chosen->kind == Value::Kind::none || chosen->kind == Value::Kind::list) return Written::nothing;
    const std::string t = chosen->text();
    if (t.empty()) return Written::nothing;
    fast_paths_detail::append_lower(out, t, form);
    return Written::value;
  }
  if (chosen->empty()) return Written::nothing;
  fast_paths_detail::append_value(out, *chosen, form);
  return Written::value;
}

// eval() of an `all` expression: raw()'s distinct non-empty texts of every match, in order;
// strings only here. Apart from append_direct() so that its array stays off the common path.
template <Form form, class Out>
Expr::Written Expr::append_all(const EvalContext& ctx, Out& out) const {
  static thread_local std::vector<element> found;
  found.clear();
  for (const auto& p : paths) {
    if (p.fans_out()) p.all(ctx.record, found);
    else if (auto e = find_path(p, ctx)) found.push_back(*e);
  }
  constexpr std::size_t kMax = 32;
  // Left uninitialised (only texts[0, n) are read): 32 views zeroed per call cost more than the rest
  // of a typical call.
  struct Text {
    const char* data;
    std::size_t size;
    std::string_view view() const { return {data, size}; }
  };
  Text texts[kMax];
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
    if (std::any_of(texts, texts + n, [&](const Text& t) { return t.view() == *sv; })) continue;
    if (n == kMax) return Written::unsupported;
    texts[n++] = Text{sv->data(), sv->size()};
  }
  if (n == 0) return Written::nothing;
  const std::size_t mark = out.mark();
  if (form == Form::json) out.put('[');
  for (std::size_t i = 0; i < n; ++i) fast_paths_detail::append_list_item(out, mark, texts[i].view(), form);
  if (form == Form::json) out.put(']');
  return Written::value;
}

template <Form form, class Out>
Expr::Written Expr::append_direct(const EvalContext& ctx, Out& out) const {
  if (is_plain) return append_plain<form>(ctx, out);
  for (const auto& c : when)
    if (!condition_holds(c, ctx)) return Written::nothing;
  if constexpr (form == Form::text) {
    if (src == Src::tpl) {  // raw()'s text, rendered in place
      const std::size_t mark = out.mark();
      if (render_template(parts, ctx, out) && out.mark() > mark) return Written::value;
      out.truncate(mark);
      return Written::nothing;
    }
  }
  if (src == Src::tpl) {
    // The text raw() builds, in a buffer kept between records (no Value, no allocation), escaped
    // into the output.
    static thread_local std::string text;
    if constexpr (std::is_same_v<Out, CursorOut>) {
      // Rendered straight into the cursor after the opening quote: most texts need no escaping and
      // are closed where they lie; the others are copied out and escaped as below.
      const std::size_t mark = out.mark();
      out.put('"');
      if (!render_template(parts, ctx, out)) {
        out.truncate(mark);
        return Written::nothing;
      }
      const std::size_t n = out.mark() - mark - 1;
      out.room(16);  // json_plain_text() reads up to 15 bytes past the text
      if (fast_paths_detail::json_plain_text(out.data_at(mark + 1), n)) {
        out.put('"');
        return Written::value;
      }
      text.assign(out.data_at(mark + 1), n);
      out.truncate(mark);
      out.json_string({}, text);
      return Written::value;
    }
    text.clear();
    if (!render_template(parts, ctx, text)) return Written::nothing;
    out.json_string({}, text);
    return Written::value;
  }
  if (src == Src::all) return append_all<form>(ctx, out);
  if (has_lookup) return append_lookup<form>(ctx, out);
  element e;
  if (!first_value(ctx, e)) return Written::nothing;
  const auto fast = conversion_row(conversion).fast.template to<Out>();
  return fast ? fast(e, multiply, form, out) : Written::unsupported;
}


namespace fast_paths_detail {

template <Form form, class Out>
std::optional<bool> append_in_form(const std::vector<ExprPtr>& alternatives, const EvalContext& ctx, Out& out) {
  for (const auto& a : alternatives) {
    // Most expressions are plain: called straight, without append_direct()'s larger frame.
    switch (a->is_plain ? a->template append_plain<form>(ctx, out) : a->template append_direct<form>(ctx, out)) {
      case Expr::Written::value: return true;
      case Expr::Written::nothing: continue;
      case Expr::Written::unsupported: return std::nullopt;
    }
  }
  return false;
}

}  // namespace fast_paths_detail

}  // namespace siem::mapping
