// The security-alert streams of the pull engine (docs/sources.md, "Security alerts"):
//  * security_alerts: Graph /security/alerts_v2, windowed on lastUpdateDateTime (the list documents
//    $filter on it). An alert changes after it is raised (status, classification, evidence): each
//    change moves lastUpdateDateTime, so a changed alert falls into a later window and is keyed
//    id|lastUpdateDateTime: one event per alert version, and the lookback's re-read of the same
//    version is a duplicate.
//  * defender_alerts: ARM Microsoft.Security/alerts per subscription. The list has no server-side
//    time filter and an alert's status changes long after it is generated (Active -> InProgress ->
//    Resolved/Dismissed) without any "updated" time, so a time window would miss both late alerts
//    and status changes. It is read as state: the whole list each poll, keyed id|status (one event
//    per alert and status it reaches), records older than the retention skipped (their keys age
//    out of the dedupe window).
#pragma once

#include <string>

#include "connector/sources/graph/pull_engine.h"

namespace siem::sources {

// Microsoft.Security/alerts api-version.
inline constexpr const char* kDefenderAlertsApiVersion = "2022-01-01";

SourceKind security_alert_stream_kind(StreamType type) noexcept;
const char* security_alert_time_field(StreamType type) noexcept;
std::string security_alert_dedupe_key(StreamType type, const std::string& id, const std::string& time, const std::string& status);
std::string security_alert_stream_url(const StreamSpec& spec, Micros start, Micros end);
// A stream read as state whose records older than the retention are skipped (defender_alerts).
bool security_state_horizon(StreamType type) noexcept;

}  // namespace siem::sources
