// The value model: Value, its JSON form, and the per-record path cache.
#include <charconv>
#include <type_traits>

#include <fmt/compile.h>
#include <fmt/format.h>

#include "connector/mapping/expression.h"
#include "connector/record/encoding.h"

namespace siem::mapping {

template <class Out>
void put_real(Out& out, double d) {
  // fmt's shortest form is 24 bytes at most ("-1.7976931348623157e+308", "-0.00012345678901234567").
  constexpr std::size_t kRoom = 32;
  if constexpr (std::is_same_v<Out, StringOut>) {  // from the stack: a string's room() fills the bytes first
    char digits[kRoom];
    char* end = fmt::format_to(digits, FMT_COMPILE("{}"), d);
    out.put(std::string_view(digits, static_cast<std::size_t>(end - digits)));
  } else {
    char* p = out.room(kRoom);
    out.advance(fmt::format_to(p, FMT_COMPILE("{}"), d));
  }
}

// append_value_json() on a writer's output: the same bytes.
template <class Out>
void write_value_json(Out& out, const Value& v) {
  switch (v.kind) {
    case Value::Kind::string: out.json_string({}, v.s); break;
    case Value::Kind::integer: put_int(out, v.i); break;
    case Value::Kind::real: put_real(out, v.d); break;
    case Value::Kind::boolean: out.put(v.b ? std::string_view("true") : std::string_view("false")); break;
    case Value::Kind::json: out.put(v.s); break;
    case Value::Kind::list:
      out.put('[');
      for (std::size_t i = 0; i < v.list.size(); ++i) out.json_string(i > 0 ? std::string_view(",", 1) : std::string_view(), v.list[i]);
      out.put(']');
      break;
    case Value::Kind::none: out.put(std::string_view("null")); break;
  }
}

template void put_real(StringOut&, double);
template void put_real(CursorOut&, double);
template void write_value_json(StringOut&, const Value&);
template void write_value_json(CursorOut&, const Value&);

// The reference the shortcuts are compared with (through Rule::evaluate()): kept in its plain form.
void append_value_json(std::string& out, const Value& v) {
  switch (v.kind) {
    case Value::Kind::string: encoding::append_json_string(out, v.s); break;
    case Value::Kind::integer: out += std::to_string(v.i); break;
    case Value::Kind::real: out += fmt::format("{}", v.d); break;
    case Value::Kind::boolean: out += v.b ? "true" : "false"; break;
    case Value::Kind::json: out += v.s; break;
    case Value::Kind::list:
      out += '[';
      for (std::size_t i = 0; i < v.list.size(); ++i) {
        if (i > 0) out += ',';
        encoding::append_json_string(out, v.list[i]);
      }
      out += ']';
      break;
    case Value::Kind::none: out += "null"; break;
  }
}

// ---------------------------------------------------------------- PathCache

void PathCache::resolve_also(const json::PathSet& set, element record) {
  if (set_count < sets.size()) {
    sets[set_count++] = &set;
    set.resolve_touched(record, root_fields, entries, generation);
  } else if (root_fields) {  // not reached (at most three sets a record): every slot stamped
    set.resolve(record, *root_fields, entries, generation);
  } else {
    set.resolve(record, entries, generation);
  }
}

void PathCache::resolve(const KindMapping& m, element record, bool with_ocsf, const json::Fields* fields) {
  next_record(fields);
  resolve_also(m.paths, record);
  if (with_ocsf && !m.ocsf_paths.empty()) resolve_also(m.ocsf_paths, record);
}

void PathCache::resolve_for(const KindMapping& m, element record, FormatSet formats, const json::Fields* fields) {
  if (formats & format_bit(OutputFormat::cef) && !(formats & (format_bit(OutputFormat::ecs) | format_bit(OutputFormat::ocsf)))) {
    next_record(fields);
    resolve_also(m.cef_paths, record);
    return;
  }
  resolve(m, record, (formats & format_bit(OutputFormat::ocsf)) != 0, fields);
}

std::optional<element> PathCache::find_slow(const json::Path& p, element record) {
  const auto lookup = [&] { return root_fields ? p.first(record, *root_fields) : p.first(record); };
  if (p.slot < 0 || static_cast<std::size_t>(p.slot) >= entries.size()) return lookup();
  auto& e = entries[static_cast<std::size_t>(p.slot)];
  if (e.generation != generation) {
    e.generation = generation;
    // A slot of a set resolved for this record that the walk did not reach: missing.
    bool resolved = false;
    for (std::size_t i = 0; i < set_count && !resolved; ++i) resolved = sets[i]->covers(p.slot);
    if (resolved) {
      e.found = false;
      return std::nullopt;
    }
    auto v = lookup();
    e.found = v.has_value();
    if (v) e.value = *v;
  }
  if (!e.found) return std::nullopt;
  return e.value;
}

// ---------------------------------------------------------------- Value

bool Value::empty() const noexcept {
  switch (kind) {
    case Kind::none: return true;
    case Kind::string: return s.empty();
    case Kind::list: return list.empty();
    case Kind::json: return s.empty() || s == "null" || s == "{}" || s == "[]";
    default: return false;
  }
}

std::string Value::text() const {
  switch (kind) {
    case Kind::none: return {};
    case Kind::string:
    case Kind::json: return s;
    case Kind::integer: return std::to_string(i);
    case Kind::real: return fmt::format("{}", d);
    case Kind::boolean: return b ? "true" : "false";
    case Kind::list: {
      std::string out;
      for (const auto& x : list) {
        if (!out.empty()) out += ',';
        out += x;
      }
      return out;
    }
  }
  return {};
}

Value from_element(element e) {
  Value v;
  switch (e.type()) {
    case simdjson::dom::element_type::STRING: return str(std::string(e.get_string().value_unsafe()));
    case simdjson::dom::element_type::INT64: return integer(e.get_int64().value_unsafe());
    case simdjson::dom::element_type::UINT64: return integer(static_cast<std::int64_t>(e.get_uint64().value_unsafe()));
    case simdjson::dom::element_type::DOUBLE: return real(e.get_double().value_unsafe());
    case simdjson::dom::element_type::BOOL:
      v.kind = Value::Kind::boolean;
      v.b = e.get_bool().value_unsafe();
      return v;
    case simdjson::dom::element_type::NULL_VALUE: return v;
    default:
      v.kind = Value::Kind::json;
      v.s = json::to_json(e);
      return v;
  }
}

}  // namespace siem::mapping
