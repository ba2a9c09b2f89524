#include "sinks/file/file_sink.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "connector/core/one_line.h"
#include "connector/state/private_files.h"

namespace siem {

FileSink::FileSink(std::string name, std::filesystem::path path, bool sync, mode_t mode)
    : name_(std::move(name)), path_(std::move(path)), sync_(sync), mode_(mode) {}

FileSink::~FileSink() { stop(); }

void FileSink::open_file() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  files::AppendFile file;
  try {
    file = files::open_append_nofollow(path_, mode_, "file sink output");
  } catch (const std::runtime_error& e) {
    throw SinkError(e.what());
  }
  fd_ = file.fd;
  torn_ = false;  // an earlier file's; this one is checked below
  // The events of a line cut short by a crash were not acknowledged: they are written again, on
  // lines of their own.
  if (!file.created && files::end_torn_line(fd_))
    spdlog::warn("sink {}: {} ended with a line cut short (an earlier run stopped while writing it); a newline now "
                 "ends it, so the next events start on a line of their own",
                 name_, path_.string());
}

bool FileSink::rotated() const {
  struct stat on_disk {}, open_file {};
  // lstat: a link put in the file's place is a change too (and is then refused by open_file).
  if (::lstat(path_.c_str(), &on_disk) != 0) return true;  // deleted or moved away
  if (::fstat(fd_, &open_file) != 0) return true;
  return on_disk.st_ino != open_file.st_ino || on_disk.st_dev != open_file.st_dev;
}

void FileSink::start() {
  if (fd_ < 0) open_file();
}

SendResult FileSink::send(std::span<const EventPtr> batch) {
  try {
    if (fd_ < 0 || rotated()) open_file();
  } catch (const SinkError& e) {
    return SendResult::retry_from(0, e.what());
  }
  // A write that failed part way (a full disk, a file size limit) left a line cut short: it is
  // ended before these events, which are written again on lines of their own.
  while (torn_) {
    if (::write(fd_, "\n", 1) == 1) {
      torn_ = false;
    } else if (errno != EINTR) {
      return SendResult::retry_from(0, fmt::format("cannot write {}: {}", path_.string(), std::strerror(errno)));
    }
  }
  buffer_.clear();
  for (const auto& ev : batch) {
    if (format_ == OutputFormat::raw) append_one_line(buffer_, ev->payload(format_));  // NDJSON: one line per record
    else buffer_ += ev->payload(format_);
    buffer_ += '\n';
  }
  std::string_view rest = buffer_;
  while (!rest.empty()) {
    const ssize_t n = ::write(fd_, rest.data(), rest.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      const int error = errno;
      const std::size_t written = buffer_.size() - rest.size();
      torn_ = written > 0 && buffer_[written - 1] != '\n';
      // Lines already written are not acknowledged either: a partial batch is written again (at
      // least once), never lost.
      return SendResult::retry_from(0, fmt::format("cannot write {}: {}", path_.string(), std::strerror(error)));
    }
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
  if (sync_ && ::fdatasync(fd_) != 0)
    return SendResult::retry_from(0, fmt::format("cannot sync {}: {}", path_.string(), std::strerror(errno)));
  return SendResult::success();
}

void FileSink::stop() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

namespace {

const config::Section& file_sink_keys() {
  using config::Type;
  static const config::Section s{"file_sink", "sinks[] with type: file", {}, {
      {"path", Type::path, "required", "appended to, one event per line. Never opened through a symbolic link"},
      {"mode", Type::string, "\"0600\"", "octal permissions of the file when the connector creates it (also after rotation), applied exactly (the umask does not change them), e.g. `\"0640\"` for a log shipper in the file's group. At most `0777`; a mode that lets group or others write is a warning"},
      {"sync", Type::boolean, "true", "`fsync` before acknowledging. Turning it off weakens the delivery guarantee to \"written to the page cache\""},
  }};
  return s;
}

}  // namespace

void register_file_sink(PluginRegistry& registry) {
  registry.add_sink("file", "one record per line to a file, fsync'ed before acknowledging",
                    [](const ConfigNode& cfg, const PluginContext& ctx) {
                      SinkInstance inst;
                      std::filesystem::path path;
                      if (auto p = cfg.file_path("path")) path = *p;
                      else cfg.error("missing required key 'path'");
                      mode_t mode = 0600;
                      if (auto m = cfg.optional_string("mode")) {
                        if (auto parsed = files::parse_file_mode(*m)) {
                          mode = *parsed;
                          if ((mode & 0022) != 0)
                            cfg.diagnostics().warning(cfg.location_of("mode"), cfg.path() + ".mode",
                                                      fmt::format("mode {} lets other users write events into the "
                                                                  "output (give write access to this user only)",
                                                                  files::format_mode(mode)));
                        } else
                          cfg.error_at("mode", fmt::format("'{}' is not an octal file mode like 0600 or 0640 (at most "
                                                           "0777, no set-id or sticky bits)",
                                                           *m));
                      }
                      auto sink = std::make_unique<FileSink>(ctx.name, path, cfg.boolean("sync", true), mode);
                      sink->set_format(ctx.format);
                      inst.sink = std::move(sink);
                      return inst;
                    }, &file_sink_keys());
}

}  // namespace siem
