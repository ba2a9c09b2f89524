#include "tools/emulator/emulator_impl.h"

#include <algorithm>
#include <cstdio>
#include <regex>

#include "tools/emulator/alert_collections.h"
#include "tools/emulator/alerts.h"
#include "tools/emulator/directory.h"

namespace siem::emulator {

using nlohmann::json;
using httpd::Request;
using httpd::Response;
using namespace detail;

std::optional<Response> Emulator::Impl::reports_budget(const std::string& tenant) {
  if (options.reports_limit_per_10s <= 0) return std::nullopt;
  std::lock_guard lock(mu);
  auto& w = report_windows[tenant];
  std::int64_t now = now_us();
  while (!w.empty() && w.front() <= now - 10'000'000) w.pop_front();
  if (static_cast<int>(w.size()) >= options.reports_limit_per_10s) {
    double wait = static_cast<double>(w.front() + 10'000'000 - now) / 1e6;
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3f", std::max(wait, 0.001));
    w.push_back(now);  // requests during throttling still count
    Response r = graph_error(429, "TooManyRequests", "Please retry again later.");
    r.with_header("Retry-After", buf);
    return r;
  }
  w.push_back(now);
  return std::nullopt;
}

// Evaluates `$filter`, `$top`, `$skiptoken` over one collection and renders a page.
Response Emulator::Impl::list(const Request& req, const std::string& collection, bool arm, bool graph_beta,
              const std::function<bool(const json&)>& scope_pred) {
  auto q = req.query_params();
  for (const auto& [k, v] : q) {
    if (!k.empty() && k[0] != '$' && k != "api-version") {
      if (arm) return arm_error(400, "BadRequest", "Query parameter '" + k + "' is not supported.");
      // Graph ignores unknown non-$ parameters (that is how `top=` silently does nothing).
    }
  }
  if (arm && q["api-version"].empty())
    return arm_error(400, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests.");
  std::string tfield = time_field(collection);
  std::string tname = tfield.substr(tfield.rfind('/') == std::string::npos ? 0 : tfield.rfind('/') + 1);
  std::vector<TimeTerm> terms;
  std::optional<std::string> event_type;
  std::vector<std::pair<std::string, std::string>> eq_terms;
  bool has_lower = false, has_upper = false;
  if (q.count("$filter")) {
    for (const auto& term : split_and(q["$filter"])) {
      static const std::regex time_re(R"(^(\w+)\s+(ge|gt|le|lt|eq)\s+'?([0-9T:.\-+Zz]+)'?$)");
      static const std::regex any_re(R"(^signInEventTypes/any\(\s*(\w+)\s*:\s*(\w+)\s+eq\s+'(\w+)'\s*\)$)");
      static const std::regex eq_re(R"(^(\w+)\s+eq\s+'([^']*)'$)");
      std::smatch m;
      if (std::regex_match(term, m, time_re) && !tname.empty() && m[1] == tname) {
        auto t = parse_time_us(m[3].str());
        if (!t) {
          return arm ? arm_error(400, "BadRequest", "The $filter '" + q["$filter"] + "' has an invalid timestamp.")
                     : graph_error(400, "BadRequest", "Invalid filter clause: invalid DateTimeOffset '" + m[3].str() + "'.");
        }
        bool quoted = term.find('\'') != std::string::npos;
        if (arm != quoted) {
          return arm ? arm_error(400, "BadRequest", "The $filter '" + q["$filter"] + "' is invalid: timestamps must be quoted.")
                     : graph_error(400, "BadRequest", "Invalid filter clause: A binary operator with incompatible types was detected. Found operand types 'Edm.DateTimeOffset' and 'Edm.String' for operator kind 'GreaterThanOrEqual'.");
        }
        terms.push_back({m[2].str(), *t});
        if (m[2] == "ge" || m[2] == "gt") has_lower = true;
        if (m[2] == "le" || m[2] == "lt") has_upper = true;
      } else if (collection == "signIns" && graph_beta && std::regex_match(term, m, any_re) && m[1] == m[2]) {
        event_type = m[3].str();
      } else if (collection == "roleManagementAlerts" && std::regex_match(term, m, eq_re)) {
        eq_terms.emplace_back(m[1].str(), m[2].str());
      } else if (arm && std::regex_match(term, m, eq_re) &&
                 (m[1] == "resourceGroupName" || m[1] == "resourceUri" || m[1] == "resourceProvider" ||
                  m[1] == "correlationId" || m[1] == "status" || m[1] == "levels")) {
        eq_terms.emplace_back(m[1].str(), m[2].str());
      } else {
        return arm ? arm_error(400, "BadRequest", "The $filter '" + q["$filter"] + "' is not supported: term '" + term + "'.")
                   : graph_error(400, "BadRequest", "Invalid filter clause: Could not find a property named '" +
                                                        term.substr(0, term.find(' ')) + "' or the filter term '" + term +
                                                        "' is not supported.");
      }
    }
  }
  if (collection == "roleManagementAlerts")
    if (auto bad = check_alert_scope(eq_terms)) return graph_error(400, "BadRequest", *bad);
  if (collection == "activity" && (!has_lower || !has_upper))
    return arm_error(400, "BadRequest", "The $filter must contain an eventTimestamp range (ge and le).");
  const PageSizes sizes = page_sizes(collection);
  int top = arm ? std::clamp(options.arm_page_size, 1, sizes.max_top) : sizes.default_top;
  if (q.count("$top")) {
    try {
      top = std::stoi(q["$top"]);
    } catch (const std::exception&) {
      top = -1;
    }
    if (top < 1 || top > sizes.max_top)
      return arm ? arm_error(400, "BadRequest", "$top must be between 1 and 1000.")
                 : graph_error(400, "BadRequest", "Invalid page size specified: '" + q["$top"] + "'. Must be between 1 and " +
                                                      std::to_string(sizes.max_top) + " inclusive.");
  }
  std::size_t offset = 0;
  if (q.count("$skiptoken")) {
    std::string decoded;
    try {
      decoded = httpd::base64url_decode(q["$skiptoken"]);
    } catch (const std::exception&) {
    }
    if (decoded.rfind("emu1:", 0) != 0)
      return arm ? arm_error(400, "BadRequest", "Invalid skiptoken.") : graph_error(400, "BadRequest", "Invalid skip token.");
    offset = static_cast<std::size_t>(std::stoull(decoded.substr(5)));
  }

  // $expand=principal: the schedule instances' principal (user, service principal or group).
  const bool expand_principal = q.count("$expand") && collection.find("Instances") != std::string::npos;
  // (PIM alerts expand alertDefinition / alertIncidents: alert_collections.h.)
  if (q.count("$expand") && collection != "roleManagementAlerts" && (!expand_principal || q["$expand"] != "principal"))
    return graph_error(400, "BadRequest", "Could not find a property named '" + q["$expand"] + "' on type 'microsoft.graph.entity'.");
  std::vector<json> matched;
  {
    std::lock_guard lock(mu);
    for (const auto& rec : collections[collection]) {
      if (!time_ok(record_time(rec, tfield), terms)) continue;
      if (scope_pred && !scope_pred(rec)) continue;
      if (collection == "signIns") {
        std::string types = rec.contains("signInEventTypes") && rec["signInEventTypes"].is_array() && !rec["signInEventTypes"].empty()
                                ? rec["signInEventTypes"][0].get<std::string>()
                                : "interactiveUser";
        std::string want = graph_beta ? event_type.value_or("interactiveUser") : "interactiveUser";
        if (types != want) continue;
      }
      bool eq_ok = true;
      for (const auto& [field, value] : eq_terms) {
        if (field == "resourceGroupName" && lower(rec.value("resourceGroupName", "")) != lower(value)) eq_ok = false;
        if (field == "correlationId" && rec.value("correlationId", "") != value) eq_ok = false;
      }
      if (!eq_ok) continue;
      json out = rec;
      if (collection == "signIns" && !graph_beta) out.erase("signInEventTypes");
      apply_expand(collection, q.count("$expand") ? q["$expand"] : std::string(), out);
      if (expand_principal) out["principal"] = directory_object(collections["directoryObjects"], rec.value("principalId", ""))
                                                   .value_or(json(nullptr));
      matched.push_back(std::move(out));
    }
  }
  // Default ordering: newest first for the reports, as Graph does for sign-ins.
  if (!tfield.empty()) {
    std::stable_sort(matched.begin(), matched.end(), [&](const json& a, const json& b) {
      return record_time(a, tfield) > record_time(b, tfield);
    });
  }
  json page = json::array();
  for (std::size_t i = offset; i < matched.size() && page.size() < static_cast<std::size_t>(top); ++i) page.push_back(matched[i]);
  json body;
  if (!arm) body["@odata.context"] = self_url(req) + "/" + (graph_beta ? "beta" : "v1.0") + "/$metadata#" + collection;
  body["value"] = std::move(page);
  std::size_t next = offset + static_cast<std::size_t>(top);
  if (next < matched.size()) {
    // nextLink: every original query option plus an opaque skiptoken.
    std::string link = self_url(req) + req.path + "?";
    bool first = true;
    for (const auto& [k, v] : q) {
      if (k == "$skiptoken") continue;
      link += (first ? "" : "&") + httpd::percent_encode(k) + "=" + httpd::percent_encode(v);
      first = false;
    }
    link += (first ? "" : "&") + std::string("$skiptoken=") + httpd::base64url_encode("emu1:" + std::to_string(next));
    body[arm ? "nextLink" : "@odata.nextLink"] = link;
  }
  return Response::json(200, body.dump());
}

Response Emulator::Impl::graph(const Request& req) {
  bool beta = req.path.rfind("/beta/", 0) == 0;
  std::string rest = req.path.substr(beta ? 5 : 5);  // "/v1.0" and "/beta" are both 5 chars
  std::string tenant;
  if (auto deny = check_auth(req, false, tenant)) return *deny;
  static const std::vector<std::pair<std::string, std::string>> routes = {
      {"/auditLogs/directoryAudits", "directoryAudits"},
      {"/auditLogs/signIns", "signIns"},
      {"/roleManagement/directory/roleAssignmentScheduleRequests", "roleAssignmentScheduleRequests"},
      {"/roleManagement/directory/roleEligibilityScheduleRequests", "roleEligibilityScheduleRequests"},
      {"/roleManagement/directory/roleAssignmentScheduleInstances", "roleAssignmentScheduleInstances"},
      {"/roleManagement/directory/roleEligibilityScheduleInstances", "roleEligibilityScheduleInstances"},
      {"/roleManagement/directory/roleAssignments", "roleAssignments"},
      {"/identityProtection/riskDetections", "riskDetections"},
      {"/identityProtection/servicePrincipalRiskDetections", "servicePrincipalRiskDetections"},
      {"/identityGovernance/roleManagementAlerts/alerts", "roleManagementAlerts"},
      {"/security/alerts_v2", kSecurityAlerts},
  };
  // /groups/{id}/transitiveMembers: the group's members, nested groups' included, paged.
  static const std::regex members_re(R"(^/groups/([0-9a-fA-F-]{36})/transitiveMembers$)");
  if (std::smatch m; std::regex_match(rest, m, members_re)) {
    const std::string id = m[1].str();
    {
      std::lock_guard lock(mu);
      auto members = transitive_members(collections["directoryObjects"], id);
      if (!members)
        return graph_error(404, "Request_ResourceNotFound", "Resource '" + id + "' does not exist or one of its queried reference-property objects are not present.");
      collections["_transitiveMembers." + id] = std::move(*members);
    }
    return list(req, "_transitiveMembers." + id, false, beta, nullptr);
  }
  for (const auto& [path, collection] : routes) {
    if (rest != path) continue;
    if (collection == "roleManagementAlerts" && !beta)  // beta only
      return graph_error(400, "BadRequest", "Resource not found for the segment 'roleManagementAlerts'.");
    if (collection == "directoryAudits" || collection == "signIns")
      if (auto throttled = reports_budget(tenant)) return *throttled;
    return list(req, collection, false, beta, nullptr);
  }
  return graph_error(400, "BadRequest", "Resource not found for the segment '" + rest.substr(rest.rfind('/') + 1) + "'.");
}

Response Emulator::Impl::arm(const Request& req) {
  std::string tenant;
  if (auto deny = check_auth(req, true, tenant)) return *deny;
  static const std::string activity_suffix = "/providers/Microsoft.Insights/eventtypes/management/values";
  static const std::string pim_suffix = "/providers/Microsoft.Authorization/roleAssignmentScheduleRequests";
  auto ends_with = [&](const std::string& s) {
    return req.path.size() >= s.size() && lower(req.path.substr(req.path.size() - s.size())) == lower(s);
  };
  if (ends_with(activity_suffix)) {
    std::string scope = req.path.substr(0, req.path.size() - activity_suffix.size());  // /subscriptions/{id}
    std::string sub = scope.substr(scope.rfind('/') + 1);
    if (std::find(options.subscriptions.begin(), options.subscriptions.end(), sub) == options.subscriptions.end())
      return arm_error(404, "SubscriptionNotFound", "The subscription '" + sub + "' could not be found.");
    return list(req, "activity", true, false, [sub](const json& r) { return r.value("subscriptionId", "") == sub; });
  }
  static const std::string defender_suffix = "/providers/Microsoft.Security/alerts";
  if (ends_with(defender_suffix)) {
    std::string scope = req.path.substr(0, req.path.size() - defender_suffix.size());  // /subscriptions/{id}
    std::string sub = scope.substr(scope.rfind('/') + 1);
    if (std::find(options.subscriptions.begin(), options.subscriptions.end(), sub) == options.subscriptions.end())
      return arm_error(404, "SubscriptionNotFound", "The subscription '" + sub + "' could not be found.");
    const std::string prefix = lower(scope) + "/";
    return list(req, kDefenderAlerts, true, false, [prefix](const json& r) { return lower(r.value("id", "")).rfind(prefix, 0) == 0; });
  }
  if (ends_with(pim_suffix)) {
    std::string scope = lower(req.path.substr(0, req.path.size() - pim_suffix.size()));
    return list(req, "armRoleAssignmentScheduleRequests", true, false, [scope](const json& r) {
      std::string s = lower(r["properties"].value("scope", ""));
      return scope.empty() || s.rfind(scope, 0) == 0;
    });
  }
  return arm_error(404, "InvalidResourceType", "The resource type could not be found for path '" + req.path + "'.");
}


}  // namespace siem::emulator
