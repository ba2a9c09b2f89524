// Live reload of `run`: SIGHUP and `POST /-/reload` re-read the configuration file and the mapping
// files it names. The new configuration is checked with the code path of `validate` first; an
// invalid one is rejected (its file:line:column diagnostics logged, the failure counted) and the
// running one stays. A valid one is applied in one of two ways:
//   * only `mappings:`, `enrichment:` or `log.level` changed in the file (or nothing did: mapping
//     override and role files on disk may have): the mapping stage is rebuilt and swapped before
//     the next record, with the mapping workers quiesced (ReloadableMapper); sources and sinks keep running;
//   * anything else changed (sources, sinks, pipeline, dead_letter): the running pipeline is
//     stopped gracefully (sources stop, what was read is delivered and acknowledged, checkpoints
//     are committed) and a new one is built from the new configuration; its sources resume from
//     the committed checkpoints. `state_dir` and `observability` cannot change without a restart of
//     the process (a reload changing them is rejected).
#pragma once

#include <atomic>
#include <filesystem>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>

#include "connector/app/reloadable_mapper.h"
#include "connector/config/config_node.h"
#include "connector/core/metrics.h"
#include "connector/core/registry.h"

namespace siem::app {

// A configuration document and the diagnostics it reports to (which must outlive it).
struct LoadedConfig {
  Diagnostics diags;
  std::shared_ptr<ConfigDocument> doc;
  static std::shared_ptr<LoadedConfig> load(const std::filesystem::path& file);
};

// The reload families of /metrics.
struct ReloadMetrics {
  std::atomic<std::uint64_t> successes{0};
  std::atomic<std::uint64_t> failures{0};
  std::atomic<std::int64_t> last_success_unix{0};  // 0: no reload succeeded yet
  std::atomic<bool> last_ok{true};
  void succeeded();
  void failed();
  void write(Exposition& x) const;
};

// Who may POST /-/reload (`observability.reload`).
enum class ReloadAccess { off, loopback, any };
std::optional<ReloadAccess> reload_access_from_string(std::string_view s);

class ReloadController {
 public:
  struct Result {
    int http_status = 200;  // 200 applied or scheduled, 400 rejected, 409 busy or not possible now
    std::string message;    // one line, or the diagnostics (several lines)
  };

  // `log_level_from_cli`: `log.level` of the file does not apply (the command line wins).
  ReloadController(std::filesystem::path config_file, const PluginRegistry& registry, StateStore& state,
                   ReloadMetrics& metrics, bool log_level_from_cli);

  // Checks and applies the file as it is now. Blocks while another reload runs, unless `wait` is
  // false (then answers 409).
  Result reload(const char* trigger, bool wait = true);

  // The main loop's side: the generation that runs now (its configuration, its mapping stage and
  // the stop source that ends it for a restart); cleared (nullptrs) between generations and under
  // `--once`, where a reload is refused.
  void set_generation(std::shared_ptr<LoadedConfig> config, ReloadableMapper* mapper, std::stop_source* stop);
  // The configuration a restart asked for (null when the generation ended for another reason).
  std::shared_ptr<LoadedConfig> take_restart();

 private:
  Result apply(std::shared_ptr<LoadedConfig> next, const char* trigger);

  const std::filesystem::path file_;
  const PluginRegistry& registry_;
  StateStore& state_;
  ReloadMetrics& metrics_;
  const bool log_level_from_cli_;
  std::mutex reload_mu_;  // one reload at a time
  std::mutex mu_;         // what follows
  std::shared_ptr<LoadedConfig> latest_;   // the newest accepted configuration
  std::shared_ptr<LoadedConfig> restart_;  // set when a restart was requested
  ReloadableMapper* mapper_ = nullptr;
  std::stop_source* stop_ = nullptr;
};

}  // namespace siem::app
