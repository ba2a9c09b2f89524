#include "connector/app/progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace siem::app {

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::milliseconds kTick{250};  // 4 redraws a second at most
constexpr const char* kClearLine = "\r\033[K";

// The status line on stderr, shared by the reporter and every writer of stderr lines.
std::mutex g_term_mu;
bool g_line_shown = false;  // g_term_mu

void draw(const std::string& text) {
  std::lock_guard lock(g_term_mu);
  std::fputs(kClearLine, stderr);
  std::fwrite(text.data(), 1, text.size(), stderr);
  std::fflush(stderr);
  g_line_shown = true;
}

void clear_line() {
  std::lock_guard lock(g_term_mu);
  if (!g_line_shown) return;
  std::fputs(kClearLine, stderr);
  std::fflush(stderr);
  g_line_shown = false;
}

// Columns of the terminal (a line longer than that would wrap, and \r clears only the last row).
std::size_t terminal_columns() {
  winsize ws{};
  if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  return 80;
}

std::string grouped(std::uint64_t n) {
  std::string digits = std::to_string(n), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string duration_text(double seconds) {
  const auto s = static_cast<std::int64_t>(seconds < 0 ? 0 : seconds + 0.5);
  if (s >= 86400) return fmt::format("{}d{}h", s / 86400, s % 86400 / 3600);
  if (s >= 3600) return fmt::format("{}h{:02}m", s / 3600, s % 3600 / 60);
  if (s >= 60) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}

std::string bytes_text(std::uint64_t b) {
  if (b >= (1ull << 30)) return fmt::format("{:.1f} GiB", static_cast<double>(b) / (1ull << 30));
  if (b >= (1ull << 20)) return fmt::format("{:.1f} MiB", static_cast<double>(b) / (1ull << 20));
  return fmt::format("{:.1f} KiB", static_cast<double>(b) / 1024.0);
}

double smooth(double previous, double now, bool first) { return first ? now : previous * 0.7 + now * 0.3; }

}  // namespace

void write_stderr(std::string_view text) {
  std::lock_guard lock(g_term_mu);
  if (g_line_shown) std::fputs(kClearLine, stderr);
  g_line_shown = false;
  std::fwrite(text.data(), 1, text.size(), stderr);
  std::fflush(stderr);
}

ProgressReporter::Mode ProgressReporter::mode_for(std::string_view log_format) {
  return log_format == "text" && ::isatty(STDERR_FILENO) == 1 ? Mode::terminal : Mode::log;
}

std::string ProgressReporter::format(std::string_view what, const ProgressSample& s, double rate,
                                     std::optional<double> eta_seconds) {
  std::string out = fmt::format("{}: {} records, {}/s", what, grouped(s.records), grouped(static_cast<std::uint64_t>(rate + 0.5)));
  if (s.total_bytes > 0)
    out += fmt::format(", {}% of {}", std::min<std::uint64_t>(100, s.done_bytes * 100 / s.total_bytes),
                       bytes_text(s.total_bytes));
  if (s.lag_seconds) out += fmt::format(", lag {}", duration_text(static_cast<double>(*s.lag_seconds)));
  if (eta_seconds) out += fmt::format(", ETA {}", duration_text(*eta_seconds));
  return out;
}

ProgressReporter::ProgressReporter(std::string what, Sampler sample, Mode mode, std::chrono::milliseconds log_every)
    : what_(std::move(what)),
      sample_(std::move(sample)),
      mode_(mode),
      log_every_(log_every),
      started_(Clock::now()),
      last_log_(started_) {
  thread_ = std::thread([this] { loop(); });
}

ProgressReporter::~ProgressReporter() { stop(); }

void ProgressReporter::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (mode_ == Mode::terminal) clear_line();
}

void ProgressReporter::loop() {
  std::unique_lock lock(mu_);
  while (!cv_.wait_for(lock, kTick, [this] { return stopping_; })) {
    lock.unlock();
    tick(Clock::now());
    lock.lock();
  }
}

void ProgressReporter::tick(Clock::time_point now) {
  const ProgressSample s = sample_();
  const bool first = !prev_at_;
  if (prev_at_) {
    const double dt = std::chrono::duration<double>(now - *prev_at_).count();
    if (dt > 0) {
      rate_ = smooth(rate_, static_cast<double>(s.records - std::min(s.records, prev_records_)) / dt, rate_ == 0);
      byte_rate_ =
          smooth(byte_rate_, static_cast<double>(s.done_bytes - std::min(s.done_bytes, prev_bytes_)) / dt, byte_rate_ == 0);
      if (s.lag_seconds && prev_lag_)
        lag_rate_ = smooth(lag_rate_, static_cast<double>(*prev_lag_ - *s.lag_seconds) / dt, false);
    }
  }
  prev_at_ = now;
  prev_records_ = s.records;
  prev_bytes_ = s.done_bytes;
  prev_lag_ = s.lag_seconds;
  if (first && mode_ == Mode::terminal && !s.active) return;
  if (!s.active) {
    if (mode_ == Mode::terminal) clear_line();
    return;
  }
  std::optional<double> eta;
  if (s.total_bytes > 0 && byte_rate_ > 0)
    eta = static_cast<double>(s.total_bytes - std::min(s.total_bytes, s.done_bytes)) / byte_rate_;
  else if (s.lag_seconds && lag_rate_ > 0.5)  // the lag falls faster than time passes
    eta = static_cast<double>(*s.lag_seconds) / lag_rate_;
  std::string text = format(what_, s, rate_, eta);
  if (mode_ == Mode::terminal) {
    const auto cols = terminal_columns();
    if (text.size() >= cols) text.resize(cols - 1);
    draw(text);
  } else if (now - last_log_ >= log_every_) {
    last_log_ = now;
    spdlog::info("progress: {}", text);
  }
}

}  // namespace siem::app
