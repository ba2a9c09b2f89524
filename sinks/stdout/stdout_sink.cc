// `type: stdout` — one record per line on standard output, flushed per batch.
#include <cstdio>

#include <fmt/format.h>

#include "connector/core/one_line.h"
#include "connector/core/registry.h"
#include "connector/core/sink.h"

namespace siem {

namespace {

class StdoutSink final : public Sink {
 public:
  explicit StdoutSink(OutputFormat format) : format_(format) {}
  void start() override {}
  SendResult send(std::span<const EventPtr> batch) override {
    buffer_.clear();
    for (const auto& ev : batch) {
      if (format_ == OutputFormat::raw) append_one_line(buffer_, ev->payload(format_));  // one line per record
      else buffer_ += ev->payload(format_);
      buffer_ += '\n';
    }
    if (std::fwrite(buffer_.data(), 1, buffer_.size(), stdout) != buffer_.size() || std::fflush(stdout) != 0) {
      return SendResult::retry_from(0, "cannot write to standard output");
    }
    return SendResult::success();
  }

 private:
  OutputFormat format_;
  std::string buffer_;
};

}  // namespace

const config::Section& stdout_keys() {
  static const config::Section s{"stdout", "sinks[] with type: stdout", {}, {}};  // only the common sink keys
  return s;
}

void register_stdout_sink(PluginRegistry& registry) {
  registry.add_sink("stdout", "one record per line on standard output", [](const ConfigNode&, const PluginContext& ctx) {
    SinkInstance inst;
    inst.sink = std::make_unique<StdoutSink>(ctx.format);
    return inst;
  }, &stdout_keys());
}

}  // namespace siem
