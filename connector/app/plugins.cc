// The built-in plugins. Adding a source or sink: declare its registration function here, call it in
// builtin(), and link its library in connector/app/CMakeLists.txt.
#include "connector/core/registry.h"

namespace siem {

void register_file_source(PluginRegistry&);
void register_eventhub_kafka_source(PluginRegistry&);
void register_graph_sources(PluginRegistry&);  // graph_directory_audits, graph_sign_ins, graph_pim, azure_activity
void register_file_sink(PluginRegistry&);
void register_stdout_sink(PluginRegistry&);
void register_kafka_sink(PluginRegistry&);
void register_syslog_sink(PluginRegistry&);
void register_splunk_hec_sink(PluginRegistry&);

const PluginRegistry& PluginRegistry::builtin() {
  static const PluginRegistry registry = [] {
    PluginRegistry r;
    // ---- sources
    register_file_source(r);
    register_eventhub_kafka_source(r);
    register_graph_sources(r);
    // ---- sinks
    register_file_sink(r);
    register_stdout_sink(r);
    register_kafka_sink(r);
    register_syslog_sink(r);
    register_splunk_hec_sink(r);
    return r;
  }();
  return registry;
}

}  // namespace siem
