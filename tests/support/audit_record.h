// A Microsoft Graph directory audit (auditLogs/directoryAudits) as the end-to-end tests write it
// into a file source or the Graph emulator: a successful Core Directory activity by a user, with no
// target resources. A test adds what it is about afterwards (r["resultReason"] = ...). Header-only,
// like sample_records.h.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace siem::test {

inline nlohmann::json directory_audit(const std::string& id, const std::string& category = "RoleManagement",
                                      const std::string& activity = "Add member to role",
                                      const std::string& when = "2026-03-04T10:15:30Z",
                                      const std::string& upn = "alice@contoso.example") {
  return {{"id", id},
          {"category", category},
          {"activityDisplayName", activity},
          {"activityDateTime", when},
          {"loggedByService", "Core Directory"},
          {"result", "success"},
          {"initiatedBy", {{"user", {{"userPrincipalName", upn}}}}},
          {"targetResources", nlohmann::json::array()}};
}

}  // namespace siem::test
