// `observability: {listen}`: the /metrics, /healthz and /readyz endpoint of `run`.
#pragma once

#include <memory>
#include <string>

#include "connector/core/pipeline.h"
#include "connector/observability/http_listener.h"

namespace siem::app {

// The replies of the three paths (404 for any other); `accept` chooses OpenMetrics for /metrics.
observability::Reply observability_reply(const Pipeline& pipeline, std::string_view path,
                                         std::string_view accept);

// Serves them on `listen` (HOST:PORT) until destroyed. Throws when it cannot bind.
std::unique_ptr<observability::HttpListener> start_observability(const std::string& listen,
                                                                 const Pipeline& pipeline);

}  // namespace siem::app
