// Token endpoint errors: the identity platform's (and IMDS') error responses classified into an
// AuthError that names the cause (the AADSTS code and its meaning) and says whether retrying helps.
#include "connector/auth/token_provider.h"

#include <map>
#include <regex>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace siem::auth {
namespace {

using json = nlohmann::json;

// Meaning of the AADSTS codes an operator is most likely to hit with client credentials.
std::string aadsts_meaning(const std::string& code) {
  static const std::map<std::string, std::string> known = {
      {"AADSTS7000215", "invalid client secret (wrong value: use the secret's Value, not its ID)"},
      {"AADSTS7000222", "the client secret has expired: create a new one in the app registration"},
      {"AADSTS700016", "application not found in the tenant (wrong client_id or tenant, or not consented)"},
      {"AADSTS90002", "tenant not found (wrong tenant_id or cloud)"},
      {"AADSTS900023", "invalid tenant identifier (tenant_id must be a GUID or verified domain)"},
      {"AADSTS90023", "invalid request (check tenant_id and cloud)"},
      {"AADSTS700027", "client assertion signature invalid (certificate not uploaded to the app registration?)"},
      {"AADSTS700024", "client assertion is not within its valid time range (check the system clock)"},
      {"AADSTS70011", "invalid scope"},
      {"AADSTS70021", "no matching federated identity credential (issuer/subject/audience)"},
      {"AADSTS700211", "no matching federated identity issuer"},
      {"AADSTS700213", "no matching federated identity subject"},
      {"AADSTS7000112", "the application is disabled"},
      {"AADSTS50034", "account does not exist in the directory"},
      {"AADSTS53003", "blocked by Conditional Access"},
      {"AADSTS50196", "request loop detected: the client asked for tokens too often"},
  };
  auto it = known.find(code);
  return it == known.end() ? std::string() : it->second;
}

}  // namespace

AuthError classify_token_error(int status, const std::string& body, const std::string& context) {
  std::string error, description, aadsts;
  json j = json::parse(body, nullptr, false);
  if (!j.is_discarded() && j.is_object()) {
    if (j.contains("error") && j["error"].is_string()) error = j["error"].get<std::string>();
    if (j.contains("error") && j["error"].is_object()) {  // IMDS / App Service sometimes nest it
      const auto& e = j["error"];
      if (e.contains("code") && e["code"].is_string()) error = e["code"].get<std::string>();
      if (e.contains("message") && e["message"].is_string()) description = e["message"].get<std::string>();
    }
    if (j.contains("error_description") && j["error_description"].is_string())
      description = j["error_description"].get<std::string>();
    if (j.contains("error_codes") && j["error_codes"].is_array() && !j["error_codes"].empty() &&
        j["error_codes"][0].is_number_integer())
      aadsts = "AADSTS" + std::to_string(j["error_codes"][0].get<long long>());
  }
  if (aadsts.empty()) {
    static const std::regex re("AADSTS[0-9]+");
    std::smatch m;
    if (std::regex_search(description, m, re)) aadsts = m.str();
  }
  // First line of the description only: later lines carry trace/correlation ids.
  if (auto nl = description.find_first_of("\r\n"); nl != std::string::npos) description.resize(nl);
  bool permanent;
  if (status == 429 || status >= 500 || error == "temporarily_unavailable" || aadsts == "AADSTS50196")
    permanent = false;
  else
    permanent = status >= 400;  // invalid_client, unauthorized_client, invalid_request (tenant), invalid_scope...
  std::string meaning = aadsts_meaning(aadsts);
  std::string msg = fmt::format("{} failed: HTTP {}", context, status);
  if (!error.empty()) msg += ", " + http::printable(error, 100);
  if (!aadsts.empty()) msg += " (" + aadsts + (meaning.empty() ? "" : ": " + meaning) + ")";
  // Server text goes into log lines: control and non-ASCII bytes escaped.
  if (!description.empty() && meaning.empty()) msg += ": " + http::printable(description, 300);
  if (error.empty() && description.empty() && !body.empty()) msg += ": " + http::printable(body, 200);
  return AuthError(std::move(msg), permanent, std::move(error), std::move(aadsts));
}

}  // namespace siem::auth
