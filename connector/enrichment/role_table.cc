#include "connector/enrichment/role_table.h"

#include <cctype>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "connector/config/yaml_tree.h"

namespace siem {

namespace {

// The canonical form of `text` (RoleTable::canonical_id) written into `out`, without allocating
// (by_id() runs for every role an event names); false when `text` is not a GUID.
bool canonical_into(std::string_view text, char (&out)[36]) {
  if (auto slash = text.rfind('/'); slash != std::string_view::npos) text = text.substr(slash + 1);
  std::size_t digits = 0, at = 0;
  for (char c : text) {
    if (c == '-' || c == '{' || c == '}' || c == ' ') continue;
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
    if (digits == 32) return false;  // more than 32 hex digits
    if (digits == 8 || digits == 12 || digits == 16 || digits == 20) out[at++] = '-';
    out[at++] = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    ++digits;
  }
  return digits == 32;
}

}  // namespace

std::optional<std::string> RoleTable::canonical_id(std::string_view text) {
  char id[36];
  if (!canonical_into(text, id)) return std::nullopt;
  return std::string(id, sizeof id);
}

namespace {

// r[key] converted to T, failing as yaml-cpp's r[key].as<T>() does (its message is reported).
template <typename T>
T get(const yaml::Node& r, const std::string& key) {
  if (r.IsScalar()) throw YAML::BadSubscript(YAML::Mark::null_mark(), key);
  const auto v = r[key];
  if (!v) throw YAML::InvalidNode(key);
  return v.as<T>();
}

}  // namespace

bool RoleTable::load_file(const std::string& path, Diagnostics& diags) {
  yaml::Node root;
  Location where;
  where.file = path;
  try {
    root = yaml::load_file(path);
  } catch (const yaml::FileError& e) {
    diags.error(where, "roles_file", "cannot load the privileged roles table: " + e.reason);
    return false;
  } catch (const YAML::Exception& e) {
    where.line = e.mark.line + 1;
    where.column = e.mark.column + 1;
    diags.error(where, "roles_file", "cannot load the privileged roles table: " + e.msg);
    return false;
  }
  const auto roles = root["roles"];
  if (!roles.IsSequence()) {
    diags.error(where, "roles_file", "expected a top-level 'roles:' list");
    return false;
  }
  for (const auto& r : roles.elements()) {
    Location l{path, r.Mark().line + 1, r.Mark().column + 1};
    try {
      RoleInfo info;
      const auto text = get<std::string>(r, "id");
      auto id = canonical_id(text);
      if (!id) {
        diags.error(l, "roles", fmt::format("'{}' is not a role id (a GUID)", text));
        continue;
      }
      info.id = *id;
      info.name = get<std::string>(r, "name");
      info.scope = r["scope"] ? get<std::string>(r, "scope") : "entra";
      info.tier = r["tier"] ? get<int>(r, "tier") : 2;
      info.privileged = r["privileged"] && get<bool>(r, "privileged");
      if (info.tier < 0 || info.tier > 2) {
        diags.error(l, "roles", fmt::format("tier of '{}' must be 0, 1 or 2", info.name));
        continue;
      }
      add(std::move(info));
    } catch (const YAML::Exception& e) {
      diags.error(l, "roles", "each role needs id, name, scope, tier: " + e.msg);
    }
  }
  return true;
}

void RoleTable::add(RoleInfo role) {
  std::string lower;
  for (char c : role.name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  name_to_id_[lower] = role.id;
  by_id_[role.id] = std::move(role);
}

const RoleInfo* RoleTable::by_id(std::string_view id) const {
  char c[36];
  if (!canonical_into(id, c)) return nullptr;
  auto it = by_id_.find(std::string_view(c, sizeof c));
  return it == by_id_.end() ? nullptr : &it->second;
}

const RoleInfo* RoleTable::by_name(std::string_view name) const {
  std::string lower;
  for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto it = name_to_id_.find(lower);
  return it == name_to_id_.end() ? nullptr : &by_id_.at(it->second);
}

}  // namespace siem
