#include "connector/app/pipeline_builder.h"

#include <unistd.h>

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "connector/app/route_config.h"
#include "connector/app/inventory_source.h"
#include "connector/buffer/buffer_dir.h"
#include "connector/enrichment/mapping_processor.h"
#include "connector/enrichment/enricher.h"
#include "connector/enrichment/mapping_stage.h"
#include "connector/observability/http_listener.h"
#include "connector/processors/dedupe_processor.h"

namespace siem::app {

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "localhost";
  return buf;
}

using config::Type;

const config::Section& source_common_keys() {
  static const config::Section s{"source", "sources[] (every type)", {}, {
      {"name", Type::string, "required", "*pinned.* unique; appears in logs, checkpoints (`checkpoint.<name>`) and the run summary"},
      {"type", Type::string, "required", "*pinned.* the source type (`siem-connector describe` lists them)"},
  }};
  return s;
}

const config::Section& sink_common_keys() {
  static const config::Section s{"sink", "sinks[] (every type)", {}, {
      {"name", Type::string, "required", "*pinned.* unique; appears in logs, metrics and the run summary"},
      {"type", Type::string, "required", "*pinned.* the sink type (`siem-connector describe` lists them)"},
  }};
  return s;
}

namespace {

const config::Section& dead_letter_keys() {
  static const config::Section s{"dead_letter", "dead_letter", {}, {
      {"path", Type::path, "<state_dir>/dead-letter.ndjson", "*pinned.* records that could not be parsed, mapped or delivered, one JSON object per line with the reason. Created mode 0600, never opened through a symbolic link"},
  }};
  return s;
}

const config::Section& log_keys() {
  static const config::Section s{"log", "log", {}, {
      {"level", Type::choice, "info", "overridden by `--log-level`", {"trace", "debug", "info", "warn", "warning", "error", "off"}},
      {"format", Type::choice, "text", "`json` writes one JSON object per line; overridden by `--log-format`", {"text", "json"}},
  }};
  return s;
}

const config::Section& observability_keys() {
  static const config::Section s{"observability", "observability", {}, {
      {"listen", Type::string, "off", "`HOST:PORT` serving `/metrics`, `/healthz` and `/readyz` over plain HTTP ([deploy.md](deploy.md#metrics-health-and-readiness)). HOST is an IP address (`127.0.0.1`, `0.0.0.0`, `::`, `[::1]`); port `0` picks a free one (logged). Off when unset or empty; the examples read it from `SIEM_OBSERVABILITY_LISTEN`, which the container image sets to `0.0.0.0:9464`. No authentication: bind it to loopback or a pod network only"},
      {"reload", Type::choice, "loopback", "who may `POST /-/reload`: clients on a loopback address, nobody, or anyone reaching the port (requests with browser headers are always refused)", {"off", "loopback", "any"}},
  }};
  return s;
}

}  // namespace

const config::Section& top_level_keys() {
  static const config::Section s{"top_level", "the top level of the file", {}, {
      {"state_dir", Type::path, "/var/lib/siem-connector", "*pinned.* holds checkpoints, the privileged-principal roster and dedupe windows. It is locked: a second process using the same directory fails to start with a clear error. Created mode 0700; a state_dir owned by another user, or with any permission for group or others, is refused (`chmod 700` it)"},
      {"dead_letter", Type::section, "", "*pinned.* the dead-letter file", {}, &dead_letter_keys()},
      {"sources", Type::sections, "required", "*pinned.* at least one", {}, &source_common_keys()},
      {"sinks", Type::sections, "required", "*pinned.* at least one", {}, &sink_common_keys()},
      {"pipeline", Type::section, "", "queues, draining and checkpoints", {}, &PipelineOptions::keys()},
      {"enrichment", Type::section, "", "*pinned.* detections' settings", {}, &enrichment_keys()},
      {"mappings", Type::section, "", "mapping files", {}, &Mapper::config_keys()},
      {"log", Type::section, "", "logging (the command line wins)", {}, &log_keys()},
      {"observability", Type::section, "", "the metrics and health endpoint", {}, &observability_keys()},
  }};
  return s;
}

std::filesystem::path read_state_dir(ConfigDocument& doc) {
  doc.set_schema(top_level_keys());
  auto root = doc.root();
  auto p = root.file_path("state_dir");
  return p ? *p : std::filesystem::path("/var/lib/siem-connector");
}

namespace {

std::string plugin_name(const ConfigNode& cfg, const std::string& kind, std::size_t index, std::set<std::string>& seen) {
  std::string name = cfg.required_string("name");
  if (name.empty()) name = fmt::format("{}{}", kind, index);
  // The name is a metrics label, a line of /readyz and the summary, and a part of log lines: a
  // control character (a newline above all) would forge lines there.
  for (const char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      cfg.error_at("name", fmt::format("{} name contains a control character (0x{:02x})", kind, u));
      break;
    }
  }
  if (!seen.insert(name).second) cfg.error_at("name", fmt::format("duplicate {} name '{}'", kind, name));
  return name;
}

// The entry with its plugin's key table; a plugin registered without one is a schema violation.
ConfigNode with_plugin_keys(ConfigDocument& doc, const ConfigNode& cfg, const config::Section* keys,
                            std::string_view kind, const std::string& type) {
  if (keys != nullptr) return cfg.with_section(*keys);
  doc.record_violation(fmt::format("{} type '{}' registers no key table: pass its config::Section to add_{}()", kind,
                                   type, kind));
  doc.mark_free_form(cfg.yaml());
  return cfg;
}

std::string types_list(const std::vector<std::string>& types) {
  std::string out;
  for (const auto& t : types) out += (out.empty() ? "" : ", ") + t;
  return out;
}

// An entry whose `type` no plugin registered: one error at `type` naming the known types (and
// the closest one), and the entry's other keys left unchecked (they belong to a type we do not know).
void report_unknown_type(ConfigDocument& doc, const ConfigNode& cfg, const std::string& kind, const std::string& type,
                         const std::vector<std::string>& known) {
  std::string msg = fmt::format("unknown {} type '{}'", kind, type);
  if (auto s = did_you_mean(type, known)) msg += fmt::format(" (did you mean '{}'?)", *s);
  msg += fmt::format("; known types: {}", types_list(known));
  cfg.error_at("type", msg);
  doc.mark_free_form(cfg.yaml());
}

}  // namespace

PipelineParts build_pipeline(ConfigDocument& doc, const PluginRegistry& registry, bool validate_only, StateStore* state) {
  PipelineParts parts;
  doc.set_schema(top_level_keys());
  auto root = doc.root();
  parts.state_dir = read_state_dir(doc);
  if (auto dl = root.child("dead_letter"); dl.valid()) {
    if (auto p = dl.file_path("path")) parts.dead_letter_path = *p;
  }
  if (parts.dead_letter_path.empty()) parts.dead_letter_path = parts.state_dir / "dead-letter.ndjson";
  if (auto log = root.child("log"); log.valid()) {
    parts.log_level = log.choice("level", {"trace", "debug", "info", "warn", "warning", "error", "off"}, "");
    parts.log_format = log.choice("format", {"text", "json"}, "");
  }
  parts.options = PipelineOptions::from_config(root.child("pipeline"));
  if (auto obs = root.child("observability"); obs.valid()) {
    parts.observability_listen = obs.string("listen", "");
    parts.observability_reload = obs.choice("reload", {"off", "loopback", "any"}, "loopback");
    if (!parts.observability_listen.empty()) {
      try {
        observability::HttpListener::parse_listen(parts.observability_listen);
      } catch (const std::exception& e) {
        obs.error_at("listen", e.what());
      }
    }
  }

  const std::string host = host_name();
  std::set<std::string> names;
  std::vector<std::pair<ConfigNode, InventorySettings>> inventories;  // graph_pim sources with `inventory:`
  const auto sources = root.list("sources");
  if (sources.empty() && root.valid()) root.error("at least one source is required under 'sources'");
  for (std::size_t i = 0; i < sources.size(); ++i) {
    auto cfg = sources[i];
    PluginContext ctx{plugin_name(cfg, "source", i, names), validate_only, state, host};
    ctx.queue_bytes = parts.options.queue_bytes;
    const std::string type = cfg.required_string("type");
    if (type.empty()) continue;
    const auto* factory = registry.source(type);
    if (!factory) {
      report_unknown_type(doc, cfg, "source", type, registry.source_types());
      continue;
    }
    cfg = with_plugin_keys(doc, cfg, registry.source_keys(type), "source", type);
    try {
      auto src = (*factory)(cfg, ctx);
      if (src) parts.sources.push_back(SourceSlot{ctx.name, std::move(src)});
      if (type == "graph_pim")
        if (auto inv = read_inventory_section(cfg, ctx.name)) inventories.emplace_back(cfg, std::move(*inv));
    } catch (const std::exception& e) {
      cfg.error(e.what());
      doc.mark_free_form(cfg.yaml());  // the factory stopped reading: unread keys are not typos
    }
  }

  // Routing: what the sources deliver and the tags the mapping stage produces, for the checks.
  const RouteContext routes = route_context(names, parts.sources);
  auto& diags = doc.diagnostics();
  const auto errors_before_drop = diags.items().size();
  parts.options.drop = read_drop_rule(root.child("pipeline"), routes);
  const bool drop_ok = diags.items().size() == errors_before_drop;

  names.clear();
  std::set<std::string> disk_buffered;
  const auto sinks = root.list("sinks");
  if (sinks.empty() && root.valid()) root.error("at least one sink is required under 'sinks'");
  for (std::size_t i = 0; i < sinks.size(); ++i) {
    auto cfg = sinks[i];
    PluginContext ctx{plugin_name(cfg, "sink", i, names), validate_only, state, host};
    const std::string type = cfg.required_string("type");
    if (type.empty()) continue;
    const auto* factory = registry.sink(type);
    if (!factory) {
      report_unknown_type(doc, cfg, "sink", type, registry.sink_types());
      continue;
    }
    cfg = with_plugin_keys(doc, cfg.with_section(SinkRunnerOptions::keys()), registry.sink_keys(type), "sink", type);
    const auto items_before_route = diags.items().size();
    Route route = read_route(cfg, routes);
    if (drop_ok && diags.items().size() == items_before_route) check_reachable(cfg, route, parts.options.drop, routes);
    ctx.format = read_sink_format(cfg, registry.sink_default_format(type));
    try {
      auto inst = (*factory)(cfg, ctx);
      auto options = SinkRunnerOptions::from_config(cfg);
      std::unique_ptr<DiskBuffer> buffer;
      if (options.disk) {
        if (!buffer_files::valid_name(ctx.name))
          cfg.error_at("name", "a sink with `buffer.type: disk` names its buffer directory: use letters, digits, "
                               "'.', '_' and '-' only");
        else if (!validate_only) buffer = DiskBuffer::open_for_sink(parts.state_dir, ctx.name, options.disk_options);
        disk_buffered.insert(ctx.name);
      }
      if (inst.sink)
        parts.sinks.push_back(SinkSlot{ctx.name, std::move(inst.sink), ctx.format, options, std::move(buffer),
                                       std::move(route)});
    } catch (const std::exception& e) {
      cfg.error(e.what());
      doc.mark_free_form(cfg.yaml());
    }
  }

  if (!validate_only) buffer_files::report_stale(parts.state_dir, disk_buffered);

  // Each graph_pim source's inventory runs as a source of its own (connector/app/inventory_source.h).
  if (!doc.diagnostics().has_errors())
    for (auto& [cfg, inv] : inventories) {
      const std::string name = inv.source_name + ".inventory";
      if (std::any_of(parts.sources.begin(), parts.sources.end(), [&](const SourceSlot& x) { return x.name == name; })) {
        cfg.error_at("inventory", fmt::format("the inventory runs as source '{}', a name another source has", name));
        continue;
      }
      complete_inventory_settings(inv, cfg, root.child("enrichment"));
      parts.sources.push_back(SourceSlot{name, make_inventory_source(std::move(inv), state)});
    }
  {
    auto mapping = make_mapping_processor(root, state);
    parts.mapping = mapping.get();
    parts.processors.push_back(std::move(mapping));
  }
  // After the mapper: the cross-path dedupe (pipeline.dedupe), when enabled.
  std::vector<std::string> source_names;
  for (const auto& s : parts.sources) source_names.push_back(s.name);
  try {
    if (auto dedupe = make_dedupe_processor(root.child("pipeline"), state, source_names))
      parts.processors.push_back(std::move(dedupe));
  } catch (const std::exception& e) {
    root.child("pipeline").error_at("dedupe", e.what());
  }
  doc.report_unknown_keys();
  return parts;
}

}  // namespace siem::app
