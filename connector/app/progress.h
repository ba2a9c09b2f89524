// Progress of long work (a backfill, `run --once` catching up, `map` over big files).
//   * On a terminal (stderr is a TTY and logs are text): one status line on stderr — records, rate,
//     how far along (lag or percentage) and an ETA — redrawn in place 4 times a second (carriage
//     return + clear line). Log lines (and anything else written with write_stderr()) clear it
//     first; it is cleared when the work ends, so neither logs nor the final output are garbled.
//   * Otherwise (stderr is a pipe or a file, or `--log-format json`): no status line; an info log
//     line every 10 s while the work lasts.
// It only reads counters the work already keeps (the `sample` function); it never slows it down.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

namespace siem::app {

struct ProgressSample {
  bool active = true;              // false: nothing to show now (e.g. every source caught up)
  std::uint64_t records = 0;       // records done so far
  std::uint64_t done_bytes = 0;    // with total_bytes: how far through the input
  std::uint64_t total_bytes = 0;   // 0 when unknown (stdin, a live source)
  std::optional<std::int64_t> lag_seconds;  // how far behind now the oldest source is
};

// Writes `text` on stderr, clearing the status line first when one is shown (the log sink of
// logging.cc writes through it).
void write_stderr(std::string_view text);

class ProgressReporter {
 public:
  enum class Mode { terminal, log };
  // terminal when stderr is a TTY and the log format is text; log otherwise.
  static Mode mode_for(std::string_view log_format);

  using Sampler = std::function<ProgressSample()>;
  ProgressReporter(std::string what, Sampler sample, Mode mode,
                   std::chrono::milliseconds log_every = std::chrono::seconds(10));
  ~ProgressReporter();  // stop()
  ProgressReporter(const ProgressReporter&) = delete;
  ProgressReporter& operator=(const ProgressReporter&) = delete;

  // Ends the display and clears the status line (idempotent).
  void stop();

  // The status text of a sample, given the rate (records/s) and the ETA when known. For tests.
  static std::string format(std::string_view what, const ProgressSample& s, double rate,
                            std::optional<double> eta_seconds);

 private:
  void loop();
  void tick(std::chrono::steady_clock::time_point now);

  const std::string what_;
  const Sampler sample_;
  const Mode mode_;
  const std::chrono::milliseconds log_every_;
  const std::chrono::steady_clock::time_point started_;
  std::chrono::steady_clock::time_point last_log_;
  // The rate: records and lag at the previous tick, smoothed.
  std::optional<std::chrono::steady_clock::time_point> prev_at_;
  std::uint64_t prev_records_ = 0;
  std::uint64_t prev_bytes_ = 0;
  std::optional<std::int64_t> prev_lag_;
  double rate_ = 0, byte_rate_ = 0, lag_rate_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace siem::app
