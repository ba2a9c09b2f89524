// Process-wide logging on spdlog: human-readable text by default, JSON lines with
// `--log-format json` (one object per line: time, level, msg), always on standard error.
#pragma once

#include <string>

namespace siem::app {

// Returns false (and leaves the defaults) when level or format is not recognised.
bool setup_logging(const std::string& level, const std::string& format, std::string* error = nullptr);

}  // namespace siem::app
