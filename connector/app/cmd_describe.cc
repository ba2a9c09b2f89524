// `siem-connector describe [NAME]`: the configuration keys, from the key tables the code declares.
#include <fstream>
#include <iostream>
#include <sstream>

#include "connector/app/commands.h"
#include "connector/app/schema_docs.h"

namespace siem::app {

int describe_command(const DescribeOptions& options) {
  const PluginRegistry& registry = PluginRegistry::builtin();
  const SchemaCatalog catalog = schema_catalog(registry);
  const bool markdown = options.format == "markdown";
  if (options.splice_file) {
    std::ifstream in(*options.splice_file, std::ios::binary);
    if (!in) {
      std::cerr << "siem-connector: cannot read " << *options.splice_file << "\n";
      return 1;
    }
    std::stringstream text;
    text << in.rdbuf();
    std::vector<std::string> problems;
    const std::string out = splice_key_tables(text.str(), catalog, problems);
    for (const auto& p : problems) std::cerr << *options.splice_file << ": " << p << "\n";
    if (!problems.empty()) return 1;
    std::cout << out;
    return 0;
  }
  if (!options.name) {
    std::cout << describe_overview(registry, catalog);
    return 0;
  }
  const std::string out = markdown ? describe_markdown(registry, catalog, *options.name)
                                   : describe_text(registry, catalog, *options.name);
  if (out.empty()) {
    std::cerr << "siem-connector: '" << *options.name
              << "' is neither a source or sink type nor a section; `siem-connector describe` lists them\n";
    return 1;
  }
  std::cout << out;
  return 0;
}

}  // namespace siem::app
