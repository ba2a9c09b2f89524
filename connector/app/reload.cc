#include "connector/app/reload.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <yaml-cpp/yaml.h>

#include <chrono>

#include "connector/app/pipeline_builder.h"
#include "connector/enrichment/mapping_stage.h"

namespace siem::app {

namespace {

// The sections a reload swaps without restarting the pipeline.
constexpr const char* kSwappable[] = {"mappings", "enrichment", "log"};
// The sections a reload cannot change (the state store lock and the listener live for the process).
constexpr const char* kFixed[] = {"state_dir", "observability"};

std::string section_text(const std::shared_ptr<LoadedConfig>& c, const char* key) {
  const YAML::Node root = c->doc->root().yaml();
  if (!root.IsDefined() || !root.IsMap()) return {};
  const YAML::Node n = root[key];
  return n.IsDefined() ? YAML::Dump(n) : std::string();
}

// Everything but the swappable sections, as YAML text: equal texts mean equal sources, sinks and
// pipeline settings.
std::string restart_fingerprint(const std::shared_ptr<LoadedConfig>& c) {
  const YAML::Node root = c->doc->root().yaml();
  if (!root.IsDefined() || !root.IsMap()) return {};
  YAML::Node copy = YAML::Clone(root);
  for (const char* key : kSwappable) copy.remove(key);
  return YAML::Dump(copy);
}

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The errors a document reported from item `from` on, one per line, as `validate` prints them
// (Diagnostics::format).
std::string errors_since(const Diagnostics& d, std::size_t from) {
  std::string out;
  for (std::size_t i = from; i < d.items().size(); ++i) {
    const auto& item = d.items()[i];
    if (item.severity != Diagnostic::Severity::error) continue;
    out += item.where.to_string() + ": error: " + (item.path.empty() ? "" : item.path + ": ") + item.message + "\n";
  }
  return out;
}

}  // namespace

std::shared_ptr<LoadedConfig> LoadedConfig::load(const std::filesystem::path& file) {
  auto c = std::make_shared<LoadedConfig>();
  c->doc = ConfigDocument::load_file(file, c->diags);
  return c;
}

void ReloadMetrics::succeeded() {
  successes.fetch_add(1, std::memory_order_relaxed);
  last_success_unix.store(unix_now(), std::memory_order_relaxed);
  last_ok.store(true, std::memory_order_relaxed);
}

void ReloadMetrics::failed() {
  failures.fetch_add(1, std::memory_order_relaxed);
  last_ok.store(false, std::memory_order_relaxed);
}

void ReloadMetrics::write(Exposition& x) const {
  using Type = Exposition::Type;
  x.family("siem_config_reload_successes", Type::counter, "Configuration reloads applied (SIGHUP, POST /-/reload).");
  x.sample({}, static_cast<double>(successes.load(std::memory_order_relaxed)));
  x.family("siem_config_reload_failures", Type::counter,
           "Configuration reloads rejected (invalid configuration, or a change that needs a restart).");
  x.sample({}, static_cast<double>(failures.load(std::memory_order_relaxed)));
  x.family("siem_config_last_reload_successful", Type::gauge, "1 unless the last reload attempt failed.");
  x.sample({}, last_ok.load(std::memory_order_relaxed) ? 1.0 : 0.0);
  if (const auto t = last_success_unix.load(std::memory_order_relaxed); t > 0) {
    x.family("siem_config_last_reload_success_timestamp_seconds", Type::gauge,
             "When a reload was last applied (Unix time).");
    x.sample({}, static_cast<double>(t));
  }
}

std::optional<ReloadAccess> reload_access_from_string(std::string_view s) {
  if (s == "off") return ReloadAccess::off;
  if (s == "loopback") return ReloadAccess::loopback;
  if (s == "any") return ReloadAccess::any;
  return std::nullopt;
}

ReloadController::ReloadController(std::filesystem::path config_file, const PluginRegistry& registry,
                                   StateStore& state, ReloadMetrics& metrics, bool log_level_from_cli)
    : file_(std::move(config_file)),
      registry_(registry),
      state_(state),
      metrics_(metrics),
      log_level_from_cli_(log_level_from_cli) {}

void ReloadController::set_generation(std::shared_ptr<LoadedConfig> config, ReloadableMapper* mapper,
                                      std::stop_source* stop) {
  std::lock_guard lock(mu_);
  if (config) latest_ = std::move(config);
  mapper_ = mapper;
  stop_ = stop;
}

std::shared_ptr<LoadedConfig> ReloadController::take_restart() {
  std::lock_guard lock(mu_);
  return std::exchange(restart_, nullptr);
}

ReloadController::Result ReloadController::reload(const char* trigger, bool wait) {
  std::unique_lock serial(reload_mu_, std::defer_lock);
  if (wait) {
    serial.lock();
  } else if (!serial.try_lock()) {
    return {409, "a reload is in progress\n"};
  }
  spdlog::info("reload ({}): reading {}", trigger, file_.string());
  auto next = LoadedConfig::load(file_);
  PipelineParts parts;
  if (!next->diags.has_errors()) parts = build_pipeline(*next->doc, registry_, /*validate_only=*/true, nullptr);
  if (next->diags.has_errors()) {
    const std::string text = errors_since(next->diags, 0);
    spdlog::error("reload ({}) rejected, the running configuration stays:\n{}", trigger,
                  std::string_view(text).substr(0, text.size() - 1));
    metrics_.failed();
    return {400, text};
  }
  auto result = apply(std::move(next), trigger);
  if (result.http_status == 200 && !parts.log_level.empty() && !log_level_from_cli_)
    spdlog::set_level(spdlog::level::from_str(parts.log_level == "warning" ? "warn" : parts.log_level));
  return result;
}

ReloadController::Result ReloadController::apply(std::shared_ptr<LoadedConfig> next, const char* trigger) {
  std::unique_lock lock(mu_);
  if (!mapper_ || !stop_ || !latest_) {
    spdlog::warn("reload ({}): not possible now (run --once, or the pipeline is restarting)", trigger);
    metrics_.failed();
    return {409, "reload is not possible now (run --once, or the pipeline is restarting)\n"};
  }
  for (const char* key : kFixed) {
    if (section_text(next, key) == section_text(latest_, key)) continue;
    const std::string msg = fmt::format("'{}' cannot change on reload: restart the connector to apply it", key);
    spdlog::error("reload ({}) rejected, the running configuration stays: {}", trigger, msg);
    metrics_.failed();
    return {400, msg + "\n"};
  }
  if (section_text(next, "log") != section_text(latest_, "log"))
    spdlog::info("reload ({}): log.level applies now (unless set on the command line), log.format at the next start",
                 trigger);
  const bool restart = restart_fingerprint(next) != restart_fingerprint(latest_);
  latest_ = next;
  metrics_.succeeded();
  if (restart) {
    restart_ = next;
    stop_->request_stop();
    spdlog::info("reload ({}): sources, sinks or pipeline settings changed: draining the running pipeline, "
                 "then starting the new one from the committed checkpoints",
                 trigger);
    return {200, "reloaded: the pipeline restarts with the new configuration (drain, checkpoints, start)\n"};
  }
  StateStore* state = &state_;
  mapper_->request_swap(
      [next, state](std::string& error) -> std::unique_ptr<Mapper> {
        const std::size_t before = next->diags.items().size();
        auto m = make_mapping_stage(next->doc->root(), state);
        error = errors_since(next->diags, before);
        if (!error.empty()) return nullptr;
        return m;
      },
      [this](bool applied, const std::string& error) {
        if (applied) {
          spdlog::info("reload: the new mapping stage maps the records from here on");
          return;
        }
        metrics_.failed();
        spdlog::error("reload: the new mapping stage could not be built, the running one stays:\n{}",
                      error.empty() || error.back() != '\n' ? error : error.substr(0, error.size() - 1));
      });
  spdlog::info("reload ({}): sources and sinks unchanged; the mapping stage is rebuilt and takes over before the "
               "next record",
               trigger);
  return {200, "reloaded: mappings and enrichment apply from the next record\n"};
}

}  // namespace siem::app
