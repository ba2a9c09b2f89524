#include "connector/app/schema_docs.h"

#include <algorithm>

#include <fmt/format.h>

#include "connector/app/pipeline_builder.h"
#include "connector/core/sink_runner.h"

namespace siem::app {

using config::Key;
using config::Section;
using config::Type;

namespace {

void collect(const Section* s, std::vector<const Section*>& out) {
  if (s == nullptr || std::find(out.begin(), out.end(), s) != out.end()) return;
  out.push_back(s);
  for (const auto* inc : s->includes()) collect(inc, out);
  for (const auto& k : s->own_keys()) collect(k.section, out);
}

struct Row {
  std::string name;
  const Key* key;
};

// The keys of `tables`, nested sections inlined as dotted names unless `linked` has them.
void flatten(const std::vector<const Key*>& keys, const std::string& prefix, const std::set<std::string_view>& linked,
             std::vector<Row>& rows, std::set<const Section*>* covered) {
  for (const Key* k : keys) {
    rows.push_back({prefix + std::string(k->name), k});
    if (k->section == nullptr || linked.count(k->section->id()) != 0) continue;
    if (covered != nullptr) covered->insert(k->section);
    const std::string sub = prefix + std::string(k->name) + (k->type == Type::sections ? "[]." : ".");
    flatten(k->section->all_keys(), sub, linked, rows, covered);
  }
}

std::string type_text(const Key& k, std::string_view separator) {
  if (k.type != Type::choice) return std::string(config::to_string(k.type));
  std::string out;
  for (auto a : k.allowed) {
    if (!out.empty()) out += separator;
    out += a;
  }
  return out;
}

std::string md_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += '\\';
    out += c;
  }
  return out;
}

std::string md_default(std::string_view d) {
  if (d.empty() || d == "required" || d.find(' ') != std::string_view::npos || d.find('`') != std::string_view::npos)
    return md_escape(d);
  return fmt::format("`{}`", md_escape(d));
}

std::string markdown_table(const std::vector<Row>& rows, const std::set<std::string_view>& linked) {
  std::string out = "| key | type | default | |\n|---|---|---|---|\n";
  for (const auto& r : rows) {
    std::string type = r.key->type == Type::choice ? fmt::format("`{}`", type_text(*r.key, " ")) : type_text(*r.key, "");
    std::string doc = md_escape(r.key->doc);
    if (r.key->section != nullptr && linked.count(r.key->section->id()) != 0)
      doc += fmt::format("{}keys: the `{}` table", doc.empty() ? "" : "; ", r.key->section->id());
    out += fmt::format("| `{}` | {} | {} | {} |\n", r.name, type, md_default(r.key->default_value), doc);
  }
  return out;
}

// The tables and the title of a name `describe` accepts (plugin types first; a type may be both a
// source and a sink, e.g. `file`).
struct Described {
  std::string title;
  std::vector<const Section*> tables;
};

std::vector<Described> resolve(const PluginRegistry& registry, const SchemaCatalog& catalog, const std::string& name) {
  std::vector<Described> out;
  if (registry.source(name) != nullptr)
    out.push_back({fmt::format("source type {}: {}", name, registry.source_description(name)),
                   plugin_tables(registry, false, name)});
  if (registry.sink(name) != nullptr)
    out.push_back({fmt::format("sink type {}: {}", name, registry.sink_description(name)),
                   plugin_tables(registry, true, name)});
  if (out.empty())
    if (const Section* s = catalog.find(name)) out.push_back({fmt::format("section {} ({})", s->id(), s->where()), {s}});
  return out;
}

}  // namespace

const Section* SchemaCatalog::find(std::string_view id) const {
  for (const auto* s : sections)
    if (s->id() == id) return s;
  return nullptr;
}

std::vector<const Section*> plugin_tables(const PluginRegistry& registry, bool sink, const std::string& type) {
  std::vector<const Section*> out;
  if (sink) {
    out = {&sink_common_keys(), &SinkRunnerOptions::keys()};
    if (const auto* k = registry.sink_keys(type)) out.push_back(k);
  } else {
    out = {&source_common_keys()};
    if (const auto* k = registry.source_keys(type)) out.push_back(k);
  }
  return out;
}

SchemaCatalog schema_catalog(const PluginRegistry& registry) {
  SchemaCatalog c;
  collect(&top_level_keys(), c.sections);
  collect(&SinkRunnerOptions::keys(), c.sections);
  for (const auto& t : registry.source_types()) collect(registry.source_keys(t), c.sections);
  for (const auto& t : registry.sink_types()) collect(registry.sink_keys(t), c.sections);
  return c;
}

std::string describe_overview(const PluginRegistry& registry, const SchemaCatalog& catalog) {
  std::string out = "Source types (sources[] type:):\n";
  for (const auto& t : registry.source_types()) out += fmt::format("  {:<24} {}\n", t, registry.source_description(t));
  out += "Sink types (sinks[] type:):\n";
  for (const auto& t : registry.sink_types()) out += fmt::format("  {:<24} {}\n", t, registry.sink_description(t));
  out += "Sections:\n";
  for (const auto* s : catalog.sections)
    if (registry.source(std::string(s->id())) == nullptr && registry.sink(std::string(s->id())) == nullptr)
      out += fmt::format("  {:<24} {}\n", s->id(), s->where());
  out += "Run `siem-connector describe NAME` for the keys of a type or section.\n";
  return out;
}

std::string describe_text(const PluginRegistry& registry, const SchemaCatalog& catalog, const std::string& name) {
  std::string out;
  for (const auto& d : resolve(registry, catalog, name)) {
    std::vector<Row> rows;
    for (const auto* t : d.tables) flatten(t->all_keys(), "", {}, rows, nullptr);
    std::size_t wn = 3, wt = 4, wd = 7;
    for (const auto& r : rows) {
      wn = std::max(wn, r.name.size());
      wt = std::max(wt, type_text(*r.key, "|").size());
      wd = std::max(wd, r.key->default_value.size());
    }
    if (!out.empty()) out += "\n";
    out += d.title + "\n";
    out += fmt::format("{:<{}}  {:<{}}  {:<{}}  {:<6}  {}\n", "KEY", wn, "TYPE", wt, "DEFAULT", wd, "SECRET", "DESCRIPTION");
    for (const auto& r : rows)
      out += fmt::format("{:<{}}  {:<{}}  {:<{}}  {:<6}  {}\n", r.name, wn, type_text(*r.key, "|"), wt,
                         r.key->default_value, wd, r.key->secret() ? "yes" : "no", r.key->doc);
  }
  return out;
}

std::string describe_markdown(const PluginRegistry& registry, const SchemaCatalog& catalog, const std::string& name) {
  std::string out;
  for (const auto& d : resolve(registry, catalog, name)) {
    std::vector<Row> rows;
    std::vector<const Key*> own;
    for (const auto& k : d.tables.back()->own_keys()) own.push_back(&k);
    flatten(own, "", {}, rows, nullptr);
    std::string also;
    std::vector<const Section*> others(d.tables.begin(), d.tables.end() - 1);
    for (const auto* inc : d.tables.back()->includes()) others.push_back(inc);
    for (const auto* o : others) also += fmt::format("{}`{}`", also.empty() ? "" : ", ", o->id());
    if (!out.empty()) out += "\n";
    out += fmt::format("### {}\n\n", d.title);
    if (!also.empty()) out += fmt::format("Also accepts the keys of: {}.\n\n", also);
    out += rows.empty() ? "No keys of its own.\n" : markdown_table(rows, {});
  }
  return out;
}

std::string splice_key_tables(std::string_view text, const SchemaCatalog& catalog, std::vector<std::string>& problems) {
  static constexpr std::string_view kOpen = "<!-- keys: ", kOpenEnd = " -->", kClose = "<!-- /keys -->";
  // Pass 1: the ids that have a region (a nested section with one is linked, not inlined).
  std::set<std::string_view> linked;
  for (auto at = text.find(kOpen); at != std::string_view::npos; at = text.find(kOpen, at + 1)) {
    const auto end = text.find(kOpenEnd, at + kOpen.size());
    if (end == std::string_view::npos) break;
    const auto id = text.substr(at + kOpen.size(), end - at - kOpen.size());
    if (const Section* s = catalog.find(id)) linked.insert(s->id());
  }
  std::string out;
  std::set<const Section*> covered;
  std::size_t pos = 0;
  while (true) {
    const auto at = text.find(kOpen, pos);
    if (at == std::string_view::npos) break;
    const auto end = text.find(kOpenEnd, at + kOpen.size());
    const auto close = end == std::string_view::npos ? end : text.find(kClose, end);
    if (close == std::string_view::npos) {
      problems.push_back(fmt::format("unterminated `{}` region (it needs a `{}` line)", kOpen, kClose));
      break;
    }
    const std::string id(text.substr(at + kOpen.size(), end - at - kOpen.size()));
    out.append(text.substr(pos, end + kOpenEnd.size() - pos));
    out += "\n";
    if (const Section* s = catalog.find(id)) {
      covered.insert(s);
      std::vector<Row> rows;
      std::vector<const Key*> own;
      for (const auto& k : s->own_keys()) own.push_back(&k);
      flatten(own, "", linked, rows, &covered);
      out += rows.empty() ? "No keys of its own.\n" : markdown_table(rows, linked);
    } else {
      problems.push_back(fmt::format("no key table has the id '{}'", id));
    }
    pos = close;
  }
  out.append(text.substr(pos));
  for (const auto* s : catalog.sections)
    if (covered.count(s) == 0 && !s->own_keys().empty())
      problems.push_back(fmt::format("the keys of section '{}' ({}, declared at {}) are in no table of the docs: add a "
                                     "`<!-- keys: {} -->` ... `<!-- /keys -->` region for it",
                                     s->id(), s->where(), s->declared_at(), s->id()));
  return out;
}

}  // namespace siem::app
