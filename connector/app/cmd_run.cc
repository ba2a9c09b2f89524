#include <csignal>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "connector/app/commands.h"
#include "connector/app/logging.h"
#include "connector/app/observability.h"
#include "connector/app/pipeline_builder.h"
#include "connector/app/progress.h"
#include "connector/app/reload.h"
#include "connector/state/state_store.h"

namespace siem::app {

namespace {

// SIGTERM / SIGINT request a graceful drain; a second signal exits at once.
volatile std::sig_atomic_t g_signals = 0;
// SIGHUP reloads the configuration (reload.h); without a terminal nothing else hangs up on us, and
// logs go to stderr (journald / the container runtime own the files: there is nothing to reopen).
volatile std::sig_atomic_t g_hangups = 0;

extern "C" void on_signal(int) {
  g_signals = g_signals + 1;
  if (g_signals > 1) std::_Exit(130);
}

extern "C" void on_hangup(int) { g_hangups = g_hangups + 1; }

void install_signal_handlers() {
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
}

// One pipeline built from one configuration; a reload that changes sources or sinks ends it and
// starts the next.
struct Generation {
  Generation(PipelineParts& parts, StateStore& state) : dead_letters(parts.dead_letter_path) {
    // The mapping processor's mapper goes behind the reload wrapper.
    auto wrapper = std::make_unique<ReloadableMapper>(parts.mapping->exchange_mapper(nullptr));
    mapper = wrapper.get();
    parts.mapping->exchange_mapper(std::move(wrapper));
    parts.mapping = nullptr;
    pipeline = std::make_unique<Pipeline>(parts.options, std::move(parts.sources), std::move(parts.sinks),
                                          std::move(parts.processors), state, dead_letters);
  }
  DeadLetterWriter dead_letters;
  ReloadableMapper* mapper = nullptr;
  std::unique_ptr<Pipeline> pipeline;
};

// The generation the observability endpoint reads (null between two).
class CurrentGeneration {
 public:
  void set(std::shared_ptr<Generation> g) {
    std::lock_guard lock(mu_);
    gen_ = std::move(g);
  }
  std::shared_ptr<const Pipeline> pipeline() const {
    std::lock_guard lock(mu_);
    if (!gen_) return nullptr;
    return std::shared_ptr<const Pipeline>(gen_, gen_->pipeline.get());
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<Generation> gen_;
};

// Releases a finished generation once no request of the endpoint holds it any more (its disk
// buffers must be closed before the next generation opens them).
void release(std::shared_ptr<Generation>& gen) {
  for (int i = 0; i < 500 && gen.use_count() > 1; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  gen.reset();
}

void print_summary(const Generation& gen) {
  std::string text = gen.pipeline->summary();
  if (gen.dead_letters.count() > 0)
    text += fmt::format("  {} record(s) written to the dead-letter file {}\n", gen.dead_letters.count(),
                        gen.dead_letters.path().string());
  report("info", text);
}

// What the progress display shows while a source catches up (a backfill, `--once`).
ProgressSample run_progress(const Pipeline& pipeline) {
  const auto p = pipeline.progress();
  ProgressSample s;
  s.active = p.catching_up > 0;
  s.records = p.read;
  if (p.oldest_checkpoint_end) {
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
    s.lag_seconds = std::max<std::int64_t>(0, now - *p.oldest_checkpoint_end);
  }
  return s;
}

// Builds the parts of `next`; when that fails (the file or a mapping file changed between the check
// and now), logs why, counts a failed reload and builds `current` again. False when neither builds.
bool build_next(std::shared_ptr<LoadedConfig>& current, std::shared_ptr<LoadedConfig> next, StateStore& state,
                ReloadMetrics& metrics, PipelineParts& parts) {
  for (auto* c : {&next, &current}) {
    const auto before = (*c)->diags.items().size();
    parts = build_pipeline(*(*c)->doc, PluginRegistry::builtin(), /*validate_only=*/false, &state);
    std::string errors;
    for (auto i = before; i < (*c)->diags.items().size(); ++i) {
      const auto& d = (*c)->diags.items()[i];
      if (d.severity == Diagnostic::Severity::error)
        errors += fmt::format("{}: error: {}{}\n", d.where.to_string(), d.path.empty() ? "" : d.path + ": ", d.message);
    }
    if (errors.empty()) {
      current = *c;
      return true;
    }
    spdlog::error("reload: the new configuration could not be built, starting the previous one again:\n{}", errors);
    metrics.failed();
  }
  return false;
}

}  // namespace

int run_command(const RunOptions& options, const GlobalOptions& global) {
  // First of all: a SIGHUP (`systemctl reload` just after `start`) or SIGTERM while the
  // configuration is read and the pipeline built must not kill the process with the default
  // action; the watcher below acts on what arrived meanwhile.
  install_signal_handlers();
  auto config = LoadedConfig::load(options.config_file);
  Diagnostics& diags = config->diags;
  if (diags.has_errors()) {
    report("error", diags.format());
    return kExitError;
  }
  std::unique_ptr<StateStore> state;
  try {
    state = std::make_unique<StateStore>(read_state_dir(*config->doc));
  } catch (const std::exception& e) {
    report("error", fmt::format("siem-connector: {}\n", e.what()));
    return kExitError;
  }
  PipelineParts parts = build_pipeline(*config->doc, PluginRegistry::builtin(), /*validate_only=*/false, state.get());
  if (diags.has_errors()) {
    report("error", diags.format());
    return kExitError;
  }
  // The warnings `validate` prints (insecure settings, readable secrets), with the same location and path.
  for (const auto& d : diags.items())
    spdlog::warn("{}: {}{}", d.where.to_string(), d.path.empty() ? "" : d.path + ": ", d.message);
  const std::string log_format =
      global.log_format_from_cli || parts.log_format.empty() ? global.log_format : parts.log_format;
  if (!parts.log_level.empty() || !parts.log_format.empty())
    setup_logging(global.log_level_from_cli || parts.log_level.empty() ? global.log_level : parts.log_level,
                  log_format);

  ReloadMetrics reload_metrics;
  ReloadController controller(options.config_file, PluginRegistry::builtin(), *state, reload_metrics,
                              global.log_level_from_cli);
  CurrentGeneration current;
  std::unique_ptr<observability::HttpListener> listener;
  if (!parts.observability_listen.empty()) {
    ObservabilityContext ctx;
    ctx.pipeline = [&current] { return current.pipeline(); };
    ctx.reload_metrics = &reload_metrics;
    ctx.reload_access = reload_access_from_string(parts.observability_reload).value_or(ReloadAccess::off);
    ctx.reload = [&controller] { return controller.reload("POST /-/reload", /*wait=*/false); };
    try {
      listener = start_observability(parts.observability_listen, std::move(ctx));
    } catch (const std::exception& e) {
      report("error", fmt::format("siem-connector: observability: {}\n", e.what()));
      return kExitError;
    }
  }

  std::stop_source stop;
  // Signal handlers may only set a flag; this watcher turns it into a stop or a reload.
  std::jthread watcher([&stop, &controller, once = options.once](std::stop_token st) {
    std::sig_atomic_t hangups_seen = 0;
    while (!st.stop_requested()) {
      if (g_signals > 0) {
        spdlog::info("signal received: draining (send it again to exit at once)");
        stop.request_stop();
        return;
      }
      if (g_hangups != hangups_seen) {
        hangups_seen = g_hangups;
        if (once)
          spdlog::info("SIGHUP ignored under --once (the configuration is read once)");
        else
          controller.reload("SIGHUP");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });

  spdlog::info("siem-connector {} starting{}", SIEM_VERSION, options.once ? " (--once)" : "");
  int status = kExitOk;
  // Records dead-lettered by a pipeline that a reload replaced stay in the dead-letter file: the
  // exit status covers the whole process, not only the last pipeline (undelivered events of a
  // replaced pipeline are read again by the next one, so only the dead letters carry over).
  bool dead_lettered_before = false;
  // What the service said of each source's streams in the pipeline a reload replaced: a stream it
  // refused stays refused in the next one (/metrics, /readyz, the summary) until it reads again.
  Pipeline::StreamStatusBySource stream_status;
  while (true) {
    parts.options.once = options.once;
    auto gen = std::make_shared<Generation>(parts, *state);
    gen->pipeline->carry_stream_status(stream_status);
    std::stop_source gen_stop;
    std::stop_callback forward(stop.get_token(), [&gen_stop] { gen_stop.request_stop(); });
    if (!options.once) controller.set_generation(config, gen->mapper, &gen_stop);
    current.set(gen);
    {
      ProgressReporter progress("catching up", [&gen] { return run_progress(*gen->pipeline); },
                                ProgressReporter::mode_for(log_format));
      status = gen->pipeline->run(gen_stop.get_token());
    }
    controller.set_generation(nullptr, nullptr, nullptr);
    current.set(nullptr);
    print_summary(*gen);
    auto next = controller.take_restart();
    if (!next || stop.stop_requested() || status == kExitError) break;
    dead_lettered_before = dead_lettered_before || status == kExitDeadLettered;
    stream_status = gen->pipeline->stream_status();
    release(gen);
    if (!build_next(config, std::move(next), *state, reload_metrics, parts)) {
      status = kExitError;
      break;
    }
    spdlog::info("pipeline: starting with the reloaded configuration");
  }
  watcher.request_stop();
  if (status == kExitOk && dead_lettered_before) status = kExitDeadLettered;
  return status;
}

}  // namespace siem::app
