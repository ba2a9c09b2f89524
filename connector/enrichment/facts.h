// A normalized view of one record for the detection rules, extracted once from the parsed JSON for
// every record kind (Graph, ARM and the Event Hubs shapes of each).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <array>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "connector/core/event.h"
#include "connector/mapping/enrichment_interface.h"

namespace siem {

struct PrincipalRef {
  std::string id, upn, name;
  std::string type;       // User, Group, ServicePrincipal, ... as the record says
  std::string user_type;  // Member / Guest when known
  std::string app_id;     // a service principal's / application's application (client) id, when known
  bool operator==(const PrincipalRef&) const = default;
};

// One entry of an audit target's modifiedProperties, values with one level of JSON quoting removed.
struct ModifiedProperty {
  std::string name, old_value, new_value;
  bool operator==(const ModifiedProperty&) const = default;
};

struct RoleMention {
  std::string id;    // template / definition id as found (any form)
  std::string name;  // display name as found
  bool operator==(const RoleMention&) const = default;
};

struct Facts {
  SourceKind kind = SourceKind::unknown;
  std::optional<std::int64_t> time_ms;  // the record's activity time
  enum class Family { other, audit, sign_in, pim_request, pim_instance, activity, risk, pim_alert, alert, inventory } family = Family::other;

  std::string operation;          // activityDisplayName / operationName.value / PIM action / inventory changeType
  std::string category;           // audit category / activity category
  std::string logged_by_service;  // audit: Core Directory, PIM, ...
  bool success = true;            // result / status
  std::string status;             // PIM request status, activity status
  bool in_progress = false;       // Activity Log Started/Accepted: the outcome comes in a later record

  // Who did it.
  PrincipalRef actor;
  std::string actor_app;          // initiating application display name
  std::string actor_app_id;
  // Who / what it was done to.
  std::vector<PrincipalRef> targets;
  std::vector<RoleMention> roles;
  std::vector<ModifiedProperty> modified_properties;  // of every target, in order
  std::vector<std::pair<std::string, std::string>> details;  // additionalDetails key/value
  std::string app_role_value;     // an app role granted or removed ("RoleManagement.ReadWrite.Directory")
  // The service principal an app role assignment, delegated permission grant or consent is for
  // (modifiedProperties ServicePrincipal.ObjectID / .AppId / .DisplayName); the record's first
  // target is then the resource (Microsoft Graph, ...).
  PrincipalRef grantee;

  // PIM.
  std::string pim_action;         // selfActivate, adminAssign, ...
  std::string justification;
  bool has_justification = false;
  bool no_expiration = false;     // scheduleInfo.expiration.type == noExpiration
  std::optional<std::int64_t> duration_ms;
  // When the assignment / activation the record grants starts and ends (epoch ms; no end: permanent
  // or not known). PIM requests and instances (scheduleInfo, start/endDateTime), PIM audits
  // (additionalDetails StartTime / ExpirationTime).
  std::optional<std::int64_t> starts_ms, ends_ms;
  bool eligible = false;          // eligibility (not active) assignment
  std::string principal_id;       // PIM request / instance principal

  // Sign-in.
  std::string user_upn, user_id, user_type;
  std::int64_t error_code = 0;
  std::string auth_requirement;   // singleFactorAuthentication / multiFactorAuthentication
  bool mfa_step_succeeded = false;
  std::string client_app;         // clientAppUsed
  std::optional<bool> device_compliant, device_managed;
  std::string risk_during, risk_aggregated;
  std::string risk_state;         // riskState (atRisk, dismissed, remediated, ...), read when a risk level is medium/high
  std::string app_name, app_id;
  // A service principal or managed identity signed in (no user; servicePrincipalId / appId name it).
  bool sp_sign_in = false;
  std::string sp_id, sp_name;
  std::vector<std::string> sign_in_event_types;

  // Activity Log.
  std::string caller;
  std::string arm_role_definition_id;  // the role being assigned / removed (request or response body)
  std::string actor_role_id;           // the role that authorised the caller (identity.authorization.evidence)
  std::string arm_scope;
  std::string arm_principal_id;
  std::string scope_level;        // management_group | subscription | resource_group | resource

  // Identity Protection risk detection (the principal is `actor`: a user, or a service principal
  // with its app id) and PIM alert (alert_facts.cc).
  std::string risk_level;         // low, medium, high, hidden, none
  std::string risk_event_type;    // unfamiliarFeatures, investigationsThreatIntelligence, ...
  bool alert_active = false;      // PIM alert isActive
  std::int64_t alert_incidents = 0;  // PIM alert incidentCount
  std::string alert_severity;     // alertDefinition.severityLevel: low, medium, high
  // Security alerts (security_alert_facts.cc): operation = title, category = kill-chain category / intent,
  // status, logged_by_service = the service that raised it, targets = principals of its evidence,
  // user_upn / user_id = the first of them.
  // alert_severity (above): high, medium, low, informational (as the service spells it)

  // The first of a record's lists read only up to its bound (kMaxAuditTargets, ...): a directory
  // audit's "targetResources", "modifiedProperties" or "additionalDetails", a sign-in's
  // "authenticationDetails" or "signInEventTypes"; empty when every entry was read.
  std::string_view truncated;

  bool operator==(const Facts&) const = default;  // member by member (tests: reuse == new)
};

// What the facts read of one directory audit, at most: Entra writes one to five targets, a few
// dozen modified properties and about ten additional details; the bounds keep a hostile or broken
// record (100 000 tiny entries) from costing time and memory per entry. Beyond them the rules see
// the first entries only, and Facts::truncated names the list (the event is tagged
// enrichment_truncated: docs/detections.md).
inline constexpr std::size_t kMaxAuditTargets = 64;              // targetResources entries
inline constexpr std::size_t kMaxAuditModifiedProperties = 256;  // of all targets together
inline constexpr std::size_t kMaxAuditDetails = 64;              // additionalDetails entries
// The same for a sign-in's lists: Entra writes one to a few authentication steps and one or two
// event types.
inline constexpr std::size_t kMaxSignInAuthDetails = 64;  // authenticationDetails entries
inline constexpr std::size_t kMaxSignInEventTypes = 16;   // signInEventTypes entries

// The bounded lists by name and bound. Facts::truncated is always one of these names: the facts
// set it through bounded_list(), which does not compile for a name not in the table.
struct BoundedList {
  std::string_view name;
  std::size_t bound;
};
inline constexpr std::array<BoundedList, 5> kBoundedLists{{{"targetResources", kMaxAuditTargets},
                                                           {"modifiedProperties", kMaxAuditModifiedProperties},
                                                           {"additionalDetails", kMaxAuditDetails},
                                                           {"authenticationDetails", kMaxSignInAuthDetails},
                                                           {"signInEventTypes", kMaxSignInEventTypes}}};
consteval std::size_t bounded_list(std::string_view name) {
  for (std::size_t i = 0; i < kBoundedLists.size(); ++i)
    if (kBoundedLists[i].name == name) return i;
  throw "not a bounded list (kBoundedLists)";  // a compile error: a consteval call must be constant
}

// `record_fields`, when given, is the json::Fields index of `record` (reused instead of built again).
Facts extract_facts(SourceKind kind, simdjson::dom::element record, const json::Fields* record_fields = nullptr);
// The same into `out`, whose members are all reset first (strings cleared, keeping their buffers for
// the next record: the enrichment reuses one Facts). A new member of Facts must be reset there too
// (tests/unit/enrichment/facts_test.cc fails when a sample fills a member the reset misses).
// `paths`, when given, holds the values of fact_paths(kind) for `record` (resolved by the mapper with
// its rules' paths): they are read from there, not looked up again; the facts are the same.
void extract_facts(SourceKind kind, simdjson::dom::element record, const json::Fields* record_fields, Facts& out,
                   const RecordPaths* paths = nullptr);
// The record paths extract_facts() reads of `kind`'s records through RecordPaths, in its order
// (Enricher::record_paths()): a sign-in's fields and the activity-time paths; empty for the kinds
// it reads itself.
const std::vector<std::string>& fact_paths(SourceKind kind);

}  // namespace siem
