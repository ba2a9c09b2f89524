// Record shapes other than the ones the mappings are written for, rewritten into those before kind
// detection, so that the mappings and the enrichment see one form of each record (docs/mapping.md,
// "Record shapes"). The original text stays the event's raw record (event.original).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <simdjson.h>

#include "connector/core/event.h"

namespace siem {

namespace json {
class Fields;
}

// The Log Analytics tables whose rows are accepted (Log Analytics data export, Microsoft Sentinel
// exports, query results): PascalCase columns, `Type`, `TimeGenerated`, dynamic columns as JSON
// objects or as JSON text.
enum class LogAnalyticsTable : std::uint8_t {
  none,
  audit_logs,               // AuditLogs
  signin_logs,              // SigninLogs
  non_interactive_signins,  // AADNonInteractiveUserSignInLogs
  service_principal_signins,  // AADServicePrincipalSignInLogs
  managed_identity_signins,   // AADManagedIdentitySignInLogs
  azure_activity,           // AzureActivity
};

struct ShapeResult {
  LogAnalyticsTable table = LogAnalyticsTable::none;
  SourceKind kind = SourceKind::unknown;  // the kind of the rewritten record (eventhub_*)
  // The row in the Event Hubs (diagnostic settings) shape of the same record; empty unless `table`.
  std::string rewritten;
  // The row's `Type` names one table and its columns another (or its columns fit two tables): it is
  // not rewritten, and the mapper tags it rather than guess.
  bool conflicting = false;
};

// Recognises a Log Analytics row from the record's index (`TimeGenerated` present; one lookup for
// every other record) and rewrites it. `record` is the object `fields` indexes.
ShapeResult normalize_log_analytics(const json::Fields& fields, simdjson::dom::element record);

std::string_view to_string(LogAnalyticsTable table) noexcept;

}  // namespace siem
