// The streams of the Identity Protection and PIM alert pull sources (graph_risk_detections,
// graph_pim_alerts): their URLs and de-duplication keys. The window, paging and checkpoint rules
// are the engine's (pull_engine.h); what differs is what makes a record "new":
//  * a risk detection is windowed on detectedDateTime, but Identity Protection updates it later
//    (riskState atRisk -> remediated / dismissed / confirmedCompromised, riskLevel, riskDetail):
//    its key is id + lastUpdatedDateTime + riskState + riskLevel + riskDetail, so a change read
//    again inside the lookback is a new event and a plain re-read is not;
//  * a PIM alert is state, not a log: the collection is read whole every poll, and its key is
//    id + lastModifiedDateTime + isActive + incidentCount, so a new, changed or resolved alert is
//    one event. The dedupe window of such a stream holds the keys of the last complete snapshot.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "connector/sources/graph/pull_engine.h"

namespace siem::sources {

// risk_detections, sp_risk_detections, pim_alerts.
bool is_alert_stream(StreamType type) noexcept;

// First-page URL: risk detections `$filter=detectedDateTime ge START and detectedDateTime le END`
// (the engine drops records at END) with `$top` at most 500 (the API's maximum); PIM alerts the
// directory-role scope filter the API requires, with alertDefinition and alertIncidents expanded.
std::string alert_stream_url(const StreamSpec& spec, Micros start, Micros end);

// The de-duplication key of a record of an alert stream (see above); empty without an id. A key
// longer than 512 bytes is kept as its first 256 bytes and a hash of the whole.
std::string alert_stream_key(StreamType type, const nlohmann::json& record, const std::string& id);

}  // namespace siem::sources

namespace siem {
class ConfigNode;
namespace sources {
// The streams of a graph_risk_detections source (users' risk detections and, unless
// `service_principals: false` for a tenant without Workload ID Premium, service principals') or of
// a graph_pim_alerts source. Both APIs are served in the global and US Government clouds: the
// `china` cloud is a configuration error. Defined in alert_source_config.cc (siem_source_graph).
std::vector<StreamSpec> alert_source_streams(bool pim_alerts, const ConfigNode& cfg, const std::string& cloud,
                                             const std::string& graph_root);
}  // namespace sources
}  // namespace siem
