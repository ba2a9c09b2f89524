// Runs the real siem-connector binary for the end-to-end tests of this directory: spawn with
// stdout/stderr to files, wait with a bound (killed after it), read a file whole.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

extern char** environ;

namespace siem::test::binary {

namespace fs = std::filesystem;
inline const std::string kBinary = std::string(SIEM_BINARY_DIR) + "/siem-connector";

struct Result {
  int status = -1;
  std::string out, err;
};

inline pid_t spawn(const std::vector<std::string>& args, const fs::path& out, const fs::path& err) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  return rc == 0 ? pid : -1;
}

inline std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Waits at most `timeout` for the process; kills it if it is still running then.
inline int wait_for(pid_t pid, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (waitpid(pid, &status, WNOHANG) == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  return -1;
}

// A test of the binary with a directory of its own ("<prefix>-<pid>-<test name>" under the
// temporary directory, made empty before and removed after) and run(): the binary with `extra` as
// its arguments, its standard output and error kept in that directory, killed after `timeout`.
class BinaryTest : public ::testing::Test {
 protected:
  BinaryTest(std::string prefix, std::chrono::seconds timeout) : prefix_(std::move(prefix)), timeout_(timeout) {}
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           (prefix_ + "-" + std::to_string(getpid()) + "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  Result run(const std::vector<std::string>& extra) { return run(extra, timeout_); }
  Result run(const std::vector<std::string>& extra, std::chrono::seconds timeout) {
    std::vector<std::string> args{kBinary};
    args.insert(args.end(), extra.begin(), extra.end());
    const pid_t pid = spawn(args, dir_ / "stdout", dir_ / "stderr");
    Result r;
    r.status = wait_for(pid, timeout);
    r.out = slurp(dir_ / "stdout");
    r.err = slurp(dir_ / "stderr");
    return r;
  }

  fs::path dir_;

 private:
  std::string prefix_;
  std::chrono::seconds timeout_;
};

}  // namespace siem::test::binary
