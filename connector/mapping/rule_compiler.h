// Compiles one mapping file's YAML into expressions and rules (errors with file:line:column).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "connector/config/config_node.h"
#include "connector/mapping/expression.h"

namespace siem::mapping {

// A YAML mapping's entries, read once: yaml-cpp walks the map on every lookup and builds a
// std::stringstream for every missed key. Empty when `map` is not a mapping.
class Entries {
 public:
  explicit Entries(const YAML::Node& map);
  YAML::Node operator[](std::string_view key) const;  // undefined (IsDefined() false) when absent
  const std::vector<std::pair<YAML::Node, YAML::Node>>& items() const noexcept { return items_; }

 private:
  std::vector<std::pair<YAML::Node, YAML::Node>> items_;
};

struct Compiler {
  Diagnostics& diags;
  std::string file;
  std::map<std::string, int, std::less<>>* slots = nullptr;

  // Every distinct path gets one slot of the per-record lookup cache.
  json::Path make_path(std::string_view text) const;

  // A map's value for `key`, or an undefined node (Entries(map)[key]).
  static YAML::Node child(const YAML::Node& map, std::string_view key);

  Location loc(const YAML::Node& n) const;
  void error(const YAML::Node& n, const std::string& path, const std::string& msg) const;

  static Value yaml_value(const YAML::Node& n);

  // Literal text, {path} / {$variable} placeholders and [optional groups] (not nested).
  bool parse_template(const std::string& text, std::vector<TemplatePart>& parts, const YAML::Node& n, const std::string& path) const;

  std::optional<Condition> parse_condition(const YAML::Node& n, const std::string& path) const;

  ExprPtr parse_expr(const YAML::Node& n, const std::string& path) const;

  std::shared_ptr<Expr> parse_expr_fields(const YAML::Node& n, const std::string& path) const;

  std::optional<Rule> parse_rule(const std::string& target, const YAML::Node& n, const std::string& path) const;
};

}  // namespace siem::mapping
