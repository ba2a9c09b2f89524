#include "connector/enrichment/enricher.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cassert>
#include <functional>
#include <chrono>
#include <map>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "connector/enrichment/detections.h"
#include "connector/enrichment/enricher_learn.h"
#include "connector/enrichment/facts.h"
#include "connector/enrichment/role_table.h"
#include "connector/enrichment/roster.h"
#include "connector/enrichment/rules/rule_util.h"
#include "connector/record/json_access.h"
#include "connector/record/shipped_files.h"
#include "connector/state/state_store.h"

namespace siem {

namespace {

const std::vector<std::string> kDefaultAdminApps = {
    "Azure Portal", "Microsoft Azure PowerShell", "Microsoft Azure CLI", "Microsoft Graph PowerShell",
    "Microsoft Graph Command Line Tools", "Graph Explorer", "Microsoft Entra admin center", "Azure Active Directory PowerShell",
    "Microsoft Exchange Online Remote PowerShell", "Microsoft 365 admin center", "Microsoft Intune", "Windows Azure Service Management API"};

const std::vector<std::string> kDefaultEverydayApps = {
    "Office 365 Exchange Online", "Microsoft Teams", "Microsoft Teams Web Client", "Outlook Mobile", "Microsoft Outlook",
    "One Outlook Web", "Office 365 SharePoint Online", "OfficeHome", "Microsoft Office", "Office365 Shell WCSS-Client",
    "Microsoft To-Do client", "OneDrive", "OneDrive SyncEngine", "Microsoft Edge", "Bing", "Microsoft Stream Portal",
    "Yammer", "Power BI Service", "Microsoft Planner", "Microsoft Whiteboard Client"};

const std::vector<std::string> kDefaultLegacyProtocols = {
    "Exchange ActiveSync", "IMAP4", "IMAP", "POP3", "POP", "SMTP", "Authenticated SMTP", "Other clients",
    "MAPI", "MAPI Over HTTP", "Offline Address Book", "Outlook Anywhere (RPC over HTTP)", "Exchange Web Services",
    "Exchange Online PowerShell", "AutoDiscover", "Reporting Web Services", "Exchange ActiveSync (supported)",
    "Exchange ActiveSync (unsupported)"};

const std::vector<std::string> kDefaultPrivilegedAppRoles = {
    "RoleManagement.ReadWrite.Directory", "AppRoleAssignment.ReadWrite.All", "Directory.ReadWrite.All",
    "Application.ReadWrite.All", "Application.ReadWrite.OwnedBy", "RoleAssignmentSchedule.ReadWrite.Directory",
    "RoleEligibilitySchedule.ReadWrite.Directory", "PrivilegedAccess.ReadWrite.AzureAD",
    "PrivilegedAssignmentSchedule.ReadWrite.AzureADGroup", "UserAuthenticationMethod.ReadWrite.All",
    "Policy.ReadWrite.ConditionalAccess", "Domain.ReadWrite.All", "GroupMember.ReadWrite.All", "Group.ReadWrite.All",
    "User.ReadWrite.All", "Policy.ReadWrite.AuthenticationMethod", "Organization.ReadWrite.All",
    "Directory.AccessAsUser.All", "Mail.ReadWrite", "full_access_as_app"};

// A permission list (default or configured) with the well-known ids of the permissions it names
// added: audits name a manifest's required permissions by id, grants by name.
std::vector<std::string> with_well_known_ids(std::vector<std::string> permissions) {
  for (const auto& k : rules::kWellKnownPermissions)
    if (rules::any_iequal(permissions, k.name) && !rules::any_iequal(permissions, k.id)) permissions.emplace_back(k.id);
  return permissions;
}

// Risk states after which a risky sign-in is no longer flagged (`[]`: flag every risk).
const std::vector<std::string> kDefaultResolvedRiskStates = {"dismissed", "remediated", "confirmedSafe"};

const std::vector<std::string> kDefaultAzurePrivilegedRoles = {
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",  // Owner
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",  // User Access Administrator
    "f58310d9-a9f6-439a-9e8d-f62e7b41a168",  // Role Based Access Control Administrator
    "b24988ac-6180-42a0-ab88-20f7382dd24c",  // Contributor
};

const std::vector<std::string> kPersonalDomains = {"outlook.com", "hotmail.com", "live.com", "msn.com", "passport.com",
                                                   "outlook.co.uk", "hotmail.co.uk", "live.co.uk"};

std::string lower(std::string_view s) { return json::to_lower(s); }

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

class EnricherImpl final : public Enricher {
 public:
  EnricherImpl(EnrichmentSettings settings, RoleTable roles, StateStore* state, std::vector<std::string> static_roster)
      : settings_(std::move(settings)), roles_(std::move(roles)), state_(state) {
    if (state_) {
      try {
        if (auto saved = state_->get("roster")) roster_.deserialize(*saved);
      } catch (const StateCorruptError&) {
        throw;
      } catch (const std::exception& e) {
        spdlog::warn("enrichment: the saved roster is unreadable ({}); starting from config and events", e.what());
      }
    }
    for (const auto& p : static_roster) roster_.add_static(p);
  }

  // The record's facts and the roles it touches: pure, any worker (Enricher::prepare). What reads
  // only the record and the role table is worked out here, so that ordered(), which runs in input
  // order one record at a time across the workers, does only what needs the roster.
  struct PreparedFacts final : Prepared {
    Facts facts;  // reused across records: its buffers serve every record of the slot
    std::int64_t event_ms = 0;
    std::vector<const RoleInfo*> touched, privileged;
    std::size_t record_roles = 0;  // touched[0, record_roles): the record's own; ordered() adds a group's
    int record_tier = 3;           // the highest tier of the record's roles and the caller's role
    std::optional<GroupChange> group_change;  // its member points into `facts`
    RosterLearning::Learns learns;  // what the record may teach the roster (learn() acts on it)
    // Left by ordered() for complete(): the hits of the rules that read the learned state and
    // their rules (run_learned_rules), whether the sign-in is privileged, the tier (3: none).
    std::vector<RuleHit> hits, all_hits;  // all_hits: complete()'s, every rule's (reused)
    std::vector<std::uint16_t> hit_rules;
    bool privileged_sign_in = false;
    int tier = 3;
  };

  // A record whose `list` the facts read only the first entries of (kBoundedLists): the mapper
  // tags its event enrichment_truncated (Prepared::truncated) and logs the first such record of
  // each list with its origin (Prepared::truncated_first); the rest are counted by their tag. Once
  // per list per enricher (truncated_logged_; the connector builds one enricher per run, so once
  // per list per run). A name not in the table cannot come from the facts (bounded_list() does not
  // compile for one); should one come, it is reported with bound 0 and a warning of its own.
  void note_truncated(Prepared& p, std::string_view list) const {
    std::size_t i = 0;
    while (i < kBoundedLists.size() && kBoundedLists[i].name != list) ++i;
    assert(i < kBoundedLists.size() && "Facts::truncated names a list not in kBoundedLists");
    p.truncated = list;
    p.truncated_bound = i < kBoundedLists.size() ? kBoundedLists[i].bound : 0;
    p.truncated_first = !truncated_logged_[i].exchange(true, std::memory_order_relaxed);
  }

  std::unique_ptr<Prepared> make_prepared() const override { return std::make_unique<PreparedFacts>(); }

  std::vector<std::string> record_paths(SourceKind kind) const override { return fact_paths(kind); }

  void prepare(Prepared& base, SourceKind kind, simdjson::dom::element record, const json::Fields* record_fields,
               std::string_view tenant, const RecordPaths* paths) const override {
    auto& p = static_cast<PreparedFacts&>(base);
    p.kind = kind;
    p.tenant = tenant;
    p.touched.clear();
    p.privileged.clear();
    p.record_roles = 0;
    p.record_tier = 3;
    p.group_change.reset();
    p.truncated = {};
    p.truncated_bound = 0;
    p.truncated_first = false;
    if (kind == SourceKind::unknown) return;
    extract_facts(kind, record, record_fields, p.facts, paths);
    const Facts& facts = p.facts;
    if (!facts.truncated.empty()) note_truncated(p, facts.truncated);
    p.event_ms = facts.time_ms.value_or(now_ms());
    // Roles the event touches, resolved against the table. Rules see the privileged ones (Microsoft's
    // "privileged" label, tier 0/1, or configured); the tier and role list cover every known role.
    auto add_role = [&](const RoleInfo* r) {
      if (!r || std::find(p.touched.begin(), p.touched.end(), r) != p.touched.end()) return;
      p.touched.push_back(r);
      if (r->privileged || r->tier <= 1) p.privileged.push_back(r);
    };
    for (const auto& m : facts.roles) {
      const RoleInfo* r = m.id.empty() ? nullptr : roles_.by_id(m.id);
      if (!r && !m.name.empty()) r = roles_.by_name(m.name);
      add_role(r);
    }
    if (!facts.arm_role_definition_id.empty()) add_role(roles_.by_id(facts.arm_role_definition_id));
    p.record_roles = p.touched.size();
    // Tier: the highest (lowest number) of the roles touched and of the role that authorised the
    // caller (Activity Log evidence); ordered() adds a group's roles and the actor's roster tiers.
    for (const auto* r : p.touched) p.record_tier = std::min(p.record_tier, r->tier);
    if (!facts.actor_role_id.empty())
      if (const auto* r = roles_.by_id(facts.actor_role_id)) p.record_tier = std::min(p.record_tier, r->tier);
    p.group_change = group_membership_change(facts);
    p.learns = learns_of(facts, !p.privileged.empty() || p.group_change);
  }

  EnrichmentResult enrich(SourceKind kind, simdjson::dom::element record, const json::Fields* record_fields,
                          std::string_view tenant) override {
    prepare(own_, kind, record, record_fields, tenant, nullptr);
    return apply(own_);
  }

  EnrichmentResult apply(Prepared& base) override {
    ordered(base);
    EnrichmentResult result;
    complete(base, result);
    return result;
  }

  // The roster tiers of an audit's target principals (users and service principals: never a role,
  // group, policy, application or device), by object id and UPN, an application id through
  // `app_tier` (tenant-scoped). Each distinct key once: a key the actor's or an earlier target's
  // lookup already covered is skipped. The first kMaxTierTargets targets count: an audit names one
  // to three; the bound keeps a record crafted with thousands of them from costing a lookup each.
  static constexpr std::size_t kMaxTierTargets = 16;
  template <class Lookup, class AppLookup>
  static void target_tiers(const Facts& facts, Lookup& roster_tier, AppLookup& app_tier) {
    const std::size_t n = std::min(facts.targets.size(), kMaxTierTargets);
    const auto principal = [](const PrincipalRef& t) {
      return json::iequals(t.type, "User") || json::iequals(t.type, "ServicePrincipal");
    };
    const auto seen = [&](std::size_t i, std::string PrincipalRef::*key) {
      const std::string& k = facts.targets[i].*key;
      if (k == facts.actor.id || k == facts.actor.upn || k == facts.user_id || k == facts.user_upn) return true;
      for (std::size_t j = 0; j < i; ++j)
        if (principal(facts.targets[j]) && facts.targets[j].*key == k) return true;
      return false;
    };
    for (std::size_t i = 0; i < n; ++i) {
      const PrincipalRef& t = facts.targets[i];
      if (!principal(t)) continue;
      if (!seen(i, &PrincipalRef::id)) roster_tier(t.id);
      if (!seen(i, &PrincipalRef::upn)) roster_tier(t.upn);
      if (!t.app_id.empty() && t.app_id != facts.actor.app_id && t.app_id != facts.actor_app_id && !seen(i, &PrincipalRef::app_id))
        app_tier(t.app_id);
    }
  }

  // The rules against the roster, the actor's roster tiers, and what the record teaches the
  // roster: in input order, one record at a time. Only what reads or changes that state; the rest
  // is prepare()'s or complete()'s.
  void ordered(Prepared& base) override {
    auto& p = static_cast<PreparedFacts&>(base);
    p.hits.clear();
    p.hit_rules.clear();
    p.tier = 3;
    if (p.kind == SourceKind::unknown) return;
    const Facts& facts = p.facts;
    const std::int64_t event_ms = p.event_ms;
    const auto& privileged = p.privileged;
    // A member added to / removed from a group holding roles: the group's roles are the event's
    // (the roster is read here, in input order, never in prepare()).
    const std::optional<GroupChange>& group_change = p.group_change;
    if (group_change) add_group_roles(p, group_change->group_id, event_ms);
    RuleContext ctx{facts, settings_, roles_, roster_, account_created_, event_ms, privileged};
    if (group_change && !privileged.empty()) ctx.group_change = &*group_change;
    ctx.privileged_sign_in = rules::compute_privileged_sign_in(facts, settings_, roster_, event_ms, p.tenant);
    p.privileged_sign_in = ctx.privileged_sign_in;
    run_learned_rules(ctx, p.hits, p.hit_rules);  // complete() runs the rules that read the record alone

    // Tier: prepare()'s, a group's roles and the roster tiers of the actor.
    int tier = p.record_tier;
    for (std::size_t i = p.record_roles; i < p.touched.size(); ++i) tier = std::min(tier, p.touched[i]->tier);
    // By reference: a braced list of the strings themselves would copy each of them per event.
    // A sign-in's actor is its user (the same strings): each distinct key is looked up once.
    auto roster_tier = [&](const std::string& k) {
      if (k.empty()) return;
      if (auto t = roster_.tier_of(k, event_ms); t && *t >= 0) tier = std::min(tier, *t);
    };
    // An application id is the same in every tenant (multi-tenant applications): it counts only
    // for a principal of the record's tenant (or one whose tenant is not known).
    auto app_tier = [&](const std::string& k) {
      if (k.empty()) return;
      if (auto t = roster_.tier_in_tenant(k, event_ms, p.tenant); t && *t >= 0) tier = std::min(tier, *t);
    };
    roster_tier(facts.actor.upn);
    roster_tier(facts.actor.id);
    app_tier(facts.actor.app_id);  // a service principal's sign-in
    // An audit initiated by an application alone: its service principal, by application id too.
    const bool app_actor = facts.family == Facts::Family::audit && facts.actor.type.empty() && facts.actor.upn.empty();
    if (app_actor) app_tier(facts.actor_app_id);
    if (facts.user_upn != facts.actor.upn) roster_tier(facts.user_upn);
    if (facts.user_id != facts.actor.id) roster_tier(facts.user_id);
    if (facts.family == Facts::Family::audit) target_tiers(facts, roster_tier, app_tier);
    p.tier = tier;

    learn(p);
    if (group_change) learn_membership(*group_change, event_ms, p.tenant);
    if (app_actor) roster_.link_keys({facts.actor.id, facts.actor_app_id}, p.tenant);  // servicePrincipalId and appId
    // The inventory reports each privileged principal's latest privileged sign-in.
    if (ctx.privileged_sign_in && facts.success && facts.family == Facts::Family::sign_in)
      roster_.note_privileged_sign_in(facts.sp_sign_in ? std::vector<std::string>{facts.sp_id, facts.app_id}
                                                       : std::vector<std::string>{facts.user_id, facts.user_upn},
                                      event_ms, p.tenant);
  }

  // The result from what prepare() and ordered() left (any worker, concurrently): the roles, the
  // detections by severity, the tags.
  void complete(Prepared& base, EnrichmentResult& result) const override {
    auto& p = static_cast<PreparedFacts&>(base);
    result = EnrichmentResult{};
    if (p.kind == SourceKind::unknown) return;
    result.tier = p.tier <= 2 ? p.tier : -1;
    if (!p.touched.empty()) {
      result.roles.reserve(p.touched.size());
      result.role_ids.reserve(p.touched.size());
    }
    for (const auto* r : p.touched) {
      result.roles.push_back(r->name);
      result.role_ids.push_back(r->id);
    }
    // The rules that read the record alone, outside the turn: no roster or new-account table.
    RuleContext ctx{p.facts, settings_, roles_, no_roster(), no_accounts(), p.event_ms, p.privileged};
    if (p.group_change && !p.privileged.empty()) ctx.group_change = &*p.group_change;
    ctx.privileged_sign_in = p.privileged_sign_in;
    p.all_hits.clear();
    run_record_rules(ctx, p.hits, p.hit_rules, p.all_hits);
    if (!p.all_hits.empty()) result.detections.reserve(p.all_hits.size());
    for (auto& h : p.all_hits) {
      auto it = settings_.severities.find(h.name);
      const int sev = it != settings_.severities.end() ? it->second : h.default_severity;
      result.detections.push_back(Detection{std::move(h.name), sev, std::move(h.reason)});
    }
    p.hits.clear();
    p.all_hits.clear();
    std::stable_sort(result.detections.begin(), result.detections.end(),
                     [](const Detection& a, const Detection& b) { return a.severity > b.severity; });
    for (const auto& d : result.detections) {
      if (std::find(result.tags.begin(), result.tags.end(), d.name) == result.tags.end()) result.tags.push_back(d.name);
      result.severity = std::max(result.severity, d.severity);
    }
    if (result.tier == 0) result.tags.emplace_back(kTier0Tag);
    if (result.tier == 1) result.tags.emplace_back(kTier1Tag);
    result.risk_score = static_cast<double>(result.severity) * 10.0;
  }

  void roster_snapshot_complete(bool eligibilities, std::int64_t read_ms, std::string_view tenant) override {
    const auto entra_role = [this](const std::string& id) {
      const RoleInfo* r = roles_.by_id(id);
      return r && r->scope == "entra";  // the snapshot lists directory roles, not Azure RBAC
    };
    const std::size_t ended = roster_.complete_snapshot(eligibilities, read_ms, entra_role, tenant);
    if (ended > 0)
      spdlog::info("enrichment: the role roster snapshot ({}) no longer lists {} role hold(s); they end",
                   eligibilities ? "eligibilities" : "assignments", ended);
  }

  void save() override {
    if (!state_ || !roster_.dirty()) return;
    state_->put("roster", roster_.serialize());
    roster_.clear_dirty();
  }

 private:
  // Per kBoundedLists entry (and one more for a name not in it): its first record was logged.
  mutable std::array<std::atomic<bool>, kBoundedLists.size() + 1> truncated_logged_{};
  // The roles the group holds at the event's time, as roles the event touches.
  void add_group_roles(PreparedFacts& p, const std::string& group_id, std::int64_t event_ms) const {
    for (const auto& [id, tier] : roster_.group_roles(group_id, event_ms)) {
      const RoleInfo* r = roles_.by_id(id);
      if (!r || std::find(p.touched.begin(), p.touched.end(), r) != p.touched.end()) continue;
      p.touched.push_back(r);
      if (r->privileged || r->tier <= 1) p.privileged.push_back(r);
    }
  }

  // The roster learning (enricher_learn.cc).
  using Learns = RosterLearning::Learns;
  Learns learns_of(const Facts& f, bool may_hold) const { return learning_.learns_of(f, may_hold); }
  void learn(const PreparedFacts& p) { learning_.learn(p.facts, p.learns, p.event_ms, p.privileged, p.tenant); }
  void learn_membership(const GroupChange& c, std::int64_t event_ms, std::string_view tenant) {
    learning_.learn_membership(c, event_ms, tenant);
  }

  EnrichmentSettings settings_;
  RoleTable roles_;
  Roster roster_;
  StateStore* state_;
  std::map<std::string, std::int64_t> account_created_;
  RosterLearning learning_{settings_, roster_, account_created_};  // its roster learning
  PreparedFacts own_;  // enrich()'s, reused across records
};

std::vector<std::string> list_or(const ConfigNode& cfg, std::string_view key, const std::vector<std::string>& dflt) {
  if (!cfg.valid() || !cfg.has(key)) return dflt;
  return cfg.string_list(key);
}

using config::Type;

const config::Section& role_keys() {
  static const config::Section s{"enrichment.roles", "enrichment.roles[]", {}, {
      {"id", Type::string, "required", "role template / definition id (GUID)"},
      {"name", Type::string, "the table's name, else the id", "display name"},
      {"scope", Type::choice, "entra (or the table's)", "where the role lives", {"entra", "azure"}},
      {"tier", Type::integer, "1 (or the table's)", "0 (most privileged) to 2"},
      {"alert_on_assignment", Type::boolean, "false", "`scope: azure`: treat the role as privileged (assignments are flagged)"},
  }};
  return s;
}

}  // namespace

RoleTable load_role_table(const ConfigNode& cfg, std::vector<std::string>* alert_on_assignment) {
  RoleTable roles;
  std::optional<std::filesystem::path> roles_file;
  if (cfg.valid()) roles_file = cfg.existing_file("roles_file");
  Diagnostics& diags = cfg.diagnostics();
  const auto table = roles_file ? *roles_file : find_mappings_dir() / "privileged-roles.yaml";
  roles.load_file(table.string(), diags);
  if (cfg.valid()) {
    for (const auto& r : cfg.list("roles")) {
      RoleInfo info;
      const auto id = RoleTable::canonical_id(r.required_string("id"));
      if (!id) {
        r.error_at("id", "expected a role template / definition id (GUID)");
        continue;
      }
      info.id = *id;
      const auto* existing = roles.by_id(info.id);
      info.name = r.string("name", existing ? existing->name : info.id);
      info.scope = r.choice("scope", {"entra", "azure"}, existing ? existing->scope : "entra");
      info.tier = static_cast<int>(r.integer("tier", existing ? existing->tier : 1, 0, 2));
      info.privileged = true;
      if (info.scope == "azure" && r.boolean("alert_on_assignment", false) && alert_on_assignment)
        alert_on_assignment->push_back(info.id);
      roles.add(std::move(info));
    }
  }
  return roles;
}

const config::Section& enrichment_keys() {
  static const config::Section s{"enrichment", "enrichment", {}, {
      {"break_glass_accounts", Type::list, "[]", "*pinned.* UPNs or object ids of emergency-access accounts: any sign-in or change by them is flagged"},
      {"privileged_principals", Type::list, "[]", "*pinned.* static additions to the roster of privileged principals; the rest of the roster is learned from role assignments"},
      {"admin_apps", Type::list, "built-in list", "application names or ids that count as administrative tools"},
      {"everyday_apps", Type::list, "built-in list", "apps in which a privileged sign-in is unusual"},
      {"legacy_protocols", Type::list, "built-in list", "client apps counted as legacy authentication"},
      {"privileged_app_roles", Type::list, "built-in list", "Graph / Exchange permissions treated as privileged, by name or well-known id"},
      {"resolved_risk_states", Type::list, "[dismissed, remediated, confirmedSafe]", "sign-in `riskState` values `pa.signin.risky` ignores"},
      {"azure_privileged_roles", Type::list, "built-in list", "Azure role definition ids treated as privileged"},
      {"pim_min_justification_chars", Type::integer, "10", "shorter PIM justifications are flagged"},
      {"pim_max_activation", Type::duration, "8h", "longer PIM activations are flagged"},
      {"new_account_window", Type::duration, "24h", "a principal created within this window and then given privilege is flagged"},
      {"roles_file", Type::path, "shipped mappings/privileged-roles.yaml", "role table (tiers)"},
      {"roles", Type::sections, "", "overrides and additions to the role table", {}, &role_keys()},
      {"severities", Type::map, "", "per-detection severity overrides 0-10; names as in `pa.*` tags"},
  }};
  return s;
}

std::unique_ptr<Enricher> make_enricher(const ConfigNode& cfg, StateStore* state) {
  EnrichmentSettings s;
  std::vector<std::string> static_roster;
  RoleTable roles;
  if (cfg.valid()) {
    for (const auto& b : cfg.string_list("break_glass_accounts")) s.break_glass.insert(lower(b));
    static_roster = cfg.string_list("privileged_principals");
    s.pim_min_justification_chars =
        static_cast<std::size_t>(cfg.integer("pim_min_justification_chars", 10, 0, 10'000));
    s.pim_max_activation_ms = cfg.duration("pim_max_activation", std::chrono::hours(8)).count();
    s.new_account_window_ms = cfg.duration("new_account_window", std::chrono::hours(24)).count();
    for (const auto& [name, value] : cfg.string_map("severities")) {
      bool known = false;
      for (const auto& d : detection_catalogue()) known = known || d.name == name;
      int sev = -1;
      try {
        sev = std::stoi(value);
      } catch (const std::exception&) {
      }
      if (!known) cfg.error_at("severities", fmt::format("unknown detection '{}'", name));
      else if (sev < 0 || sev > 10) cfg.error_at("severities", fmt::format("severity of {} must be 0-10", name));
      else s.severities[name] = sev;
    }
  }
  s.admin_apps = list_or(cfg, "admin_apps", kDefaultAdminApps);
  s.everyday_apps = list_or(cfg, "everyday_apps", kDefaultEverydayApps);
  s.legacy_protocols = list_or(cfg, "legacy_protocols", kDefaultLegacyProtocols);
  s.privileged_app_roles = with_well_known_ids(list_or(cfg, "privileged_app_roles", kDefaultPrivilegedAppRoles));
  s.resolved_risk_states = list_or(cfg, "resolved_risk_states", kDefaultResolvedRiskStates);
  s.personal_domains = kPersonalDomains;
  // An app on the admin list never counts as an everyday app.
  std::erase_if(s.everyday_apps, [&](const std::string& a) {
    return std::any_of(s.admin_apps.begin(), s.admin_apps.end(), [&](const std::string& b) { return json::iequals(a, b); });
  });
  for (const auto& id : list_or(cfg, "azure_privileged_roles", kDefaultAzurePrivilegedRoles)) {
    if (auto c = RoleTable::canonical_id(id)) s.azure_privileged_roles.push_back(*c);
    else cfg.error_at("azure_privileged_roles", fmt::format("'{}' is not a role definition id", id));
  }

  roles = load_role_table(cfg, &s.azure_privileged_roles);
  return std::make_unique<EnricherImpl>(std::move(s), std::move(roles), state, std::move(static_roster));
}

}  // namespace siem
