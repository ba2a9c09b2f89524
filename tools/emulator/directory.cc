#include "tools/emulator/directory.h"

#include <deque>
#include <set>

namespace siem::emulator {

using nlohmann::json;

namespace {
const json* find(const std::vector<json>& objects, const std::string& id) {
  for (const auto& o : objects)
    if (o.value("id", "") == id) return &o;
  return nullptr;
}
}  // namespace

std::optional<json> directory_object(const std::vector<json>& objects, const std::string& id) {
  const json* o = find(objects, id);
  if (!o) return std::nullopt;
  json out = *o;
  out.erase("members");
  return out;
}

std::optional<std::vector<json>> transitive_members(const std::vector<json>& objects, const std::string& group_id) {
  const json* g = find(objects, group_id);
  if (!g || g->value("@odata.type", "") != "#microsoft.graph.group") return std::nullopt;
  std::vector<json> out;
  std::set<std::string> seen{group_id};
  std::deque<const json*> groups{g};
  while (!groups.empty()) {
    const json* cur = groups.front();
    groups.pop_front();
    for (const auto& m : cur->value("members", json::array())) {
      const std::string id = m.is_string() ? m.get<std::string>() : std::string();
      if (id.empty() || !seen.insert(id).second) continue;
      const json* o = find(objects, id);
      if (!o) continue;
      if (o->value("@odata.type", "") == "#microsoft.graph.group") groups.push_back(o);
      json copy = *o;
      copy.erase("members");
      out.push_back(std::move(copy));
    }
  }
  return out;
}

}  // namespace siem::emulator

namespace siem::emulator {

std::vector<std::pair<std::string, json>> seed_directory(const std::vector<json>& users, const std::string& start) {
  constexpr const char* kOperators = "5eed7000-0000-4000-a000-000000000001";
  constexpr const char* kOnCall = "5eed7000-0000-4000-a000-000000000002";
  constexpr const char* kCarol = "5eed7000-0000-4000-a000-000000000003";
  constexpr const char* kAutomation = "5eed7000-0000-4000-a000-000000000004";
  constexpr const char* kPrivAuthAdmin = "7be44c8a-adaf-4e2a-84d6-ab2649e08a13";
  std::vector<std::pair<std::string, json>> out;
  std::string alice;
  for (const auto& u : users) {
    json o = u;
    o["@odata.type"] = "#microsoft.graph.user";
    if (o.value("userPrincipalName", "").rfind("alice", 0) == 0) alice = o.value("id", "");
    out.emplace_back("directoryObjects", std::move(o));
  }
  out.emplace_back("directoryObjects", json{{"@odata.type", "#microsoft.graph.user"}, {"id", kCarol},
                                            {"displayName", "Carol Oncall"}, {"userPrincipalName", "carol.oncall@contoso.com"}});
  out.emplace_back("directoryObjects", json{{"@odata.type", "#microsoft.graph.servicePrincipal"}, {"id", kAutomation},
                                            {"displayName", "Tier0 Automation"}, {"appId", "5eed7000-0000-4000-a000-0000000000a4"},
                                            {"servicePrincipalType", "Application"}});
  out.emplace_back("directoryObjects", json{{"@odata.type", "#microsoft.graph.group"}, {"id", kOperators},
                                            {"displayName", "Tier0 Operators"}, {"isAssignableToRole", true},
                                            {"securityEnabled", true}, {"members", {kOnCall, kAutomation}}});
  json oncall_members = json::array({kCarol});
  if (!alice.empty()) oncall_members.push_back(alice);
  out.emplace_back("directoryObjects", json{{"@odata.type", "#microsoft.graph.group"}, {"id", kOnCall},
                                            {"displayName", "Tier0 On-call"}, {"isAssignableToRole", true},
                                            {"securityEnabled", true}, {"members", oncall_members}});
  out.emplace_back("roleAssignmentScheduleInstances",
                   json{{"id", "5eed7000-0000-4000-a000-0000000000b1"}, {"principalId", kOperators}, {"roleDefinitionId", kPrivAuthAdmin},
                        {"directoryScopeId", "/"}, {"appScopeId", nullptr}, {"startDateTime", start}, {"endDateTime", nullptr},
                        {"memberType", "Direct"}, {"assignmentType", "Assigned"},
                        {"roleAssignmentScheduleId", "5eed7000-0000-4000-a000-0000000000b2"}});
  return out;
}

}  // namespace siem::emulator
