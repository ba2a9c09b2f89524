// ConfigNode: the typed getters over one node of a config document.
#include "connector/config/config_internal.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include <fmt/format.h>

#include "connector/record/time_parse.h"

namespace siem {

// ---------------------------------------------------------------- ConfigNode

ConfigNode::ConfigNode(std::shared_ptr<ConfigDocument> doc, YAML::Node node, std::string path, Sections sections,
                       bool free_form)
    : doc_(std::move(doc)), node_(std::move(node)), path_(std::move(path)), sections_(sections), free_form_(free_form) {
  if (doc_ && node_.IsDefined() && node_.IsMap()) {
    doc_->visit(node_, path_, sections_);
    if (free_form_) doc_->mark_free_form(node_);
  }
}

ConfigNode ConfigNode::with_section(const config::Section& keys) const {
  ConfigNode out = *this;
  for (auto& s : out.sections_) {
    if (s == &keys) return out;
    if (s == nullptr) {
      s = &keys;
      if (doc_ && node_.IsDefined() && node_.IsMap()) doc_->visit(node_, path_, out.sections_);
      return out;
    }
  }
  throw std::logic_error("ConfigNode::with_section: more than four tables on one node");
}

const config::Key* ConfigNode::declaration(std::string_view key) const {
  for (const auto* s : sections_)
    if (s != nullptr)
      if (const auto* k = s->find(key)) return k;
  return nullptr;
}

const config::Key* ConfigNode::check_declared(std::string_view key) const {
  if (!doc_ || doc_->schema() == nullptr || free_form_) return nullptr;
  if (const auto* k = declaration(key)) return k;
  const config::Section* last = nullptr;
  for (const auto* s : sections_)
    if (s != nullptr) last = s;
  if (last != nullptr)
    doc_->record_violation(config::undeclared_key_message(*last, path_, key));
  else
    doc_->record_violation(fmt::format("{}: the code reads key '{}' from a mapping that has no key table: give the "
                                       "key that holds it a config::Section (Key::section) in its parent's table",
                                       path_, key));
  return nullptr;
}

void ConfigNode::check_type(std::string_view key, std::initializer_list<config::Type> read_as) const {
  if (!doc_ || doc_->schema() == nullptr) return;
  const config::Key* k = declaration(key);
  if (k == nullptr || std::find(read_as.begin(), read_as.end(), k->type) != read_as.end()) return;
  doc_->record_violation(fmt::format("{}: the code reads '{}' as {}, but its table declares it as {}: fix the "
                                     "type in the table's line for '{}'",
                                     path_, key, config::to_string(*read_as.begin()), config::to_string(k->type), key));
}

ConfigNode ConfigNode::child_node(YAML::Node node, std::string path, std::string_view key) const {
  const config::Key* k = check_declared(key);
  Sections sections{};
  if (k != nullptr) sections[0] = k->section;
  const bool free_form = k != nullptr && k->type == config::Type::map;
  return ConfigNode(doc_, std::move(node), std::move(path), sections, free_form || free_form_);
}

Diagnostics& ConfigNode::diagnostics() const {
  static Diagnostics orphan;
  return doc_ ? doc_->diagnostics() : orphan;
}

const std::filesystem::path& ConfigNode::base_dir() const {
  static const std::filesystem::path dot(".");
  return doc_ ? doc_->base_dir() : dot;
}

Location ConfigNode::location() const {
  if (!doc_) return {};
  if (!node_.IsDefined()) {
    Location l;
    l.file = doc_->file_name();
    return l;
  }
  return mark_location(doc_->file_name(), node_.Mark());
}

Location ConfigNode::location_of(std::string_view key) const {
  if (auto n = lookup(key)) return mark_location(doc_->file_name(), n->Mark());
  return location();
}

void ConfigNode::error(std::string message) const { diagnostics().error(location(), path_, std::move(message)); }

void ConfigNode::error_at(std::string_view key, std::string message) const {
  diagnostics().error(location_of(key), join_path(path_, key), std::move(message));
}

std::optional<YAML::Node> ConfigNode::lookup(std::string_view key) const {
  check_declared(key);
  if (!doc_ || !node_.IsDefined() || !node_.IsMap()) return std::nullopt;
  doc_->mark_known(node_, key);
  YAML::Node n = node_[std::string(key)];
  if (!n.IsDefined() || n.IsNull()) return std::nullopt;
  return n;
}

bool ConfigNode::has(std::string_view key) const { return lookup(key).has_value(); }

std::optional<std::string> ConfigNode::scalar(std::string_view key) const {
  auto n = lookup(key);
  if (!n) return std::nullopt;
  if (!n->IsScalar()) {
    error_at(key, "expected a string, found " + node_type_name(*n));
    return std::nullopt;
  }
  std::string expanded, problem;
  if (!expand_env(n->Scalar(), expanded, problem)) {
    error_at(key, problem);
    return std::nullopt;
  }
  return expanded;
}

std::optional<std::string> ConfigNode::optional_string(std::string_view key) const {
  check_type(key, {config::Type::string});
  return scalar(key);
}

std::string ConfigNode::string(std::string_view key, std::string_view default_value) const {
  auto v = optional_string(key);
  return v ? *v : std::string(default_value);
}

std::string ConfigNode::required_string(std::string_view key) const {
  if (!has(key)) {
    error(fmt::format("missing required key '{}'", key));
    return {};
  }
  auto v = optional_string(key);
  if (v && v->empty()) error_at(key, "must not be empty");
  return v.value_or("");
}

std::string ConfigNode::choice(std::string_view key, std::initializer_list<std::string_view> allowed,
                               std::string_view default_value) const {
  check_type(key, {config::Type::choice});
  if (const auto* k = declaration(key); k != nullptr && doc_ && doc_->schema() != nullptr &&
                                        !std::equal(allowed.begin(), allowed.end(), k->allowed.begin(), k->allowed.end()))
    doc_->record_violation(fmt::format("{}: the values the code accepts for '{}' differ from the 'allowed' list its "
                                       "table declares: update the table's line for '{}'",
                                       path_, key, key));
  auto v = scalar(key);
  if (!v) return std::string(default_value);
  for (auto a : allowed)
    if (*v == a) return *v;
  std::string list;
  std::vector<std::string> cands;
  for (auto a : allowed) {
    if (!list.empty()) list += ", ";
    list += a;
    cands.emplace_back(a);
  }
  std::string msg = fmt::format("'{}' is not one of: {}", *v, list);
  if (auto s = did_you_mean(*v, cands)) msg += fmt::format(" (did you mean '{}'?)", *s);
  error_at(key, msg);
  return std::string(default_value);
}

std::int64_t ConfigNode::integer(std::string_view key, std::int64_t default_value, std::int64_t min,
                                 std::int64_t max) const {
  check_type(key, {config::Type::integer});
  auto s = scalar(key);
  if (!s) return default_value;
  std::int64_t v = 0;
  const std::string t = trim(*s);
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (ec != std::errc() || p != t.data() + t.size()) {
    error_at(key, fmt::format("expected an integer, found '{}'", *s));
    return default_value;
  }
  if (v < min || v > max) {
    error_at(key, fmt::format("{} is out of range [{}, {}]", v, min, max));
    return default_value;
  }
  return v;
}

double ConfigNode::number(std::string_view key, double default_value) const {
  check_type(key, {config::Type::number});
  auto s = scalar(key);
  if (!s) return default_value;
  double v = 0;
  const std::string t = trim(*s);
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (ec != std::errc() || p != t.data() + t.size()) {
    error_at(key, fmt::format("expected a number, found '{}'", *s));
    return default_value;
  }
  return v;
}

bool ConfigNode::boolean(std::string_view key, bool default_value) const {
  check_type(key, {config::Type::boolean});
  auto s = scalar(key);
  if (!s) return default_value;
  std::string t = trim(*s);
  std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return std::tolower(c); });
  if (t == "true" || t == "yes" || t == "on" || t == "1") return true;
  if (t == "false" || t == "no" || t == "off" || t == "0") return false;
  error_at(key, fmt::format("expected true or false, found '{}'", *s));
  return default_value;
}

std::optional<std::chrono::milliseconds> ConfigNode::optional_duration(std::string_view key) const {
  check_type(key, {config::Type::duration});
  auto s = scalar(key);
  if (!s) return std::nullopt;
  auto d = parse_duration(*s);
  if (!d) {
    error_at(key, fmt::format("expected a duration like 250ms, 90s, 30m, 2h or 1h30m, found '{}'", *s));
    return std::nullopt;
  }
  return d;
}

std::chrono::milliseconds ConfigNode::duration(std::string_view key, std::chrono::milliseconds default_value) const {
  return optional_duration(key).value_or(default_value);
}

std::uint64_t ConfigNode::bytes(std::string_view key, std::uint64_t default_value) const {
  check_type(key, {config::Type::size});
  auto s = scalar(key);
  if (!s) return default_value;
  auto v = parse_bytes(*s);
  if (!v) {
    error_at(key, fmt::format("expected a size like 1048576, 512KiB, 8MiB or 1GB, found '{}'", *s));
    return default_value;
  }
  return *v;
}

std::optional<std::int64_t> ConfigNode::optional_timestamp(std::string_view key) const {
  check_type(key, {config::Type::timestamp});
  auto s = scalar(key);
  if (!s) return std::nullopt;
  auto v = parse_rfc3339_ms(trim(*s));
  if (!v) {
    error_at(key, fmt::format("expected an RFC 3339 timestamp like 2026-11-01T00:00:00Z, found '{}'", *s));
    return std::nullopt;
  }
  return v;
}

std::vector<std::string> ConfigNode::string_list(std::string_view key) const {
  check_type(key, {config::Type::list});
  std::vector<std::string> out;
  auto n = lookup(key);
  if (!n) return out;
  if (n->IsScalar()) {
    if (auto s = scalar(key)) out.push_back(*s);
    return out;
  }
  if (!n->IsSequence()) {
    error_at(key, "expected a list of strings, found " + node_type_name(*n));
    return out;
  }
  for (std::size_t i = 0; i < n->size(); ++i) {
    const YAML::Node item = (*n)[i];
    if (!item.IsScalar()) {
      diagnostics().error(mark_location(doc_->file_name(), item.Mark()),
                          fmt::format("{}[{}]", join_path(path_, key), i),
                          "expected a string, found " + node_type_name(item));
      continue;
    }
    std::string expanded, problem;
    if (!expand_env(item.Scalar(), expanded, problem)) {
      diagnostics().error(mark_location(doc_->file_name(), item.Mark()),
                          fmt::format("{}[{}]", join_path(path_, key), i), problem);
      continue;
    }
    out.push_back(std::move(expanded));
  }
  return out;
}

std::optional<std::filesystem::path> ConfigNode::file_path(std::string_view key) const {
  check_type(key, {config::Type::path});
  auto s = scalar(key);
  if (!s || s->empty()) return std::nullopt;
  std::filesystem::path p(*s);
  if (p.is_relative()) p = base_dir() / p;
  return p.lexically_normal();
}

std::optional<std::filesystem::path> ConfigNode::existing_file(std::string_view key, bool required) const {
  if (!has(key)) {
    if (required) error(fmt::format("missing required key '{}'", key));
    return std::nullopt;
  }
  auto p = file_path(key);
  if (!p) return std::nullopt;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(*p, ec)) {
    error_at(key, fmt::format("file {} does not exist or is not a regular file", p->string()));
    return std::nullopt;
  }
  std::ifstream probe(*p);
  if (!probe) {
    error_at(key, fmt::format("file {} is not readable: {}", p->string(), std::strerror(errno)));
    return std::nullopt;
  }
  return p;
}

ConfigNode ConfigNode::child(std::string_view key) const {
  check_type(key, {config::Type::section, config::Type::map});
  auto n = lookup(key);
  if (!n) return child_node(YAML::Node(YAML::NodeType::Undefined), join_path(path_, key), key);
  if (!n->IsMap()) {
    error_at(key, "expected a mapping of keys, found " + node_type_name(*n));
    return child_node(YAML::Node(YAML::NodeType::Undefined), join_path(path_, key), key);
  }
  return child_node(*n, join_path(path_, key), key);
}

std::vector<ConfigNode> ConfigNode::list(std::string_view key) const {
  check_type(key, {config::Type::sections});
  std::vector<ConfigNode> out;
  auto n = lookup(key);
  if (!n) return out;
  if (!n->IsSequence()) {
    error_at(key, "expected a list, found " + node_type_name(*n));
    return out;
  }
  for (std::size_t i = 0; i < n->size(); ++i) {
    const YAML::Node item = (*n)[i];
    const std::string p = fmt::format("{}[{}]", join_path(path_, key), i);
    if (!item.IsMap()) {
      diagnostics().error(mark_location(doc_->file_name(), item.Mark()), p,
                          "expected a mapping of keys, found " + node_type_name(item));
      continue;
    }
    out.push_back(child_node(item, p, key));
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> ConfigNode::string_map(std::string_view key) const {
  check_type(key, {config::Type::map});
  std::vector<std::pair<std::string, std::string>> out;
  auto n = lookup(key);
  if (!n) return out;
  if (!n->IsMap()) {
    error_at(key, "expected a mapping of keys, found " + node_type_name(*n));
    return out;
  }
  doc_->mark_free_form(*n);
  for (auto it = n->begin(); it != n->end(); ++it) {
    if (!it->second.IsScalar()) {
      diagnostics().error(mark_location(doc_->file_name(), it->second.Mark()),
                          join_path(join_path(path_, key), it->first.Scalar()),
                          "expected a scalar value, found " + node_type_name(it->second));
      continue;
    }
    std::string expanded, problem;
    if (!expand_env(it->second.Scalar(), expanded, problem)) {
      diagnostics().error(mark_location(doc_->file_name(), it->second.Mark()),
                          join_path(join_path(path_, key), it->first.Scalar()), problem);
      continue;
    }
    out.emplace_back(it->first.Scalar(), std::move(expanded));
  }
  return out;
}

}  // namespace siem
