#include "connector/mapping/mapping_rules.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstring>
#include <iterator>
#include <set>

#include <fmt/format.h>

#include "connector/mapping/encoding.h"
#include "connector/mapping/time_parse.h"

namespace siem::mapping {

using json::element;

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

void PathCache::resolve(const KindMapping& m, element record) {
  ++generation;
  m.paths.resolve(record, entries, generation);
}

std::optional<element> PathCache::find_slow(const json::Path& p, element record) {
  if (p.slot < 0 || static_cast<std::size_t>(p.slot) >= entries.size()) return p.first(record);
  auto& e = entries[static_cast<std::size_t>(p.slot)];
  if (e.generation != generation) {
    e.generation = generation;
    auto v = p.first(record);
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

namespace {

void append_int(std::string& out, std::int64_t i) {
  char digits[24];
  const auto r = std::to_chars(digits, digits + sizeof digits, i);
  out.append(digits, r.ptr);
}

Value str(std::string s) {
  Value v;
  v.kind = Value::Kind::string;
  v.s = std::move(s);
  return v;
}
Value integer(std::int64_t i) {
  Value v;
  v.kind = Value::Kind::integer;
  v.i = i;
  return v;
}
Value real(double d) {
  Value v;
  v.kind = Value::Kind::real;
  v.d = d;
  return v;
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

inline bool ascii_upper(char c) { return c >= 'A' && c <= 'Z'; }
inline bool ascii_lower(char c) { return c >= 'a' && c <= 'z'; }
inline bool ascii_digit(char c) { return c >= '0' && c <= '9'; }

// camelCase / PascalCase to snake_case: "userPrincipalName" -> user_principal_name,
// "IPAddress" -> ip_address. Appends to `out`. Every key of an elastic/snake shape goes through
// here, so it writes into space reserved up front (at most one '_' per character) rather than
// appending character by character.
void append_snake(std::string& out, std::string_view key) {
  const std::size_t start = out.size();
  out.resize(start + 2 * key.size());
  char* p = out.data() + start;
  for (std::size_t i = 0; i < key.size(); ++i) {
    const char c = key[i];
    if (ascii_upper(c)) {
      const bool prev_lower = i > 0 && (ascii_lower(key[i - 1]) || ascii_digit(key[i - 1]));
      const bool next_lower = i + 1 < key.size() && ascii_lower(key[i + 1]);
      const bool prev_upper = i > 0 && ascii_upper(key[i - 1]);
      if (prev_lower || (prev_upper && next_lower)) *p++ = '_';
      *p++ = static_cast<char>(c | 0x20);
    } else {
      *p++ = c;
    }
  }
  out.resize(static_cast<std::size_t>(p - out.data()));
}

// The key in snake_case as a JSON string. Keys needing no escaping (all real ones) are written
// straight into `out`.
void append_snake_key(std::string& out, std::string_view key) {
  const bool plain = std::none_of(key.begin(), key.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return c < 0x20 || c == '"' || c == '\\' || c >= 0x80;
  });
  if (plain) {
    out += '"';
    append_snake(out, key);
    out += '"';
    return;
  }
  std::string snake;
  append_snake(snake, key);
  encoding::append_json_string(out, snake);
}

// Records repeat the same keys (every sign-in's conditional access policies, device detail...):
// each key's snake_case member prefix (,"snake_key":) is remembered per thread in a small table
// indexed by a hash of the key, so a key seen before is one compare and one append instead of a
// conversion. A slot holds the last key that hashed there; a different key just replaces it.
class SnakeKeyCache {
 public:
  // Appends `key` as an object member's key in snake_case: ,"snake_key": (no comma when `first`).
  void append(std::string& out, std::string_view key, bool first) {
    Slot& slot = slots_[hash(key) % kSlots];
    if (!slot.valid || slot.key != key) {
      slot.valid = true;
      slot.key.assign(key);
      slot.text.assign(1, ',');
      append_snake_key(slot.text, key);
      slot.text += ':';
    }
    const std::size_t skip = first ? 1 : 0;
    out.append(slot.text.data() + skip, slot.text.size() - skip);
  }

 private:
  static constexpr std::size_t kSlots = 512;
  struct Slot {
    bool valid = false;
    std::string key, text;
  };
  // Length and the first and last 8 bytes (keys of one record differ there, not in the middle).
  static std::size_t hash(std::string_view key) noexcept {
    std::uint64_t head = 0, tail = 0;
    if (key.size() >= 8) {
      std::memcpy(&head, key.data(), 8);
      std::memcpy(&tail, key.data() + key.size() - 8, 8);
    } else if (!key.empty()) {
      std::memcpy(&head, key.data(), key.size());
    }
    const std::uint64_t h = (head * 0x9E3779B97F4A7C15ull) ^ (tail * 0xC2B2AE3D27D4EB4Full) ^ (key.size() * 0x165667B19E3779F9ull);
    return static_cast<std::size_t>(h >> 32);
  }
  std::array<Slot, kSlots> slots_;
};

// Elastic's shape: object keys in snake_case, arrays turned into objects keyed "0", "1", ...
// Members that are null or an empty string are left out, as everywhere in the output (an array
// keeps its items, whose positions are their keys).
void write_elastic(std::string& out, element e, bool arrays_as_objects) {
  switch (e.type()) {
    case simdjson::dom::element_type::OBJECT: {
      static thread_local SnakeKeyCache keys;
      out += '{';
      bool first = true;
      for (auto field : json::as_object(e)) {
        const auto type = field.value.type();
        if (type == simdjson::dom::element_type::NULL_VALUE ||
            (type == simdjson::dom::element_type::STRING && field.value.get_string().value_unsafe().empty()))
          continue;
        keys.append(out, field.key, first);
        first = false;
        write_elastic(out, field.value, arrays_as_objects);
      }
      out += '}';
      return;
    }
    case simdjson::dom::element_type::ARRAY: {
      out += arrays_as_objects ? '{' : '[';
      std::size_t i = 0;
      for (element item : json::as_array(e)) {
        if (i > 0) out += ',';
        if (arrays_as_objects) {
          out += '"';
          out += std::to_string(i);
          out += "\":";
        }
        write_elastic(out, item, arrays_as_objects);
        ++i;
      }
      out += arrays_as_objects ? '}' : ']';
      return;
    }
    default: json::append_json(out, e);
  }
}

// A dotted-quad IPv4 address exactly as inet_pton(AF_INET) accepts one: four decimal octets of at
// most 255 without leading zeros, three dots, nothing else. Only a shortcut: anything it does not
// accept still goes to inet_pton (IPv6, and whatever it would reject).
bool plain_ipv4(std::string_view s) {
  std::size_t i = 0;
  for (int octet = 0; octet < 4; ++octet) {
    if (octet > 0) {
      if (i >= s.size() || s[i] != '.') return false;
      ++i;
    }
    const std::size_t start = i;
    unsigned value = 0;
    while (i < s.size() && i - start < 3 && s[i] >= '0' && s[i] <= '9') value = value * 10 + static_cast<unsigned>(s[i++] - '0');
    const std::size_t digits = i - start;
    if (digits == 0 || value > 255 || (digits > 1 && s[start] == '0')) return false;
  }
  return i == s.size() && s != "0.0.0.0";  // the unspecified address names no host
}

// inet_pton on a NUL-terminated copy on the stack (no address text is longer than 45 bytes).
bool inet_pton_accepts(int family, std::string_view sv) {
  char text[64];
  if (sv.size() >= sizeof text) return false;
  std::memcpy(text, sv.data(), sv.size());
  text[sv.size()] = '\0';
  unsigned char buf[16] = {};
  if (::inet_pton(family, text, buf) != 1) return false;
  // The unspecified address (0.0.0.0, ::, Entra's placeholder for "no address") names no host.
  return std::any_of(std::begin(buf), std::end(buf), [](unsigned char b) { return b != 0; });
}

bool valid_ipv4(std::string_view sv) {
  if (plain_ipv4(sv)) return true;
  return sv.find(':') == std::string_view::npos && inet_pton_accepts(AF_INET, sv);
}

bool valid_ipv6(std::string_view sv) {
  return sv.find(':') != std::string_view::npos && inet_pton_accepts(AF_INET6, sv);
}

bool valid_ip(std::string_view sv) { return valid_ipv4(sv) || valid_ipv6(sv); }

enum class Conversion : std::uint8_t {
  none, string, integer, real, boolean, ip, ipv4, ipv6, timestamp, epoch_ms, unquote, lower, upper, upn_user,
  upn_domain, json, elastic, snake, list, iso_duration_ms, arm_subscription
};

// `ip` keeps an IPv4 or IPv6 address, `ipv4` / `ipv6` only that family (CEF's src vs c6a2); what
// the conversion does not accept is dropped.
bool is_ip(Conversion c) { return c == Conversion::ip || c == Conversion::ipv4 || c == Conversion::ipv6; }
bool ip_accepts(Conversion c, std::string_view sv) {
  switch (c) {
    case Conversion::ipv4: return valid_ipv4(sv);
    case Conversion::ipv6: return valid_ipv6(sv);
    default: return valid_ip(sv);
  }
}

// An address as logs also write it: with a port ("20.190.128.5:443", "[2001:db8::5]:443") or an
// IPv6 zone ("fe80::1%eth0"), which ECS ip fields and CEF address keys do not take: the bare part.
std::string_view strip_port_and_zone(std::string_view sv) {
  auto is_port = [](std::string_view p) {
    return !p.empty() && p.size() <= 5 && std::all_of(p.begin(), p.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (!sv.empty() && sv.front() == '[') {
    const auto close = sv.find(']');
    if (close == std::string_view::npos) return sv;
    const auto rest = sv.substr(close + 1);
    if (!rest.empty() && !(rest.front() == ':' && is_port(rest.substr(1)))) return sv;
    sv = sv.substr(1, close - 1);
  } else if (const auto colon = sv.find(':');
             colon != std::string_view::npos && sv.find(':', colon + 1) == std::string_view::npos) {
    if (!is_port(sv.substr(colon + 1))) return sv;
    sv = sv.substr(0, colon);  // IPv4 and a port
  }
  if (const auto zone = sv.find('%'); zone != std::string_view::npos) sv = sv.substr(0, zone);
  return sv;
}

// What an ip conversion keeps of `sv` (a part of it, so a view into the same text), or nullopt;
// other conversions keep it whole.
std::optional<std::string_view> ip_address(Conversion c, std::string_view sv) {
  if (!is_ip(c) || ip_accepts(c, sv)) return sv;
  const auto bare = strip_port_and_zone(sv);
  if (bare.size() != sv.size() && ip_accepts(c, bare)) return bare;
  return std::nullopt;
}

const std::vector<std::pair<std::string_view, Conversion>>& conversions() {
  static const std::vector<std::pair<std::string_view, Conversion>> c = {
      {"string", Conversion::string},       {"int", Conversion::integer},        {"integer", Conversion::integer},
      {"float", Conversion::real},          {"bool", Conversion::boolean},       {"ip", Conversion::ip},
      {"ipv4", Conversion::ipv4},           {"ipv6", Conversion::ipv6},
      {"timestamp", Conversion::timestamp}, {"epoch_ms", Conversion::epoch_ms},  {"json_unquote", Conversion::unquote},
      {"lower", Conversion::lower},         {"upper", Conversion::upper},        {"upn_user", Conversion::upn_user},
      {"upn_domain", Conversion::upn_domain}, {"json", Conversion::json},        {"elastic", Conversion::elastic},
      {"snake", Conversion::snake},         {"list", Conversion::list},          {"iso_duration_ms", Conversion::iso_duration_ms},
      {"arm_subscription", Conversion::arm_subscription}};
  return c;
}

// The $variables, resolved from their names when the rules are compiled (never per event).
enum class Var : std::uint8_t {
  unknown, time, time_ms, now, kind, id, tenant, host, version, severity, record, tags, pa_tags,
  pa_detection_names, pa_tier, pa_severity, pa_risk_score, pa_roles, pa_role_ids, pa_detections
};

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
      {"$pa.detections", Var::pa_detections}};
  for (const auto& [n, v] : names)
    if (n == name) return v;
  return Var::unknown;  // yields nothing, as an unknown name always has
}

struct Condition {
  // Ordered for condition_holds(): op, var, values and virt's size share the first cache line.
  enum class Op : std::uint8_t { exists, missing, equals, not_equals, in, not_in, contains, starts_with } op = Op::exists;
  Var var = Var::unknown;
  std::vector<std::string> values;
  std::string virt;  // "$kind" etc.
  json::Path path;
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

}  // namespace

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
  Value constant;
  std::vector<TemplatePart> parts;
  std::string virt;
  std::vector<std::pair<std::string, Value>> lookup;
  std::optional<Value> fallback;

  Value eval(const EvalContext& ctx) const;

  // A `from` whose type keeps the record's structure (json, elastic, snake, list). Any other `from`
  // gives a scalar: an object or an array found at its path counts as absent (the next path is
  // tried), except a LocalizableString, which gives its `value` (json::localized_value).
  bool structured() const noexcept {
    return conversion == Conversion::json || conversion == Conversion::elastic || conversion == Conversion::snake ||
           conversion == Conversion::list;
  }
  // The element a `from` takes its value from at `found`: itself, or for a scalar rule the value of
  // a LocalizableString; nullopt for another object or an array under a scalar rule.
  std::optional<element> from_value(element found) const {
    if (structured()) return found;
    const auto type = found.type();
    if (type != simdjson::dom::element_type::OBJECT && type != simdjson::dom::element_type::ARRAY) return found;
    return json::localized_value(found);
  }

  bool plain() const noexcept {
    if (has_lookup || fallback || multiply) return false;
    if (src == Src::value || src == Src::virt) return conversion == Conversion::none;
    return src == Src::from &&
           (conversion == Conversion::none || is_ip(conversion) || conversion == Conversion::json ||
            conversion == Conversion::elastic || conversion == Conversion::snake);
  }
  // The shapes append_direct_json() writes besides plain ones.
  bool direct() const noexcept {
    if (plain()) return true;
    if (src == Src::from) {
      if (has_lookup) return !multiply && (conversion == Conversion::none || conversion == Conversion::lower);
      if (fallback) return false;
      if (multiply) return conversion == Conversion::integer;
      return conversion == Conversion::integer || conversion == Conversion::real || conversion == Conversion::boolean ||
             conversion == Conversion::list || conversion == Conversion::upn_user ||
             conversion == Conversion::upn_domain || conversion == Conversion::timestamp;
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
  enum class Written { value, nothing, unsupported };
  Written append_plain_json(const EvalContext& ctx, std::string& out) const;
  Written append_direct_json(const EvalContext& ctx, std::string& out) const;
  Written plain_string(const EvalContext& ctx, std::string_view& text) const;

 private:
  Value raw(const EvalContext& ctx) const;
  bool first_value(const EvalContext& ctx, element& e) const;
  Written append_lookup_json(const EvalContext& ctx, std::string& out) const;
  Value convert(Value v, const EvalContext& ctx, std::optional<element> source) const;
};

namespace {

std::optional<element> find_path(const json::Path& p, const EvalContext& ctx) {
  if (p.slot < 0 || !ctx.cache) return p.first(ctx.record);
  return ctx.cache->find(p, ctx.record);
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
    case Var::record: return ctx.raw ? str(*ctx.raw) : Value{};
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

// The value a condition compares: a record string as is (no copy), other values as text.
// Returns false when there is no value.
bool condition_text(const Condition& c, const EvalContext& ctx, std::string& owned, std::string_view& text) {
  if (!c.virt.empty()) {
    const Value v = virtual_value(c.var, ctx);
    if (v.empty()) return false;
    owned = v.text();
    text = owned;
    return true;
  }
  const auto e = find_path(c.path, ctx);
  if (!e) return false;
  if (e->is_string()) {
    text = e->get_string().value_unsafe();
    return true;
  }
  if (!json::scalar_text(*e, owned)) owned = json::to_json(*e);
  text = owned;
  return true;
}

// Appends the scalar text of `e` (json::scalar_text) to `out`, a record string without a copy.
// Returns whether it appended anything (false for an empty string or a non-scalar).
bool append_scalar_text(element e, std::string& out) {
  if (e.is_string()) {
    const std::string_view sv = e.get_string().value_unsafe();
    out += sv;
    return !sv.empty();
  }
  std::string t;
  if (!json::scalar_text(e, t)) return false;
  out += t;
  return !t.empty();
}

bool condition_holds(const Condition& c, const EvalContext& ctx) {
  using Op = Condition::Op;
  if (c.op == Op::exists || c.op == Op::missing) {  // presence only: no text needed
    const bool present = c.virt.empty() ? find_path(c.path, ctx).has_value() : !virtual_value(c.var, ctx).empty();
    return present == (c.op == Op::exists);
  }
  std::string owned;
  std::string_view text;
  const bool present = condition_text(c, ctx, owned, text);
  const auto any = [&](auto&& match) { return std::any_of(c.values.begin(), c.values.end(), match); };
  switch (c.op) {
    case Op::exists:
    case Op::missing: break;  // answered above
    case Op::equals:
    case Op::in: return present && any([&](const std::string& x) { return json::iequals(text, x); });
    case Op::not_equals:
    case Op::not_in: return !present || !any([&](const std::string& x) { return json::iequals(text, x); });
    case Op::contains: return present && any([&](const std::string& x) { return json::icontains(text, x); });
    case Op::starts_with: return present && any([&](const std::string& x) { return json::istarts_with(text, x); });
  }
  return false;
}

}  // namespace

// A template's text appended to `out`; false when every placeholder was empty (then the rule
// gives no value). An optional group whose placeholders are all empty is taken out again.
bool render_template(const std::vector<TemplatePart>& parts, const EvalContext& ctx, std::string& out) {
  bool any = false;
  bool group_any = false;
  std::size_t group_start = 0;
  for (const auto& p : parts) {
    bool filled = false;
    if (p.group == TemplatePart::Group::open) {
      group_start = out.size();
      group_any = false;
      continue;
    }
    if (p.group == TemplatePart::Group::close) {
      if (!group_any) out.resize(group_start);
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
        out += *known;
      } else {
        const auto v = virtual_value(p.var, ctx).text();
        filled = !v.empty();
        out += v;
      }
    } else {
      out += p.literal;
    }
    any = any || filled;
    group_any = group_any || filled;
  }
  return any;
}

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
            write_elastic(v.s, *e, conversion == Conversion::elastic);
          } else if (conversion == Conversion::json) {
            v.kind = Value::Kind::json;
            v.s = json::to_json(*e);
          }
          if (!v.empty()) return v;
        }
      }
      return {};
  }
  return {};
}

Value Expr::convert(Value v, const EvalContext&, std::optional<element>) const {
  if (v.kind == Value::Kind::none) return v;
  switch (conversion) {
    case Conversion::none:
    case Conversion::json:
    case Conversion::elastic:
    case Conversion::snake: return v;
    case Conversion::string:
      if (v.kind == Value::Kind::string || v.kind == Value::Kind::list) return v;
      break;
    case Conversion::ip:
    case Conversion::ipv4:
    case Conversion::ipv6:
      if (v.kind == Value::Kind::list) return v;
      if (v.kind == Value::Kind::string) {
        const auto a = ip_address(conversion, v.s);
        if (!a) return Value{};
        v.s = std::string(*a);
        return v;
      }
      break;
    default: break;
  }
  const std::string t = v.kind == Value::Kind::list ? std::string() : v.text();
  switch (conversion) {
    case Conversion::none:
    case Conversion::json:
    case Conversion::elastic:
    case Conversion::snake: break;
    case Conversion::string: return v.kind == Value::Kind::list ? v : str(t);
    case Conversion::integer: {
      if (v.kind == Value::Kind::integer) break;
      if (v.kind == Value::Kind::real) return integer(static_cast<std::int64_t>(std::llround(v.d)));
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
    case Conversion::real: {
      if (v.kind == Value::Kind::real) break;
      if (v.kind == Value::Kind::integer) return real(static_cast<double>(v.i));
      double d = 0;
      auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), d);
      if (ec != std::errc() || p != t.data() + t.size()) return {};
      return real(d);
    }
    case Conversion::boolean: {
      Value b;
      b.kind = Value::Kind::boolean;
      if (v.kind == Value::Kind::boolean) return v;
      if (json::iequals(t, "true") || t == "1") b.b = true;
      else if (json::iequals(t, "false") || t == "0") b.b = false;
      else return {};
      return b;
    }
    case Conversion::ip:
    case Conversion::ipv4:
    case Conversion::ipv6:
      if (v.kind == Value::Kind::list) break;
      if (const auto a = ip_address(conversion, t)) return str(std::string(*a));
      return Value{};
    case Conversion::timestamp: {
      auto ms = v.kind == Value::Kind::integer ? std::optional<std::int64_t>(v.i) : parse_time_ms(t);
      return ms ? str(format_time_ms(*ms)) : Value{};
    }
    case Conversion::epoch_ms: {
      auto ms = parse_time_ms(t);
      return ms ? integer(*ms) : Value{};
    }
    case Conversion::iso_duration_ms: {
      auto ms = parse_iso_duration_ms(t);
      return ms ? integer(*ms) : Value{};
    }
    case Conversion::unquote: return str(json::unquote(t));
    case Conversion::lower: return str(json::to_lower(t));
    case Conversion::upper: {
      std::string u = t;
      for (auto& c : u) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      return str(u);
    }
    case Conversion::upn_user: {
      const auto at = t.find('@');
      return at == std::string::npos ? Value{} : str(t.substr(0, at));
    }
    case Conversion::upn_domain: {
      const auto at = t.find('@');
      return at == std::string::npos ? Value{} : str(t.substr(at + 1));
    }
    case Conversion::arm_subscription: {
      // "/subscriptions/<id>[/...]" (any case: Azure upper-cases resource ids in diagnostic logs)
      // -> "<id>" in lower case, as ARM's own subscriptionId fields spell it.
      constexpr std::string_view prefix = "/subscriptions/";
      if (!json::istarts_with(t, prefix)) return {};
      const auto id = std::string_view(t).substr(prefix.size(), t.find('/', prefix.size()) - prefix.size());
      return id.empty() ? Value{} : str(json::to_lower(id));
    }
    case Conversion::list: {
      if (v.kind == Value::Kind::list) break;
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
      } else if (!t.empty()) {
        l.list.push_back(t);
      }
      return l;
    }
  }
  return v;
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
  const auto type = e.type();
  switch (conversion) {
    case Conversion::integer: {
      std::int64_t i = 0;
      switch (type) {
        case simdjson::dom::element_type::INT64: i = e.get_int64().value_unsafe(); break;
        case simdjson::dom::element_type::UINT64: i = static_cast<std::int64_t>(e.get_uint64().value_unsafe()); break;
        case simdjson::dom::element_type::DOUBLE: i = static_cast<std::int64_t>(std::llround(e.get_double().value_unsafe())); break;
        case simdjson::dom::element_type::BOOL: return Written::nothing;  // "true" is no number
        default: return Written::unsupported;
      }
      if (!multiply) {
        append_int(out, i);
        return Written::value;
      }
      const double r = static_cast<double>(i) * *multiply;
      if (std::floor(r) == r && std::fabs(r) < 9e18) append_int(out, static_cast<std::int64_t>(r));
      else fmt::format_to(std::back_inserter(out), "{}", r);
      return Written::value;
    }
    case Conversion::real: {
      double d = 0;
      switch (type) {
        case simdjson::dom::element_type::DOUBLE: d = e.get_double().value_unsafe(); break;
        case simdjson::dom::element_type::INT64: d = static_cast<double>(e.get_int64().value_unsafe()); break;
        case simdjson::dom::element_type::UINT64:
          d = static_cast<double>(static_cast<std::int64_t>(e.get_uint64().value_unsafe()));
          break;
        case simdjson::dom::element_type::BOOL: return Written::nothing;
        default: return Written::unsupported;
      }
      fmt::format_to(std::back_inserter(out), "{}", d);
      return Written::value;
    }
    case Conversion::boolean:
      if (type != simdjson::dom::element_type::BOOL) return Written::unsupported;
      out += e.get_bool().value_unsafe() ? "true" : "false";
      return Written::value;
    case Conversion::upn_user:
    case Conversion::upn_domain: {
      if (type != simdjson::dom::element_type::STRING) return Written::unsupported;
      const std::string_view t = e.get_string().value_unsafe();
      const auto at = t.find('@');
      if (at == std::string_view::npos) return Written::nothing;
      const auto part = conversion == Conversion::upn_user ? t.substr(0, at) : t.substr(at + 1);
      if (part.empty()) return Written::nothing;
      encoding::append_json_string(out, part);
      return Written::value;
    }
    case Conversion::timestamp: {
      if (type != simdjson::dom::element_type::STRING) return Written::unsupported;
      const auto ms = parse_time_ms(e.get_string().value_unsafe());
      if (!ms) return Written::nothing;
      encoding::append_json_string(out, format_time_ms(*ms));
      return Written::value;
    }
    case Conversion::list: {
      if (type == simdjson::dom::element_type::OBJECT) return Written::nothing;  // no array: an empty list
      if (type == simdjson::dom::element_type::STRING) {
        out += '[';
        encoding::append_json_string(out, e.get_string().value_unsafe());
        out += ']';
        return Written::value;
      }
      if (type != simdjson::dom::element_type::ARRAY) return Written::unsupported;
      // convert() re-parses the array's JSON text: the same items, the same scalar texts.
      const std::size_t mark = out.size();
      out += '[';
      bool first = true;
      std::string s;
      for (element item : json::as_array(e)) {
        if (item.is_string()) {
          const std::string_view sv = item.get_string().value_unsafe();
          if (sv.empty()) continue;
          if (!first) out += ',';
          first = false;
          encoding::append_json_string(out, sv);
          continue;
        }
        if (!json::scalar_text(item, s) || s.empty()) continue;
        if (!first) out += ',';
        first = false;
        encoding::append_json_string(out, s);
      }
      if (first) {
        out.resize(mark);
        return Written::nothing;
      }
      out += ']';
      return Written::value;
    }
    default: return Written::unsupported;
  }
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

Value Rule::evaluate(const EvalContext& ctx) const {
  for (const auto& a : alternatives) {
    Value v = a->eval(ctx);
    if (!v.empty()) return v;
  }
  return {};
}

// ---------------------------------------------------------------- loading

namespace {

struct Compiler {
  Diagnostics& diags;
  std::string file;
  std::map<std::string, int, std::less<>>* slots = nullptr;

  // Every distinct path gets one slot of the per-record lookup cache.
  json::Path make_path(std::string_view text) const {
    json::Path p(text);
    if (slots && !p.fans_out()) {
      auto it = slots->find(text);
      if (it == slots->end()) it = slots->emplace(std::string(text), static_cast<int>(slots->size())).first;
      p.slot = it->second;
    }
    return p;
  }

  Location loc(const YAML::Node& n) const {
    Location l;
    l.file = file;
    if (n.IsDefined() && n.Mark().line >= 0) {
      l.line = n.Mark().line + 1;
      l.column = n.Mark().column + 1;
    }
    return l;
  }
  void error(const YAML::Node& n, const std::string& path, const std::string& msg) const {
    diags.error(loc(n), path, msg);
  }

  static Value yaml_value(const YAML::Node& n) {
    if (n.IsSequence()) {
      Value v;
      v.kind = Value::Kind::list;
      for (const auto& item : n)
        if (item.IsScalar()) v.list.push_back(item.Scalar());
      return v;
    }
    if (!n.IsScalar()) return {};
    const std::string& s = n.Scalar();
    if (n.Tag() != "!") {  // plain (unquoted) scalars may be numbers or booleans
      std::int64_t i = 0;
      auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), i);
      if (ec == std::errc() && p == s.data() + s.size() && !s.empty()) return integer(i);
      if (s == "true" || s == "false") {
        Value b;
        b.kind = Value::Kind::boolean;
        b.b = s == "true";
        return b;
      }
    }
    return str(s);
  }

  // Literal text, {path} / {$variable} placeholders and [optional groups] (not nested).
  bool parse_template(const std::string& text, std::vector<TemplatePart>& parts, const YAML::Node& n,
                      const std::string& path) const {
    std::size_t i = 0;
    bool in_group = false;
    auto literal = [&](std::size_t from, std::size_t to) {
      if (to > from) parts.push_back(TemplatePart{text.substr(from, to - from), std::nullopt, {}});
    };
    while (i < text.size()) {
      const auto next = text.find_first_of("{[]", i);
      if (next == std::string::npos) {
        literal(i, text.size());
        break;
      }
      literal(i, next);
      const char c = text[next];
      if (c == '[' || c == ']') {
        if ((c == '[') == in_group) {
          error(n, path, c == '[' ? fmt::format("'[' inside an optional group in template \"{}\" (groups do not nest)", text)
                                  : fmt::format("']' without its '[' in template \"{}\"", text));
          return false;
        }
        in_group = c == '[';
        TemplatePart g;
        g.group = in_group ? TemplatePart::Group::open : TemplatePart::Group::close;
        parts.push_back(std::move(g));
        i = next + 1;
        continue;
      }
      const auto close = text.find('}', next);
      if (close == std::string::npos) {
        error(n, path, fmt::format("unclosed '{{' in template \"{}\"", text));
        return false;
      }
      const std::string ref = text.substr(next + 1, close - next - 1);
      TemplatePart p;
      if (!ref.empty() && ref[0] == '$') p.virt = ref, p.var = var_of(ref);
      else p.path = make_path(ref);
      parts.push_back(std::move(p));
      i = close + 1;
    }
    if (in_group) {
      error(n, path, fmt::format("unclosed '[' in template \"{}\"", text));
      return false;
    }
    return true;
  }

  std::optional<Condition> parse_condition(const YAML::Node& n, const std::string& path) const {
    if (!n.IsMap()) {
      error(n, path, "a condition is a mapping like {path: category, equals: RoleManagement}");
      return std::nullopt;
    }
    Condition c;
    std::string target;
    static const std::set<std::string> keys = {"path", "exists", "missing", "equals", "not_equals", "in",
                                               "not_in", "contains", "starts_with"};
    for (auto it = n.begin(); it != n.end(); ++it) {
      const std::string k = it->first.Scalar();
      if (!keys.count(k)) {
        error(it->first, path, fmt::format("unknown condition key '{}'", k));
        return std::nullopt;
      }
    }
    auto values_of = [&](const YAML::Node& v) {
      std::vector<std::string> out;
      if (v.IsSequence())
        for (const auto& x : v) out.push_back(x.Scalar());
      else if (v.IsScalar()) out.push_back(v.Scalar());
      return out;
    };
    if (n["exists"]) {
      target = n["exists"].Scalar();
      c.op = Condition::Op::exists;
    } else if (n["missing"]) {
      target = n["missing"].Scalar();
      c.op = Condition::Op::missing;
    } else {
      if (!n["path"]) {
        error(n, path, "a condition needs 'path' (or 'exists' / 'missing')");
        return std::nullopt;
      }
      target = n["path"].Scalar();
      if (n["equals"]) c.op = Condition::Op::equals, c.values = values_of(n["equals"]);
      else if (n["not_equals"]) c.op = Condition::Op::not_equals, c.values = values_of(n["not_equals"]);
      else if (n["in"]) c.op = Condition::Op::in, c.values = values_of(n["in"]);
      else if (n["not_in"]) c.op = Condition::Op::not_in, c.values = values_of(n["not_in"]);
      else if (n["contains"]) c.op = Condition::Op::contains, c.values = values_of(n["contains"]);
      else if (n["starts_with"]) c.op = Condition::Op::starts_with, c.values = values_of(n["starts_with"]);
      else c.op = Condition::Op::exists;
    }
    if (!target.empty() && target[0] == '$') c.virt = target, c.var = var_of(target);
    else c.path = make_path(target);
    return c;
  }

  ExprPtr parse_expr(const YAML::Node& n, const std::string& path) const {
    auto e = parse_expr_fields(n, path);
    if (e) e->is_plain = e->plain();
    return e;
  }

  std::shared_ptr<Expr> parse_expr_fields(const YAML::Node& n, const std::string& path) const {
    auto e = std::make_shared<Expr>();
    if (n.IsScalar()) {
      const std::string& s = n.Scalar();
      if (!s.empty() && s[0] == '$') {
        e->src = Expr::Src::virt;
        e->virt = s;
        e->var = var_of(s);
      } else {
        e->src = Expr::Src::from;
        e->paths.push_back(make_path(s));
      }
      return e;
    }
    if (!n.IsMap()) {
      error(n, path, "expected a rule: a path, a $variable, or a mapping with from/all/value/template");
      return nullptr;
    }
    static const std::vector<std::string> keys = {"from", "all", "value", "template", "when", "map", "default",
                                                  "type", "multiply", "label"};
    for (auto it = n.begin(); it != n.end(); ++it) {
      const std::string k = it->first.Scalar();
      if (std::find(keys.begin(), keys.end(), k) == keys.end()) {
        std::string msg = fmt::format("unknown rule key '{}'", k);
        if (auto s = did_you_mean(k, keys)) msg += fmt::format(" (did you mean '{}'?)", *s);
        error(it->first, path, msg);
        return nullptr;
      }
    }
    int sources = 0;
    auto paths_of = [this](const YAML::Node& v) {
      std::vector<json::Path> out;
      if (v.IsSequence())
        for (const auto& x : v) out.push_back(make_path(x.Scalar()));
      else
        out.push_back(make_path(v.Scalar()));
      return out;
    };
    if (n["from"]) {
      ++sources;
      e->src = Expr::Src::from;
      const auto f = n["from"];
      if (f.IsScalar() && !f.Scalar().empty() && f.Scalar()[0] == '$') {
        e->src = Expr::Src::virt;
        e->virt = f.Scalar();
        e->var = var_of(e->virt);
      } else {
        e->paths = paths_of(f);
      }
    }
    if (n["all"]) {
      ++sources;
      e->src = Expr::Src::all;
      e->paths = paths_of(n["all"]);
    }
    if (n["value"]) {
      ++sources;
      e->src = Expr::Src::value;
      e->constant = yaml_value(n["value"]);
    }
    if (n["template"]) {
      ++sources;
      e->src = Expr::Src::tpl;
      if (!parse_template(n["template"].Scalar(), e->parts, n["template"], path)) return nullptr;
    }
    if (sources != 1) {
      error(n, path, "a rule needs exactly one of 'from', 'all', 'value' or 'template'");
      return nullptr;
    }
    if (auto w = n["when"]) {
      if (w.IsSequence()) {
        for (const auto& c : w) {
          auto cond = parse_condition(c, path);
          if (!cond) return nullptr;
          e->when.push_back(std::move(*cond));
        }
      } else {
        auto cond = parse_condition(w, path);
        if (!cond) return nullptr;
        e->when.push_back(std::move(*cond));
      }
    }
    if (auto m = n["map"]) {
      if (!m.IsMap()) {
        error(m, path, "'map' must be a mapping of input value to output value");
        return nullptr;
      }
      e->has_lookup = true;
      for (auto it = m.begin(); it != m.end(); ++it) e->lookup.emplace_back(it->first.Scalar(), yaml_value(it->second));
    }
    if (auto d = n["default"]) e->fallback = yaml_value(d);
    if (auto t = n["type"]) {
      bool found = false;
      std::vector<std::string> names;
      for (const auto& [name, conv] : conversions()) {
        names.emplace_back(name);
        if (t.Scalar() == name) {
          e->conversion = conv;
          found = true;
        }
      }
      if (!found) {
        std::string msg = fmt::format("unknown type '{}'", t.Scalar());
        if (auto s = did_you_mean(t.Scalar(), names)) msg += fmt::format(" (did you mean '{}'?)", *s);
        error(t, path, msg);
        return nullptr;
      }
    }
    if (auto m = n["multiply"]) {
      try {
        e->multiply = m.as<double>();
      } catch (const YAML::Exception&) {
        error(m, path, "'multiply' must be a number");
        return nullptr;
      }
    }
    return e;
  }

  std::optional<Rule> parse_rule(const std::string& target, const YAML::Node& n, const std::string& path) const {
    Rule r;
    r.target = target;
    r.where = loc(n);
    if (n.IsSequence()) {
      for (const auto& alt : n) {
        auto e = parse_expr(alt, path);
        if (!e) return std::nullopt;
        if (alt.IsMap() && alt["label"]) r.label = alt["label"].Scalar();
        r.alternatives.push_back(std::move(e));
      }
    } else {
      auto e = parse_expr(n, path);
      if (!e) return std::nullopt;
      if (n.IsMap() && n["label"]) r.label = n["label"].Scalar();
      r.alternatives.push_back(std::move(e));
    }
    r.plain = std::all_of(r.alternatives.begin(), r.alternatives.end(), [](const ExprPtr& e) { return e->plain(); });
    r.direct = std::all_of(r.alternatives.begin(), r.alternatives.end(), [](const ExprPtr& e) { return e->direct(); });
    if (r.alternatives.size() == 1) {
      const Expr& e = *r.alternatives.front();
      if (e.is_plain && e.src == Expr::Src::from && e.when.empty() && e.conversion == Conversion::none &&
          e.paths.size() == 1)
        r.single_path = &e.paths.front();
    }
    return r;
  }
};

// Rules by target, in first-definition order; later definitions replace in place, null deletes.
struct OrderedRules {
  std::vector<std::pair<std::string, std::optional<Rule>>> items;
  void set(const std::string& target, std::optional<Rule> rule) {
    for (auto& [t, r] : items) {
      if (t == target) {
        r = std::move(rule);
        return;
      }
    }
    items.emplace_back(target, std::move(rule));
  }
  std::vector<Rule> compiled() const {
    std::vector<Rule> out;
    for (const auto& [t, r] : items)
      if (r) out.push_back(*r);
    return out;
  }
};

struct KindDraft {
  std::vector<json::Path> id_paths, time_paths, tenant_paths, subscription_paths;
  OrderedRules ecs, cef_header, cef_ext;
};

// Every slotted path of a kind's rules into m.paths, each once.
void collect_paths(KindMapping& m) {
  std::set<int> seen;
  auto add = [&](const json::Path& p) {
    if (p.slot >= 0 && !p.fans_out() && seen.insert(p.slot).second) m.paths.add(p, p.slot);
  };
  auto add_rule = [&](const Rule& r) {
    for (const auto& e : r.alternatives) {
      for (const auto& c : e->when)
        if (c.virt.empty()) add(c.path);
      if (e->src == Expr::Src::from || e->src == Expr::Src::all)
        for (const auto& p : e->paths) add(p);
      for (const auto& part : e->parts)
        if (part.path) add(*part.path);
    }
  };
  for (const auto* paths : {&m.id_paths, &m.time_paths, &m.tenant_paths, &m.subscription_paths})
    for (const auto& p : *paths) add(p);
  for (const auto& r : m.ecs) add_rule(r);
  for (const auto* r : {&m.cef_vendor, &m.cef_product, &m.cef_version, &m.cef_class_id, &m.cef_name, &m.cef_severity})
    add_rule(*r);
  for (const auto& r : m.cef_extension) add_rule(r);
}

}  // namespace

MappingSet MappingSet::load(const std::vector<std::string>& files, Diagnostics& diags) {
  MappingSet set;
  KindDraft common;
  std::map<SourceKind, KindDraft> drafts;
  static const std::vector<std::string> top_keys = {"kind", "id", "time", "tenant", "subscription", "ecs", "cef", "description"};
  static const std::vector<std::string> cef_keys = {"vendor", "product", "version", "class_id", "name", "severity", "extension"};

  std::map<std::string, int, std::less<>> slots;
  for (const auto& file : files) {
    Compiler c{diags, file, &slots};
    YAML::Node root;
    try {
      root = YAML::LoadFile(file);
    } catch (const YAML::BadFile&) {
      Location l;
      l.file = file;
      diags.error(l, "", "cannot read mapping file");
      continue;
    } catch (const YAML::Exception& e) {
      Location l;
      l.file = file;
      l.line = e.mark.line + 1;
      l.column = e.mark.column + 1;
      diags.error(l, "", "YAML syntax error: " + e.msg);
      continue;
    }
    if (!root.IsMap()) {
      c.error(root, "", "a mapping file is a YAML mapping with 'kind', 'ecs' and 'cef'");
      continue;
    }
    for (auto it = root.begin(); it != root.end(); ++it) {
      const auto k = it->first.Scalar();
      if (std::find(top_keys.begin(), top_keys.end(), k) == top_keys.end()) {
        std::string msg = fmt::format("unknown key '{}'", k);
        if (auto s = did_you_mean(k, top_keys)) msg += fmt::format(" (did you mean '{}'?)", *s);
        c.error(it->first, "", msg);
      }
    }
    if (!root["kind"]) {
      c.error(root, "", "missing 'kind' (a record kind such as graph_sign_in, or 'common')");
      continue;
    }
    const std::string kind_name = root["kind"].Scalar();
    KindDraft* draft = nullptr;
    if (kind_name == "common") {
      draft = &common;
    } else if (auto k = source_kind_from_string(kind_name)) {
      draft = &drafts[*k];
    } else {
      std::vector<std::string> names{"common", "unknown"};
      for (auto k2 : all_source_kinds()) names.emplace_back(to_string(k2));
      std::string msg = fmt::format("unknown kind '{}'", kind_name);
      if (auto s = did_you_mean(kind_name, names)) msg += fmt::format(" (did you mean '{}'?)", *s);
      c.error(root["kind"], "kind", msg);
      continue;
    }
    auto paths = [&](const char* key, std::vector<json::Path>& out) {
      if (auto n = root[key]) {
        out.clear();
        if (n.IsSequence())
          for (const auto& x : n) out.push_back(c.make_path(x.Scalar()));
        else if (n.IsScalar())
          out.push_back(c.make_path(n.Scalar()));
        else
          c.error(n, key, "expected a path or a list of paths");
      }
    };
    paths("id", draft->id_paths);
    paths("time", draft->time_paths);
    paths("tenant", draft->tenant_paths);
    paths("subscription", draft->subscription_paths);
    if (auto ecs = root["ecs"]) {
      if (!ecs.IsMap()) {
        c.error(ecs, "ecs", "expected a mapping of ECS field -> rule");
      } else {
        for (auto it = ecs.begin(); it != ecs.end(); ++it) {
          const std::string target = it->first.Scalar();
          const std::string path = "ecs." + target;
          if (it->second.IsNull()) {
            draft->ecs.set(target, std::nullopt);
            continue;
          }
          if (auto r = c.parse_rule(target, it->second, path)) draft->ecs.set(target, std::move(*r));
        }
      }
    }
    if (auto cef = root["cef"]) {
      if (!cef.IsMap()) {
        c.error(cef, "cef", "expected a mapping with vendor, product, version, class_id, name, severity, extension");
      } else {
        for (auto it = cef.begin(); it != cef.end(); ++it) {
          const std::string k = it->first.Scalar();
          if (std::find(cef_keys.begin(), cef_keys.end(), k) == cef_keys.end()) {
            std::string msg = fmt::format("unknown CEF key '{}'", k);
            if (auto s = did_you_mean(k, cef_keys)) msg += fmt::format(" (did you mean '{}'?)", *s);
            c.error(it->first, "cef", msg);
            continue;
          }
          if (k == "extension") {
            if (!it->second.IsMap()) {
              c.error(it->second, "cef.extension", "expected a mapping of CEF key -> rule");
              continue;
            }
            for (auto e = it->second.begin(); e != it->second.end(); ++e) {
              const std::string key = e->first.Scalar();
              // The key is written verbatim into the line: anything but a CEF key word would end
              // the previous value or start a bogus key.
              if (key.empty() || !std::all_of(key.begin(), key.end(), [](char ch) {
                    return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_';
                  })) {
                c.error(e->first, "cef.extension",
                        fmt::format("CEF extension key '{}' must be letters, digits or '_'", key));
                continue;
              }
              if (e->second.IsNull()) {
                draft->cef_ext.set(key, std::nullopt);
                continue;
              }
              if (auto r = c.parse_rule(key, e->second, "cef.extension." + key)) draft->cef_ext.set(key, std::move(*r));
            }
            continue;
          }
          // Header fields: a plain scalar is a constant here (vendor: Microsoft).
          YAML::Node spec = it->second;
          std::optional<Rule> r;
          if (spec.IsScalar() && (spec.Scalar().empty() || spec.Scalar()[0] != '$')) {
            Rule rule;
            rule.target = k;
            auto e = std::make_shared<Expr>();
            e->src = Expr::Src::value;
            e->constant = Compiler::yaml_value(spec);
            e->is_plain = e->plain();
            rule.alternatives.push_back(e);
            r = rule;
          } else {
            r = c.parse_rule(k, spec, "cef." + k);
          }
          if (r) draft->cef_header.set(k, std::move(*r));
        }
      }
    }
  }

  auto build = [&](SourceKind kind, const KindDraft* specific) {
    KindMapping m;
    m.kind = kind;
    OrderedRules ecs = common.ecs, header = common.cef_header, ext = common.cef_ext;
    m.id_paths = common.id_paths;
    m.time_paths = common.time_paths;
    m.tenant_paths = common.tenant_paths;
    m.subscription_paths = common.subscription_paths;
    if (specific) {
      for (const auto& [t, r] : specific->ecs.items) ecs.set(t, r);
      for (const auto& [t, r] : specific->cef_header.items) header.set(t, r);
      for (const auto& [t, r] : specific->cef_ext.items) ext.set(t, r);
      if (!specific->id_paths.empty()) m.id_paths = specific->id_paths;
      if (!specific->time_paths.empty()) m.time_paths = specific->time_paths;
      if (!specific->tenant_paths.empty()) m.tenant_paths = specific->tenant_paths;
      if (!specific->subscription_paths.empty()) m.subscription_paths = specific->subscription_paths;
    }
    m.ecs = ecs.compiled();
    m.cef_extension = ext.compiled();
    for (auto& r : header.compiled()) {
      if (r.target == "vendor") m.cef_vendor = r;
      else if (r.target == "product") m.cef_product = r;
      else if (r.target == "version") m.cef_version = r;
      else if (r.target == "class_id") m.cef_class_id = r;
      else if (r.target == "name") m.cef_name = r;
      else if (r.target == "severity") m.cef_severity = r;
    }
    collect_paths(m);
    return m;
  };
  set.path_slots_ = slots.size();
  set.fallback_ = build(SourceKind::unknown, drafts.count(SourceKind::unknown) ? &drafts[SourceKind::unknown] : nullptr);
  for (auto k : all_source_kinds()) set.kinds_[k] = build(k, drafts.count(k) ? &drafts[k] : nullptr);
  return set;
}

const KindMapping& MappingSet::for_kind(SourceKind kind) const {
  auto it = kinds_.find(kind);
  return it == kinds_.end() ? fallback_ : it->second;
}

}  // namespace siem::mapping
