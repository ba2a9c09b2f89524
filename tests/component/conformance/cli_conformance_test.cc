// The interfaces of interfaces.md as a user scripts them, checked with the real binary: the
// command line's exit statuses and the line-oriented outputs (one record per line).
#include <gtest/gtest.h>
#include <fcntl.h>
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

#include <nlohmann/json.hpp>

extern char** environ;

namespace {

namespace fs = std::filesystem;
const std::string kBinary = std::string(SIEM_BINARY_DIR) + "/siem-connector";
const fs::path kData = SIEM_TEST_DATA_DIR;

struct Result {
  int status = -1;
  std::string out, err;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("siem-cli-" + std::to_string(getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Runs the binary with `args` (at most 60 s, then killed), stdout and stderr captured.
  Result run(const std::vector<std::string>& args) {
    std::vector<std::string> all{kBinary};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    const fs::path out = dir_ / "stdout", err = dir_ / "stderr";
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addchdir_np(&fa, dir_.c_str());
    pid_t pid = -1;
    const int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    Result r;
    if (rc != 0) return r;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    int status = 0;
    while (waitpid(pid, &status, WNOHANG) != pid) {
      if (std::chrono::steady_clock::now() > deadline) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        return r;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.out = slurp(out);
    r.err = slurp(err);
    return r;
  }

  // Every line of `text` is one JSON object; returns how many.
  static std::size_t json_lines(const std::string& text) {
    std::istringstream in(text);
    std::string line;
    std::size_t n = 0;
    while (std::getline(in, line)) {
      EXPECT_TRUE(nlohmann::json::accept(line)) << "not one JSON record per line: " << line.substr(0, 80);
      ++n;
    }
    return n;
  }

  fs::path dir_;
};

// interfaces.md, `map`: "one output record per line" — also for `raw`, whose text is the record's
// own and keeps the line breaks of a pretty-printed list response (the sample as Microsoft shows it).
TEST_F(Cli, MapRawWritesOneRecordPerLine) {
  const Result r = run({"map", "--format", "raw", (kData / "graph-directoryaudits-list-v1.json").string()});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(json_lines(r.out), 1u);
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j.at("category"), "UserManagement");
  EXPECT_EQ(j.at("targetResources").at(0).at("Type"), "Group");
}

// The file sink writes NDJSON: a raw record read from a pretty-printed envelope is one line, its
// values unchanged; a record without line breaks is written byte for byte.
TEST_F(Cli, FileSinkRawWritesOneRecordPerLine) {
  fs::copy_file(kData / "eventhub-auditlogs-records-envelope.json", dir_ / "in.json");
  std::ofstream(dir_ / "in.json", std::ios::app) << "\n{\"id\":\"compact-1\",\"activityDisplayName\":\"x\"}\n";
  std::ofstream(dir_ / "c.yaml") << "state_dir: ./state\n"
                                    "dead_letter: {path: ./dl.ndjson}\n"
                                    "sources: [{name: f, type: file, path: ./in.json}]\n"
                                    "sinks: [{name: out, type: file, format: raw, path: ./out.ndjson}]\n";
  const Result r = run({"run", "-c", "c.yaml", "--once"});
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string out = slurp(dir_ / "out.ndjson");
  ASSERT_EQ(json_lines(out), 2u) << out;
  const auto first = nlohmann::json::parse(out.substr(0, out.find('\n')));
  const auto envelope = nlohmann::json::parse(slurp(kData / "eventhub-auditlogs-records-envelope.json"));
  EXPECT_EQ(first, envelope.at("records").at(0));
  EXPECT_EQ(out.substr(out.find('\n') + 1), "{\"id\":\"compact-1\",\"activityDisplayName\":\"x\"}\n");
}

// A command line that cannot be parsed is a usage error: status 1, like every configuration
// error (README, exit statuses), not CLI11's 105/106; --help stays 0.
TEST_F(Cli, UsageErrorsExitOne) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{}, {"run"}, {"bogus"}, {"map", "--format", "xml"}, {"run", "-c", "x.yaml", "--onse"}}) {
    const Result r = run(args);
    EXPECT_EQ(r.status, 1) << (args.empty() ? "(no arguments)" : args[0]) << ": " << r.err;
    EXPECT_FALSE(r.err.empty());
  }
  EXPECT_EQ(run({"--help"}).status, 0);
  EXPECT_EQ(run({"map", "--help"}).status, 0);
}

}  // namespace
