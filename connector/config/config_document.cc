// ConfigDocument: loading a YAML config, duplicate keys, unknown-key reports.
#include "connector/config/config_internal.h"
#include "connector/config/bounded_read.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include <sys/stat.h>

#include <fmt/format.h>

namespace siem {

std::string join_path(const std::string& base, std::string_view key) {
  if (base.empty()) return std::string(key);
  return base + "." + std::string(key);
}

Location mark_location(const std::string& file, const YAML::Mark& mark) {
  Location loc;
  loc.file = file;
  if (mark.line >= 0) {
    loc.line = mark.line + 1;
    loc.column = mark.column + 1;
  }
  return loc;
}

std::string node_type_name(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: return "a mapping";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Scalar: return "a scalar";
    case YAML::NodeType::Null: return "null";
    default: return "undefined";
  }
}

// YAML allows a key twice in a mapping and yaml-cpp silently keeps one of them; in a config that is
// always a mistake (two `sources:` sections, a pasted block), so it is reported. `budget` bounds the
// nodes visited: aliases make a document a graph (`s: &s [*s, *s]` doubles at every level), and a
// real config has a few hundred nodes.
void report_duplicate_keys(const YAML::Node& node, const std::string& file, const std::string& path,
                           Diagnostics& diags, std::size_t& budget, int depth = 0) {
  if (depth > 64 || budget == 0) return;  // pathological nesting or aliasing; yaml-cpp has parsed it
  --budget;
  if (node.IsMap()) {
    std::map<std::string, YAML::Mark, std::less<>> seen;
    for (auto it = node.begin(); it != node.end(); ++it) {
      if (!it->first.IsScalar()) continue;
      const std::string& key = it->first.Scalar();
      auto [pos, inserted] = seen.emplace(key, it->first.Mark());
      if (!inserted)
        diags.error(mark_location(file, it->first.Mark()), path,
                    fmt::format("duplicate key '{}' (first defined at line {})", key, pos->second.line + 1));
      report_duplicate_keys(it->second, file, join_path(path, key), diags, budget, depth + 1);
    }
  } else if (node.IsSequence()) {
    for (std::size_t i = 0; i < node.size(); ++i)
      report_duplicate_keys(node[i], file, fmt::format("{}[{}]", path, i), diags, budget, depth + 1);
  }
}

// `${VAR}` unquoted inside a flow mapping (`auth: {client_secret: ${GRAPH_SECRET}}`, the form
// interfaces.md shows) is not YAML: braces end a flow scalar. When a text does not parse, each
// `${NAME}` / `${NAME:-default}` is read as `$(NAME…)` (same length, so every position holds) and
// turned back after parsing; a text that already holds `$(` is left alone, so whatever comes back
// as `$(` was written as `${`. nullopt when there is nothing to rewrite.
std::optional<std::string> braces_to_parens(std::string_view text) {
  if (text.find("${") == std::string_view::npos || text.find("$(") != std::string_view::npos) return std::nullopt;
  std::string out(text);
  bool changed = false;
  for (std::size_t at = out.find("${"); at != std::string::npos; at = out.find("${", at + 2)) {
    const std::size_t close = out.find_first_of("}{()\n", at + 2);
    if (close == std::string::npos || out[close] != '}') continue;
    out[at + 1] = '(';
    out[close] = ')';
    changed = true;
  }
  if (!changed) return std::nullopt;
  return out;
}

void parens_to_braces(std::string& s) {
  for (std::size_t at = s.find("$("); at != std::string::npos; at = s.find("$(", at + 2)) {
    const std::size_t close = s.find(')', at + 2);
    if (close == std::string::npos) return;
    s[at + 1] = '{';
    s[close] = '}';
  }
}

// Turns the scalars read from braces_to_parens() text back (keys included); marks are kept. False
// when the rewrite does not read as written: a `$(` left in a scalar (`[${HOSTS:-a,b}]` splits into
// `$(HOSTS:-a` and `b)`) or a document past the node budget / depth, whose rest stays unrestored.
bool restore_braces(YAML::Node node, std::size_t& budget, int depth = 0) {
  if (depth > 64 || budget == 0) return false;
  --budget;
  if (node.IsScalar()) {
    if (node.Scalar().find("$(") == std::string::npos) return true;
    std::string s = node.Scalar();
    parens_to_braces(s);
    if (s.find("$(") != std::string::npos) return false;
    node = s;  // Node::Assign(std::string) sets the scalar only: the mark stays
  } else if (node.IsMap()) {
    for (auto it = node.begin(); it != node.end(); ++it)
      if (!restore_braces(it->first, budget, depth + 1) || !restore_braces(it->second, budget, depth + 1)) return false;
  } else if (node.IsSequence()) {
    for (auto it = node.begin(); it != node.end(); ++it)
      if (!restore_braces(*it, budget, depth + 1)) return false;
  }
  return true;
}

YAML::Node load_yaml(std::string_view text) {
  try {
    return YAML::Load(std::string(text));
  } catch (const YAML::Exception& first) {
    const auto rewritten = braces_to_parens(text);
    if (!rewritten) throw;
    YAML::Node root;
    try {
      root = YAML::Load(*rewritten);
    } catch (const YAML::Exception&) {
      throw first;  // not (only) the braces: the error of the text as written is the one reported
    }
    std::size_t budget = 100'000;
    if (!restore_braces(root, budget)) throw first;  // the rewrite misread the text: YAML's own error
    return root;
  }
}

// ---------------------------------------------------------------- ConfigDocument

struct ConfigDocument::Impl {
  // Mappings visited through a ConfigNode, keyed by yaml-cpp node identity, with the keys read.
  struct Visited {
    YAML::Node node;
    std::string path;
    std::set<std::string, std::less<>> known;
    bool free_form = false;
    std::array<const config::Section*, 4> sections{};  // the tables declaring its keys
  };
  std::vector<Visited> visited;  // configs are small: a linear scan is fine

  Visited& entry(const YAML::Node& map, const std::string& path) {
    // yaml-cpp nodes share memory through node_ref; is() compares identity.
    for (auto& v : visited)
      if (v.node.is(map)) return v;
    visited.push_back({map, path, {}, false, {}});
    return visited.back();
  }
};

ConfigDocument::ConfigDocument(std::string file, std::filesystem::path base_dir, Diagnostics& diags)
    : file_(std::move(file)), base_dir_(std::move(base_dir)), diags_(&diags), impl_(std::make_shared<Impl>()) {}

std::shared_ptr<ConfigDocument> ConfigDocument::load_string(std::string_view text, std::string display_name,
                                                            Diagnostics& diags, std::filesystem::path base_dir) {
  auto doc = std::make_shared<ConfigDocument>(std::move(display_name), std::move(base_dir), diags);
  try {
    doc->root_ = load_yaml(text);
    if (doc->root_.IsDefined() && !doc->root_.IsNull() && !doc->root_.IsMap()) {
      diags.error(mark_location(doc->file_, doc->root_.Mark()), "",
                  "the configuration must be a mapping of keys, not " + node_type_name(doc->root_));
      doc->root_ = YAML::Node(YAML::NodeType::Undefined);
    } else {
      std::size_t budget = 100'000;
      report_duplicate_keys(doc->root_, doc->file_, "", diags, budget);
    }
  } catch (const YAML::Exception& e) {
    diags.error(mark_location(doc->file_, e.mark), "", "YAML syntax error: " + e.msg);
    doc->root_ = YAML::Node(YAML::NodeType::Undefined);
  }
  return doc;
}

std::shared_ptr<ConfigDocument> ConfigDocument::load_file(const std::filesystem::path& file, Diagnostics& diags) {
  // A FIFO is read too: `run -c <(envsubst <template.yaml)` is how some deployments render it.
  auto read = read_regular_file(file, kMaxConfigFileBytes, FileKinds::streams_too);
  if (read.status != ReadFileStatus::ok) {
    Location loc;
    loc.file = file.string();
    diags.error(loc, "",
                "cannot read the configuration file: " + describe_read_reason(read, kMaxConfigFileBytes));
    return std::make_shared<ConfigDocument>(file.string(), file.parent_path(), diags);
  }
  auto base = file.parent_path();
  if (base.empty()) base = ".";
  auto doc = load_string(read.text, file.string(), diags, base);
  doc->file_mode_ = read.mode;
  return doc;
}

ConfigNode ConfigDocument::root() {
  ConfigNode::Sections sections{};
  sections[0] = schema_;
  return ConfigNode(shared_from_this(), root_, "", sections);
}

void ConfigDocument::record_violation(std::string message) {
  if (std::find(violations_.begin(), violations_.end(), message) == violations_.end())
    violations_.push_back(std::move(message));
}

void ConfigDocument::mark_known(const YAML::Node& map, std::string_view key) {
  auto& e = impl_->entry(map, "");
  e.known.emplace(key);
}

void ConfigDocument::visit(const YAML::Node& map, const std::string& path,
                           const std::array<const config::Section*, 4>& sections) {
  auto& e = impl_->entry(map, path);
  e.path = path;
  for (const auto* s : sections) {
    if (s == nullptr || std::find(e.sections.begin(), e.sections.end(), s) != e.sections.end()) continue;
    if (auto free = std::find(e.sections.begin(), e.sections.end(), nullptr); free != e.sections.end()) *free = s;
  }
}

void ConfigDocument::mark_free_form(const YAML::Node& map) { impl_->entry(map, "").free_form = true; }

void ConfigDocument::report_unknown_keys() {
  for (auto& v : impl_->visited) {
    if (v.free_form || !v.node.IsMap()) continue;
    // A mapping with a key table accepts what the table declares (whether or not this run read it:
    // `roster_events` with `roster: false` is valid); one without accepts the keys that were read.
    std::set<std::string, std::less<>> accepted = v.known;
    for (const auto* s : v.sections)
      if (s != nullptr)
        for (auto& name : s->key_names()) accepted.insert(std::move(name));
    std::vector<std::string> known(accepted.begin(), accepted.end());
    for (auto it = v.node.begin(); it != v.node.end(); ++it) {
      std::string key;
      try {
        key = it->first.as<std::string>();
      } catch (const YAML::Exception&) {
        continue;
      }
      if (accepted.count(key) != 0) continue;
      std::string msg = fmt::format("unknown key '{}'", key);
      if (auto s = did_you_mean(key, known)) msg += fmt::format(" (did you mean '{}'?)", *s);
      diags_->error(mark_location(file_, it->first.Mark()), v.path, msg);
    }
  }
}

}  // namespace siem
