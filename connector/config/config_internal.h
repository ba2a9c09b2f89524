// Helpers shared by the files of the config module (not for use outside connector/config).
//   diagnostics.cc      Location, Diagnostics, did_you_mean
//   config_scalars.cc   durations, byte sizes
//   config_secrets.cc   ${VAR} expansion, secrets (literal, ${ENV}, file:/path)
//   config_document.cc  ConfigDocument: loading, duplicate and unknown keys
//   config_node.cc      ConfigNode's typed getters
//   schema.cc           the key tables (schema.h)
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <yaml-cpp/yaml.h>

#include "connector/config/config_node.h"

namespace siem {

// "a.b" + "c" -> "a.b.c" (the path a diagnostic names).
std::string join_path(const std::string& base, std::string_view key);
Location mark_location(const std::string& file, const YAML::Mark& mark);
// "a mapping", "a list", "a scalar", "null" (for "expected ..., found ..." messages).
std::string node_type_name(const YAML::Node& n);

std::string trim(std::string_view s);
// A byte size: a number with an optional unit (config_scalars.cc).
std::optional<std::uint64_t> parse_bytes(std::string_view text);

// Expands ${VAR} and ${VAR:-default} (config_secrets.cc).
bool expand_env(std::string_view in, std::string& out, std::string& problem);

}  // namespace siem
