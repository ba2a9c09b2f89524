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

}  // namespace

observability::Reply observability_reply(const Pipeline& pipeline, std::string_view path,
                                         std::string_view accept) {
  if (path == "/metrics") {
    const bool om = accept.find("application/openmetrics-text") != std::string_view::npos;
    Exposition x(om);
    pipeline.write_metrics(x);
    observability::write_process_metrics(x, g_start_time);
    observability::write_build_info(x, SIEM_VERSION, SIEM_GIT_REVISION);
    return {200, Exposition::content_type(om), x.finish()};
  }
  if (path == "/healthz") {
    if (pipeline.alive(kAliveWithin)) return {200, "text/plain; charset=utf-8", "ok\n"};
    return {503, "text/plain; charset=utf-8", "the pipeline loop has not run for 30 s\n"};
  }
  if (path == "/readyz") {
    auto r = pipeline.readiness();
    return {r.ready ? 200 : 503, "text/plain; charset=utf-8", (r.ready ? "ready\n" : "not ready\n") + r.text};
  }
  return {404, "text/plain; charset=utf-8", "not found (/metrics, /healthz, /readyz)\n"};
}

std::unique_ptr<observability::HttpListener> start_observability(const std::string& listen,
                                                                 const Pipeline& pipeline) {
  auto l = std::make_unique<observability::HttpListener>(
      listen, [&pipeline](std::string_view path, std::string_view accept) {
        return observability_reply(pipeline, path, accept);
      });
  const auto host = observability::HttpListener::parse_listen(listen).first;
  spdlog::info("observability: serving /metrics, /healthz and /readyz on {}:{}",
               host.find(':') == std::string::npos ? host : "[" + host + "]", l->port());
  return l;
}

}  // namespace siem::app
