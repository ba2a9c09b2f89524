#include "connector/config/config_node.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

namespace siem {

// ---------------------------------------------------------------- Location / Diagnostics

std::string Location::to_string() const {
  if (line <= 0) return file;
  return fmt::format("{}:{}:{}", file, line, column);
}

void Diagnostics::error(const Location& where, std::string path, std::string message) {
  items_.push_back({Diagnostic::Severity::error, where, std::move(path), std::move(message)});
}

void Diagnostics::warning(const Location& where, std::string path, std::string message) {
  items_.push_back({Diagnostic::Severity::warning, where, std::move(path), std::move(message)});
}

bool Diagnostics::has_errors() const noexcept {
  return std::any_of(items_.begin(), items_.end(),
                     [](const Diagnostic& d) { return d.severity == Diagnostic::Severity::error; });
}

std::string Diagnostics::format() const {
  std::string out;
  for (const auto& d : items_) {
    out += d.where.to_string();
    out += d.severity == Diagnostic::Severity::error ? ": error: " : ": warning: ";
    if (!d.path.empty()) {
      out += d.path;
      out += ": ";
    }
    out += d.message;
    out += '\n';
  }
  return out;
}

std::ostream& operator<<(std::ostream& os, const Secret&) { return os << Secret::redacted(); }

// ---------------------------------------------------------------- helpers

namespace {

// Optimal string alignment distance (Levenshtein plus adjacent transpositions, "form" -> "from"),
// case-insensitive.
std::size_t edit_distance(std::string_view a, std::string_view b) {
  const auto low = [](char c) { return std::tolower(static_cast<unsigned char>(c)); };
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cost = low(a[i - 1]) == low(b[j - 1]) ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && low(a[i - 1]) == low(b[j - 2]) && low(a[i - 2]) == low(b[j - 1]))
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.size()][b.size()];
}

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

std::string trim(std::string_view s) {
  std::size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

// Expands ${VAR} and ${VAR:-default}. `$$` is a literal `$`. On failure returns false with
// `problem` set to a message naming the variable (never a value): an unset variable without a
// default, an unterminated `${`, or a malformed variable name.
bool expand_env(std::string_view in, std::string& out, std::string& problem) {
  out.clear();
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '$' && i + 1 < in.size() && in[i + 1] == '$') {
      out += '$';
      ++i;
      continue;
    }
    if (in[i] == '$' && i + 1 < in.size() && in[i + 1] == '{') {
      const auto close = in.find('}', i + 2);
      if (close == std::string_view::npos) {
        problem = "unterminated '${' (write $$ for a literal $)";
        return false;
      }
      std::string_view expr = in.substr(i + 2, close - i - 2);
      std::string_view name = expr;
      std::optional<std::string_view> fallback;
      if (auto p = expr.find(":-"); p != std::string_view::npos) {
        name = expr.substr(0, p);
        fallback = expr.substr(p + 2);
      }
      const bool valid_name =
          !name.empty() && std::isdigit(static_cast<unsigned char>(name.front())) == 0 &&
          std::all_of(name.begin(), name.end(), [](unsigned char c) { return std::isalnum(c) != 0 || c == '_'; });
      if (!valid_name) {
        problem = fmt::format("'${{{}}}' is not a valid environment variable reference (expected ${{NAME}} or "
                              "${{NAME:-default}}; $$ is a literal $)",
                              name);
        return false;
      }
      const std::string var(name);
      const char* value = std::getenv(var.c_str());
      if (value != nullptr && (*value != '\0' || !fallback)) {
        out += value;
      } else if (fallback) {
        out.append(*fallback);
      } else {
        problem = fmt::format("environment variable '{}' is not set (use ${{{}:-default}} for a default)", var, var);
        return false;
      }
      i = close;
      continue;
    }
    out += in[i];
  }
  return true;
}

}  // namespace

std::optional<std::string> did_you_mean(std::string_view word, const std::vector<std::string>& candidates) {
  std::optional<std::string> best;
  std::size_t best_distance = SIZE_MAX;
  for (const auto& c : candidates) {
    const auto d = edit_distance(word, c);
    if (d < best_distance) {
      best_distance = d;
      best = c;
    }
  }
  // Plausible typo: at most a third of the word (and at least 1, at most 3) edits away.
  const std::size_t limit = std::clamp<std::size_t>(word.size() / 3, 1, 3);
  if (best && best_distance <= limit) return best;
  return std::nullopt;
}

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  const std::string s = trim(text);
  if (s.empty()) return std::nullopt;
  // Bare number: seconds.
  {
    double v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec == std::errc() && p == s.data() + s.size()) {
      if (v < 0) return std::nullopt;
      return std::chrono::milliseconds(static_cast<std::int64_t>(v * 1000.0 + 0.5));
    }
  }
  double total_ms = 0;
  std::size_t i = 0;
  bool any = false;
  while (i < s.size()) {
    double v = 0;
    auto [p, ec] = std::from_chars(s.data() + i, s.data() + s.size(), v);
    if (ec != std::errc() || v < 0) return std::nullopt;
    i = static_cast<std::size_t>(p - s.data());
    std::size_t j = i;
    while (j < s.size() && std::isalpha(static_cast<unsigned char>(s[j]))) ++j;
    const std::string unit = s.substr(i, j - i);
    double factor = 0;
    if (unit == "ms") factor = 1;
    else if (unit == "s") factor = 1000;
    else if (unit == "m") factor = 60'000;
    else if (unit == "h") factor = 3'600'000;
    else if (unit == "d") factor = 86'400'000;
    else return std::nullopt;
    total_ms += v * factor;
    any = true;
    i = j;
  }
  if (!any) return std::nullopt;
  return std::chrono::milliseconds(static_cast<std::int64_t>(total_ms + 0.5));
}

namespace {

std::optional<std::uint64_t> parse_bytes(std::string_view text) {
  const std::string s = trim(text);
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || v < 0) return std::nullopt;
  std::string unit = trim(std::string_view(p, static_cast<std::size_t>(s.data() + s.size() - p)));
  std::transform(unit.begin(), unit.end(), unit.begin(), [](unsigned char c) { return std::tolower(c); });
  static const std::map<std::string, double, std::less<>> units = {
      {"", 1},         {"b", 1},           {"kb", 1e3},          {"mb", 1e6},           {"gb", 1e9},
      {"kib", 1024.0}, {"mib", 1048576.0}, {"gib", 1073741824.0}, {"k", 1024.0},        {"m", 1048576.0},
      {"g", 1073741824.0}};
  auto it = units.find(unit);
  if (it == units.end()) return std::nullopt;
  return static_cast<std::uint64_t>(v * it->second + 0.5);
}

// Days since 1970-01-01 of a civil date; a day past the month's end rolls into the next month.
std::int64_t days_since_epoch(int y, int m, int d) {
  using namespace std::chrono;
  return (sys_days{year{y} / month{static_cast<unsigned>(m)} / 1} + days{d - 1}).time_since_epoch().count();
}

std::optional<std::int64_t> parse_rfc3339(std::string_view s) {
  // YYYY-MM-DD[T ]hh:mm:ss[.fff][Z|+hh:mm]
  auto num = [&](std::size_t pos, std::size_t len) -> std::optional<int> {
    if (pos + len > s.size()) return std::nullopt;
    int v = 0;
    for (std::size_t k = pos; k < pos + len; ++k) {
      if (!std::isdigit(static_cast<unsigned char>(s[k]))) return std::nullopt;
      v = v * 10 + (s[k] - '0');
    }
    return v;
  };
  auto Y = num(0, 4), Mo = num(5, 2), D = num(8, 2), h = num(11, 2), mi = num(14, 2), se = num(17, 2);
  if (!Y || !Mo || !D || !h || !mi || !se || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      s[13] != ':' || s[16] != ':')
    return std::nullopt;
  if (*Mo < 1 || *Mo > 12 || *D < 1 || *D > 31 || *h > 23 || *mi > 59 || *se > 60) return std::nullopt;
  std::size_t i = 19;
  std::int64_t ms = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    int digits = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
      if (digits < 3) ms = ms * 10 + (s[i] - '0');
      ++digits;
      ++i;
    }
    if (digits == 0) return std::nullopt;
    for (int k = digits; k < 3; ++k) ms *= 10;
  }
  std::int64_t offset_min = 0;
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
    ++i;
  } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    auto oh = num(i + 1, 2), om = num(i + 4, 2);
    if (!oh || !om || s[i + 3] != ':') return std::nullopt;
    offset_min = (*oh * 60 + *om) * (s[i] == '-' ? -1 : 1);
    i += 6;
  } else {
    return std::nullopt;  // a timestamp in config must say its zone
  }
  if (i != s.size()) return std::nullopt;
  const std::int64_t days = days_since_epoch(*Y, *Mo, *D);
  const std::int64_t secs = days * 86400 + *h * 3600 + *mi * 60 + *se - offset_min * 60;
  return secs * 1000 + ms;
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

}  // namespace

// ---------------------------------------------------------------- ConfigDocument

struct ConfigDocument::Impl {
  // Mappings visited through a ConfigNode, keyed by yaml-cpp node identity, with the keys read.
  struct Visited {
    YAML::Node node;
    std::string path;
    std::set<std::string, std::less<>> known;
    bool free_form = false;
  };
  std::vector<Visited> visited;  // configs are small: a linear scan is fine

  Visited& entry(const YAML::Node& map, const std::string& path) {
    // yaml-cpp nodes share memory through node_ref; is() compares identity.
    for (auto& v : visited)
      if (v.node.is(map)) return v;
    visited.push_back({map, path, {}, false});
    return visited.back();
  }
};

ConfigDocument::ConfigDocument(std::string file, std::filesystem::path base_dir, Diagnostics& diags)
    : file_(std::move(file)), base_dir_(std::move(base_dir)), diags_(&diags), impl_(std::make_shared<Impl>()) {}

std::shared_ptr<ConfigDocument> ConfigDocument::load_string(std::string_view text, std::string display_name,
                                                            Diagnostics& diags, std::filesystem::path base_dir) {
  auto doc = std::make_shared<ConfigDocument>(std::move(display_name), std::move(base_dir), diags);
  try {
    doc->root_ = YAML::Load(std::string(text));
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
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    Location loc;
    loc.file = file.string();
    diags.error(loc, "", "cannot read the configuration file: " + std::string(std::strerror(errno)));
    return std::make_shared<ConfigDocument>(file.string(), file.parent_path(), diags);
  }
  std::stringstream ss;
  ss << in.rdbuf();
  auto base = file.parent_path();
  if (base.empty()) base = ".";
  auto doc = load_string(ss.str(), file.string(), diags, base);
  struct stat st {};
  if (::stat(file.c_str(), &st) == 0) doc->file_mode_ = st.st_mode & 07777;
  return doc;
}

ConfigNode ConfigDocument::root() { return ConfigNode(shared_from_this(), root_, ""); }

void ConfigDocument::mark_known(const YAML::Node& map, std::string_view key) {
  auto& e = impl_->entry(map, "");
  e.known.emplace(key);
}

void ConfigDocument::visit(const YAML::Node& map, const std::string& path) { impl_->entry(map, path).path = path; }

void ConfigDocument::mark_free_form(const YAML::Node& map) { impl_->entry(map, "").free_form = true; }

void ConfigDocument::report_unknown_keys() {
  for (auto& v : impl_->visited) {
    if (v.free_form || !v.node.IsMap()) continue;
    std::vector<std::string> known(v.known.begin(), v.known.end());
    for (auto it = v.node.begin(); it != v.node.end(); ++it) {
      std::string key;
      try {
        key = it->first.as<std::string>();
      } catch (const YAML::Exception&) {
        continue;
      }
      if (v.known.count(key) != 0) continue;
      std::string msg = fmt::format("unknown key '{}'", key);
      if (auto s = did_you_mean(key, known)) msg += fmt::format(" (did you mean '{}'?)", *s);
      diags_->error(mark_location(file_, it->first.Mark()), v.path, msg);
    }
  }
}

// ---------------------------------------------------------------- ConfigNode

ConfigNode::ConfigNode(std::shared_ptr<ConfigDocument> doc, YAML::Node node, std::string path)
    : doc_(std::move(doc)), node_(std::move(node)), path_(std::move(path)) {
  if (doc_ && node_.IsDefined() && node_.IsMap()) doc_->visit(node_, path_);
}

Diagnostics& ConfigNode::diagnostics() const {
  static Diagnostics orphan;
  return doc_ ? doc_->diagnostics() : orphan;
}

const std::filesystem::path& ConfigNode::base_dir() const {
  static const std::filesystem::path dot(".");
  return doc_ ? doc_->base_dir() : dot;
}

Location ConfigNode::location() const {
  if (!doc_) return {};
  if (!node_.IsDefined()) {
    Location l;
    l.file = doc_->file_name();
    return l;
  }
  return mark_location(doc_->file_name(), node_.Mark());
}

Location ConfigNode::location_of(std::string_view key) const {
  if (auto n = lookup(key)) return mark_location(doc_->file_name(), n->Mark());
  return location();
}

void ConfigNode::error(std::string message) const { diagnostics().error(location(), path_, std::move(message)); }

void ConfigNode::error_at(std::string_view key, std::string message) const {
  diagnostics().error(location_of(key), join_path(path_, key), std::move(message));
}

std::optional<YAML::Node> ConfigNode::lookup(std::string_view key) const {
  if (!doc_ || !node_.IsDefined() || !node_.IsMap()) return std::nullopt;
  doc_->mark_known(node_, key);
  YAML::Node n = node_[std::string(key)];
  if (!n.IsDefined() || n.IsNull()) return std::nullopt;
  return n;
}

bool ConfigNode::has(std::string_view key) const { return lookup(key).has_value(); }

std::optional<std::string> ConfigNode::optional_string(std::string_view key) const {
  auto n = lookup(key);
  if (!n) return std::nullopt;
  if (!n->IsScalar()) {
    error_at(key, "expected a string, found " + node_type_name(*n));
    return std::nullopt;
  }
  std::string expanded, problem;
  if (!expand_env(n->Scalar(), expanded, problem)) {
    error_at(key, problem);
    return std::nullopt;
  }
  return expanded;
}

std::string ConfigNode::string(std::string_view key, std::string_view default_value) const {
  auto v = optional_string(key);
  return v ? *v : std::string(default_value);
}

std::string ConfigNode::required_string(std::string_view key) const {
  if (!has(key)) {
    error(fmt::format("missing required key '{}'", key));
    return {};
  }
  auto v = optional_string(key);
  if (v && v->empty()) error_at(key, "must not be empty");
  return v.value_or("");
}

std::string ConfigNode::choice(std::string_view key, std::initializer_list<std::string_view> allowed,
                               std::string_view default_value) const {
  auto v = optional_string(key);
  if (!v) return std::string(default_value);
  for (auto a : allowed)
    if (*v == a) return *v;
  std::string list;
  std::vector<std::string> cands;
  for (auto a : allowed) {
    if (!list.empty()) list += ", ";
    list += a;
    cands.emplace_back(a);
  }
  std::string msg = fmt::format("'{}' is not one of: {}", *v, list);
  if (auto s = did_you_mean(*v, cands)) msg += fmt::format(" (did you mean '{}'?)", *s);
  error_at(key, msg);
  return std::string(default_value);
}

std::int64_t ConfigNode::integer(std::string_view key, std::int64_t default_value, std::int64_t min,
                                 std::int64_t max) const {
  auto s = optional_string(key);
  if (!s) return default_value;
  std::int64_t v = 0;
  const std::string t = trim(*s);
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (ec != std::errc() || p != t.data() + t.size()) {
    error_at(key, fmt::format("expected an integer, found '{}'", *s));
    return default_value;
  }
  if (v < min || v > max) {
    error_at(key, fmt::format("{} is out of range [{}, {}]", v, min, max));
    return default_value;
  }
  return v;
}

double ConfigNode::number(std::string_view key, double default_value) const {
  auto s = optional_string(key);
  if (!s) return default_value;
  double v = 0;
  const std::string t = trim(*s);
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (ec != std::errc() || p != t.data() + t.size()) {
    error_at(key, fmt::format("expected a number, found '{}'", *s));
    return default_value;
  }
  return v;
}

bool ConfigNode::boolean(std::string_view key, bool default_value) const {
  auto s = optional_string(key);
  if (!s) return default_value;
  std::string t = trim(*s);
  std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return std::tolower(c); });
  if (t == "true" || t == "yes" || t == "on" || t == "1") return true;
  if (t == "false" || t == "no" || t == "off" || t == "0") return false;
  error_at(key, fmt::format("expected true or false, found '{}'", *s));
  return default_value;
}

std::optional<std::chrono::milliseconds> ConfigNode::optional_duration(std::string_view key) const {
  auto s = optional_string(key);
  if (!s) return std::nullopt;
  auto d = parse_duration(*s);
  if (!d) {
    error_at(key, fmt::format("expected a duration like 250ms, 90s, 30m, 2h or 1h30m, found '{}'", *s));
    return std::nullopt;
  }
  return d;
}

std::chrono::milliseconds ConfigNode::duration(std::string_view key, std::chrono::milliseconds default_value) const {
  return optional_duration(key).value_or(default_value);
}

std::uint64_t ConfigNode::bytes(std::string_view key, std::uint64_t default_value) const {
  auto s = optional_string(key);
  if (!s) return default_value;
  auto v = parse_bytes(*s);
  if (!v) {
    error_at(key, fmt::format("expected a size like 1048576, 512KiB, 8MiB or 1GB, found '{}'", *s));
    return default_value;
  }
  return *v;
}

std::optional<std::int64_t> ConfigNode::optional_timestamp(std::string_view key) const {
  auto s = optional_string(key);
  if (!s) return std::nullopt;
  auto v = parse_rfc3339(trim(*s));
  if (!v) {
    error_at(key, fmt::format("expected an RFC 3339 timestamp like 2026-11-01T00:00:00Z, found '{}'", *s));
    return std::nullopt;
  }
  return v;
}

std::vector<std::string> ConfigNode::string_list(std::string_view key) const {
  std::vector<std::string> out;
  auto n = lookup(key);
  if (!n) return out;
  if (n->IsScalar()) {
    if (auto s = optional_string(key)) out.push_back(*s);
    return out;
  }
  if (!n->IsSequence()) {
    error_at(key, "expected a list of strings, found " + node_type_name(*n));
    return out;
  }
  for (std::size_t i = 0; i < n->size(); ++i) {
    const YAML::Node item = (*n)[i];
    if (!item.IsScalar()) {
      diagnostics().error(mark_location(doc_->file_name(), item.Mark()),
                          fmt::format("{}[{}]", join_path(path_, key), i),
                          "expected a string, found " + node_type_name(item));
      continue;
    }
    std::string expanded, problem;
    if (!expand_env(item.Scalar(), expanded, problem)) {
      diagnostics().error(mark_location(doc_->file_name(), item.Mark()),
                          fmt::format("{}[{}]", join_path(path_, key), i), problem);
      continue;
    }
    out.push_back(std::move(expanded));
  }
  return out;
}

bool ConfigNode::read_secret_file(const std::filesystem::path& p, std::string_view key,
                                  std::string& out) const {
  // O_NONBLOCK: a FIFO at the path must not hang `validate`; only a regular file is read.
  const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    error_at(key, fmt::format("cannot read secret file {}: {}", p.string(), std::strerror(errno)));
    return false;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    error_at(key, fmt::format("secret file {} is not a regular file", p.string()));
    return false;
  }
  out.assign(kMaxSecretFileBytes + 1, '\0');
  std::size_t got = 0;
  while (got < out.size()) {
    const ssize_t n = ::read(fd, out.data() + got, out.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  out.resize(got);
  if (got > kMaxSecretFileBytes) {
    error_at(key, fmt::format("secret file {} is larger than 64 KiB: a secret is a password, token or key, "
                              "not a file that size (is the path right?)",
                              p.string()));
    out.clear();
    return false;
  }
  if ((st.st_mode & 0044) != 0)
    diagnostics().warning(
        location_of(key), join_path(path_, key),
        fmt::format("secret file {} is readable by group or others (mode {:04o}): chmod 600 {}", p.string(),
                    st.st_mode & 07777, p.string()));
  return true;
}

Secret ConfigNode::secret(std::string_view key, bool required) const {
  auto n = lookup(key);
  if (!n) {
    if (required) error(fmt::format("missing required secret '{}'", key));
    return {};
  }
  if (!n->IsScalar()) {
    error_at(key, "expected a secret string (literal, ${ENV_VAR} or file:/path), found " + node_type_name(*n));
    return {};
  }
  const std::string& raw = n->Scalar();
  if (raw.rfind("file:", 0) == 0) {
    // The path itself may use ${VAR} (e.g. file:${CREDENTIALS_DIRECTORY}/graph-secret).
    std::string path_text, problem;
    if (!expand_env(trim(std::string_view(raw).substr(5)), path_text, problem)) {
      error_at(key, "secret file path: " + problem);
      return {};
    }
    if (path_text.empty()) {
      error_at(key, "secret 'file:' needs a path, e.g. file:/run/secrets/graph-client-secret");
      return {};
    }
    std::filesystem::path p = path_text;
    if (p.is_relative()) p = base_dir() / p;
    std::string v;
    if (!read_secret_file(p, key, v)) return {};
    while (!v.empty() && (v.back() == '\n' || v.back() == '\r')) v.pop_back();
    if (v.empty() && required) error_at(key, fmt::format("secret file {} is empty", p.string()));
    return Secret(std::move(v));
  }
  std::string expanded, problem;
  if (!expand_env(raw, expanded, problem)) {
    error_at(key, "secret: " + problem);
    return {};
  }
  if (expanded.empty() && required) error_at(key, "secret is empty");
  warn_if_readable_literal_secret(key, raw);
  return Secret(std::move(expanded));
}

void ConfigNode::warn_if_readable_literal_secret(std::string_view key, std::string_view raw) const {
  if (!doc_ || raw.empty() || raw.find("${") != std::string_view::npos) return;
  const unsigned mode = doc_->file_mode();
  if ((mode & 0044) == 0) return;
  diagnostics().warning(location_of(key), join_path(path_, key),
                        fmt::format("a literal secret in {}, which group or others can read (mode {:04o}): "
                                    "use ${{ENV_VAR}} or file:/path for it, or chmod 600 {}",
                                    doc_->file_name(), mode, doc_->file_name()));
}

std::optional<std::filesystem::path> ConfigNode::file_path(std::string_view key) const {
  auto s = optional_string(key);
  if (!s || s->empty()) return std::nullopt;
  std::filesystem::path p(*s);
  if (p.is_relative()) p = base_dir() / p;
  return p.lexically_normal();
}

std::optional<std::filesystem::path> ConfigNode::existing_file(std::string_view key, bool required) const {
  if (!has(key)) {
    if (required) error(fmt::format("missing required key '{}'", key));
    return std::nullopt;
  }
  auto p = file_path(key);
  if (!p) return std::nullopt;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(*p, ec)) {
    error_at(key, fmt::format("file {} does not exist or is not a regular file", p->string()));
    return std::nullopt;
  }
  std::ifstream probe(*p);
  if (!probe) {
    error_at(key, fmt::format("file {} is not readable: {}", p->string(), std::strerror(errno)));
    return std::nullopt;
  }
  return p;
}

ConfigNode ConfigNode::child(std::string_view key) const {
  auto n = lookup(key);
  if (!n) return ConfigNode(doc_, YAML::Node(YAML::NodeType::Undefined), join_path(path_, key));
  if (!n->IsMap()) {
    error_at(key, "expected a mapping of keys, found " + node_type_name(*n));
    return ConfigNode(doc_, YAML::Node(YAML::NodeType::Undefined), join_path(path_, key));
  }
  return ConfigNode(doc_, *n, join_path(path_, key));
}

std::vector<ConfigNode> ConfigNode::list(std::string_view key) const {
  std::vector<ConfigNode> out;
  auto n = lookup(key);
  if (!n) return out;
  if (!n->IsSequence()) {
    error_at(key, "expected a list, found " + node_type_name(*n));
    return out;
  }
  for (std::size_t i = 0; i < n->size(); ++i) {
    const YAML::Node item = (*n)[i];
    const std::string p = fmt::format("{}[{}]", join_path(path_, key), i);
    if (!item.IsMap()) {
      diagnostics().error(mark_location(doc_->file_name(), item.Mark()), p,
                          "expected a mapping of keys, found " + node_type_name(item));
      continue;
    }
    out.push_back(ConfigNode(doc_, item, p));
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> ConfigNode::string_map(std::string_view key) const {
  std::vector<std::pair<std::string, std::string>> out;
  auto n = lookup(key);
  if (!n) return out;
  if (!n->IsMap()) {
    error_at(key, "expected a mapping of keys, found " + node_type_name(*n));
    return out;
  }
  doc_->mark_free_form(*n);
  for (auto it = n->begin(); it != n->end(); ++it) {
    if (!it->second.IsScalar()) {
      diagnostics().error(mark_location(doc_->file_name(), it->second.Mark()),
                          join_path(join_path(path_, key), it->first.Scalar()),
                          "expected a scalar value, found " + node_type_name(it->second));
      continue;
    }
    std::string expanded, problem;
    if (!expand_env(it->second.Scalar(), expanded, problem)) {
      diagnostics().error(mark_location(doc_->file_name(), it->second.Mark()),
                          join_path(join_path(path_, key), it->first.Scalar()), problem);
      continue;
    }
    out.emplace_back(it->first.Scalar(), std::move(expanded));
  }
  return out;
}

}  // namespace siem
