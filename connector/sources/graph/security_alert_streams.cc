#include "connector/sources/graph/security_alert_streams.h"

#include <algorithm>

namespace siem::sources {

SourceKind security_alert_stream_kind(StreamType type) noexcept {
  return type == StreamType::security_alerts ? SourceKind::graph_security_alert : SourceKind::azure_defender_alert;
}

const char* security_alert_time_field(StreamType type) noexcept {
  // defender_alerts: under `properties` (StreamSpec::properties_record).
  return type == StreamType::security_alerts ? "lastUpdateDateTime" : "timeGeneratedUtc";
}

std::string security_alert_dedupe_key(StreamType type, const std::string& id, const std::string& time, const std::string& status) {
  if (type == StreamType::defender_alerts) return id + "|" + status;
  // The version's time in one spelling, whatever number of fraction digits the page used.
  const auto t = parse_time(time);
  return id + "|" + (t ? format_time(*t) : time);
}

std::string security_alert_stream_url(const StreamSpec& spec, Micros start, Micros end) {
  if (spec.type == StreamType::defender_alerts)
    return spec.root + spec.scope + "/providers/Microsoft.Security/alerts?api-version=" + kDefenderAlertsApiVersion;
  const std::string filter = "lastUpdateDateTime ge " + format_time(start) + " and lastUpdateDateTime lt " + format_time(end);
  return spec.root + "/v1.0/security/alerts_v2?$filter=" + encode_query_value(filter) +
         "&$top=" + std::to_string(std::clamp(spec.page_size, 1, 1000));
}

bool security_state_horizon(StreamType type) noexcept { return type == StreamType::defender_alerts; }

}  // namespace siem::sources
