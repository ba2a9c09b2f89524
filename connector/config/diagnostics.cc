// Diagnostics (errors and warnings with file:line:column) and the "did you mean" suggestion.
#include "connector/config/config_internal.h"

#include <algorithm>
#include <cctype>

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

}  // namespace siem
