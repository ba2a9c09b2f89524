// The emulator's directory objects (collection "directoryObjects"): users, service principals and
// groups (a group lists its direct members' ids in "members"), for `$expand=principal` on the
// role schedule instances and GET /v1.0/groups/{id}/transitiveMembers.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace siem::emulator {

// The object as Graph returns it (`@odata.type`, id, displayName, userPrincipalName / appId /
// isAssignableToRole), without the emulator's "members"; nullopt when no object has that id.
std::optional<nlohmann::json> directory_object(const std::vector<nlohmann::json>& objects, const std::string& id);

// Every member of the group, nested groups included (each once, cycles cut), as Graph's
// transitiveMembers lists them: breadth first. nullopt when the group does not exist.
std::optional<std::vector<nlohmann::json>> transitive_members(const std::vector<nlohmann::json>& objects,
                                                              const std::string& group_id);

}  // namespace siem::emulator

namespace siem::emulator {

// The scenario's directory: its users (`users`: id, displayName, userPrincipalName), a service
// principal, and two role-assignable groups, "Tier0 Operators" (members: the nested group
// "Tier0 On-call" and the service principal "Tier0 Automation") and "Tier0 On-call" (Carol, and
// Alice); "Tier0 Operators" holds Privileged Authentication Administrator actively with no end
// (a schedule instance started at `start`). Returned as (collection, record) pairs.
std::vector<std::pair<std::string, nlohmann::json>> seed_directory(const std::vector<nlohmann::json>& users,
                                                                   const std::string& start);

}  // namespace siem::emulator
