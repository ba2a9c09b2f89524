// `type: file` — appends one record per line to a file and fsyncs before acknowledging. If the
// file is moved away (rotated by logrotate) or deleted, the next batch re-creates it, with `mode`
// (default 0600). A symbolic link at the path is never followed.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>

#include "connector/core/registry.h"
#include "connector/core/sink.h"

namespace siem {

class FileSink final : public Sink {
 public:
  FileSink(std::string name, std::filesystem::path path, bool sync, mode_t mode = 0600);
  ~FileSink() override;
  void start() override;
  SendResult send(std::span<const EventPtr> batch) override;
  void stop() override;
  void set_format(OutputFormat f) { format_ = f; }

 private:
  void open_file();
  bool rotated() const;
  std::string name_;
  std::filesystem::path path_;
  bool sync_;
  mode_t mode_;
  OutputFormat format_ = OutputFormat::ecs;
  int fd_ = -1;
  bool torn_ = false;  // a failed write left a line of the open file cut short
  std::string buffer_;
};

void register_file_sink(PluginRegistry& registry);

}  // namespace siem
