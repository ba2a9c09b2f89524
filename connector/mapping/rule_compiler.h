// Compiles one mapping file's YAML into expressions and rules (errors with file:line:column).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "connector/config/config_node.h"
#include "connector/config/yaml_tree.h"
#include "connector/mapping/expression.h"

namespace siem::mapping {

struct Compiler {
  Diagnostics& diags;
  std::string file;
  std::map<std::string, int, std::less<>>* slots = nullptr;

  // Every distinct path gets one slot of the per-record lookup cache.
  json::Path make_path(std::string_view text) const;

  Location loc(const yaml::Node& n) const;
  void error(const yaml::Node& n, const std::string& path, const std::string& msg) const;

  static Value yaml_value(const yaml::Node& n);

  // Literal text, {path} / {$variable} placeholders and [optional groups] (not nested).
  bool parse_template(const std::string& text, std::vector<TemplatePart>& parts, const yaml::Node& n, const std::string& path) const;

  std::optional<Condition> parse_condition(const yaml::Node& n, const std::string& path) const;

  ExprPtr parse_expr(const yaml::Node& n, const std::string& path) const;

  std::shared_ptr<Expr> parse_expr_fields(const yaml::Node& n, const std::string& path) const;

  std::optional<Rule> parse_rule(const std::string& target, const yaml::Node& n, const std::string& path) const;
};

}  // namespace siem::mapping
