// Environment expansion (${VAR}, ${VAR:-default}) and secrets (literal, ${ENV}, file:/path).
#include "connector/config/config_internal.h"
#include "connector/config/bounded_read.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

namespace siem {

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

std::ostream& operator<<(std::ostream& os, const Secret&) { return os << Secret::redacted(); }

bool ConfigNode::read_secret_file(const std::filesystem::path& p, std::string_view key,
                                  std::string& out) const {
  // A FIFO at the path must not hang `validate`: only a regular file is read.
  auto file = read_regular_file(p, kMaxSecretFileBytes);
  out.clear();
  switch (file.status) {
    case ReadFileStatus::ok:
      break;
    case ReadFileStatus::cannot_open:
    case ReadFileStatus::read_error:
      error_at(key, fmt::format("cannot read secret file {}: {}", p.string(), std::strerror(file.error)));
      return false;
    case ReadFileStatus::not_regular:
      error_at(key, fmt::format("secret file {} is not a regular file", p.string()));
      return false;
    case ReadFileStatus::too_large:
      error_at(key, fmt::format("secret file {} is larger than 64 KiB: a secret is a password, token or key, "
                                "not a file that size (is the path right?)",
                                p.string()));
      return false;
  }
  out = std::move(file.text);
  if ((file.mode & 0044) != 0)
    diagnostics().warning(
        location_of(key), join_path(path_, key),
        fmt::format("secret file {} is readable by group or others (mode {:04o}): chmod 600 {}", p.string(),
                    file.mode, p.string()));
  return true;
}

Secret ConfigNode::secret(std::string_view key, bool required) const {
  check_type(key, {config::Type::secret});
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

}  // namespace siem
