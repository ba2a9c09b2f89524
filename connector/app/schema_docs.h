// What `siem-connector describe` prints, and the generated key tables of docs/configuration.md:
// both come from the key tables the code declares (connector/config/schema.h).
#pragma once

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "connector/config/schema.h"
#include "connector/core/registry.h"

namespace siem::app {

// Every key table reachable from the top level and from the registered plugins, by id.
struct SchemaCatalog {
  std::vector<const config::Section*> sections;  // in discovery order
  const config::Section* find(std::string_view id) const;
};
SchemaCatalog schema_catalog(const PluginRegistry& registry);

// The tables an entry of a plugin type accepts: the common keys of its kind, then the plugin's.
std::vector<const config::Section*> plugin_tables(const PluginRegistry& registry, bool sink, const std::string& type);

// `describe` without a name: the plugins and sections.
std::string describe_overview(const PluginRegistry& registry, const SchemaCatalog& catalog);
// `describe NAME` (a plugin type or a section id): every key, nested keys as dotted paths.
// Empty when NAME is neither.
std::string describe_text(const PluginRegistry& registry, const SchemaCatalog& catalog, const std::string& name);
// `describe --format markdown NAME`: the section's (or plugin's) own keys as a Markdown table.
std::string describe_markdown(const PluginRegistry& registry, const SchemaCatalog& catalog, const std::string& name);

// `text` (a Markdown file) with every region between `<!-- keys: ID -->` and `<!-- /keys -->`
// replaced by the generated table of section ID. A nested section with a region of its own is a
// row linking to it; any other is inlined with dotted key names. `problems` gets unknown ids,
// unterminated regions and sections that no region covers (so every key the code reads is in the
// docs).
std::string splice_key_tables(std::string_view text, const SchemaCatalog& catalog, std::vector<std::string>& problems);

}  // namespace siem::app
