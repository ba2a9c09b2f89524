// Builds every part of a pipeline from a loaded configuration through the plugin registry. Used by
// `run` (to run it) and by `validate` (to check it offline: validate_only, no state store).
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "connector/config/config_node.h"
#include "connector/core/pipeline.h"
#include "connector/core/registry.h"
#include "connector/core/processor.h"
#include "connector/enrichment/mapping_processor.h"

namespace siem::app {

struct PipelineParts {
  std::filesystem::path state_dir;
  std::filesystem::path dead_letter_path;
  PipelineOptions options;
  std::vector<SourceSlot> sources;
  std::vector<SinkSlot> sinks;
  std::vector<std::unique_ptr<Processor>> processors;  // in chain order: mapping first
  MappingProcessor* mapping = nullptr;                  // processors.front() (run wraps its mapper for reload)
  std::string log_level, log_format;  // from `log:`; empty when not set
  std::string observability_listen;   // `observability: {listen}`; empty: no endpoint
  std::string observability_reload = "loopback";  // `observability.reload`: off, loopback or any
};

// Reads the whole configuration. Problems go to the document's diagnostics (check has_errors());
// unknown keys are reported too. `state` is null under validate.
PipelineParts build_pipeline(ConfigDocument& doc, const PluginRegistry& registry, bool validate_only,
                             StateStore* state);

// Reads just `state_dir` (the state store must exist before plugins are built for `run`).
std::filesystem::path read_state_dir(ConfigDocument& doc);

// The key tables build_pipeline() reads with: the top level, and the keys every source / sink
// entry has (`name`, `type`; a sink also SinkRunnerOptions::keys()) besides its plugin's table.
const config::Section& top_level_keys();
const config::Section& source_common_keys();
const config::Section& sink_common_keys();

std::string host_name();

}  // namespace siem::app
