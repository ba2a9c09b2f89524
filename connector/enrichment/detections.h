// The privileged-access detection catalogue (docs/detections.md): each detection is one small named
// rule over the normalized Facts. Adding a detection means adding one function and one table row;
// sources and sinks never change.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "connector/enrichment/enricher.h"
#include "connector/enrichment/facts.h"
#include "connector/enrichment/role_table.h"
#include "connector/enrichment/roster.h"

namespace siem {

struct EnrichmentSettings {
  std::set<std::string, std::less<>> break_glass;  // lower-case UPNs / object ids (transparent: see is_break_glass)
  std::vector<std::string> admin_apps;          // app display names that count as administration
  std::vector<std::string> everyday_apps;       // mail, Teams, Office...
  std::vector<std::string> legacy_protocols;    // clientAppUsed values of legacy authentication
  std::vector<std::string> privileged_app_roles;  // permission names and well-known ids
  std::vector<std::string> resolved_risk_states; // riskState values pa.signin.risky ignores
  std::vector<std::string> azure_privileged_roles;  // role definition ids (canonical)
  std::vector<std::string> personal_domains;    // consumer Microsoft account domains
  std::size_t pim_min_justification_chars = 10;
  std::int64_t pim_max_activation_ms = 8LL * 3600 * 1000;
  std::int64_t new_account_window_ms = 24LL * 3600 * 1000;
  std::map<std::string, int> severities;        // per detection overrides
};

// A directory audit "Add member to group" / "Remove member from group" (success): the group (the
// target of type Group, else the member's modifiedProperties Group.ObjectID / Group.DisplayName)
// and the member (the other target). Role-assignable groups pass their roles to their members.
struct GroupChange {
  bool added = false;
  std::string group_id, group_name;
  const PrincipalRef* member = nullptr;  // into the Facts' targets
};
// The membership change an audit records, or nullopt (another operation, failed, no group or member).
std::optional<GroupChange> group_membership_change(const Facts& f);

// What a rule sees besides the facts.
struct RuleContext {
  const Facts& facts;
  const EnrichmentSettings& settings;
  const RoleTable& roles;
  const Roster& roster;
  const std::map<std::string, std::int64_t>& account_created_ms;  // lower-case id/upn -> creation time
  std::int64_t now_ms;
  // Resolved roles of the event (privileged only) with their tiers.
  const std::vector<const RoleInfo*>& privileged_roles;
  // A sign-in by a principal on the roster or a break-glass account (computed once per event:
  // several sign-in rules ask).
  bool privileged_sign_in = false;
  // A member added to / removed from a group holding privileged roles (privileged_roles are the
  // group's): a role assignment by another path. Null otherwise.
  const GroupChange* group_change = nullptr;
};

struct RuleHit {
  std::string name;
  int default_severity;
  std::string reason;
};

// A plain function (every rule is one): called for every event, without std::function's indirection.
using DetectionRule = void (*)(const RuleContext&, std::vector<RuleHit>&);

// The record families a rule can fire on (bits of Facts::Family): the enricher calls a rule only
// for an event of one of them, so the ~30 rules cost nothing on the families they ignore (a rule
// still checks the family itself).
using FamilyMask = std::uint16_t;
constexpr FamilyMask family_bit(Facts::Family f) { return static_cast<FamilyMask>(1u << static_cast<unsigned>(f)); }
// Facts::Family::inventory is the last family: a new one after it must move this check.
static_assert(static_cast<unsigned>(Facts::Family::inventory) < 16, "FamilyMask has a bit per family");

struct DetectionEntry {
  std::string name;
  int severity;  // default (CEF 0-10)
  DetectionRule rule;
  FamilyMask families;
  // What the rule reads besides the record's facts, the settings, the role table and what the
  // enricher's ordered part worked out for the record (privileged_sign_in, privileged_roles with a
  // group's roles, group_change): `learned_state`, the roster (RuleContext::roster, privileged_key)
  // or the new-account table, so it runs in input order, in the ordered turn; `record`, nothing
  // learned, so it runs outside the turn, concurrently (Enricher::complete), where its context's
  // roster and new-account table are empty ones: a rule marked `record` that does read them finds
  // nobody there, whatever the input order, and the tests of its detections fail.
  enum class Reads : bool { record, learned_state } reads;
};

// The catalogue, in evaluation order.
const std::vector<DetectionEntry>& detection_catalogue();

// The catalogue's rules for the family of `ctx.facts`, in two passes (the enricher's ordered() and
// complete()). run_learned_rules(): those that read the learned state, their hits appended to `hits`
// and each hit's rule (its catalogue index) to `hit_rules`. run_record_rules(): the others, `ctx`'s
// roster and new-account table the empty ones below, and the hits of both into `out` in catalogue
// order (as one pass over the catalogue finds them); `hits` is moved from.
void run_learned_rules(const RuleContext& ctx, std::vector<RuleHit>& hits, std::vector<std::uint16_t>& hit_rules);
void run_record_rules(const RuleContext& ctx, std::vector<RuleHit>& hits, const std::vector<std::uint16_t>& hit_rules,
                      std::vector<RuleHit>& out);
// The empty roster and new-account table of the context of run_record_rules(): the record-only
// rules run outside the ordered turn and never see the enricher's shared ones.
const Roster& no_roster();
const std::map<std::string, std::int64_t>& no_accounts();

// The tier tags the enricher adds to an event touching a tier 0 / tier 1 role.
inline constexpr std::string_view kTier0Tag = "pa.role.tier0";
inline constexpr std::string_view kTier1Tag = "pa.role.tier1";
// Every tag the enrichment can put on an event: the catalogue's names, then the tier tags.
std::vector<std::string> enrichment_tags();

// The record's operation (activity) name without the white space around it: Microsoft writes some
// names with a trailing space ("Update application – Certificates and secrets management "), and
// the rules compare names whole (in any case).
std::string_view operation_name(const Facts& f) noexcept;

// Event classification helpers shared by rules and roster learning.
bool is_role_add(const Facts& f);
bool is_role_remove(const Facts& f);
// An activation ended (deactivated, or expired): the principal keeps any eligibility.
bool is_pim_deactivation(const Facts& f);
bool is_pim_activation(const Facts& f);
bool is_pim_service(const Facts& f);

}  // namespace siem
