// Facts of the security-alert kinds (graph_security_alert, azure_defender_alert): the alert's title,
// status and severity, its time, and the principals its evidence names (Facts::targets), for the
// pa.alert.* detections. Internal to the enrichment (facts.cc dispatches here).
#pragma once

#include <simdjson.h>

#include "connector/enrichment/facts.h"

namespace siem {

// At most this many principals are taken from one alert's evidence.
inline constexpr std::size_t kMaxAlertPrincipals = 32;

void graph_security_alert_facts(simdjson::dom::element r, Facts& f);
void azure_defender_alert_facts(simdjson::dom::element r, Facts& f);

}  // namespace siem
