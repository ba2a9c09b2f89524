// The declared configuration schema: key tables and their lookups (see schema.h).
#include "connector/config/schema.h"

#include <fmt/format.h>

namespace siem::config {

std::string_view to_string(Type t) noexcept {
  switch (t) {
    case Type::string: return "string";
    case Type::boolean: return "boolean";
    case Type::integer: return "integer";
    case Type::number: return "number";
    case Type::duration: return "duration";
    case Type::size: return "size";
    case Type::timestamp: return "timestamp";
    case Type::path: return "path";
    case Type::secret: return "secret";
    case Type::list: return "list";
    case Type::map: return "map";
    case Type::choice: return "choice";
    case Type::section: return "mapping";
    case Type::sections: return "list of mappings";
  }
  return "?";
}

namespace {

// The path of a source file relative to the project root (__builtin_FILE gives the compiler's).
std::string project_relative(std::string_view file) {
  for (std::string_view root : {"/connector/", "/sinks/", "/tests/", "/tools/"}) {
    if (auto at = file.rfind(root); at != std::string_view::npos) return std::string(file.substr(at + 1));
  }
  return std::string(file);
}

}  // namespace

Section::Section(std::string_view id, std::string_view where, std::vector<const Section*> includes,
                 std::vector<Key> keys, const char* declared_file, unsigned declared_line)
    : id_(id),
      where_(where),
      includes_(std::move(includes)),
      keys_(std::move(keys)),
      file_(project_relative(declared_file)),
      line_(declared_line) {}

const Key* Section::find(std::string_view name) const {
  for (const auto* inc : includes_)
    if (const Key* k = inc->find(name)) return k;
  for (const auto& k : keys_)
    if (k.name == name) return &k;
  return nullptr;
}

std::vector<const Key*> Section::all_keys() const {
  std::vector<const Key*> out;
  for (const auto* inc : includes_) {
    auto more = inc->all_keys();
    out.insert(out.end(), more.begin(), more.end());
  }
  for (const auto& k : keys_) out.push_back(&k);
  return out;
}

std::vector<std::string> Section::key_names() const {
  std::vector<std::string> out;
  for (const auto* k : all_keys()) out.emplace_back(k->name);
  return out;
}

std::string Section::declared_at() const { return fmt::format("{}:{}", file_, line_); }

std::string undeclared_key_message(const Section& section, std::string_view path, std::string_view key) {
  return fmt::format("{}: the code reads key '{}', which the table of section '{}' does not declare: add a line "
                     "for '{}' to that table ({}) or to a table it includes",
                     path.empty() ? "(top level)" : path, key, section.id(), key, section.declared_at());
}

}  // namespace siem::config
