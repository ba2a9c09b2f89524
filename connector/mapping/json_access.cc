#include "connector/mapping/json_access.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include <fmt/format.h>

namespace siem::json {

namespace {
// ASCII case folding without the locale machinery of std::tolower (this is the hot path).
inline char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c | 0x20) : c; }
}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i] != b[i] && lower(a[i]) != lower(b[i])) return false;
  return true;
}

bool icontains(std::string_view h, std::string_view n) {
  if (n.empty()) return true;
  if (n.size() > h.size()) return false;
  for (std::size_t i = 0; i + n.size() <= h.size(); ++i)
    if (iequals(h.substr(i, n.size()), n)) return true;
  return false;
}

bool istarts_with(std::string_view s, std::string_view p) { return s.size() >= p.size() && iequals(s.substr(0, p.size()), p); }

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = lower(c);
  return out;
}

std::optional<element> child(element obj, std::string_view key) {
  if (!obj.is_object()) return std::nullopt;
  const simdjson::dom::object o = obj.get_object().value_unsafe();
  std::optional<element> exact, folded;
  for (auto field : o) {
    if (field.key.size() != key.size()) continue;
    if (field.key == key) exact = field.value;  // duplicate keys: the last one wins
    else if (!exact && iequals(field.key, key)) folded = field.value;
  }
  if (exact) return exact;
  return folded;
}

std::optional<element> at(element arr, std::size_t index) {
  simdjson::dom::array a;
  if (arr.get_array().get(a) != simdjson::SUCCESS) return std::nullopt;
  element e;
  if (a.at(index).get(e) != simdjson::SUCCESS) return std::nullopt;
  return e;
}

Path::Path(std::string_view dotted) : text_(dotted) {
  std::size_t start = 0;
  while (start <= dotted.size()) {
    auto dot = dotted.find('.', start);
    if (dot == std::string_view::npos) dot = dotted.size();
    std::string_view seg = dotted.substr(start, dot - start);
    // A URI key (token claims: "claims.http://schemas.microsoft.com/identity/claims/objectidentifier")
    // or an OData annotation ("@odata.type") holds dots of its own: it takes the rest of the path.
    if (seg.find("://") != std::string_view::npos || (!seg.empty() && seg.front() == '@')) {
      dot = dotted.size();
      seg = dotted.substr(start);
    }
    if (!seg.empty()) {
      Segment s;
      std::size_t idx = 0;
      auto [p, ec] = std::from_chars(seg.data(), seg.data() + seg.size(), idx);
      if (seg == "*") {
        s.wildcard = true;
        fans_out_ = true;
      } else if (ec == std::errc() && p == seg.data() + seg.size()) {
        s.index = idx;
      } else {
        s.key = std::string(seg);
      }
      segments_.push_back(std::move(s));
    }
    start = dot + 1;
  }
}

void Path::walk(element e, std::size_t i, std::vector<element>& out, bool first_only) const {
  if (first_only && !out.empty()) return;
  if (i == segments_.size()) {
    if (!e.is_null()) out.push_back(e);
    return;
  }
  const auto& s = segments_[i];
  if (s.wildcard) {
    simdjson::dom::array a;
    if (e.get_array().get(a) != simdjson::SUCCESS) return;
    for (element item : a) walk(item, i + 1, out, first_only);
    return;
  }
  if (s.index) {
    // An index on an object is taken as a key ("0"), on an array as a position.
    if (e.is_array()) {
      if (auto c = at(e, *s.index)) walk(*c, i + 1, out, first_only);
      return;
    }
    if (auto c = child(e, std::to_string(*s.index))) walk(*c, i + 1, out, first_only);
    return;
  }
  if (auto c = child(e, s.key)) walk(*c, i + 1, out, first_only);
}

std::optional<element> Path::first(element root) const {
  std::vector<element> out;
  walk(root, 0, out, true);
  if (out.empty()) return std::nullopt;
  return out.front();
}

void Path::all(element root, std::vector<element>& out) const { walk(root, 0, out, false); }

bool scalar_text(element e, std::string& out) {
  switch (e.type()) {
    case simdjson::dom::element_type::STRING: out.assign(std::string_view(e.get_string().value_unsafe())); return true;
    case simdjson::dom::element_type::INT64: out = std::to_string(e.get_int64().value_unsafe()); return true;
    case simdjson::dom::element_type::UINT64: out = std::to_string(e.get_uint64().value_unsafe()); return true;
    case simdjson::dom::element_type::DOUBLE: out = fmt::format("{}", e.get_double().value_unsafe()); return true;
    case simdjson::dom::element_type::BOOL: out = e.get_bool().value_unsafe() ? "true" : "false"; return true;
    default: return false;
  }
}

std::optional<std::string> text_at(element root, const Path& path) {
  auto e = path.first(root);
  if (!e) return std::nullopt;
  std::string s;
  if (!scalar_text(*e, s)) return std::nullopt;
  return s;
}

std::string to_json(element e) { return simdjson::to_string(e); }

std::string unquote(std::string_view s) {
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 1; i + 1 < s.size(); ++i) {
      if (s[i] == '\\' && i + 2 < s.size()) {
        ++i;
        switch (s[i]) {
          case 'n': out += '\n'; break;
          case 't': out += '\t'; break;
          case 'r': out += '\r'; break;
          default: out += s[i];
        }
      } else {
        out += s[i];
      }
    }
    return out;
  }
  return std::string(s);
}

}  // namespace siem::json
