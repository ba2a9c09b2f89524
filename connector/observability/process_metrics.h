// Process families of /metrics (the names of the Prometheus client libraries' process collector)
// and the build info gauge.
#pragma once

#include <string_view>

#include "connector/core/metrics.h"

namespace siem::observability {

// `start_time`: Unix seconds when the process started.
void write_process_metrics(Exposition& out, double start_time);
void write_build_info(Exposition& out, std::string_view version, std::string_view revision);

}  // namespace siem::observability
