#include <iostream>

#include <fmt/format.h>

#include "connector/app/commands.h"
#include "connector/app/pipeline_builder.h"

namespace siem::app {

int validate_command(const ValidateOptions& options, const GlobalOptions&) {
  Diagnostics diags;
  auto doc = ConfigDocument::load_file(options.config_file, diags);
  PipelineParts parts;
  if (!diags.has_errors()) parts = build_pipeline(*doc, PluginRegistry::builtin(), /*validate_only=*/true, nullptr);
  std::cerr << diags.format();
  if (diags.has_errors()) {
    std::size_t errors = 0;
    for (const auto& d : diags.items()) errors += d.severity == Diagnostic::Severity::error ? 1 : 0;
    std::cerr << fmt::format("{}: {} error(s)\n", options.config_file, errors);
    return 1;
  }
  std::cout << fmt::format("{}: configuration OK\n", options.config_file);
  std::cout << fmt::format("  state_dir:   {}\n  dead_letter: {}\n", parts.state_dir.string(),
                           parts.dead_letter_path.string());
  std::cout << "  sources:";
  for (const auto& s : parts.sources) std::cout << " " << s.name;
  std::cout << "\n  sinks:  ";
  for (const auto& s : parts.sinks) std::cout << " " << s.name << " (" << to_string(s.format) << ")";
  std::cout << "\n";
  return 0;
}

}  // namespace siem::app
