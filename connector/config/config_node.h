// Typed, located access to the YAML configuration. Every getter records the key as known, reports
// type errors with file:line:column into Diagnostics instead of throwing, and returns the default
// so validation can report every problem in one pass. After plugins have read their settings,
// ConfigDocument::report_unknown_keys() names each key that its section's table (schema.h) does
// not declare (or, in a mapping no table covers, that nobody read), with a "did you mean".
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "connector/config/schema.h"

namespace siem {

struct Location {
  std::string file;
  int line = 0;    // 1-based; 0 when unknown
  int column = 0;  // 1-based
  std::string to_string() const;  // "file:line:column"
};

struct Diagnostic {
  enum class Severity { error, warning } severity = Severity::error;
  Location where;
  std::string path;     // dotted config path, e.g. "sources[0].auth.client_secret"
  std::string message;  // never contains a secret value
};

class Diagnostics {
 public:
  void error(const Location& where, std::string path, std::string message);
  void warning(const Location& where, std::string path, std::string message);
  bool has_errors() const noexcept;
  const std::vector<Diagnostic>& items() const noexcept { return items_; }
  // One line per item: "file:line:column: error: path: message".
  std::string format() const;

 private:
  std::vector<Diagnostic> items_;
};

// A secret value (password, token, key). Never printed: streaming it or calling redacted() gives
// "***". Read the value with reveal() at the last moment.
class Secret {
 public:
  Secret() = default;
  explicit Secret(std::string value) : value_(std::move(value)) {}
  const std::string& reveal() const noexcept { return value_; }
  bool empty() const noexcept { return value_.empty(); }
  static std::string_view redacted() noexcept { return "***"; }

 private:
  std::string value_;
};
std::ostream& operator<<(std::ostream& os, const Secret&);

class ConfigDocument;

// A view of one YAML mapping (or scalar) inside a loaded ConfigDocument. Cheap to copy.
class ConfigNode {
 public:
  ConfigNode() = default;

  bool valid() const noexcept { return doc_ != nullptr && node_.IsDefined() && !node_.IsNull(); }
  bool has(std::string_view key) const;  // marks the key as known
  const std::string& path() const noexcept { return path_; }
  Location location() const;
  Location location_of(std::string_view key) const;  // of the key's value, or of this node
  Diagnostics& diagnostics() const;
  // Directory of the file this node came from; relative paths in it are resolved against it.
  const std::filesystem::path& base_dir() const;

  // Reports an error at this node / at a key; the message names the path.
  void error(std::string message) const;
  void error_at(std::string_view key, std::string message) const;

  // Scalars. `${VAR}` and `${VAR:-default}` are expanded in every string; an unset variable with no
  // default is an error. Missing keys give the default; `required_*` report a missing key.
  std::string string(std::string_view key, std::string_view default_value = {}) const;
  std::optional<std::string> optional_string(std::string_view key) const;
  std::string required_string(std::string_view key) const;
  // One of `allowed` (case-sensitive); otherwise an error that lists them.
  std::string choice(std::string_view key, std::initializer_list<std::string_view> allowed,
                     std::string_view default_value) const;
  std::int64_t integer(std::string_view key, std::int64_t default_value,
                       std::int64_t min = INT64_MIN, std::int64_t max = INT64_MAX) const;
  double number(std::string_view key, double default_value) const;
  bool boolean(std::string_view key, bool default_value) const;
  // "250ms", "90s", "30m", "2h", "1d", "1h30m"; a bare number means seconds.
  std::chrono::milliseconds duration(std::string_view key, std::chrono::milliseconds default_value) const;
  std::optional<std::chrono::milliseconds> optional_duration(std::string_view key) const;
  // Byte sizes: 1048576, "512KiB", "8MiB", "1GB".
  std::uint64_t bytes(std::string_view key, std::uint64_t default_value) const;
  // RFC 3339 timestamp -> epoch milliseconds UTC.
  std::optional<std::int64_t> optional_timestamp(std::string_view key) const;
  std::vector<std::string> string_list(std::string_view key) const;  // a scalar counts as a list of one

  // A secret: literal, "${ENV_VAR}", or "file:/path" (content, trailing newline stripped; the path may
  // use ${VAR}, relative paths resolve against base_dir()). Missing variables/files are errors
  // naming the key, never the value. A secret file must be a regular file of at most 64 KiB; one
  // that group or others can read, or a literal secret in a config file they can read, is a warning.
  Secret secret(std::string_view key, bool required = false) const;
  // Warns when `raw`, the text of `key` as written (before ${VAR} expansion), is a literal secret in a
  // config file that group or others can read. secret() does this itself; for secrets read otherwise
  // (librdkafka `properties:`).
  void warn_if_readable_literal_secret(std::string_view key, std::string_view raw) const;
  // A path that must name a readable file (resolved against base_dir()); error if it does not exist.
  std::optional<std::filesystem::path> existing_file(std::string_view key, bool required = false) const;
  // A path (resolved against base_dir()) that need not exist yet.
  std::optional<std::filesystem::path> file_path(std::string_view key) const;

  // Nested structures. A missing key gives an invalid node / an empty list.
  ConfigNode child(std::string_view key) const;
  std::vector<ConfigNode> list(std::string_view key) const;
  // A free-form mapping of scalar values (e.g. librdkafka `properties`), keys not checked.
  std::vector<std::pair<std::string, std::string>> string_map(std::string_view key) const;

  // The underlying YAML, for code that must walk it itself (mapping files). Marks `key` known.
  YAML::Node yaml() const { return node_; }

  // This node, also accepting the keys of `keys` (e.g. a plugin's table on a `sinks[]` entry whose
  // `name` and `type` the pipeline read). Children read through child()/list() get the table the
  // parent declares for them.
  ConfigNode with_section(const config::Section& keys) const;
  // The declaration of `key` in this node's tables; null when undeclared (or no table applies).
  const config::Key* declaration(std::string_view key) const;

 private:
  friend class ConfigDocument;
  using Sections = std::array<const config::Section*, 4>;
  ConfigNode(std::shared_ptr<ConfigDocument> doc, YAML::Node node, std::string path, Sections sections = {},
             bool free_form = false);
  ConfigNode child_node(YAML::Node node, std::string path, std::string_view key) const;
  // Records a schema violation when `key` is read but not declared (documents with a schema only).
  const config::Key* check_declared(std::string_view key) const;
  // Records a schema violation when `key` is declared with a type other than `read_as`.
  void check_type(std::string_view key, std::initializer_list<config::Type> read_as) const;
  // optional_string() without its type check (the typed getters parse the scalar themselves).
  std::optional<std::string> scalar(std::string_view key) const;
  std::optional<YAML::Node> lookup(std::string_view key) const;
  // Reads a `file:` secret into `out`; false (with an error at `key`) when it cannot be used.
  bool read_secret_file(const std::filesystem::path& p, std::string_view key, std::string& out) const;
  static constexpr std::size_t kMaxSecretFileBytes = 64 * 1024;

  std::shared_ptr<ConfigDocument> doc_;
  YAML::Node node_;
  std::string path_;
  Sections sections_{};     // the tables declaring this node's keys
  bool free_form_ = false;  // a `map` key: its keys are data, not settings
};

// A loaded YAML file plus the bookkeeping for unknown keys.
class ConfigDocument : public std::enable_shared_from_this<ConfigDocument> {
 public:
  // Parses `file`; a YAML syntax error is reported into `diags` with its line and column and the
  // returned document's root() is invalid. A key repeated within one mapping is reported too.
  static std::shared_ptr<ConfigDocument> load_file(const std::filesystem::path& file, Diagnostics& diags);
  static std::shared_ptr<ConfigDocument> load_string(std::string_view text, std::string display_name,
                                                     Diagnostics& diags, std::filesystem::path base_dir = ".");

  ConfigNode root();
  // Declares the top-level table: root() then carries it, every key read is checked against the
  // table of its section, and a read no table declares is a schema violation.
  void set_schema(const config::Section& top_level) noexcept { schema_ = &top_level; }
  const config::Section* schema() const noexcept { return schema_; }
  // Keys the code read that no table declares (a programming error; the schema test fails on any).
  const std::vector<std::string>& schema_violations() const noexcept { return violations_; }
  Diagnostics& diagnostics() noexcept { return *diags_; }
  const std::string& file_name() const noexcept { return file_; }
  // Permission bits of the loaded file; 0 for a document loaded from a string.
  unsigned file_mode() const noexcept { return file_mode_; }
  const std::filesystem::path& base_dir() const noexcept { return base_dir_; }

  // For every mapping a ConfigNode visited, reports keys that were never read, suggesting the
  // closest known key ("did you mean ..."). Call after all settings were read.
  void report_unknown_keys();

  // Implementation detail of ConfigNode (public for it only).
  void mark_known(const YAML::Node& map, std::string_view key);
  void mark_free_form(const YAML::Node& map);
  void visit(const YAML::Node& map, const std::string& path,
             const std::array<const config::Section*, 4>& sections = {});
  void record_violation(std::string message);

  ConfigDocument(std::string file, std::filesystem::path base_dir, Diagnostics& diags);

 private:
  struct Impl;
  std::string file_;
  std::filesystem::path base_dir_;
  unsigned file_mode_ = 0;
  Diagnostics* diags_;
  std::shared_ptr<Impl> impl_;
  YAML::Node root_;
  const config::Section* schema_ = nullptr;
  std::vector<std::string> violations_;
};

// Closest candidate by edit distance, if close enough to be a plausible typo.
std::optional<std::string> did_you_mean(std::string_view word, const std::vector<std::string>& candidates);

// Parses a duration ("90s", "1h30m", "250ms"); nullopt when malformed.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

}  // namespace siem
