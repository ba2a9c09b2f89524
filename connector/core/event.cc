#include "connector/core/event.h"

#include <array>

namespace siem {

namespace {
constexpr std::array<std::pair<SourceKind, std::string_view>, static_cast<std::size_t>(kLastSourceKind) + 1> kKindNames{{
    {SourceKind::unknown, "unknown"},
    {SourceKind::graph_directory_audit, "graph_directory_audit"},
    {SourceKind::graph_sign_in, "graph_sign_in"},
    {SourceKind::graph_pim_request, "graph_pim_request"},
    {SourceKind::graph_pim_instance, "graph_pim_instance"},
    {SourceKind::azure_activity, "azure_activity"},
    {SourceKind::arm_pim_request, "arm_pim_request"},
    {SourceKind::eventhub_audit, "eventhub_audit"},
    {SourceKind::eventhub_sign_in, "eventhub_sign_in"},
    {SourceKind::eventhub_activity, "eventhub_activity"},
    {SourceKind::graph_risk_detection, "graph_risk_detection"},
    {SourceKind::graph_pim_alert, "graph_pim_alert"},
    {SourceKind::graph_security_alert, "graph_security_alert"},
    {SourceKind::azure_defender_alert, "azure_defender_alert"},
    {SourceKind::privileged_inventory, "privileged_inventory"},
}};
}  // namespace

std::string_view to_string(SourceKind kind) noexcept {
  for (const auto& [k, name] : kKindNames)
    if (k == kind) return name;
  return "unknown";
}

std::optional<SourceKind> source_kind_from_string(std::string_view name) noexcept {
  for (const auto& [k, n] : kKindNames)
    if (n == name) return k;
  // The source `type` names are accepted too, so `--source graph_sign_ins` works.
  if (name == "graph_directory_audits") return SourceKind::graph_directory_audit;
  if (name == "graph_sign_ins") return SourceKind::graph_sign_in;
  if (name == "graph_pim") return SourceKind::graph_pim_request;
  if (name == "graph_risk_detections") return SourceKind::graph_risk_detection;
  if (name == "graph_pim_alerts") return SourceKind::graph_pim_alert;
  if (name == "graph_security_alerts") return SourceKind::graph_security_alert;
  if (name == "azure_defender_alerts") return SourceKind::azure_defender_alert;
  if (name == "generic") return SourceKind::unknown;
  return std::nullopt;
}

const std::vector<SourceKind>& all_source_kinds() {
  static const std::vector<SourceKind> kinds = [] {
    std::vector<SourceKind> v;
    for (const auto& [k, name] : kKindNames)
      if (k != SourceKind::unknown) v.push_back(k);
    return v;
  }();
  return kinds;
}

std::string_view to_string(OutputFormat f) noexcept {
  switch (f) {
    case OutputFormat::ecs: return "ecs";
    case OutputFormat::cef: return "cef";
    case OutputFormat::ocsf: return "ocsf";
    case OutputFormat::raw: return "raw";
  }
  return "raw";
}

std::optional<OutputFormat> output_format_from_string(std::string_view name) noexcept {
  if (name == "ecs") return OutputFormat::ecs;
  if (name == "cef") return OutputFormat::cef;
  if (name == "ocsf") return OutputFormat::ocsf;
  if (name == "raw") return OutputFormat::raw;
  return std::nullopt;
}

}  // namespace siem
