// The catalogue says of each rule whether it reads the learned state (the roster, the new-account
// table: DetectionEntry::reads). The enricher runs the rules marked `learned_state` in the ordered
// turn and the others outside it, concurrently (run_record_rules), where they find an empty roster
// and an empty new-account table. A rule marked `record` must therefore give the same hits with
// every principal of the record on the roster and newly created as with nobody: checked here
// over every payload sample in tests/data. Each rule marked `learned_state` is seen to need it (its
// hits differ for some sample), so marking one of them `record` fails the first check; and each
// rule marked `record` fires for some sample, so the equality is not met by two empty hit lists.
// The samples are the payload samples of tests/data and the enrichment records of
// tests/data/enrichment (README.md there: the record-rules-*.ndjson and
// privileged-inventory-changes.ndjson records are what makes each rule marked `record` fire).
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include <simdjson.h>

#include "connector/enrichment/detections.h"
#include "connector/enrichment/facts.h"
#include "connector/enrichment/roster.h"
#include "connector/mapping/kind_detect.h"
#include "connector/record/json_access.h"
#include "tests/support/sample_records.h"

namespace siem {
namespace {

void keys_of(const PrincipalRef& p, std::vector<std::string>& out) {
  for (const std::string* k : {&p.id, &p.upn, &p.app_id})
    if (!k->empty()) out.push_back(*k);
}

std::vector<std::string> principal_keys(const Facts& f) {
  std::vector<std::string> out;
  keys_of(f.actor, out);
  keys_of(f.grantee, out);
  for (const auto& t : f.targets) keys_of(t, out);
  for (const std::string* k : {&f.actor_app_id, &f.user_upn, &f.user_id, &f.app_id, &f.sp_id})
    if (!k->empty()) out.push_back(*k);
  return out;
}

std::vector<std::string> hits_of(const DetectionEntry& e, const RuleContext& c) {
  std::vector<RuleHit> hits;
  e.rule(c, hits);
  std::vector<std::string> out;
  for (const auto& h : hits) out.push_back(h.name + " " + std::to_string(h.default_severity) + " " + h.reason);
  return out;
}

TEST(DetectionReads, RulesMarkedRecordGiveTheSameHitsWhateverTheLearnedState) {
  auto samples = testing::sample_records();
  ASSERT_GT(samples.size(), 30u);
  // And the enrichment's own records: learned-state-rules.ndjson has inputs of the golden cases of
  // the learned-state rules the payload samples do not reach (mappings/tests: account_mfa.yaml,
  // apps.yaml, alerts/privileged_principal.yaml); record-rules-*.ndjson and
  // privileged-inventory-changes.ndjson have one record for each rule marked `record` that the
  // payload samples do not make fire (tests/data/enrichment/README.md).
  for (auto& r : testing::sample_records(std::string(SIEM_TEST_DATA_DIR) + "/enrichment")) samples.push_back(std::move(r));
  EnrichmentSettings settings;
  settings.break_glass = {"bg-01@contoso.example"};  // lower case, as the config loader keeps them
  settings.azure_privileged_roles = {"8e3af657-a8ff-443c-a75c-2fe8c4bcb635",   // Owner
                                     "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"};  // User Access Administrator
  settings.privileged_app_roles = {"RoleManagement.ReadWrite.Directory", "Directory.ReadWrite.All",
                                   "Application.ReadWrite.All", "AppRoleAssignment.ReadWrite.All"};
  settings.admin_apps = {"Azure Portal", "Microsoft Graph PowerShell"};
  settings.everyday_apps = {"Microsoft Teams", "Office 365 Exchange Online", "OfficeHome"};
  settings.legacy_protocols = {"IMAP4", "POP3", "Exchange ActiveSync", "Other clients"};
  settings.resolved_risk_states = {"dismissed", "remediated"};
  const RoleTable roles;
  const RoleInfo global_admin{"62e90394-69f5-4237-9190-012177145e10", "Global Administrator", "entra", 0, true};
  const std::vector<const RoleInfo*> privileged{&global_admin};
  const auto& catalogue = detection_catalogue();
  std::set<std::string> learned_seen;  // learned-state rules whose hits the learned state changed
  std::set<std::string> record_fired;  // record rules that fired in the learned context
  std::size_t compared = 0;
  simdjson::dom::parser parser;
  for (const auto& s : samples) {
    simdjson::dom::element root;
    ASSERT_EQ(parser.parse(s.json).get(root), simdjson::SUCCESS) << s.file;
    // Inventory records are built by the connector, not detected: their file says what they are (the
    // golden cases give them `source: privileged_inventory`).
    const bool inventory = s.file.rfind("privileged-inventory-", 0) == 0;
    const SourceKind kind = inventory ? SourceKind::privileged_inventory : detect_kind(root);
    if (kind == SourceKind::unknown) continue;
    const json::Fields fields(root);
    const Facts facts = extract_facts(kind, root, &fields);
    const std::int64_t at = facts.time_ms.value_or(1'700'000'000'000);
    Roster everyone;
    std::map<std::string, std::int64_t> all_new;
    for (const auto& k : principal_keys(facts)) {
      everyone.add_static(k);
      all_new[json::to_lower(k)] = at;
    }
    for (const bool privileged_sign_in : {false, true})
      for (const auto* roles_of_event : {&privileged, static_cast<const std::vector<const RoleInfo*>*>(nullptr)}) {
        static const std::vector<const RoleInfo*> none;
        const auto& ev_roles = roles_of_event ? *roles_of_event : none;
        RuleContext learned{facts, settings, roles, everyone, all_new, at, ev_roles};
        RuleContext empty{facts, settings, roles, no_roster(), no_accounts(), at, ev_roles};  // run_record_rules' own
        learned.privileged_sign_in = empty.privileged_sign_in = privileged_sign_in;
        const FamilyMask family = family_bit(facts.family);
        for (const auto& e : catalogue) {
          if (!(e.families & family)) continue;
          const auto with = hits_of(e, learned);
          const auto without = hits_of(e, empty);
          ++compared;
          if (e.reads == DetectionEntry::Reads::record) {
            EXPECT_EQ(with, without) << e.name << " is marked as reading the record alone, but the roster or the "
                                     << "new-account table changes its hits (" << s.file << ")";
            if (!with.empty()) record_fired.insert(e.name);
          } else if (with != without) {
            learned_seen.insert(e.name);
          }
        }
      }
  }
  EXPECT_GT(compared, 100u);
  for (const auto& e : catalogue) {
    if (e.reads == DetectionEntry::Reads::learned_state) {
      EXPECT_TRUE(learned_seen.count(e.name)) << e.name << ": no sample shows it reading the learned state";
    } else {  // the equality above says nothing of a rule that never fires
      EXPECT_TRUE(record_fired.count(e.name)) << e.name << ": marked `record` but no sample makes it fire";
    }
  }
}

}  // namespace
}  // namespace siem
