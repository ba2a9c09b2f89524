#include "connector/app/logging.h"
#include "connector/app/progress.h"

#include <chrono>
#include <memory>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

namespace siem::app {

namespace {

std::string json_line(spdlog::level::level_enum level, std::string_view text,
                      std::chrono::system_clock::time_point when) {
  const auto ms = std::chrono::time_point_cast<std::chrono::milliseconds>(when);
  nlohmann::json j;
  j["time"] = fmt::format("{:%Y-%m-%dT%H:%M:%S}Z", ms);
  j["level"] = std::string(spdlog::level::to_string_view(level).data(), spdlog::level::to_string_view(level).size());
  j["msg"] = std::string(text);
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const auto line = json_line(msg.level, std::string_view(msg.payload.data(), msg.payload.size()), msg.time);
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<JsonFormatter>(); }
};

// Standard error, clearing the progress line (progress.h) before each log line.
class StderrSink final : public spdlog::sinks::base_sink<std::mutex> {
 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t buf;
    formatter_->format(msg, buf);
    write_stderr(std::string_view(buf.data(), buf.size()));
  }
  void flush_() override { std::fflush(stderr); }
};

bool g_json_logs = false;

}  // namespace

void report(std::string_view level, std::string_view text) {
  if (!g_json_logs) return write_stderr(text);
  while (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  write_stderr(json_line(level == "error" ? spdlog::level::err : spdlog::level::info, text,
                         std::chrono::system_clock::now()));
}

bool setup_logging(const std::string& level, const std::string& format, std::string* error) {
  auto logger = std::make_shared<spdlog::logger>("siem-connector", std::make_shared<StderrSink>());
  const auto lvl = spdlog::level::from_str(level == "warning" ? "warn" : level);
  if (lvl == spdlog::level::off && level != "off") {
    if (error) *error = fmt::format("unknown log level '{}' (trace, debug, info, warn, error, off)", level);
    return false;
  }
  logger->set_level(lvl);
  if (format == "json") {
    logger->set_formatter(std::make_unique<JsonFormatter>());
  } else if (format == "text") {
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%-5l%$ %v", spdlog::pattern_time_type::utc);
  } else {
    if (error) *error = fmt::format("unknown log format '{}' (text, json)", format);
    return false;
  }
  g_json_logs = format == "json";
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(logger);
  return true;
}

}  // namespace siem::app
