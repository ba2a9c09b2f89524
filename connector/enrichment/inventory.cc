#include "connector/enrichment/inventory.h"

#include <algorithm>
#include <climits>
#include <map>

#include "connector/enrichment/roster.h"
#include "connector/record/json_access.h"
#include "connector/record/time_parse.h"

namespace siem {

namespace {

using Json = nlohmann::json;

constexpr std::size_t kMaxPrincipals = 100'000;  // as the roster

std::string str(const Json& o, const char* key) {
  if (!o.is_object()) return {};
  const auto it = o.find(key);
  return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// "#microsoft.graph.servicePrincipal" -> "servicePrincipal"; empty when not known.
std::string object_type(const Json& o) {
  std::string t = str(o, "@odata.type");
  if (auto dot = t.rfind('.'); dot != std::string::npos) t = t.substr(dot + 1);
  return t;
}

Json principal_of(const Json& o, const std::string& id) {
  Json p = {{"id", id}, {"type", object_type(o).empty() ? "unknown" : object_type(o)}};
  for (const char* k : {"displayName", "userPrincipalName", "appId"})
    if (auto v = str(o, k); !v.empty()) p[k] = v;
  return p;
}

struct Hold {
  Json role;             // the role object of the record
  std::string key;       // role id | scope | via (group id or "direct") | eligible/active
};

struct Principal {
  Json principal;
  std::vector<Hold> holds;
};

constexpr std::int64_t kNoEnd = INT64_MAX;

// An instance's end (epoch ms), kNoEnd when it has none; -1 when the value is not a time.
// (A plain number, not std::optional: GCC 12 -O3 reports a false -Wmaybe-uninitialized on it.)
std::int64_t end_of(const Json& inst) {
  const auto it = inst.find("endDateTime");
  if (it == inst.end() || it->is_null()) return kNoEnd;
  if (!it->is_string()) return -1;
  return parse_time_ms(it->get_ref<const std::string&>()).value_or(-1);
}

class Builder {
 public:
  explicit Builder(const InventoryContext& ctx) : ctx_(ctx) {}

  void add_instances(const Json& list, bool eligible, const Json& groups) {
    if (!list.is_array()) return;
    for (const auto& inst : list) add_instance(inst, eligible, groups);
  }

  std::vector<Json> records() const {
    std::vector<Json> out;
    for (const auto& [id, p] : principals_) out.push_back(record(p));
    return out;
  }

  std::size_t skipped = 0;

 private:
  void add_instance(const Json& inst, bool eligible, const Json& groups) {
    const std::string principal_id = str(inst, "principalId");
    const std::string role_id = str(inst, "roleDefinitionId");
    const std::int64_t end = inst.is_object() ? end_of(inst) : -1;
    if (principal_id.empty() || role_id.empty() || end < 0) {
      ++skipped;
      return;
    }
    const RoleInfo* info = ctx_.roles ? ctx_.roles->by_id(role_id) : nullptr;
    if (!info || !(info->privileged || info->tier <= 1)) return;  // not a privileged role
    if (end <= ctx_.now_ms) return;                                 // already over
    Json role = {{"roleDefinitionId", info->id},
                 {"roleName", info->name},
                 {"tier", info->tier},
                 {"assignment", eligible ? "eligible" : "active"},
                 {"permanent", end == kNoEnd},
                 {"end", end != kNoEnd ? Json(format_time_ms(end)) : Json(nullptr)},
                 {"directoryScopeId", str(inst, "directoryScopeId").empty() ? "/" : str(inst, "directoryScopeId")}};
    if (auto s = str(inst, "startDateTime"); !s.empty()) role["start"] = s;
    if (!eligible) role["assignmentType"] = str(inst, "assignmentType");
    const Json principal = inst.contains("principal") ? inst["principal"] : Json::object();
    const Json members = groups.is_object() && groups.contains(principal_id) ? groups[principal_id] : Json();
    if (object_type(principal) == "group" || members.is_object()) {
      role["heldVia"] = "group";
      role["groupId"] = principal_id;
      if (auto n = str(principal, "displayName"); !n.empty()) role["groupName"] = n;
      if (members.is_object() && members.value("truncated", false)) role["groupMembersTruncated"] = true;
      if (!members.is_object()) return;  // a group whose members were not read: nobody to list
      for (const auto& m : members.value("members", Json::array())) {
        const std::string mid = str(m, "id");
        if (mid.empty() || object_type(m) == "group") continue;  // nested groups: their members are listed too
        add_hold(mid, principal_of(m, mid), role);
      }
      return;
    }
    role["heldVia"] = "direct";
    add_hold(principal_id, principal_of(principal, principal_id), role);
  }

  void add_hold(const std::string& id, Json principal, const Json& role) {
    auto it = principals_.find(id);
    if (it == principals_.end()) {
      if (principals_.size() >= kMaxPrincipals) return;
      it = principals_.emplace(id, Principal{std::move(principal), {}}).first;
    } else if (it->second.principal.value("type", "unknown") == "unknown" && principal.value("type", "unknown") != "unknown") {
      it->second.principal = std::move(principal);  // a later instance names what it is
    }
    std::string key = role["roleDefinitionId"].get<std::string>() + "|" + role["directoryScopeId"].get<std::string>() + "|" +
                      role.value("groupId", "direct") + "|" + role["assignment"].get<std::string>();
    for (const auto& h : it->second.holds)
      if (h.key == key) return;  // the same hold listed twice (an instance per schedule)
    it->second.holds.push_back(Hold{role, std::move(key)});
  }

  std::optional<std::int64_t> last_sign_in(const Json& p) const {
    if (!ctx_.roster) return std::nullopt;
    std::optional<std::int64_t> best;
    for (const char* k : {"id", "userPrincipalName", "appId"}) {
      const std::string v = str(p, k);
      if (v.empty()) continue;
      if (auto t = ctx_.roster->last_privileged_sign_in(v); t && (!best || *t > *best)) best = t;
    }
    return best;
  }

  bool break_glass(const Json& p) const {
    for (const char* k : {"id", "userPrincipalName"})
      if (auto v = str(p, k); !v.empty() && ctx_.break_glass.count(siem::json::to_lower(v))) return true;
    return false;
  }

  Json record(const Principal& p) const {
    Json roles = Json::array();
    int tier = 3;
    bool direct = false, group = false;
    auto holds = p.holds;
    std::sort(holds.begin(), holds.end(), [](const Hold& a, const Hold& b) {
      const int ta = a.role.value("tier", 2), tb = b.role.value("tier", 2);
      return ta != tb ? ta < tb : a.key < b.key;
    });
    for (const auto& h : holds) {
      roles.push_back(h.role);
      tier = std::min(tier, h.role["tier"].get<int>());
      (h.role["heldVia"] == "group" ? group : direct) = true;
    }
    const std::string id = p.principal["id"].get<std::string>();
    Json r = {{"recordType", "principal"},
              {"id", "inventory:" + id + ":" + std::to_string(ctx_.now_ms)},
              {"inventoryTime", format_time_ms(ctx_.now_ms)},
              {"tenantId", ctx_.tenant},
              {"principal", p.principal},
              {"tier", tier},
              {"membership", direct && group ? "direct+group" : group ? "group" : "direct"},
              {"breakGlass", break_glass(p.principal)},
              {"roles", std::move(roles)}};
    const auto last = last_sign_in(p.principal);
    r["lastPrivilegedSignIn"] = last ? Json(format_time_ms(*last)) : Json(nullptr);
    return r;
  }

  const InventoryContext& ctx_;
  std::map<std::string, Principal> principals_;  // by principal id: records come out in id order
};

}  // namespace

std::vector<Json> build_inventory(const Json& graph, const InventoryContext& ctx, std::size_t* skipped) {
  Builder b(ctx);
  const Json groups = graph.is_object() && graph.contains("groups") ? graph["groups"] : Json::object();
  if (graph.is_object()) {
    if (graph.contains("assignments")) b.add_instances(graph["assignments"], false, groups);
    if (graph.contains("eligibilities")) b.add_instances(graph["eligibilities"], true, groups);
  }
  if (skipped) *skipped = b.skipped;
  return b.records();
}

namespace {

// Per role id and directory scope: how the principal holds it now, over every way (direct, groups).
Json role_states(const Json& record) {
  Json out = Json::object();
  for (const auto& r : record.value("roles", Json::array())) {
    const std::string key = r.value("roleDefinitionId", "") + "|" + r.value("directoryScopeId", "/");
    Json& s = out[key];
    if (s.is_null())
      s = {{"roleDefinitionId", r.value("roleDefinitionId", "")}, {"roleName", r.value("roleName", "")},
           {"tier", r.value("tier", 2)}, {"directoryScopeId", r.value("directoryScopeId", "/")},
           {"eligible", false}, {"active", false}, {"permanentActive", false}};
    const bool active = r.value("assignment", "") == "active";
    s[active ? "active" : "eligible"] = true;
    if (active && r.value("permanent", false)) s["permanentActive"] = true;
  }
  return out;
}

Json change(const char* type, const Json& principal, const Json& role, const Json* before, std::int64_t time_ms,
            std::int64_t previous_ms) {
  Json c = {{"recordType", "change"},
            {"changeType", type},
            {"inventoryTime", format_time_ms(time_ms)},
            {"previousInventoryTime", format_time_ms(previous_ms)},
            {"principal", principal}};
  if (!role.is_null()) c["role"] = role;
  if (before) c["previous"] = *before;
  c["id"] = "inventory-change:" + principal.value("id", "") + ":" + type + ":" +
            (role.is_null() ? std::string() : role.value("roleDefinitionId", "") + role.value("directoryScopeId", "")) + ":" +
            std::to_string(time_ms);
  return c;
}

}  // namespace

Json inventory_summary(const std::vector<Json>& records, std::int64_t time_ms) {
  Json principals = Json::object();
  for (const auto& r : records) {
    if (r.value("recordType", "") != "principal" || !r.contains("principal")) continue;
    principals[r["principal"].value("id", "")] = {{"principal", r["principal"]}, {"roles", role_states(r)}};
  }
  return {{"v", 1}, {"time", time_ms}, {"principals", std::move(principals)}};
}

std::vector<Json> inventory_changes(const Json& previous, const std::vector<Json>& records, std::int64_t time_ms) {
  std::vector<Json> out;
  if (!previous.is_object() || !previous.contains("principals") || !previous["principals"].is_object()) return out;
  const Json& before = previous["principals"];
  const std::int64_t previous_ms = previous.value("time", std::int64_t{0});
  const Json now = inventory_summary(records, time_ms)["principals"];
  for (const auto& [id, cur] : now.items()) {
    const Json& principal = cur["principal"];
    const bool known = before.contains(id);
    if (!known) out.push_back(change("principalAdded", principal, Json(), nullptr, time_ms, previous_ms));
    const Json old_roles = known ? before[id].value("roles", Json::object()) : Json::object();
    for (const auto& [key, s] : cur["roles"].items()) {
      if (!old_roles.contains(key)) {
        out.push_back(change("roleAdded", principal, s, nullptr, time_ms, previous_ms));
        continue;
      }
      const Json& o = old_roles[key];
      if (s.value("permanentActive", false) && !o.value("permanentActive", false))
        out.push_back(change("madePermanent", principal, s, &o, time_ms, previous_ms));
    }
    for (const auto& [key, o] : old_roles.items())
      if (!cur["roles"].contains(key)) out.push_back(change("roleRemoved", principal, o, nullptr, time_ms, previous_ms));
  }
  for (const auto& [id, old] : before.items()) {
    if (now.contains(id)) continue;
    const Json old_roles = old.value("roles", Json::object());  // named: items() of a temporary would dangle
    for (const auto& [key, o] : old_roles.items())
      out.push_back(change("roleRemoved", old.value("principal", Json::object()), o, nullptr, time_ms, previous_ms));
  }
  return out;
}

}  // namespace siem
