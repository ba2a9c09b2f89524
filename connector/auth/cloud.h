// Microsoft clouds: token authority, Microsoft Graph root and ARM root per cloud (sources.md §1.1),
// and the scope / resource strings derived from a root.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace siem::auth {

struct CloudEndpoints {
  std::string name;   // public | usgov | dod | china | custom
  std::string login;  // token authority base, no trailing slash: https://login.microsoftonline.com
  std::string graph;  // https://graph.microsoft.com
  std::string arm;    // https://management.azure.com
};

// The built-in clouds; nullopt for "custom" or an unknown name.
std::optional<CloudEndpoints> builtin_cloud(std::string_view name);

// Client-credentials scope for a resource root: "https://graph.microsoft.com/.default".
std::string scope_for(std::string_view resource_root);
// Managed identity `resource=` for a root (v1 style): "https://management.azure.com/".
std::string resource_for(std::string_view resource_root);
// Token endpoint: {login}/{tenant}/oauth2/v2.0/token.
std::string token_endpoint(std::string_view login, std::string_view tenant);

}  // namespace siem::auth
