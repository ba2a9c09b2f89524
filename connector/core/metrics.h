// Operational metrics: a latency histogram cheap enough for the hot path (relaxed atomics, fixed
// buckets) and a writer of the Prometheus text exposition format 0.0.4 / OpenMetrics 1.0 text.
// Kept small on purpose: tests/component/observability parses the output with the reference
// parser (python3-prometheus-client). Names follow the Prometheus conventions: counters end in
// `_total`, durations are `_seconds`, sizes `_bytes`.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace siem {

// Cumulative-on-read histogram of durations. observe() is two relaxed increments and an add.
class LatencyHistogram {
 public:
  // Upper bounds in seconds (the +Inf bucket is implicit).
  static constexpr std::array<double, 12> kBounds{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                  0.1,   0.25,   0.5,   1.0,  2.5,   10.0};
  // The same bounds as `le` label values, in the canonical spelling OpenMetrics requires.
  static constexpr std::array<const char*, 12> kBoundLabels{
      "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1.0", "2.5", "10.0"};
  void observe_us(std::uint64_t us) noexcept;
  struct Snapshot {
    std::array<std::uint64_t, kBounds.size() + 1> cumulative{};  // last one: +Inf == count
    double sum_seconds = 0;
  };
  Snapshot snapshot() const noexcept;

 private:
  std::array<std::atomic<std::uint64_t>, kBounds.size() + 1> buckets_{};
  std::atomic<std::uint64_t> sum_us_{0};
};

using Labels = std::vector<std::pair<std::string_view, std::string_view>>;

class Exposition {
 public:
  explicit Exposition(bool openmetrics) : openmetrics_(openmetrics) {}

  // Starts a metric family. `name` is without the `_total` of counters (added to the samples, and
  // to the family name in the Prometheus format, as each format wants it).
  enum class Type { counter, gauge, histogram };
  void family(std::string_view name, Type type, std::string_view help);
  // A sample of the current family (counters and gauges).
  void sample(const Labels& labels, double value);
  void histogram(const Labels& labels, const LatencyHistogram::Snapshot& h);

  // The finished text (with `# EOF` in OpenMetrics).
  std::string finish();
  static const char* content_type(bool openmetrics);

  // Label value escaping of the text format: backslash, double quote and newline.
  static std::string escape_label(std::string_view value);

 private:
  void line(std::string_view suffix, const Labels& labels, std::string_view extra_name,
            std::string_view extra_value, double value);

  bool openmetrics_;
  std::string out_;
  std::string name_;
  Type type_ = Type::gauge;
};

}  // namespace siem
