#include "connector/auth/cloud.h"

namespace siem::auth {
namespace {
std::string strip_slash(std::string_view s) {
  while (!s.empty() && s.back() == '/') s.remove_suffix(1);
  return std::string(s);
}
}  // namespace

std::optional<CloudEndpoints> builtin_cloud(std::string_view name) {
  if (name == "public" || name == "global" || name == "azure")
    return CloudEndpoints{"public", "https://login.microsoftonline.com", "https://graph.microsoft.com",
                          "https://management.azure.com"};
  if (name == "usgov")
    return CloudEndpoints{"usgov", "https://login.microsoftonline.us", "https://graph.microsoft.us",
                          "https://management.usgovcloudapi.net"};
  if (name == "dod")
    return CloudEndpoints{"dod", "https://login.microsoftonline.us", "https://dod-graph.microsoft.us",
                          "https://management.usgovcloudapi.net"};
  if (name == "china")
    return CloudEndpoints{"china", "https://login.chinacloudapi.cn", "https://microsoftgraph.chinacloudapi.cn",
                          "https://management.chinacloudapi.cn"};
  return std::nullopt;
}

std::string scope_for(std::string_view resource_root) { return strip_slash(resource_root) + "/.default"; }

std::string resource_for(std::string_view resource_root) { return strip_slash(resource_root) + "/"; }

std::string token_endpoint(std::string_view login, std::string_view tenant) {
  return strip_slash(login) + "/" + std::string(tenant) + "/oauth2/v2.0/token";
}

}  // namespace siem::auth
