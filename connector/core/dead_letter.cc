#include "connector/core/dead_letter.h"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "connector/state/private_files.h"

namespace siem {

DeadLetterWriter::DeadLetterWriter(std::filesystem::path path) : path_(std::move(path)) {}

DeadLetterWriter::~DeadLetterWriter() {
  if (fd_ >= 0) ::close(fd_);
}

void DeadLetterWriter::open_locked() {
  if (fd_ >= 0) return;
  // Whole audit records land here: private to this user, never written through a link.
  const auto file = files::open_append_nofollow(path_, 0600, "dead-letter file");
  fd_ = file.fd;
  if (!file.created && files::end_torn_line(fd_))
    spdlog::warn("dead-letter file {} ended with a line cut short (an earlier run stopped while writing it); a "
                 "newline now ends it, so the next letters start on a line of their own",
                 path_.string());
  if (!file.created && (file.mode & 0077) != 0)
    spdlog::warn("dead-letter file {} is readable or writable by group or others (mode {}); it holds whole audit "
                 "records: chmod 600 {}",
                 path_.string(), files::format_mode(file.mode), path_.string());
}

void DeadLetterWriter::write(const DeadLetter& letter) { write(std::vector<DeadLetter>{letter}); }

void DeadLetterWriter::write(const std::vector<DeadLetter>& letters) {
  if (letters.empty()) return;
  const auto now = std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
  std::string out;
  for (const auto& l : letters) {
    nlohmann::json j;
    j["time"] = fmt::format("{:%Y-%m-%dT%H:%M:%S}Z", now);
    j["stage"] = l.stage;
    j["source"] = l.source;
    j["origin"] = l.origin;
    j["reason"] = l.reason;
    j["record"] = l.record;
    // Invalid UTF-8 in a broken record must not make the dead-letter line itself unwritable.
    out += j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    out += '\n';
  }
  count_ += letters.size();
  if (path_.empty()) return;
  std::lock_guard lock(mu_);
  open_locked();
  std::string_view rest = out;
  while (!rest.empty()) {
    const ssize_t n = ::write(fd_, rest.data(), rest.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      const int error = errno;
      if (rest.size() != out.size()) {
        // A line may be cut short (a full disk): reopening ends it (open_locked) before the next letters.
        ::close(fd_);
        fd_ = -1;
      }
      throw std::runtime_error(fmt::format("dead-letter: cannot write {}: {}", path_.string(), std::strerror(error)));
    }
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
  if (::fdatasync(fd_) != 0)
    throw std::runtime_error(fmt::format("dead-letter: cannot sync {}: {}", path_.string(), std::strerror(errno)));
}

}  // namespace siem
