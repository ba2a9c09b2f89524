// The privileged roles table (mappings/privileged-roles.yaml plus `enrichment.roles` overrides):
// Entra role template ids and Azure role definition ids with their tier.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "connector/config/config_node.h"

namespace siem {

struct RoleInfo {
  std::string id;    // canonical: lower-case GUID with dashes
  std::string name;
  std::string scope; // entra | azure
  int tier = 2;
  bool privileged = false;
};

class RoleTable {
 public:
  // Loads the YAML file; problems go to `diags` with file:line.
  bool load_file(const std::string& path, Diagnostics& diags);
  void add(RoleInfo role);  // adds or overrides by id

  // By id: GUID with or without dashes, any case, or an ARM path ending in /roleDefinitions/{id}.
  const RoleInfo* by_id(std::string_view id) const;
  // By display name, case-insensitive.
  const RoleInfo* by_name(std::string_view name) const;
  std::size_t size() const noexcept { return by_id_.size(); }

  // "8E3AF657A8FF443CA75C2FE8C4BCB635" / ".../roleDefinitions/8e3a..." -> "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
  static std::optional<std::string> canonical_id(std::string_view text);

 private:
  std::map<std::string, RoleInfo, std::less<>> by_id_;  // transparent: looked up by a canonical id in place
  std::map<std::string, std::string> name_to_id_;  // lower-case name -> id
};

}  // namespace siem
