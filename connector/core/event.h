// Event types that flow through the pipeline: raw records from sources, mapped events to sinks.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "connector/core/event_texts.h"
#include "connector/core/record_attributes.h"
#include "connector/core/record_text.h"

namespace siem {

// What a record is. Sources give a hint when they know (a Graph sign-in poller knows it reads
// sign-ins); the mapping stage detects the kind per record otherwise, and `map --source` forces it.
enum class SourceKind : std::uint8_t {
  unknown = 0,            // not recognised: mapped by the generic mapping, tagged schema_unknown
  graph_directory_audit,  // Graph /auditLogs/directoryAudits item (v1.0 or beta)
  graph_sign_in,          // Graph /auditLogs/signIns item (v1.0 or beta, any signInEventType)
  graph_pim_request,      // Graph roleAssignment/EligibilityScheduleRequests item
  graph_pim_instance,     // Graph role*ScheduleInstances / roleAssignments item (roster snapshots)
  azure_activity,         // ARM Activity Log REST EventData
  arm_pim_request,        // ARM Microsoft.Authorization/roleAssignmentScheduleRequests item
  eventhub_audit,         // diagnostic-settings record, category AuditLogs
  eventhub_sign_in,       // diagnostic-settings record, any *SignInLogs category
  eventhub_activity,      // diagnostic-settings Activity Log record
  // Identity Protection and PIM alerts (graph_risk_detections, graph_pim_alerts sources).
  graph_risk_detection,   // Graph /identityProtection/riskDetections or servicePrincipalRiskDetections item
  graph_pim_alert,        // Graph beta /identityGovernance/roleManagementAlerts/alerts item (incidents expanded)
  // Security alerts (docs/sources.md, "Security alerts").
  graph_security_alert,   // Graph /security/alerts_v2 item (Defender XDR, Defender for Cloud Apps/Identity, ID Protection)
  azure_defender_alert,   // ARM Microsoft.Security/alerts item (Defender for Cloud)
  privileged_inventory,   // built by the connector: one privileged principal, or a change between inventories
};
// The last value of SourceKind (tables indexed by kind are sized with it; decoding bounds).
inline constexpr SourceKind kLastSourceKind = SourceKind::privileged_inventory;

// Stable spelling used in config, CLI (`--source`), logs, Kafka headers and metrics.
std::string_view to_string(SourceKind kind) noexcept;
// Accepts the spellings of to_string(); nullopt when unknown.
std::optional<SourceKind> source_kind_from_string(std::string_view name) noexcept;
// Every kind except `unknown`, in declaration order.
const std::vector<SourceKind>& all_source_kinds();

// Output encodings a sink can ask for. The mapping stage only produces what some sink needs.
enum class OutputFormat : std::uint8_t { raw = 1, ecs = 2, cef = 4, ocsf = 8 };
using FormatSet = std::uint8_t;  // bit-or of OutputFormat values
constexpr FormatSet format_bit(OutputFormat f) noexcept { return static_cast<FormatSet>(f); }
std::string_view to_string(OutputFormat f) noexcept;
std::optional<OutputFormat> output_format_from_string(std::string_view name) noexcept;

// Identifies an event for end-to-end acknowledgement: which source (index in the pipeline) and
// the per-source sequence number, assigned by the pipeline in the order the source emitted them.
struct AckHandle {
  std::uint32_t source = 0;
  std::uint64_t seq = 0;
};

// One record as read by a source: the JSON text of a single record (never a list document).
struct RawRecord {
  // UTF-8 JSON text of one record (may be malformed): its own string, or a view into the read
  // block the source split it from (record_text.h)
  RecordText json;
  std::string origin;                        // where it came from, for errors: "file:line", URL#index
  SourceKind kind_hint = SourceKind::unknown;
  std::string tenant_hint;                   // tenant the source pulled it for, if known
  // Set when the source could not even delimit the record (e.g. an unterminated line): the
  // pipeline dead-letters it with this reason instead of mapping it.
  std::string read_error;
  // What the source tells the processors about this record (e.g. "state only", "end of a
  // snapshot"); core passes it along without reading it (record_attributes.h).
  RecordAttributes attributes;
};

// The result of mapping one record, shared read-only by every sink (std::shared_ptr<const>).
struct MappedEvent {
  AckHandle ack;
  SourceKind kind = SourceKind::unknown;
  // The formats (format_bit) whose payload an encoder wrote and so holds no raw CR or LF byte
  // (mapping::kSingleLineFormats); 0 for events built any other way (read back from a disk
  // buffer, tests). LF-framed syslog skips the line-break scan of such a body.
  FormatSet single_line = 0;
  std::string source_name;     // configured source name
  std::int64_t time_ms = 0;    // event time (the record's activity time), epoch ms UTC
  int severity = 0;            // 0-10, CEF scale, raised by detections
  int tier = -1;               // highest privileged tier touched, -1 when none
  RecordText raw;              // the record JSON (repaired when it was not valid JSON; dead letters, `raw`)
  std::string ecs;             // ECS JSON document, one line (when some sink wants ecs)
  std::string cef;             // CEF line, no syslog header, no newline (when some sink wants cef)
  std::string ocsf;            // OCSF 1.3.0 JSON event, one line (when some sink wants ocsf)
  EventTexts texts;            // origin, id, tenant_id, subscription_id, action and tags (accessors below)

  // The short texts and the tags, in one allocation (event_texts.h).
  std::string_view origin() const noexcept { return texts.get(EventTexts::origin); }  // "file:line", URL#index
  std::string_view id() const noexcept { return texts.get(EventTexts::id); }  // ECS event.id, CEF externalId
  std::string_view tenant_id() const noexcept { return texts.get(EventTexts::tenant_id); }  // Entra tenant, when known
  std::string_view subscription_id() const noexcept { return texts.get(EventTexts::subscription_id); }  // Azure subscription
  std::string_view action() const noexcept { return texts.get(EventTexts::action); }  // event.action, e.g. syslog MSGID
  TagList tags() const noexcept { return texts.tags(); }  // pa.* detection names (and schema_unknown etc.)
  // One text replaced (a new buffer each time: the mapping stage sets them all with texts.assign()).
  void set_origin(std::string_view v) { texts.set(EventTexts::origin, v); }
  void set_id(std::string_view v) { texts.set(EventTexts::id, v); }
  void set_tenant_id(std::string_view v) { texts.set(EventTexts::tenant_id, v); }
  void set_subscription_id(std::string_view v) { texts.set(EventTexts::subscription_id, v); }
  void set_action(std::string_view v) { texts.set(EventTexts::action, v); }
  void set_tags(std::span<const std::string> t) { texts.set_tags(t); }
  void set_tags(std::initializer_list<std::string_view> t) { texts.set_tags(t); }
  void add_tag(std::string_view t) { texts.add_tag(t); }

  // The payload in the given format (raw, ecs, cef or ocsf).
  std::string_view payload(OutputFormat f) const noexcept {
    switch (f) {
      case OutputFormat::ecs: return ecs;
      case OutputFormat::cef: return cef;
      case OutputFormat::ocsf: return ocsf;
      case OutputFormat::raw: break;
    }
    return raw;
  }
};

using EventPtr = std::shared_ptr<const MappedEvent>;

}  // namespace siem
