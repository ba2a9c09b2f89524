// Internal to the graph sources: their types and settings, read from a source's ConfigNode by
// read_settings() (graph_source_config.cc, next to the key tables it reads) and run by the
// PullSource (graph_source.cc).
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <vector>

#include "connector/auth/auth_config.h"
#include "connector/config/config_node.h"
#include "connector/config/schema.h"
#include "connector/sources/graph/pull_engine.h"

namespace siem::graph_sources {

enum class SourceType { directory_audits, sign_ins, pim, activity, risk_detections, pim_alerts, security_alerts, defender_alerts };

struct Settings {
  SourceType type = SourceType::directory_audits;
  auth::SourceConnection connection;
  sources::WindowOptions window;
  std::optional<sources::Micros> start_at;
  std::chrono::milliseconds poll_interval{60'000};
  std::chrono::milliseconds roster_interval{3'600'000};
  bool roster_events = false;  // also deliver each roster snapshot to the sinks
  std::vector<sources::StreamSpec> streams;
  std::size_t dedupe_max = 200'000;
  int reports_per_10s = 5;
  sources::PagingLimits limits;                       // max_pages_per_window, max_record_bytes
  std::size_t warn_pages = 1000;                      // window_warn_pages
  std::chrono::milliseconds warn_after{30 * 60'000};  // window_warn_after
};

// The plugin type name ("graph_pim", "azure_activity", ...).
const char* type_name(SourceType t);

// The key table of a type (its own keys, the pull keys and the connection's).
const config::Section& type_keys(SourceType type);

// Reads and checks a source entry's keys; problems go to the node's diagnostics with file:line.
Settings read_settings(SourceType type, const ConfigNode& cfg);

}  // namespace siem::graph_sources
