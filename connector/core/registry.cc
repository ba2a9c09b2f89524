#include "connector/core/registry.h"

namespace siem {

void PluginRegistry::add_source(std::string type, std::string description, SourceFactory factory,
                                const config::Section* keys) {
  sources_[std::move(type)] = SourceEntry{std::move(description), std::move(factory), keys};
}

void PluginRegistry::add_sink(std::string type, std::string description, SinkFactory factory,
                              const config::Section* keys, OutputFormat default_format) {
  sinks_[std::move(type)] = SinkEntry{std::move(description), std::move(factory), keys, default_format};
}

const config::Section* PluginRegistry::source_keys(const std::string& type) const {
  auto it = sources_.find(type);
  return it == sources_.end() ? nullptr : it->second.keys;
}

const config::Section* PluginRegistry::sink_keys(const std::string& type) const {
  auto it = sinks_.find(type);
  return it == sinks_.end() ? nullptr : it->second.keys;
}

std::string PluginRegistry::source_description(const std::string& type) const {
  auto it = sources_.find(type);
  return it == sources_.end() ? std::string() : it->second.description;
}

std::string PluginRegistry::sink_description(const std::string& type) const {
  auto it = sinks_.find(type);
  return it == sinks_.end() ? std::string() : it->second.description;
}

OutputFormat PluginRegistry::sink_default_format(const std::string& type) const {
  auto it = sinks_.find(type);
  return it == sinks_.end() ? OutputFormat::ecs : it->second.default_format;
}

const SourceFactory* PluginRegistry::source(const std::string& type) const {
  auto it = sources_.find(type);
  return it == sources_.end() ? nullptr : &it->second.factory;
}

const SinkFactory* PluginRegistry::sink(const std::string& type) const {
  auto it = sinks_.find(type);
  return it == sinks_.end() ? nullptr : &it->second.factory;
}

std::vector<std::string> PluginRegistry::source_types() const {
  std::vector<std::string> v;
  for (const auto& [k, e] : sources_) v.push_back(k);
  return v;
}

std::vector<std::string> PluginRegistry::sink_types() const {
  std::vector<std::string> v;
  for (const auto& [k, e] : sinks_) v.push_back(k);
  return v;
}

OutputFormat read_sink_format(const ConfigNode& cfg, OutputFormat default_format) {
  const auto s = cfg.choice("format", {"ecs", "cef", "ocsf", "raw"}, to_string(default_format));
  return output_format_from_string(s).value_or(default_format);
}

}  // namespace siem
