// The conversions a rule's `type:` names, one row each: its names, its general implementation
// (Expr::convert: a Value to the converted Value, what Rule::evaluate() gives) and, when the
// writers have one, its fast implementation (a record element written straight as JSON, what
// Rule::append_json() gives, or as text, what Rule::append_text() gives). Both implementations
// sit side by side in one row;
// tests/unit/mapping/fast_paths_test.cc runs every row's fast implementation against its general
// one. Adding a conversion is a value of Conversion (expression.h) and a row here.
#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <vector>

#include "connector/mapping/expression.h"
#include "connector/record/encoding.h"
#include "connector/record/time_parse.h"

namespace siem::mapping {

namespace {

using simdjson::dom::element_type;

// What the general implementations convert: a list has no text (its conversions look at the list).
std::string text_of(const Value& v) { return v.kind == Value::Kind::list ? std::string() : v.text(); }

// ------------------------------------------------ general implementations (Value in, Value out)

Value keep(Value v) { return v; }

Value to_string_value(Value v) {
  if (v.kind == Value::Kind::string || v.kind == Value::Kind::list) return v;
  return str(text_of(v));
}

template <Conversion C>
Value to_ip(Value v) {
  if (v.kind == Value::Kind::list) return v;
  if (v.kind == Value::Kind::string) {
    const auto a = ip_address(C, v.s);
    if (!a) return Value{};
    v.s = std::string(*a);
    return v;
  }
  if (const auto a = ip_address(C, text_of(v))) return str(std::string(*a));
  return Value{};
}

// `not_ip`: the text that `ip` drops (a host name, a placeholder such as "<IP ADDRESS>", the
// unspecified addresses), nothing for an address `ip` keeps: an OCSF endpoint's name when it has
// no usable address.
Value to_not_ip(Value v) {
  if (v.kind == Value::Kind::list) return Value{};
  const std::string t = text_of(v);
  if (t.empty() || ip_address(Conversion::ip, t)) return Value{};
  return str(t);
}

Value to_integer(Value v) {
  if (v.kind == Value::Kind::integer) return v;
  if (v.kind == Value::Kind::real) return integer(static_cast<std::int64_t>(std::llround(v.d)));
  const std::string t = text_of(v);
  std::int64_t i = 0;
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), i);
  if (ec != std::errc() || p != t.data() + t.size()) {
    double d = 0;
    auto [p2, ec2] = std::from_chars(t.data(), t.data() + t.size(), d);
    if (ec2 != std::errc() || p2 != t.data() + t.size()) return {};
    return integer(static_cast<std::int64_t>(std::llround(d)));
  }
  return integer(i);
}

Value to_real(Value v) {
  if (v.kind == Value::Kind::real) return v;
  if (v.kind == Value::Kind::integer) return real(static_cast<double>(v.i));
  const std::string t = text_of(v);
  double d = 0;
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), d);
  if (ec != std::errc() || p != t.data() + t.size()) return {};
  return real(d);
}

Value to_boolean(Value v) {
  if (v.kind == Value::Kind::boolean) return v;
  const std::string t = text_of(v);
  Value b;
  b.kind = Value::Kind::boolean;
  if (json::iequals(t, "true") || t == "1") b.b = true;
  else if (json::iequals(t, "false") || t == "0") b.b = false;
  else return {};
  return b;
}

Value to_timestamp(Value v) {
  auto ms = v.kind == Value::Kind::integer ? std::optional<std::int64_t>(v.i) : parse_time_ms(text_of(v));
  return ms ? str(format_time_ms(*ms)) : Value{};
}

Value to_epoch_ms(Value v) {
  auto ms = parse_time_ms(text_of(v));
  return ms ? integer(*ms) : Value{};
}

Value to_iso_duration_ms(Value v) {
  auto ms = parse_iso_duration_ms(text_of(v));
  return ms ? integer(*ms) : Value{};
}

Value to_unquoted(Value v) { return str(json::unquote(text_of(v))); }
Value to_lower(Value v) { return str(json::to_lower(text_of(v))); }

Value to_upper(Value v) {
  std::string u = text_of(v);
  for (auto& c : u) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return str(u);
}

Value to_upn_user(Value v) {
  const std::string t = text_of(v);
  const auto at = t.find('@');
  return at == std::string::npos ? Value{} : str(t.substr(0, at));
}

Value to_upn_domain(Value v) {
  const std::string t = text_of(v);
  const auto at = t.find('@');
  return at == std::string::npos ? Value{} : str(t.substr(at + 1));
}

// "/subscriptions/<id>[/...]" (any case: Azure upper-cases resource ids in diagnostic logs) ->
// "<id>" in lower case, as ARM's own subscriptionId fields spell it.
Value to_arm_subscription(Value v) {
  const std::string t = text_of(v);
  constexpr std::string_view prefix = "/subscriptions/";
  if (!json::istarts_with(t, prefix)) return {};
  const auto id = std::string_view(t).substr(prefix.size(), t.find('/', prefix.size()) - prefix.size());
  return id.empty() ? Value{} : str(json::to_lower(id));
}

// An ARM resource id split as Elastic's azure integration splits it (formats.md §2.4: "resourceId
// split into azure.resource.{id,group,provider,name}"): the segment after `resourceGroups`; after
// `providers`, the namespace and type (`Microsoft.Network/networkSecurityGroups`, or the namespace
// alone when nothing follows, `/tenants/<id>/providers/Microsoft.aadiam`) and the rest, the name
// (`srv1/databases/db1` for a child resource). Segment names in any case; values as written.
enum class ArmPart { group, provider, name };

template <ArmPart part>
Value to_arm_part(Value v) {
  const std::string t = text_of(v);
  std::vector<std::string_view> seg;
  for (std::size_t at = 0; at < t.size();) {
    const std::size_t end = std::min(t.find('/', at), t.size());
    if (end > at) seg.emplace_back(std::string_view(t).substr(at, end - at));
    at = end + 1;
  }
  auto after = [&](std::string_view key) -> std::size_t {
    for (std::size_t i = 0; i + 1 < seg.size(); ++i)
      if (json::iequals(seg[i], key)) return i + 1;
    return seg.size();
  };
  auto join = [&](std::size_t from, std::size_t to) {
    std::string out;
    for (std::size_t i = from; i < to; ++i) {
      if (i > from) out += '/';
      out += seg[i];
    }
    return out;
  };
  if constexpr (part == ArmPart::group) {
    const std::size_t g = after("resourceGroups");
    return g < seg.size() ? str(std::string(seg[g])) : Value{};
  } else {
    const std::size_t p = after("providers");
    if (p >= seg.size()) return {};
    const std::size_t type_end = std::min(p + 2, seg.size());
    if constexpr (part == ArmPart::provider) return str(join(p, type_end));
    return type_end < seg.size() ? str(join(type_end, seg.size())) : Value{};
  }
}

// The number of items of an array (its JSON text), 1 for a scalar.
Value to_count(Value v) {
  if (v.kind == Value::Kind::list) return integer(static_cast<std::int64_t>(v.list.size()));
  if (v.kind == Value::Kind::json) {
    simdjson::dom::parser p;
    element e;
    if (p.parse(v.s).get(e) != simdjson::SUCCESS) return {};
    if (!e.is_array()) return integer(1);
    std::int64_t n = 0;
    for ([[maybe_unused]] element item : json::as_array(e)) ++n;
    return integer(n);
  }
  return integer(1);
}

Value to_list(Value v) {
  if (v.kind == Value::Kind::list) return v;
  Value l;
  l.kind = Value::Kind::list;
  if (v.kind == Value::Kind::json) {
    simdjson::dom::parser p;
    element e;
    if (p.parse(v.s).get(e) == simdjson::SUCCESS && e.is_array()) {
      std::string s;
      for (element item : json::as_array(e))
        if (json::scalar_text(item, s) && !s.empty()) l.list.push_back(s);
    }
  } else if (const std::string t = text_of(v); !t.empty()) {
    l.list.push_back(t);
  }
  return l;
}

// ------------------------------------------------ fast implementations (record element in, JSON or text out)
// `e` is the first non-empty value of the rule's paths; `multiply` only ever with `int`. Numbers
// and booleans read the same in both forms.
// Written::unsupported: a case left to the general implementation (nothing appended).

constexpr auto integer_json = [](element e, const std::optional<double>& multiply, Form, auto& out) -> Written {
  std::int64_t i = 0;
  switch (e.type()) {
    case element_type::INT64: i = e.get_int64().value_unsafe(); break;
    case element_type::UINT64: i = static_cast<std::int64_t>(e.get_uint64().value_unsafe()); break;
    case element_type::DOUBLE: i = static_cast<std::int64_t>(std::llround(e.get_double().value_unsafe())); break;
    case element_type::BOOL: return Written::nothing;  // "true" is no number
    default: return Written::unsupported;
  }
  if (!multiply) {
    put_int(out, i);
    return Written::value;
  }
  const double r = static_cast<double>(i) * *multiply;
  if (std::floor(r) == r && std::fabs(r) < 9e18) put_int(out, static_cast<std::int64_t>(r));
  else put_real(out, r);
  return Written::value;
};

constexpr auto real_json = [](element e, const std::optional<double>&, Form, auto& out) -> Written {
  double d = 0;
  switch (e.type()) {
    case element_type::DOUBLE: d = e.get_double().value_unsafe(); break;
    case element_type::INT64: d = static_cast<double>(e.get_int64().value_unsafe()); break;
    case element_type::UINT64: d = static_cast<double>(static_cast<std::int64_t>(e.get_uint64().value_unsafe())); break;
    case element_type::BOOL: return Written::nothing;
    default: return Written::unsupported;
  }
  put_real(out, d);
  return Written::value;
};

constexpr auto boolean_json = [](element e, const std::optional<double>&, Form, auto& out) -> Written {
  if (e.type() != element_type::BOOL) return Written::unsupported;
  out.put(e.get_bool().value_unsafe() ? std::string_view("true") : std::string_view("false"));
  return Written::value;
};

template <bool User>
constexpr auto upn_part_json = [](element e, const std::optional<double>&, Form form, auto& out) -> Written {
  if (e.type() != element_type::STRING) return Written::unsupported;
  const std::string_view t = e.get_string().value_unsafe();
  const auto at = t.find('@');
  if (at == std::string_view::npos) return Written::nothing;
  const auto part = User ? t.substr(0, at) : t.substr(at + 1);
  if (part.empty()) return Written::nothing;
  append_string(out, part, form);
  return Written::value;
};

constexpr auto timestamp_json = [](element e, const std::optional<double>&, Form form, auto& out) -> Written {
  if (e.type() != element_type::STRING) return Written::unsupported;
  const auto ms = parse_time_ms(e.get_string().value_unsafe());
  if (!ms) return Written::nothing;
  static thread_local std::string text;  // kept between records: no allocation per value
  format_time_ms(*ms, text);
  append_string(out, text, form);
  return Written::value;
};

// A list: a JSON array, or its (never empty) items joined with ',' as Value::text() gives them.
constexpr auto list_json = [](element e, const std::optional<double>&, Form form, auto& out) -> Written {
  const auto type = e.type();
  if (type == element_type::OBJECT) return Written::nothing;  // no array: an empty list
  if (type == element_type::STRING) {
    if (form == Form::json) out.put('[');
    append_string(out, e.get_string().value_unsafe(), form);
    if (form == Form::json) out.put(']');
    return Written::value;
  }
  if (type != element_type::ARRAY) return Written::unsupported;
  // to_list() re-parses the array's JSON text: the same items, the same scalar texts.
  const std::size_t mark = out.mark();
  if (form == Form::json) out.put('[');
  bool first = true;
  std::string s;
  for (element item : json::as_array(e)) {
    std::string_view sv;
    if (item.is_string()) {
      sv = item.get_string().value_unsafe();
    } else if (json::scalar_text(item, s)) {
      sv = s;
    }
    if (sv.empty()) continue;
    const std::string_view comma = first ? std::string_view() : std::string_view(",", 1);
    first = false;
    if (form == Form::json) {
      out.json_string(comma, sv);
    } else {
      out.put(comma);
      out.put(sv);
    }
  }
  if (first) {
    out.truncate(mark);
    return Written::nothing;
  }
  if (form == Form::json) out.put(']');
  return Written::value;
};

// to_arm_part() without a Value or a vector: the segments of an ARM resource id (empty ones, from
// repeated slashes, skipped) kept on the stack; an id of more segments than that is left to the
// general path.
template <ArmPart part>
constexpr auto arm_part_json = [](element e, const std::optional<double>&, Form form, auto& out) -> Written {
  if (e.type() != element_type::STRING) return Written::unsupported;
  const std::string_view t = e.get_string().value_unsafe();
  std::array<std::string_view, 32> seg;
  std::size_t n = 0;
  for (std::size_t at = 0; at < t.size();) {
    const std::size_t end = std::min(t.find('/', at), t.size());
    if (end > at) {
      if (n == seg.size()) return Written::unsupported;
      seg[n++] = t.substr(at, end - at);
    }
    at = end + 1;
  }
  auto after = [&](std::string_view key) -> std::size_t {
    for (std::size_t i = 0; i + 1 < n; ++i)
      if (json::iequals(seg[i], key)) return i + 1;
    return n;
  };
  // Segments [from, to) joined with '/', written as one string.
  auto write = [&](std::size_t from, std::size_t to) {
    if (from + 1 == to) {
      append_string(out, seg[from], form);
      return Written::value;
    }
    static thread_local std::string joined;
    joined.clear();
    for (std::size_t i = from; i < to; ++i) {
      if (i > from) joined += '/';
      joined += seg[i];
    }
    append_string(out, joined, form);
    return Written::value;
  };
  if constexpr (part == ArmPart::group) {
    const std::size_t g = after("resourceGroups");
    return g < n ? write(g, g + 1) : Written::nothing;
  } else {
    const std::size_t p = after("providers");
    if (p >= n) return Written::nothing;
    const std::size_t type_end = std::min(p + 2, n);
    if constexpr (part == ArmPart::provider) return write(p, type_end);
    return type_end < n ? write(type_end, n) : Written::nothing;
  }
};

// Both instances of a fast implementation (ConversionRow::Fast) from its one writer, a generic
// lambda over the output type.
template <const auto& write>
constexpr ConversionRow::Fast fast_of{
    [](element e, const std::optional<double>& multiply, Form form, StringOut& out) { return write(e, multiply, form, out); },
    [](element e, const std::optional<double>& multiply, Form form, CursorOut& out) { return write(e, multiply, form, out); }};

using C = Conversion;
using Shape = ConversionRow::Shape;

}  // namespace

// In the order of Conversion's values (conversion_row() indexes it).
constexpr std::array<ConversionRow, kConversionCount> kConversionRows = {{
    {C::none, "", "", Shape::scalar, true, keep, {}},
    {C::string, "string", "", Shape::scalar, false, to_string_value, {}},
    {C::integer, "int", "integer", Shape::scalar, false, to_integer, fast_of<integer_json>},
    {C::real, "float", "", Shape::scalar, false, to_real, fast_of<real_json>},
    {C::boolean, "bool", "", Shape::scalar, false, to_boolean, fast_of<boolean_json>},
    {C::ip, "ip", "", Shape::scalar, true, to_ip<C::ip>, {}},
    {C::ipv4, "ipv4", "", Shape::scalar, true, to_ip<C::ipv4>, {}},
    {C::ipv6, "ipv6", "", Shape::scalar, true, to_ip<C::ipv6>, {}},
    {C::timestamp, "timestamp", "", Shape::scalar, false, to_timestamp, fast_of<timestamp_json>},
    {C::epoch_ms, "epoch_ms", "", Shape::scalar, false, to_epoch_ms, {}},
    {C::unquote, "json_unquote", "", Shape::scalar, false, to_unquoted, {}},
    {C::lower, "lower", "", Shape::scalar, false, to_lower, {}},
    {C::upper, "upper", "", Shape::scalar, false, to_upper, {}},
    {C::upn_user, "upn_user", "", Shape::scalar, false, to_upn_user, fast_of<upn_part_json<true>>},
    {C::upn_domain, "upn_domain", "", Shape::scalar, false, to_upn_domain, fast_of<upn_part_json<false>>},
    {C::json, "json", "", Shape::structured, true, keep, {}},
    {C::elastic, "elastic", "", Shape::structured, true, keep, {}},
    {C::snake, "snake", "", Shape::structured, true, keep, {}},
    {C::list, "list", "", Shape::structured, false, to_list, fast_of<list_json>},
    {C::iso_duration_ms, "iso_duration_ms", "", Shape::scalar, false, to_iso_duration_ms, {}},
    {C::arm_subscription, "arm_subscription", "", Shape::scalar, false, to_arm_subscription, {}},
    {C::count, "count", "", Shape::structured, false, to_count, {}},
    {C::not_ip, "not_ip", "", Shape::scalar, false, to_not_ip, {}},
    {C::arm_resource_group, "arm_resource_group", "", Shape::scalar, false, to_arm_part<ArmPart::group>, fast_of<arm_part_json<ArmPart::group>>},
    {C::arm_resource_provider, "arm_resource_provider", "", Shape::scalar, false, to_arm_part<ArmPart::provider>, fast_of<arm_part_json<ArmPart::provider>>},
    {C::arm_resource_name, "arm_resource_name", "", Shape::scalar, false, to_arm_part<ArmPart::name>, fast_of<arm_part_json<ArmPart::name>>},
}};

namespace {

constexpr bool rows_in_order() {
  for (std::size_t i = 0; i < kConversionRows.size(); ++i)
    if (static_cast<std::size_t>(kConversionRows[i].id) != i) return false;
  return true;
}
static_assert(rows_in_order(), "kConversionRows must list the conversions in the order of Conversion's values");

}  // namespace

Value Expr::convert(Value v, const EvalContext&, std::optional<element>) const {
  if (v.kind == Value::Kind::none) return v;
  return conversion_row(conversion).general(std::move(v));
}

}  // namespace siem::mapping
