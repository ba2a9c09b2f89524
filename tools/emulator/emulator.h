// The Entra ID token / Microsoft Graph / Azure Resource Manager emulator behind `siem-emulator`
// and the component tests. It registers its routes on an httpd::HttpServer:
//   POST /{tenant}/oauth2/v2.0/token              client secret, certificate (private_key_jwt) and
//                                                 federated assertions; Entra-shaped AADSTS errors
//   GET  /metadata/identity/oauth2/token          IMDS managed identity (needs `Metadata: true`)
//   GET  /{v1.0|beta}/auditLogs/{directoryAudits|signIns}
//   GET  /v1.0/roleManagement/directory/{roleAssignmentScheduleRequests, roleEligibilityScheduleRequests,
//        roleAssignmentScheduleInstances, roleEligibilityScheduleInstances, roleAssignments}
//   GET  /subscriptions/{id}/providers/Microsoft.Insights/eventtypes/management/values
//   GET  {scope}/providers/Microsoft.Authorization/roleAssignmentScheduleRequests
//   GET  /v1.0/identityProtection/{riskDetections,servicePrincipalRiskDetections},
//        /beta/identityGovernance/roleManagementAlerts/alerts (alert_collections.h)
//   GET  /v1.0/security/alerts_v2, /subscriptions/{id}/providers/Microsoft.Security/alerts (alerts.h)
//   admin: GET /_emulator/stats, POST /_emulator/{faults,records,late,update,expire-tokens,reset-stats,throttle}
// `$filter` time terms (ge/gt/le/lt/eq joined by `and`) are evaluated for real; unknown terms get
// a Graph/ARM-shaped 400. Paging uses `$top` (max 1000) and an opaque `$skiptoken`.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "tools/emulator/server/http_server.h"

namespace siem::emulator {

using Clock = std::chrono::system_clock;

struct AppRegistration {
  std::string tenant_id;
  std::string client_id;
  std::string client_secret;            // empty: no secret credential
  bool secret_expired = false;          // AADSTS7000222 when the secret is used
  std::filesystem::path certificate;    // PEM certificate for private_key_jwt (empty: none)
  // Workload identity federation: accepted assertion issuer/subject, signed by `federation_cert`.
  std::string federated_issuer;
  std::string federated_subject;
  std::filesystem::path federation_cert;
};

struct Options {
  std::vector<AppRegistration> apps;
  std::chrono::seconds token_lifetime{3599};
  std::vector<std::string> subscriptions;      // Activity Log / ARM PIM scopes
  bool seed = true;                            // generate the privileged-access scenario
  Clock::time_point now = Clock::now();        // seed anchor
  // Identity-and-access reports budget (requests per 10 s per tenant); 0 = unlimited.
  int reports_limit_per_10s = 0;
  // Page size of ARM lists the client does not size with $top (Microsoft.Security/alerts).
  int arm_page_size = 1000;
};

// Parses/prints Graph timestamps (ISO-8601 UTC, up to 7 fractional digits) as epoch microseconds.
// Deliberately not the connector's reader (connector/record/time_parse.h): the emulator is the
// connector's outside peer and reads the $filter times the connector writes the way Graph does
// (UTC only, 'Z' or +00:00); sharing the connector's code would let a bug there be mirrored here
// and pass every test. It links nothing of the product.
std::optional<std::int64_t> parse_time_us(std::string_view text);
std::string format_time(std::int64_t epoch_us);  // "2026-11-25T06:12:00.1234567Z"

class Emulator {
 public:
  Emulator(Options options, httpd::HttpServer& server);
  ~Emulator();
  Emulator(const Emulator&) = delete;
  Emulator& operator=(const Emulator&) = delete;

  // Collections: directoryAudits, signIns, roleAssignmentScheduleRequests, roleEligibilityScheduleRequests,
  // roleAssignmentScheduleInstances, roleEligibilityScheduleInstances, roleAssignments, activity,
  // armRoleAssignmentScheduleRequests, riskDetections, servicePrincipalRiskDetections, roleManagementAlerts.
  void add_record(const std::string& collection, nlohmann::json record);
  std::size_t record_count(const std::string& collection) const;
  std::vector<nlohmann::json> records(const std::string& collection) const;
  // Merges `set` into the record(s) of `collection` with that id, as POST /_emulator/update does
  // (a risk detection remediated, a PIM alert resolved); false when there is none.
  bool update_record(const std::string& collection, const std::string& id, const nlohmann::json& set);
  // Removes the records of a collection `remove` selects (a role assignment that is gone); returns how many.
  std::size_t remove_records(const std::string& collection, const std::function<bool(const nlohmann::json&)>& remove);
  // Invalidates every issued token (the next Graph/ARM call gets 401).
  void expire_tokens();
  nlohmann::json stats() const;
  void reset_stats();
  // Injects a fault as POST /_emulator/faults does (Graph-shaped 429/5xx bodies, Retry-After):
  // {"path_prefix": "/v1.0/auditLogs", "count": 2, "status": 429, "retry_after": "1", "delay_ms": 0, "drop": false}
  void add_fault(const nlohmann::json& spec);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The seeded privileged-access scenario (records keyed by collection), times relative to `now`.
std::vector<std::pair<std::string, nlohmann::json>> seed_records(Clock::time_point now, const std::string& tenant_id,
                                                                  const std::vector<std::string>& subscriptions);

// Scenario records from a file (one JSON record per line, or a Graph/ARM list document
// `{"value":[...]}` / JSON array), each placed into its collection by shape (directoryAudit,
// signIn, PIM schedule request, Activity Log EventData, ARM PIM request) and re-timed for replay:
// file order is kept, record i of n is moved to now - last_gap - (n - 1 - i) * spacing and every
// other timestamp inside it by the same amount; ids that repeat within a collection get a "-N"
// suffix (the connector removes duplicates by id, a scenario means distinct events); sign-ins
// without signInEventTypes get one from isInteractive; Activity Log records of a subscription the
// emulator does not serve are moved to the first served one. Throws std::runtime_error naming the
// file and line of a record it cannot place.
std::vector<std::pair<std::string, nlohmann::json>> load_seed_file(const std::filesystem::path& file, Clock::time_point now,
                                                                    const std::vector<std::string>& subscriptions,
                                                                    std::chrono::seconds last_gap = std::chrono::seconds(120),
                                                                    std::chrono::seconds spacing = std::chrono::seconds(5));

}  // namespace siem::emulator
