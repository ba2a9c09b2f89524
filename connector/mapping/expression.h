// The mapping rules' internals, shared by the files that implement them (not for use outside
// connector/mapping): the value constructors, the conversions (`type:`), the $variables, the
// conditions and templates, and Expr, one alternative of a rule.
//   value.cc               Value, PathCache, append_value_json, from_element
//   conversion_table.cc    the conversions: one row each, general and fast implementation
//   conversion_helpers.cc  the elastic/snake shapes, IP addresses
//   expression.cc          the general evaluator: $variables, conditions, templates, Expr::eval
//   fast_paths.cc          the writers' shortcuts (append_json, string_view...), equal to the evaluator
//   rule_compiler.cc       YAML -> Expr / Rule
//   mapping_loader.cc      MappingSet::load: files, overrides, kinds
#pragma once

#include <array>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <charconv>

#include "connector/mapping/json_out.h"
#include "connector/mapping/mapping_rules.h"
#include "connector/record/encoding.h"
#include "connector/record/json_access.h"

namespace siem::mapping {

using json::element;

// ---------------------------------------------------------------- values

// An integer's digits on a JSON writer's output (json_out.h): written in place through a cursor,
// appended from the stack to a string (whose room() would fill the bytes first).
template <class Out, class Int>
void put_int(Out& out, Int i) {
  static_assert(std::is_integral_v<Int>);
  constexpr std::size_t kDigits = 24;  // the longest int64 / uint64, "-9223372036854775808", fits
  if constexpr (std::is_same_v<Out, StringOut>) {
    char digits[kDigits];
    const auto r = std::to_chars(digits, digits + kDigits, i);
    out.put(std::string_view(digits, static_cast<std::size_t>(r.ptr - digits)));
  } else {
    char* p = out.room(kDigits);
    out.advance(std::to_chars(p, p + kDigits, i).ptr);
  }
}
inline void append_int(std::string& out, std::int64_t i) {
  StringOut to(out);
  put_int(to, i);
}
// A double as Value's text and JSON give it (fmt's shortest form, "{}"), written in place (value.cc).
template <class Out>
void put_real(Out& out, double d);
// append_value_json() on a JSON writer's output (value.cc).
template <class Out>
void write_value_json(Out& out, const Value& v);
extern template void put_real(StringOut&, double);
extern template void put_real(CursorOut&, double);
extern template void write_value_json(StringOut&, const Value&);
extern template void write_value_json(CursorOut&, const Value&);

inline Value str(std::string s) {
  Value v;
  v.kind = Value::Kind::string;
  v.s = std::move(s);
  return v;
}
inline Value integer(std::int64_t i) {
  Value v;
  v.kind = Value::Kind::integer;
  v.i = i;
  return v;
}
inline Value real(double d) {
  Value v;
  v.kind = Value::Kind::real;
  v.d = d;
  return v;
}

// The value of a record element (objects and arrays as JSON text).
Value from_element(json::element e);

// ---------------------------------------------------------------- conversions

enum class Conversion : std::uint8_t {
  none, string, integer, real, boolean, ip, ipv4, ipv6, timestamp, epoch_ms, unquote, lower, upper, upn_user,
  upn_domain, json, elastic, snake, list, iso_duration_ms, arm_subscription, count, not_ip,
  arm_resource_group, arm_resource_provider, arm_resource_name
};

// `ip` keeps an IPv4 or IPv6 address, `ipv4` / `ipv6` only that family (CEF's src vs c6a2).
inline bool is_ip(Conversion c) { return c == Conversion::ip || c == Conversion::ipv4 || c == Conversion::ipv6; }

// What an ip conversion keeps of `sv` (a part of it, so a view into the same text), or nullopt;
// other conversions keep it whole. The last answer for `ip` is remembered per thread (by the text's
// bytes).
std::optional<std::string_view> ip_address(Conversion c, std::string_view sv);
// The same, always checked (no memory of the last answer): what the tests compare ip_address with.
std::optional<std::string_view> ip_address_checked(Conversion c, std::string_view sv);

// What a writer's shortcut did: wrote the value, found no value (nothing appended), or met a case
// it leaves to the general evaluator (nothing appended).
enum class Written { value, nothing, unsupported };

// The two forms the shortcuts write a value in: JSON (the ECS / OCSF writer: what
// append_value_json(evaluate()) gives) or text (the CEF encoder: what evaluate().text() gives).
// They differ only for strings (quoted and escaped, or as they are) and lists (a JSON array, or
// the items joined with ',').
enum class Form : std::uint8_t { json, text };

template <class Out>
inline void append_string(Out& out, std::string_view s, Form form) {
  if (form == Form::json) out.json_string({}, s);
  else out.put(s);
}

// A conversion's fast implementation on one output type (ConversionRow::fast).
template <class Out>
using FastWriter = Written (*)(element e, const std::optional<double>& multiply, Form form, Out& out);

// One conversion (conversion_table.cc): its `type:` names, and its general and fast
// implementations side by side.
struct ConversionRow {
  // structured: keeps the record's structure (objects, arrays); scalar: an object or an array
  // found at a path counts as absent, except a LocalizableString, which gives its `value`.
  enum class Shape : std::uint8_t { scalar, structured };
  Conversion id;
  std::string_view name, alias;  // `type:` names; none has no name
  Shape shape;
  // The record's value written as it is, a string filtered by ip_address(), or a JSON shape:
  // Expr::append_plain() writes it (a rule can then be `plain`).
  bool plain;
  // The general implementation: the value converted, as Rule::evaluate() gives it (never called
  // with a Value of kind none).
  Value (*general)(Value v);
  // The fast implementation, or none: the first non-empty record value of a `from` written in
  // `form` exactly as general() + append_value_json() (Form::json) or general().text()
  // (Form::text) would (`multiply` only with int); Written::unsupported leaves a case to general()
  // (nothing written). One instance per output: a std::string (StringOut: the CEF encoder, the
  // tests) and the document writer's cursor (CursorOut, Form::json only).
  struct Fast {
    FastWriter<StringOut> to_string = nullptr;
    FastWriter<CursorOut> to_cursor = nullptr;
    explicit constexpr operator bool() const { return to_string != nullptr; }
    template <class Out>
    FastWriter<Out> to() const {
      if constexpr (std::is_same_v<Out, CursorOut>) return to_cursor;
      else return to_string;
    }
  };
  Fast fast;
};

inline constexpr std::size_t kConversionCount = static_cast<std::size_t>(Conversion::arm_resource_name) + 1;
extern const std::array<ConversionRow, kConversionCount> kConversionRows;

inline const ConversionRow& conversion_row(Conversion c) { return kConversionRows[static_cast<std::size_t>(c)]; }
inline std::span<const ConversionRow> conversion_table() { return kConversionRows; }

// Elastic's shape (`elastic`: object keys in snake_case, arrays turned into objects keyed "0",
// "1"...) or `snake` (arrays kept), appended to `out`.
// `max_items`: an array at the top is cut to its first max_items items.
void write_elastic(std::string& out, element e, bool arrays_as_objects,
                   std::size_t max_items = std::numeric_limits<std::size_t>::max());
// What json::append_json() writes (simdjson's compact form), keys remembered like the elastic
// shape's: a member whose value is a string is one append.
void write_compact_json(std::string& out, element e);

// ---------------------------------------------------------------- variables, conditions, templates

// The $variables, resolved from their names when the rules are compiled (never per event).
enum class Var : std::uint8_t {
  unknown, time, time_ms, now, kind, id, tenant, host, version, severity, record, tags, pa_tags,
  pa_detection_names, pa_tier, pa_severity, pa_risk_score, pa_roles, pa_role_ids, pa_detections,
  ocsf_class_uid, ocsf_activity_id, ocsf_category_uid, ocsf_type_uid
};

// The variable a `$name` stands for (resolved when the rules are compiled).
Var var_of(std::string_view name);

// The variables every event has, written without building a Value (Expr::append_plain() and the
// document writer's steps): what virtual_value() gives, in pieces. One place says which variable
// is which shape and where its value lives.
enum class VarShape : std::uint8_t { text, integer, list, other };
constexpr VarShape shape_of(Var var) {
  switch (var) {
    case Var::time: case Var::now: case Var::id: case Var::tenant: case Var::host: return VarShape::text;
    case Var::severity: case Var::time_ms: return VarShape::integer;
    case Var::tags: case Var::pa_tags: case Var::pa_roles: case Var::pa_role_ids: return VarShape::list;
    default: return VarShape::other;
  }
}
// VarShape::text: the context's string, without a copy; nullptr when the event has none (then
// virtual_value() formats $time / $now itself, or the variable is absent).
inline const std::string* text_variable(Var var, const EvalContext& ctx) {
  switch (var) {
    case Var::time: return ctx.time_text;
    case Var::now: return ctx.now_text;
    case Var::id: return ctx.id;
    case Var::tenant: return ctx.tenant;
    case Var::host: return ctx.host;
    default: return nullptr;
  }
}
// VarShape::integer.
inline std::int64_t int_variable(Var var, const EvalContext& ctx) {
  return var == Var::severity ? std::int64_t{ctx.severity} : ctx.time_ms;
}
// VarShape::list: its strings, in one or two vectors ($tags: the enrichment's, then the engine's).
struct ListVariable {
  const std::vector<std::string>* a = nullptr;
  const std::vector<std::string>* b = nullptr;
  bool empty() const { return (!a || a->empty()) && (!b || b->empty()); }
};
inline ListVariable list_variable(Var var, const EvalContext& ctx) {
  const auto* pa = ctx.enrichment;
  switch (var) {
    case Var::tags: return {pa ? &pa->tags : nullptr, ctx.extra_tags};
    case Var::pa_tags: return {pa ? &pa->tags : nullptr, nullptr};
    case Var::pa_roles: return {pa ? &pa->roles : nullptr, nullptr};
    case Var::pa_role_ids: return {pa ? &pa->role_ids : nullptr, nullptr};
    default: return {};
  }
}

struct Condition {
  // Ordered for condition_holds(): op, var, values and virt's size share the first cache line.
  enum class Op : std::uint8_t { exists, missing, equals, not_equals, in, not_in, contains, starts_with } op = Op::exists;
  Var var = Var::unknown;
  std::vector<std::string> values;
  std::string virt;  // "$kind" etc.
  json::Path path;
  // Worked out once by prepare() (the rule compiler calls it): `values` lower-cased, and a mask of
  // their lengths (bit min(size, 63)), so that equals / not_equals / in / not_in fail a text of no
  // value's length without a compare and fold only the text otherwise. Not prepared (`lowered`
  // empty while `values` is not): the values are compared as they are.
  std::vector<std::string> lowered;
  std::uint64_t lengths = 0;
  // The values that are the decimal text of an integer exactly as a record integer is written
  // ("0", "-1", "50126"; not "00", "+1", "-0"): an integer of the record equals one of `values`
  // exactly when it is one of these (no text written for it).
  std::vector<std::int64_t> integers;
  void prepare();
};

struct TemplatePart {
  std::string literal;
  std::optional<json::Path> path;
  std::string virt;
  Var var = Var::unknown;
  // '[' and ']' of an optional group: what is between them is left out when every placeholder in
  // it is empty ("signed in[ to {appDisplayName}][ from {ipAddress}]").
  enum class Group : std::uint8_t { none, open, close } group = Group::none;
};

// ---------------------------------------------------------------- expressions

class Expr {
 public:
  // What the writers read for every event comes first, so it shares the object's first cache line
  // (a mix of kinds runs through many expressions per event, few of them still in the L1 cache).
  enum class Src : std::uint8_t { from, all, value, tpl, virt } src = Src::from;
  bool is_plain = false;  // plain(), decided once when the rule is compiled
  bool has_lookup = false;
  Var var = Var::unknown;
  Conversion conversion = Conversion::none;
  std::vector<json::Path> paths;
  std::vector<Condition> when;
  std::optional<double> multiply;
  // `max_items: N`: an array found by a `from` keeps its first N items (json, snake, elastic, list);
  // with `type: count` the rule gives the number of items beyond N (no value when there are none).
  std::optional<std::size_t> max_items;
  Value constant;
  std::vector<TemplatePart> parts;
  std::string virt;
  std::vector<std::pair<std::string, Value>> lookup;
  std::optional<Value> fallback;

  Value eval(const EvalContext& ctx) const;

  // A `from` whose type keeps the record's structure (json, elastic, snake, list). Any other `from`
  // gives a scalar: an object or an array found at its path counts as absent (the next path is
  // tried), except a LocalizableString, which gives its `value` (json::localized_value).
  bool structured() const noexcept { return conversion_row(conversion).shape == ConversionRow::Shape::structured; }
  // The element a `from` takes its value from at `found`: itself, or for a scalar rule the value of
  // a LocalizableString; nullopt for another object or an array under a scalar rule.
  std::optional<element> from_value(element found) const {
    if (structured()) return found;
    const auto type = found.type();
    if (type != simdjson::dom::element_type::OBJECT && type != simdjson::dom::element_type::ARRAY) return found;
    return json::localized_value(found);
  }

  bool plain() const noexcept {
    if (has_lookup || fallback || multiply || max_items) return false;
    if (src == Src::value || src == Src::virt) return conversion == Conversion::none;
    return src == Src::from && conversion_row(conversion).plain;
  }
  // The shapes append_direct() writes besides plain ones.
  bool direct() const noexcept {
    if (plain()) return true;
    if (max_items) return false;
    if (src == Src::from) {
      if (has_lookup) return !multiply && (conversion == Conversion::none || conversion == Conversion::lower);
      if (fallback) return false;
      if (multiply) return conversion == Conversion::integer;
      return static_cast<bool>(conversion_row(conversion).fast);
    }
    if (has_lookup || fallback || multiply) return false;
    if (src == Src::all) return conversion == Conversion::none || is_ip(conversion);
    return src == Src::tpl && conversion == Conversion::none;
  }
  bool constant_json(const std::string& host, std::string& out) const {
    if (!when.empty() || !plain()) return false;
    if (src == Src::value) {
      if (constant.empty()) return false;
      append_value_json(out, constant);
      return true;
    }
    if (src != Src::virt) return false;
    if (var == Var::version) {
      append_value_json(out, str(SIEM_VERSION));
      return true;
    }
    if (var == Var::host && !host.empty()) {
      encoding::append_json_string(out, host);
      return true;
    }
    return false;
  }
  using Written = mapping::Written;
  // One instance per form and output (fast_paths.cc, fast_paths_text.cc): the form is known where
  // it is tested, so the JSON writer pays nothing for the text form; `Out` is a StringOut (a
  // std::string) or the document writer's CursorOut (json_out.h), written in place.
  template <Form form, class Out>
  Written append_plain(const EvalContext& ctx, Out& out) const;
  template <Form form, class Out>
  Written append_direct(const EvalContext& ctx, Out& out) const;
  Written plain_string(const EvalContext& ctx, std::string_view& text) const;

 private:
  Value raw(const EvalContext& ctx) const;
  bool first_value(const EvalContext& ctx, element& e) const;
  template <Form form, class Out>
  Written append_lookup(const EvalContext& ctx, Out& out) const;
  template <Form form, class Out>
  Written append_all(const EvalContext& ctx, Out& out) const;
  Value convert(Value v, const EvalContext& ctx, std::optional<element> source) const;
};

inline std::optional<element> find_path(const json::Path& p, const EvalContext& ctx) {
  if (p.slot < 0 || !ctx.cache) return p.first(ctx.record);
  return ctx.cache->find(p, ctx.record);
}

// The value of a $variable for this record.
Value virtual_value(Var var, const EvalContext& ctx);
bool condition_holds_general(const Condition& c, const EvalContext& ctx);
// Whether condition `c` holds for this record. Most conditions ask whether a record path is present:
// answered here from the path cache, without the general function's frame.
inline bool condition_holds(const Condition& c, const EvalContext& ctx) {
  if ((c.op == Condition::Op::exists || c.op == Condition::Op::missing) && c.virt.empty())
    return find_path(c.path, ctx).has_value() == (c.op == Condition::Op::exists);
  return condition_holds_general(c, ctx);
}
// A template's text appended to `out`; false when every placeholder was empty (then the rule
// gives no value). An optional group whose placeholders are all empty is taken out again.
bool render_template(const std::vector<TemplatePart>& parts, const EvalContext& ctx, std::string& out);
// The same on a writer's output (the CEF encoder's text form renders in place).
bool render_template(const std::vector<TemplatePart>& parts, const EvalContext& ctx, StringOut& out);
// The same through the document writer's cursor (the JSON form writes the text there first and
// quotes it in place when it needs no escaping: fast_paths_forms.h, Expr::append_direct).
bool render_template(const std::vector<TemplatePart>& parts, const EvalContext& ctx, CursorOut& out);

}  // namespace siem::mapping
