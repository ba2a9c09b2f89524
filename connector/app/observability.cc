#include "connector/app/observability.h"

#include <spdlog/spdlog.h>

#include "connector/observability/process_metrics.h"

#ifndef SIEM_GIT_REVISION
#define SIEM_GIT_REVISION "unknown"
#endif

namespace siem::app {

namespace {

const double g_start_time =
    std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();

// The control loop ticks every 50 ms; a pipeline stuck for this long is not alive.
constexpr std::chrono::seconds kAliveWithin{30};

constexpr const char* kText = "text/plain; charset=utf-8";

}  // namespace

observability::Reply observability_reply(const Pipeline* pipeline, const ReloadMetrics* reload_metrics,
                                         std::string_view path, std::string_view accept) {
  if (path == "/metrics") {
    const bool om = accept.find("application/openmetrics-text") != std::string_view::npos;
    Exposition x(om);
    if (pipeline) pipeline->write_metrics(x);
    if (reload_metrics) reload_metrics->write(x);
    observability::write_process_metrics(x, g_start_time);
    observability::write_build_info(x, SIEM_VERSION, SIEM_GIT_REVISION);
    return {200, Exposition::content_type(om), x.finish()};
  }
  if (path == "/healthz") {
    if (!pipeline) return {200, kText, "ok (restarting the pipeline after a reload)\n"};
    if (pipeline->alive(kAliveWithin)) return {200, kText, "ok\n"};
    return {503, kText, "the pipeline loop has not run for 30 s\n"};
  }
  if (path == "/readyz") {
    if (!pipeline) return {503, kText, "not ready\nrestarting the pipeline after a reload\n"};
    auto r = pipeline->readiness();
    return {r.ready ? 200 : 503, kText, (r.ready ? "ready\n" : "not ready\n") + r.text};
  }
  return {404, kText, "not found (/metrics, /healthz, /readyz, POST /-/reload)\n"};
}

observability::Reply observability_post(const ObservabilityContext& ctx,
                                        const observability::HttpListener::PostRequest& request) {
  if (request.path != "/-/reload") return {404, kText, "not found (POST /-/reload)\n"};
  const char* refused = nullptr;
  if (ctx.reload_access == ReloadAccess::off || !ctx.reload)
    refused = "reload over HTTP is off (observability.reload: off); send SIGHUP instead\n";
  else if (request.from_browser)
    refused = "refused: the request carries Origin or Sec-Fetch-Site (sent by a web browser)\n";
  else if (ctx.reload_access == ReloadAccess::loopback && !request.from_loopback)
    refused = "refused: only a client on this host may reload (observability.reload: loopback)\n";
  if (refused) {
    spdlog::warn("observability: POST /-/reload {}", std::string_view(refused).substr(0, std::string_view(refused).size() - 1));
    return {403, kText, refused};
  }
  const auto r = ctx.reload();
  return {r.http_status, kText, r.message};
}

std::unique_ptr<observability::HttpListener> start_observability(const std::string& listen,
                                                                 ObservabilityContext ctx) {
  auto shared = std::make_shared<ObservabilityContext>(std::move(ctx));
  auto l = std::make_unique<observability::HttpListener>(
      listen,
      [shared](std::string_view path, std::string_view accept) {
        const auto p = shared->pipeline ? shared->pipeline() : nullptr;
        return observability_reply(p.get(), shared->reload_metrics, path, accept);
      },
      observability::ListenerLimits{},
      [shared](const observability::HttpListener::PostRequest& request) { return observability_post(*shared, request); });
  const auto host = observability::HttpListener::parse_listen(listen).first;
  spdlog::info("observability: serving /metrics, /healthz and /readyz on {}:{}",
               host.find(':') == std::string::npos ? host : "[" + host + "]", l->port());
  return l;
}

}  // namespace siem::app
