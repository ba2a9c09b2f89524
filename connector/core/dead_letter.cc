#include "connector/core/dead_letter.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace siem {

DeadLetterWriter::DeadLetterWriter(std::filesystem::path path) : path_(std::move(path)) {}

DeadLetterWriter::~DeadLetterWriter() {
  if (fd_ >= 0) ::close(fd_);
}

void DeadLetterWriter::open_locked() {
  if (fd_ >= 0) return;
  std::error_code ec;
  if (path_.has_parent_path()) std::filesystem::create_directories(path_.parent_path(), ec);
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd_ < 0)
    throw std::runtime_error(fmt::format("dead-letter: cannot open {}: {}", path_.string(), std::strerror(errno)));
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
      throw std::runtime_error(fmt::format("dead-letter: cannot write {}: {}", path_.string(), std::strerror(errno)));
    }
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
  if (::fdatasync(fd_) != 0)
    throw std::runtime_error(fmt::format("dead-letter: cannot sync {}: {}", path_.string(), std::strerror(errno)));
}

}  // namespace siem
