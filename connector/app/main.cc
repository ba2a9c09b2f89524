// siem-connector: command-line entry point. Commands and options are pinned in
// docs/interfaces.md; see README.md.
#include <CLI/CLI.hpp>
#include <iostream>

#include "connector/app/commands.h"
#include "connector/app/logging.h"

int main(int argc, char** argv) {
  using namespace siem::app;
  CLI::App app{"siem-connector: privileged-access telemetry from Entra ID and Azure to your SIEM", "siem-connector"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show help for every command");

  GlobalOptions global;
  app.add_option("--log-level", global.log_level, "trace, debug, info, warn, error or off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "warning", "error", "off"}));
  app.add_option("--log-format", global.log_format, "text or json (one JSON object per line)")
      ->check(CLI::IsMember({"text", "json"}));

  RunOptions run;
  auto* run_cmd = app.add_subcommand("run", "Run the configured pipeline");
  run_cmd->add_option("-c,--config", run.config_file, "Configuration file")->required();
  run_cmd->add_flag("--once", run.once,
                    "Pull every source until caught up, drain the sinks, save checkpoints and exit "
                    "(non-zero if anything could not be delivered)");

  ValidateOptions validate;
  auto* validate_cmd = app.add_subcommand("validate", "Check a configuration without contacting any service");
  validate_cmd->add_option("-c,--config", validate.config_file, "Configuration file")->required();

  MapOptions map;
  auto* map_cmd = app.add_subcommand("map", "Map records from files or stdin to ECS, CEF or raw, one per line");
  map_cmd->add_option("--format", map.format, "ecs, cef, ocsf or raw")->required()->check(CLI::IsMember({"ecs", "cef", "ocsf", "raw"}));
  map_cmd->add_option("-c,--config", map.config_file, "Configuration (only enrichment and mappings are used)");
  map_cmd->add_option("--source", map.source_kind, "Force the record kind instead of detecting it per record");
  map_cmd->add_option("files", map.files, "Input files (default: standard input; '-' is standard input)");

  TestOptions test;
  auto* test_cmd = app.add_subcommand("test", "Run mapping test cases and print 'N passed, N failed'");
  test_cmd->add_option("dir", test.dir, "Directory of test cases (default: mappings/tests)");
  test_cmd->add_option("-c,--config", test.config_file, "Configuration whose enrichment/mappings apply to every case");
  test_cmd->add_flag("-v,--verbose", test.verbose, "Print every case");
  test_cmd->add_option("--ocsf-out", test.ocsf_out, "Write every case's OCSF event to this file (one per line)");

  InventoryOptions inventory;
  auto* inventory_cmd = app.add_subcommand(
      "inventory", "Read the privileged-identity inventory from Graph now and print one record per privileged principal");
  inventory_cmd->add_option("-c,--config", inventory.config_file, "Configuration (a graph_pim source's connection)")->required();
  inventory_cmd->add_option("--format", inventory.format, "ecs, cef, raw (the inventory records) or json (one document; default)")
      ->check(CLI::IsMember({"ecs", "cef", "raw", "json"}));
  inventory_cmd->add_option("-o,--output", inventory.output, "Write to this file (created 0600; default: standard output)");
  inventory_cmd->add_option("--source", inventory.source, "The graph_pim source to read with (default: the first)");

  ProbeOptions probe;
  auto* probe_cmd = app.add_subcommand("probe", "GET a path of the observability endpoint; exit 0 on HTTP 200 (health checks)");
  probe_cmd->add_option("--address", probe.address, "HOST:PORT of observability.listen (default 127.0.0.1:9464)");
  probe_cmd->add_option("--path", probe.path, "/healthz (default), /readyz or /metrics")
      ->check(CLI::IsMember({"/healthz", "/readyz", "/metrics"}));

  DescribeOptions describe;
  auto* describe_cmd = app.add_subcommand("describe", "List the configuration keys of a source or sink type or a section");
  describe_cmd->add_option("name", describe.name, "Source or sink type, or section (default: list them)");
  describe_cmd->add_option("--format", describe.format, "text (default) or markdown")->check(CLI::IsMember({"text", "markdown"}));
  describe_cmd->add_option("--splice", describe.splice_file,
                           "Print this Markdown file with its key tables (<!-- keys: ID --> regions) regenerated");

  app.add_subcommand("version", "Print version, git revision and library versions");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help prints and exits 0; a command line that cannot be parsed is a start-up error (exit
    // 1, README "Exit status"), not one of the parser's own codes.
    return app.exit(e) == 0 ? 0 : 1;
  }
  std::string error;
  if (!setup_logging(global.log_level, global.log_format, &error)) {
    std::cerr << "siem-connector: " << error << "\n";
    return 1;
  }
  global.log_level_from_cli = app.count("--log-level") > 0;
  global.log_format_from_cli = app.count("--log-format") > 0;

  if (*run_cmd) return run_command(run, global);
  if (*validate_cmd) return validate_command(validate, global);
  if (*probe_cmd) return probe_command(probe);
  if (*describe_cmd) return describe_command(describe);
  if (*map_cmd) return map_command(map, global);
  if (*test_cmd) return test_command(test, global);
  if (*inventory_cmd) return inventory_command(inventory, global);
  return version_command();
}
