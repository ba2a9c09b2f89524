// The declared configuration schema. Every section of the YAML configuration (the top level,
// `pipeline`, `enrichment`, each source and sink type, their `tls`, `auth`, ...) declares its keys
// in one table next to the code that reads them:
//
//   const config::Section& my_sink_keys() {
//     static const config::Section s{"my_sink", "sinks[] with type: my_sink", {}, {
//         {"url", config::Type::string, "required", "https://host:port of the collector"},
//         {"mode", config::Type::choice, "fast", "how to send", {"fast", "safe"}},
//     }};
//     return s;
//   }
//
// Declaring a key is one line in that table. ConfigNode checks every key read against the table of
// its section: a read of an undeclared key is recorded in ConfigDocument::schema_violations() (the
// schema test loads every example config and a config exercising every plugin and fails on any),
// unknown-key errors and their "did you mean" come from the table, and `siem-connector describe`
// and the key tables in docs/configuration.md are generated from it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace siem::config {

enum class Type {
  string,
  boolean,
  integer,
  number,
  duration,   // "90s", "1h30m"
  size,       // bytes: "512KiB", "8MiB"
  timestamp,  // RFC 3339
  path,       // relative to the config file's directory
  secret,     // literal, ${ENV} or file:/path; never printed
  list,       // list of strings (a scalar counts as a list of one)
  map,        // free-form mapping of scalars (keys not checked)
  choice,     // one of Key::allowed
  section,    // a nested mapping with its own table (Key::section)
  sections,   // a list of nested mappings, each with the table Key::section
};
std::string_view to_string(Type t) noexcept;

class Section;

struct Key {
  std::string_view name;
  Type type = Type::string;
  std::string_view default_value;  // as it would be written; "required"; empty: none
  std::string_view doc;            // one line
  std::vector<std::string_view> allowed = {};  // Type::choice
  const Section* section = nullptr;            // Type::section / Type::sections (null: not checked)

  bool secret() const noexcept { return type == Type::secret; }
};

class Section {
 public:
  // `id` names the table (`describe ID`); `where` says where it appears in a config file.
  // `includes`: tables whose keys this section accepts too (common keys), looked up first.
  // The declaring file and line come from the call site (__builtin_FILE/LINE rather than
  // std::source_location, which the clang of the fuzz build cannot compile with libstdc++ 12).
  Section(std::string_view id, std::string_view where, std::vector<const Section*> includes, std::vector<Key> keys,
          const char* declared_file = __builtin_FILE(), unsigned declared_line = __builtin_LINE());

  std::string_view id() const noexcept { return id_; }
  std::string_view where() const noexcept { return where_; }
  const std::vector<const Section*>& includes() const noexcept { return includes_; }
  const std::vector<Key>& own_keys() const noexcept { return keys_; }
  // The key, searched in the included tables and then in this one; null when undeclared.
  const Key* find(std::string_view name) const;
  // Every key this section accepts (included tables first), in declaration order.
  std::vector<const Key*> all_keys() const;
  std::vector<std::string> key_names() const;
  // "sinks/splunk_hec/splunk_hec_sink.cc:120": where the table is, for error messages.
  std::string declared_at() const;

 private:
  std::string_view id_, where_;
  std::vector<const Section*> includes_;
  std::vector<Key> keys_;
  std::string file_;
  unsigned line_ = 0;
};

// Where a key read outside its declaration should be declared, for the schema violation message.
std::string undeclared_key_message(const Section& section, std::string_view path, std::string_view key);

}  // namespace siem::config
