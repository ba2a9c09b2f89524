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

Location Compiler::loc(const yaml::Node& n) const {
  Location l;
  l.file = file;
  if (n.IsDefined() && n.Mark().line >= 0) {
    l.line = n.Mark().line + 1;
    l.column = n.Mark().column + 1;
  }
  return l;
}

void Compiler::error(const yaml::Node& n, const std::string& path, const std::string& msg) const {
  diags.error(loc(n), path, msg);
}

Value Compiler::yaml_value(const yaml::Node& n) {
  if (n.IsSequence()) {
    Value v;
    v.kind = Value::Kind::list;
    for (const auto& item : n.elements())
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
bool Compiler::parse_template(const std::string& text, std::vector<TemplatePart>& parts, const yaml::Node& n, const std::string& path) const {
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

std::optional<Condition> Compiler::parse_condition(const yaml::Node& n, const std::string& path) const {
  if (!n.IsMap()) {
    error(n, path, "a condition is a mapping like {path: category, equals: RoleManagement}");
    return std::nullopt;
  }
  Condition c;
  std::string target;
  static const std::set<std::string> keys = {"path", "exists", "missing", "equals", "not_equals", "in",
                                             "not_in", "contains", "starts_with"};
  for (const auto& [key, value] : n.entries()) {
    const std::string& k = key.Scalar();
    if (!keys.count(k)) {
      error(key, path, fmt::format("unknown condition key '{}'", k));
      return std::nullopt;
    }
  }
  auto values_of = [&](const yaml::Node& v) {
    std::vector<std::string> out;
    if (v.IsSequence())
      for (const auto& x : v.elements()) out.push_back(x.Scalar());
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
  c.prepare();
  return c;
}

ExprPtr Compiler::parse_expr(const yaml::Node& n, const std::string& path) const {
  auto e = parse_expr_fields(n, path);
  if (e) e->is_plain = e->plain();
  return e;
}

std::shared_ptr<Expr> Compiler::parse_expr_fields(const yaml::Node& n, const std::string& path) const {
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
  for (const auto& [key, value] : n.entries()) {
    const std::string& k = key.Scalar();
    if (std::find(keys.begin(), keys.end(), k) == keys.end()) {
      std::string msg = fmt::format("unknown rule key '{}'", k);
      if (auto s = did_you_mean(k, keys)) msg += fmt::format(" (did you mean '{}'?)", *s);
      error(key, path, msg);
      return nullptr;
    }
  }
  int sources = 0;
  auto paths_of = [this](const yaml::Node& v) {
    std::vector<json::Path> out;
    if (v.IsSequence())
      for (const auto& x : v.elements()) out.push_back(make_path(x.Scalar()));
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
      for (const auto& c : w.elements()) {
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
    for (const auto& [k, v] : m.entries()) e->lookup.emplace_back(k.Scalar(), yaml_value(v));
  }
  if (auto d = n["default"]) e->fallback = yaml_value(d);
  if (auto t = n["type"]) {
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
  if (auto m = n["max_items"]) {
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

std::optional<Rule> Compiler::parse_rule(const std::string& target, const yaml::Node& n, const std::string& path) const {
  Rule r;
  r.target = target;
  r.where = loc(n);
  if (n.IsSequence()) {
    for (const auto& alt : n.elements()) {
      auto e = parse_expr(alt, path);
      if (!e) return std::nullopt;
      if (auto l = alt["label"]) r.label = l.Scalar();
      r.alternatives.push_back(std::move(e));
    }
  } else {
    auto e = parse_expr(n, path);
    if (!e) return std::nullopt;
    if (auto l = n["label"]) r.label = l.Scalar();
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
