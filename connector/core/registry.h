// Plugin registration: each source and sink type registers a factory under its `type` name.
// Factories only read and validate configuration (they must not touch the network, the state
// store or the file system beyond checking that named files exist), so `validate` can build every
// plugin offline; I/O starts in Source::start() / Sink::start().
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "connector/config/config_node.h"
#include "connector/core/event.h"
#include "connector/core/sink.h"
#include "connector/core/source.h"

namespace siem {

class StateStore;

// What a plugin factory gets besides its own configuration node.
struct PluginContext {
  std::string name;               // the configured `name`
  bool validate_only = false;     // true under `validate`: build, check, never connect
  StateStore* state = nullptr;    // null under validate; sources may keep extra state here
  std::string host_name;          // this machine's name (syslog HOSTNAME, HEC host)
  // Sinks: the payload format the sink sends, its `format:` key read once by the pipeline builder
  // with the type's default (add_sink), like route/batch/retry/buffer. Unused by sources.
  OutputFormat format = OutputFormat::ecs;
  // Sources: the pipeline's input queue budget (`pipeline.queue_bytes`); a source that buffers
  // ahead of the pipeline (the Kafka consumer's prefetch) sizes its buffers from it.
  std::size_t queue_bytes = 8ull << 20;
};

using SourceFactory = std::function<std::unique_ptr<Source>(const ConfigNode& cfg, const PluginContext& ctx)>;
// What a sink factory builds; the format it sends is PluginContext::format.
struct SinkInstance {
  std::unique_ptr<Sink> sink;
};
using SinkFactory = std::function<SinkInstance(const ConfigNode& cfg, const PluginContext& ctx)>;

class PluginRegistry {
 public:
  // `keys`: the plugin's key table (config/schema.h), declared next to the code that reads them;
  // `describe` prints it, the docs are generated from it and unknown keys are checked against it.
  // `default_format`: a sink's `format` when the key is not set.
  void add_source(std::string type, std::string description, SourceFactory factory,
                  const config::Section* keys = nullptr);
  void add_sink(std::string type, std::string description, SinkFactory factory,
                const config::Section* keys = nullptr, OutputFormat default_format = OutputFormat::ecs);
  const config::Section* source_keys(const std::string& type) const;
  const config::Section* sink_keys(const std::string& type) const;
  std::string source_description(const std::string& type) const;
  std::string sink_description(const std::string& type) const;
  OutputFormat sink_default_format(const std::string& type) const;

  const SourceFactory* source(const std::string& type) const;
  const SinkFactory* sink(const std::string& type) const;
  std::vector<std::string> source_types() const;
  std::vector<std::string> sink_types() const;

  // The registry with every built-in plugin (connector/app/plugins.cc).
  static const PluginRegistry& builtin();

 private:
  struct SourceEntry { std::string description; SourceFactory factory; const config::Section* keys = nullptr; };
  struct SinkEntry {
    std::string description;
    SinkFactory factory;
    const config::Section* keys = nullptr;
    OutputFormat default_format = OutputFormat::ecs;
  };
  std::map<std::string, SourceEntry> sources_;
  std::map<std::string, SinkEntry> sinks_;
};

// Common sink keys every sink accepts (read by the core, not the plugin): format: ecs|cef|ocsf|raw
// (here, by the pipeline builder, which hands it to the factory as PluginContext::format), route,
// batch, retry and buffer (SinkRunnerOptions::from_config). A sink factory reads none of them.
OutputFormat read_sink_format(const ConfigNode& cfg, OutputFormat default_format = OutputFormat::ecs);

}  // namespace siem
