// The real `siem-connector` binary as a child process of a test, plus what tests read about it:
//   ConnectorProcess   posix_spawn'ed with stdout/stderr in files of a test directory; signals,
//                      bounded waits, exit status (SIGKILL on destruction)
//   eventually()       bounded polling of a condition
//   summary_of()       the per-sink line of the run summary printed on stderr at exit
//   proc_stats()       RSS, open file descriptors and threads of a live process (/proc)
// Used by the end-to-end pipeline tests (tests/component/pipeline) and the soak (tests/soak).
// Needs SIEM_BINARY_DIR (set by siem_test()).
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/wait.h"

extern char** environ;

namespace siem::test {

// The binary under test: SIEM_CONNECTOR_BINARY when set (scripts/soak.sh runs a copy, so that a
// rebuild during a long run does not change it), else the build's.
inline std::string connector_binary() {
  if (const char* b = std::getenv("SIEM_CONNECTOR_BINARY"); b != nullptr && *b != '\0') return b;
  return std::string(SIEM_BINARY_DIR) + "/siem-connector";
}

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// One siem-connector process; stdout/stderr go to `dir`/stdout and `dir`/stderr (truncated, or
// appended to with `append_logs`, so that the logs of successive restarts are kept together).
class ConnectorProcess {
 public:
  ConnectorProcess(const std::filesystem::path& dir, std::vector<std::string> args, bool append_logs = false)
      : dir_(dir) {
    args.insert(args.begin(), connector_binary());
    const int mode = O_WRONLY | O_CREAT | (append_logs ? O_APPEND : O_TRUNC);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, (dir_ / "stdout").c_str(), mode, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, (dir_ / "stderr").c_str(), mode, 0644);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&fa);
  }
  ~ConnectorProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  ConnectorProcess(const ConnectorProcess&) = delete;
  ConnectorProcess& operator=(const ConnectorProcess&) = delete;

  bool started() const { return pid_ > 0 || exit_ >= 0; }  // it ran (it may have ended since)
  pid_t pid() const { return pid_; }
  bool running() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      exit_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      return false;
    }
    return true;
  }
  void signal(int sig) {
    if (pid_ > 0) ::kill(pid_, sig);
  }
  // Exit status (128 + signal when killed by one), or -1 when it had to be killed after `timeout`.
  int wait(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (running() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (running()) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
      return -1;
    }
    return exit_;
  }
  // SIGKILL, then reap it (bounded).
  void kill9() {
    signal(SIGKILL);
    wait(std::chrono::seconds(30));
  }
  std::string err() const { return slurp(dir_ / "stderr"); }

 private:
  std::filesystem::path dir_;
  pid_t pid_ = -1;
  int exit_ = -1;
};

// The port named by the last "<marker><port>" line of a log, once that line is complete (0
// before): a test may read the log while the connector is writing that very line, and "...:4"
// cut from "...:41234" is not the port.
inline int port_in_log(const std::string& log, const std::string& marker = "/readyz on 127.0.0.1:") {
  const auto at = log.rfind(marker);
  if (at == std::string::npos) return 0;
  const auto end = log.find('\n', at);
  if (end == std::string::npos) return 0;
  return std::atoi(log.substr(at + marker.size(), end - at - marker.size()).c_str());
}

// Polls `done` every `step` for at most `timeout` (tests/support/wait.h).
inline bool eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout,
                       std::chrono::milliseconds step = std::chrono::milliseconds(50)) {
  return wait_until(done, timeout, step);
}

struct SinkSummary {
  std::uint64_t sent = 0, acked = 0, retried = 0, failed = 0, dead_lettered = 0;
  bool found = false;
};

// The per-sink line of the run summary printed on stderr at exit (the last one when the logs of
// several runs were appended).
inline SinkSummary summary_of(const std::string& err, const std::string& sink) {
  const std::regex line("\\n\\s+" + sink + "\\s+sent\\s+(\\d+)\\s+acked\\s+(\\d+)\\s+retried\\s+(\\d+)\\s+failed\\s+(\\d+)"
                        "\\s+dead-lettered\\s+(\\d+)\\s+bytes\\s+\\d+\\s+latency\\s+[0-9.]+ ms/batch");
  SinkSummary s;
  for (std::sregex_iterator it(err.begin(), err.end(), line), end; it != end; ++it) {
    const auto& m = *it;
    s.found = true;
    s.sent = std::stoull(m[1]);
    s.acked = std::stoull(m[2]);
    s.retried = std::stoull(m[3]);
    s.failed = std::stoull(m[4]);
    s.dead_lettered = std::stoull(m[5]);
  }
  return s;
}

// What /proc says about a live process; zeros when it is gone.
struct ProcStats {
  std::uint64_t rss_kb = 0;
  std::size_t fds = 0;
  std::size_t threads = 0;
};

inline std::size_t count_dir_entries(const std::string& path) {
  std::size_t n = 0;
  if (DIR* d = ::opendir(path.c_str())) {
    while (const dirent* e = ::readdir(d))
      if (e->d_name[0] != '.') ++n;
    ::closedir(d);
  }
  return n;
}

inline ProcStats proc_stats(pid_t pid) {
  ProcStats s;
  if (pid <= 0) return s;
  const std::string base = "/proc/" + std::to_string(pid);
  std::ifstream status(base + "/status");
  for (std::string l; std::getline(status, l);)
    if (l.rfind("VmRSS:", 0) == 0) s.rss_kb = std::stoull(l.substr(6));
  s.fds = count_dir_entries(base + "/fd");
  s.threads = count_dir_entries(base + "/task");
  return s;
}

}  // namespace siem::test
