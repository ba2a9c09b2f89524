#include "connector/sources/graph/alert_streams.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace siem::sources {

namespace {

// A member as key text: strings as they are, numbers and booleans as JSON, absent/null empty.
std::string member_text(const nlohmann::json& rec, const char* key) {
  const auto it = rec.find(key);
  if (it == rec.end() || it->is_null()) return {};
  if (it->is_string()) return it->get<std::string>();
  if (it->is_primitive()) return it->dump();
  return {};
}

// A key longer than this (a server sending kilobytes of "lastUpdatedDateTime") is kept as its
// start and a hash of the whole: the dedupe window and the persisted checkpoint stay small.
constexpr std::size_t kMaxKeyBytes = 512;

std::string bounded(std::string key) {
  if (key.size() <= kMaxKeyBytes) return key;
  std::uint64_t h = 14695981039346656037ULL;  // FNV-1a 64
  for (unsigned char c : key) h = (h ^ c) * 1099511628211ULL;
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  key.resize(kMaxKeyBytes / 2);
  return key + "#" + hex;
}

}  // namespace

bool is_alert_stream(StreamType type) noexcept {
  return type == StreamType::risk_detections || type == StreamType::sp_risk_detections || type == StreamType::pim_alerts;
}

std::string alert_stream_url(const StreamSpec& spec, Micros start, Micros end) {
  switch (spec.type) {
    case StreamType::risk_detections:
    case StreamType::sp_risk_detections: {
      // The list documents $filter and $select (no $orderby) and a $top of at most 500. The time
      // terms use ge/le like sign-ins; records at END are dropped by the engine (half-open window).
      const char* collection = spec.type == StreamType::risk_detections ? "riskDetections" : "servicePrincipalRiskDetections";
      const std::string filter = "detectedDateTime ge " + format_time(start) + " and detectedDateTime le " + format_time(end);
      return spec.root + "/v1.0/identityProtection/" + collection + "?$filter=" + encode_query_value(filter) +
             "&$top=" + std::to_string(std::clamp(spec.page_size, 1, 500));
    }
    case StreamType::pim_alerts:
      // Beta only; without the scope filter the API answers 400.
      return spec.root + "/beta/identityGovernance/roleManagementAlerts/alerts?$filter=" +
             encode_query_value("scopeId eq '/' and scopeType eq 'DirectoryRole'") + "&$expand=" +
             encode_query_value("alertDefinition,alertIncidents");
    default: break;
  }
  return {};
}

std::string alert_stream_key(StreamType type, const nlohmann::json& rec, const std::string& id) {
  if (id.empty() || !rec.is_object()) return {};
  if (type == StreamType::pim_alerts)
    return bounded(id + "|" + member_text(rec, "lastModifiedDateTime") + "|" + member_text(rec, "isActive") + "|" +
                   member_text(rec, "incidentCount"));
  return bounded(id + "|" + member_text(rec, "lastUpdatedDateTime") + "|" + member_text(rec, "riskState") + "|" +
                 member_text(rec, "riskLevel") + "|" + member_text(rec, "riskDetail"));
}

}  // namespace siem::sources
