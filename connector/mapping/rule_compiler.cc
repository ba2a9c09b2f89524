#include "connector/mapping/rule_compiler.h"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

namespace siem::mapping {

// Every distinct path gets one slot of the per-record lookup cache.
json::Path Compiler::make_path(std::string_view text) const {
  json::Path p(text);
  if (slots && !p.fans_out()) {
    auto it = slots->find(text);
    if (it == slots->end()) it = slots->emplace(std::string(text), static_cast<int>(slots->size())).first;
    p.slot = it->second;
  }
  return p;
}

// yaml-cpp's own lookup (`node["key"]` on a const node) formats the key through a std::stringstream
// on every miss (to name it in a later InvalidNode error), and each lookup or iteration walks the
// map again: a rule checks a dozen optional keys, which was ~25 % of loading the mappings. A rule's
// keys are read once here. Same matching as yaml-cpp's: the first scalar key equal to `key`.
Entries::Entries(const YAML::Node& map) {
  if (!map.IsMap()) return;
  items_.reserve(map.size());
  for (auto it = map.begin(); it != map.end(); ++it) items_.emplace_back(it->first, it->second);
}

YAML::Node Entries::operator[](std::string_view key) const {
  for (const auto& [k, v] : items_)
    if (k.IsScalar() && k.Scalar() == key) return v;
  static const YAML::Node empty(YAML::NodeType::Map);
  static const YAML::Node missing = empty[""];  // undefined (IsDefined() false), like a missed lookup
  return missing;
}

YAML::Node Compiler::child(const YAML::Node& map, std::string_view key) { return Entries(map)[key]; }

Location Compiler::loc(const YAML::Node& n) const {
  Location l;
  l.file = file;
  if (n.IsDefined() && n.Mark().line >= 0) {
    l.line = n.Mark().line + 1;
    l.column = n.Mark().column + 1;
  }
  return l;
}

void Compiler::error(const YAML::Node& n, const std::string& path, const std::string& msg) const {
  diags.error(loc(n), path, msg);
}

Value Compiler::yaml_value(const YAML::Node& n) {
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
bool Compiler::parse_template(const std::string& text, std::vector<TemplatePart>& parts, const YAML::Node& n, const std::string& path) const {
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

std::optional<Condition> Compiler::parse_condition(const YAML::Node& n, const std::string& path) const {
  if (!n.IsMap()) {
    error(n, path, "a condition is a mapping like {path: category, equals: RoleManagement}");
    return std::nullopt;
  }
  Condition c;
  std::string target;
  static const std::set<std::string> keys = {"path", "exists", "missing", "equals", "not_equals", "in",
                                             "not_in", "contains", "starts_with"};
  const Entries fields(n);
  for (const auto& [key, value] : fields.items()) {
    const std::string& k = key.Scalar();
    if (!keys.count(k)) {
      error(key, path, fmt::format("unknown condition key '{}'", k));
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
  if (fields["exists"]) {
    target = fields["exists"].Scalar();
    c.op = Condition::Op::exists;
  } else if (fields["missing"]) {
    target = fields["missing"].Scalar();
    c.op = Condition::Op::missing;
  } else {
    if (!fields["path"]) {
      error(n, path, "a condition needs 'path' (or 'exists' / 'missing')");
      return std::nullopt;
    }
    target = fields["path"].Scalar();
    if (fields["equals"]) c.op = Condition::Op::equals, c.values = values_of(fields["equals"]);
    else if (fields["not_equals"]) c.op = Condition::Op::not_equals, c.values = values_of(fields["not_equals"]);
    else if (fields["in"]) c.op = Condition::Op::in, c.values = values_of(fields["in"]);
    else if (fields["not_in"]) c.op = Condition::Op::not_in, c.values = values_of(fields["not_in"]);
    else if (fields["contains"]) c.op = Condition::Op::contains, c.values = values_of(fields["contains"]);
    else if (fields["starts_with"]) c.op = Condition::Op::starts_with, c.values = values_of(fields["starts_with"]);
    else c.op = Condition::Op::exists;
  }
  if (!target.empty() && target[0] == '$') c.virt = target, c.var = var_of(target);
  else c.path = make_path(target);
  return c;
}

ExprPtr Compiler::parse_expr(const YAML::Node& n, const std::string& path) const {
  auto e = parse_expr_fields(n, path);
  if (e) e->is_plain = e->plain();
  return e;
}

std::shared_ptr<Expr> Compiler::parse_expr_fields(const YAML::Node& n, const std::string& path) const {
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
                                                "type", "multiply", "max_items", "label"};
  const Entries fields(n);
  for (const auto& [key, value] : fields.items()) {
    const std::string& k = key.Scalar();
    if (std::find(keys.begin(), keys.end(), k) == keys.end()) {
      std::string msg = fmt::format("unknown rule key '{}'", k);
      if (auto s = did_you_mean(k, keys)) msg += fmt::format(" (did you mean '{}'?)", *s);
      error(key, path, msg);
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
  if (fields["from"]) {
    ++sources;
    e->src = Expr::Src::from;
    const auto f = fields["from"];
    if (f.IsScalar() && !f.Scalar().empty() && f.Scalar()[0] == '$') {
      e->src = Expr::Src::virt;
      e->virt = f.Scalar();
      e->var = var_of(e->virt);
    } else {
      e->paths = paths_of(f);
    }
  }
  if (fields["all"]) {
    ++sources;
    e->src = Expr::Src::all;
    e->paths = paths_of(fields["all"]);
  }
  if (fields["value"]) {
    ++sources;
    e->src = Expr::Src::value;
    e->constant = yaml_value(fields["value"]);
  }
  if (fields["template"]) {
    ++sources;
    e->src = Expr::Src::tpl;
    if (!parse_template(fields["template"].Scalar(), e->parts, fields["template"], path)) return nullptr;
  }
  if (sources != 1) {
    error(n, path, "a rule needs exactly one of 'from', 'all', 'value' or 'template'");
    return nullptr;
  }
  if (auto w = fields["when"]) {
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
  if (auto m = fields["map"]) {
    if (!m.IsMap()) {
      error(m, path, "'map' must be a mapping of input value to output value");
      return nullptr;
    }
    e->has_lookup = true;
    for (auto it = m.begin(); it != m.end(); ++it) e->lookup.emplace_back(it->first.Scalar(), yaml_value(it->second));
  }
  if (auto d = fields["default"]) e->fallback = yaml_value(d);
  if (auto t = fields["type"]) {
    bool found = false;
    std::vector<std::string> names;
    for (const auto& row : conversion_table()) {
      for (const std::string_view name : {row.name, row.alias}) {
        if (name.empty()) continue;
        names.emplace_back(name);
        if (t.Scalar() == name) {
          e->conversion = row.id;
          found = true;
        }
      }
    }
    if (!found) {
      std::string msg = fmt::format("unknown type '{}'", t.Scalar());
      if (auto s = did_you_mean(t.Scalar(), names)) msg += fmt::format(" (did you mean '{}'?)", *s);
      error(t, path, msg);
      return nullptr;
    }
  }
  if (auto m = fields["max_items"]) {
    long long v = -1;
    try {
      v = m.as<long long>();
    } catch (const YAML::Exception&) {
    }
    if (v < 1 || v > 100'000) {
      error(m, path, "'max_items' must be an integer from 1 to 100000");
      return nullptr;
    }
    if (e->src != Expr::Src::from || (!e->structured() && e->conversion != Conversion::count)) {
      error(m, path, "'max_items' needs `from` with type json, snake, elastic, list or count");
      return nullptr;
    }
    e->max_items = static_cast<std::size_t>(v);
  }
  if (auto m = fields["multiply"]) {
    try {
      e->multiply = m.as<double>();
    } catch (const YAML::Exception&) {
      error(m, path, "'multiply' must be a number");
      return nullptr;
    }
  }
  return e;
}

std::optional<Rule> Compiler::parse_rule(const std::string& target, const YAML::Node& n, const std::string& path) const {
  Rule r;
  r.target = target;
  r.where = loc(n);
  if (n.IsSequence()) {
    for (const auto& alt : n) {
      auto e = parse_expr(alt, path);
      if (!e) return std::nullopt;
      if (auto l = child(alt, "label")) r.label = l.Scalar();
      r.alternatives.push_back(std::move(e));
    }
  } else {
    auto e = parse_expr(n, path);
    if (!e) return std::nullopt;
    if (auto l = child(n, "label")) r.label = l.Scalar();
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

}  // namespace siem::mapping
