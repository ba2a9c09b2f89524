// `observability: {listen}`: the /metrics, /healthz and /readyz endpoint of `run`, and its
// `POST /-/reload`.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "connector/app/reload.h"
#include "connector/core/pipeline.h"
#include "connector/observability/http_listener.h"

namespace siem::app {

struct ObservabilityContext {
  // The running pipeline; null while a reload restarts it.
  std::function<std::shared_ptr<const Pipeline>()> pipeline;
  const ReloadMetrics* reload_metrics = nullptr;
  // `POST /-/reload`: who may ask (`observability.reload`), and what it does.
  ReloadAccess reload_access = ReloadAccess::loopback;
  std::function<ReloadController::Result()> reload;
};

// The replies of the three paths (404 for any other); `accept` chooses OpenMetrics for /metrics.
// `pipeline` may be null (restarting): /readyz is 503 then, /healthz 200.
observability::Reply observability_reply(const Pipeline* pipeline, const ReloadMetrics* reload_metrics,
                                         std::string_view path, std::string_view accept);

// The reply to a POST: `/-/reload` when the context's access allows this peer, else 403/404.
observability::Reply observability_post(const ObservabilityContext& ctx,
                                        const observability::HttpListener::PostRequest& request);

// Serves them on `listen` (HOST:PORT) until destroyed. Throws when it cannot bind.
std::unique_ptr<observability::HttpListener> start_observability(const std::string& listen,
                                                                 ObservabilityContext ctx);

}  // namespace siem::app
