// The `siem-connector` subcommands. main.cc parses the command line (CLI11) and calls these; each
// returns the process exit status.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace siem::app {

struct GlobalOptions {
  std::string log_level = "info";     // trace|debug|info|warn|error|off
  std::string log_format = "text";    // text|json
  bool log_level_from_cli = false;    // the CLI wins over the config's `log:` section
  bool log_format_from_cli = false;
};

struct RunOptions {
  std::string config_file;
  bool once = false;
};

struct ProbeOptions {
  std::string address = "127.0.0.1:9464";  // observability.listen as seen from this host
  std::string path = "/healthz";
};

struct DescribeOptions {
  std::optional<std::string> name;         // a source/sink type or a section; none: list them
  std::string format = "text";             // text|markdown
  std::optional<std::string> splice_file;  // regenerate the key tables of this Markdown file
};

struct ValidateOptions {
  std::string config_file;
};

struct MapOptions {
  std::string format;                         // ecs|cef|ocsf|raw
  std::optional<std::string> config_file;     // only `enrichment` and `mappings` are used
  std::optional<std::string> source_kind;     // forces the kind (SourceKind spelling)
  std::vector<std::string> files;             // empty or "-" = stdin
};

struct TestOptions {
  std::string dir = "mappings/tests";
  std::optional<std::string> config_file;
  bool verbose = false;
  std::optional<std::string> ocsf_out;  // --ocsf-out: every case's OCSF event, one per line
};

struct InventoryOptions {
  std::string config_file;
  std::string format = "json";            // ecs|cef|raw|json
  std::optional<std::string> output;      // -o FILE (default: standard output)
  std::optional<std::string> source;      // which graph_pim source (default: the first)
};

int run_command(const RunOptions& options, const GlobalOptions& global);            // cmd_run.cc
int probe_command(const ProbeOptions& options);                                   // cmd_probe.cc
int validate_command(const ValidateOptions& options, const GlobalOptions& global);  // cmd_validate.cc
int map_command(const MapOptions& options, const GlobalOptions& global);            // cmd_map.cc
int test_command(const TestOptions& options, const GlobalOptions& global);          // cmd_test.cc
int inventory_command(const InventoryOptions& options, const GlobalOptions& global);  // cmd_inventory.cc
int version_command();                                                              // cmd_version.cc
int describe_command(const DescribeOptions& options);                               // cmd_describe.cc

}  // namespace siem::app
