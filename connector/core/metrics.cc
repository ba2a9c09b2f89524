#include "connector/core/metrics.h"

#include <fmt/format.h>

namespace siem {

void LatencyHistogram::observe_us(std::uint64_t us) noexcept {
  const double s = static_cast<double>(us) / 1e6;
  std::size_t i = 0;
  while (i < kBounds.size() && s > kBounds[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_us_.fetch_add(us, std::memory_order_relaxed);
}

LatencyHistogram::Snapshot LatencyHistogram::snapshot() const noexcept {
  Snapshot s;
  std::uint64_t running = 0;
  for (std::size_t i = 0; i < buckets_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative[i] = running;
  }
  s.sum_seconds = static_cast<double>(sum_us_.load(std::memory_order_relaxed)) / 1e6;
  return s;
}

std::string Exposition::escape_label(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

const char* Exposition::content_type(bool openmetrics) {
  return openmetrics ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
                     : "text/plain; version=0.0.4; charset=utf-8";
}

void Exposition::family(std::string_view name, Type type, std::string_view help) {
  name_ = name;
  type_ = type;
  const std::string fam = type == Type::counter && !openmetrics_ ? name_ + "_total" : name_;
  const char* t = type == Type::counter ? "counter" : type == Type::gauge ? "gauge" : "histogram";
  // HELP text escaping: backslash and newline (the help strings are ours, but keep it correct).
  std::string h;
  for (char c : help) {
    if (c == '\\')
      h += "\\\\";
    else if (c == '\n')
      h += "\\n";
    else
      h += c;
  }
  out_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", fam, h, fam, t);
}

void Exposition::line(std::string_view suffix, const Labels& labels, std::string_view extra_name,
                      std::string_view extra_value, double value) {
  out_ += name_;
  out_ += suffix;
  if (!labels.empty() || !extra_name.empty()) {
    out_ += '{';
    bool first = true;
    for (const auto& [k, v] : labels) {
      out_ += fmt::format("{}{}=\"{}\"", first ? "" : ",", k, escape_label(v));
      first = false;
    }
    if (!extra_name.empty()) out_ += fmt::format("{}{}=\"{}\"", first ? "" : ",", extra_name, extra_value);
    out_ += '}';
  }
  out_ += fmt::format(" {}\n", value);
}

void Exposition::sample(const Labels& labels, double value) {
  line(type_ == Type::counter ? "_total" : "", labels, {}, {}, value);
}

void Exposition::histogram(const Labels& labels, const LatencyHistogram::Snapshot& h) {
  for (std::size_t i = 0; i < LatencyHistogram::kBounds.size(); ++i)
    line("_bucket", labels, "le", LatencyHistogram::kBoundLabels[i], static_cast<double>(h.cumulative[i]));
  line("_bucket", labels, "le", "+Inf", static_cast<double>(h.cumulative.back()));
  line("_sum", labels, {}, {}, h.sum_seconds);
  line("_count", labels, {}, {}, static_cast<double>(h.cumulative.back()));
}

std::string Exposition::finish() {
  if (openmetrics_) out_ += "# EOF\n";
  return std::move(out_);
}

}  // namespace siem
