// Process-wide logging on spdlog: human-readable text by default, JSON lines with
// `--log-format json` (one object per line: time, level, msg), always on standard error.
#pragma once

#include <string>
#include <string_view>

namespace siem::app {

// Returns false (and leaves the defaults) when level or format is not recognised.
bool setup_logging(const std::string& level, const std::string& format, std::string* error = nullptr);

// Text that is not a log line (the run summary, start-up errors and configuration diagnostics):
// written to standard error as it is with text logs, or as one JSON log object (`level` "info" or
// "error", the text in `msg`) with JSON logs, so that standard error stays one object per line.
// Whatever the log level: it is what `run` reports, not a log message.
void report(std::string_view level, std::string_view text);

}  // namespace siem::app
