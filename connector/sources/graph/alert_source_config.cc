// Configuration of the graph_risk_detections and graph_pim_alerts sources' streams (alert_streams.h).
#include "connector/config/config_node.h"
#include "connector/sources/graph/alert_streams.h"

namespace siem::sources {

std::vector<StreamSpec> alert_source_streams(bool pim_alerts, const ConfigNode& cfg, const std::string& cloud,
                                             const std::string& graph_root) {
  const char* type = pim_alerts ? "graph_pim_alerts" : "graph_risk_detections";
  if (cloud == "china")
    cfg.error_at("cloud", std::string(type) + " is not served in cloud 'china' (the Identity Protection and PIM alert APIs "
                                              "are served in the global and US Government clouds)");
  std::vector<StreamSpec> out;
  if (pim_alerts) {
    out.emplace_back("roleManagementAlerts", StreamType::pim_alerts, graph_root);
    return out;
  }
  out.emplace_back("riskDetections", StreamType::risk_detections, graph_root);
  if (cfg.boolean("service_principals", true))
    out.emplace_back("servicePrincipalRiskDetections", StreamType::sp_risk_detections, graph_root);
  return out;
}

}  // namespace siem::sources
