#include <csignal>
#include <iostream>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "connector/app/commands.h"
#include "connector/app/logging.h"
#include "connector/app/observability.h"
#include "connector/app/pipeline_builder.h"
#include "connector/state/state_store.h"

namespace siem::app {

namespace {

// SIGTERM / SIGINT request a graceful drain; a second signal exits at once.
std::stop_source* g_stop = nullptr;
volatile std::sig_atomic_t g_signals = 0;

volatile std::sig_atomic_t g_hangups = 0;

extern "C" void on_signal(int) {
  g_signals = g_signals + 1;
  if (g_signals > 1) std::_Exit(130);
}

// SIGHUP does not reload: logs go to stderr (journald / the container runtime own the files, so
// there is nothing to reopen) and a configuration change needs a restart, which is safe because
// checkpoints only move past acknowledged events. The signal is logged and otherwise ignored, so a
// stray HUP (closed terminal, `kill -HUP` habit) never kills the connector without a drain.
extern "C" void on_hangup(int) { g_hangups = g_hangups + 1; }

}  // namespace

int run_command(const RunOptions& options, const GlobalOptions& global) {
  Diagnostics diags;
  auto doc = ConfigDocument::load_file(options.config_file, diags);
  if (diags.has_errors()) {
    std::cerr << diags.format();
    return kExitError;
  }
  std::unique_ptr<StateStore> state;
  try {
    state = std::make_unique<StateStore>(read_state_dir(*doc));
  } catch (const std::exception& e) {
    std::cerr << "siem-connector: " << e.what() << "\n";
    return kExitError;
  }
  PipelineParts parts = build_pipeline(*doc, PluginRegistry::builtin(), /*validate_only=*/false, state.get());
  if (diags.has_errors()) {
    std::cerr << diags.format();
    return kExitError;
  }
  // The warnings `validate` prints (insecure settings, readable secrets), with the same location and path.
  for (const auto& d : diags.items())
    spdlog::warn("{}: {}{}", d.where.to_string(), d.path.empty() ? "" : d.path + ": ", d.message);
  if (!parts.log_level.empty() || !parts.log_format.empty()) {
    setup_logging(global.log_level_from_cli || parts.log_level.empty() ? global.log_level : parts.log_level,
                  global.log_format_from_cli || parts.log_format.empty() ? global.log_format : parts.log_format);
  }
  parts.options.once = options.once;

  DeadLetterWriter dead_letters(parts.dead_letter_path);
  Pipeline pipeline(parts.options, std::move(parts.sources), std::move(parts.sinks), std::move(parts.processors), *state,
                    dead_letters);

  std::unique_ptr<observability::HttpListener> listener;
  if (!parts.observability_listen.empty()) {
    try {
      listener = start_observability(parts.observability_listen, pipeline);
    } catch (const std::exception& e) {
      std::cerr << "siem-connector: observability: " << e.what() << "\n";
      return kExitError;
    }
  }

  std::stop_source stop;
  g_stop = &stop;
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  struct sigaction hup {};
  hup.sa_handler = on_hangup;
  sigemptyset(&hup.sa_mask);
  hup.sa_flags = SA_RESTART;
  sigaction(SIGHUP, &hup, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  // Signal handlers may only set a flag; this watcher turns it into a stop request.
  std::jthread watcher([&stop](std::stop_token st) {
    std::sig_atomic_t hangups_seen = 0;
    while (!st.stop_requested()) {
      if (g_hangups != hangups_seen) {
        hangups_seen = g_hangups;
        spdlog::info("SIGHUP ignored: configuration reload is not supported (restart to apply a new configuration; "
                     "logs go to stderr, there is no log file to reopen)");
      }
      if (g_signals > 0) {
        spdlog::info("signal received: draining (send it again to exit at once)");
        stop.request_stop();
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });

  spdlog::info("siem-connector {} starting{}", SIEM_VERSION, options.once ? " (--once)" : "");
  const int status = pipeline.run(stop.get_token());
  watcher.request_stop();
  std::cerr << pipeline.summary();
  if (dead_letters.count() > 0)
    std::cerr << fmt::format("  {} record(s) written to the dead-letter file {}\n", dead_letters.count(),
                             dead_letters.path().string());
  g_stop = nullptr;
  return status;
}

}  // namespace siem::app
