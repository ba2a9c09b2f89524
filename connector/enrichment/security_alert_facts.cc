#include "connector/enrichment/security_alert_facts.h"

#include "connector/record/json_access.h"
#include "connector/record/time_parse.h"

namespace siem {

namespace {

using json::element;

void add_principal(Facts& f, PrincipalRef p) {
  if (p.id.empty() && p.upn.empty()) return;  // nothing the roster could know it by
  if (f.targets.size() >= kMaxAlertPrincipals) return;
  for (const auto& t : f.targets)
    if (t.id == p.id && t.upn == p.upn) return;
  if (f.user_upn.empty() && f.user_id.empty()) {  // the alert's user: the first principal named
    f.user_upn = p.upn;
    f.user_id = p.id;
  }
  f.targets.push_back(std::move(p));
}

void alert_time(element r, std::string_view a, std::string_view b, Facts& f) {
  for (std::string_view key : {a, b})
    if (auto ms = parse_time_ms(json::child_text(r, key))) {
      f.time_ms = ms;
      return;
    }
}

}  // namespace

void graph_security_alert_facts(element r, Facts& f) {
  f.family = Facts::Family::alert;
  f.operation = json::child_text(r, "title");
  f.category = json::child_text(r, "category");
  f.status = json::child_text(r, "status");
  f.alert_severity = json::child_text(r, "severity");
  f.logged_by_service = json::child_text(r, "serviceSource");
  alert_time(r, "lastUpdateDateTime", "createdDateTime", f);  // the alert version's time
  const auto evidence = json::child(r, "evidence");
  if (!evidence || !evidence->is_array()) return;
  for (element e : json::as_array(*evidence)) {
    if (!e.is_object()) continue;
    // userEvidence, and the user a process / mailbox / ... evidence ran as.
    const auto account = json::child(e, "userAccount");
    if (!account || !account->is_object()) continue;
    PrincipalRef p;
    p.id = json::child_text(*account, "azureAdUserId");
    p.upn = json::child_text(*account, "userPrincipalName");
    p.name = json::child_text(*account, "displayName");
    p.type = "User";
    add_principal(f, std::move(p));
  }
}

void azure_defender_alert_facts(element r, Facts& f) {
  f.family = Facts::Family::alert;
  const auto props = json::child(r, "properties");
  if (!props || !props->is_object()) return;
  f.operation = json::child_text(*props, "alertDisplayName");
  f.category = json::child_text(*props, "intent");
  f.status = json::child_text(*props, "status");
  f.alert_severity = json::child_text(*props, "severity");
  f.logged_by_service = json::child_text(*props, "productName");
  alert_time(*props, "timeGeneratedUtc", "startTimeUtc", f);
  const auto entities = json::child(*props, "entities");
  if (!entities || !entities->is_array()) return;
  for (element e : json::as_array(*entities)) {
    if (!e.is_object() || !json::iequals(json::child_text(e, "type"), "account")) continue;
    // An Entra account: its object id, and name@upnSuffix as its UPN.
    PrincipalRef p;
    p.id = json::child_text(e, "aadUserId");
    const std::string name = json::child_text(e, "name"), suffix = json::child_text(e, "upnSuffix");
    if (!name.empty() && !suffix.empty()) p.upn = name + "@" + suffix;
    p.name = name;
    p.type = "User";
    add_principal(f, std::move(p));
  }
}

}  // namespace siem
