// Shared fixture of the pull-source end-to-end tests: the real `siem-connector` binary run with
// `run --once` against the Graph/ARM emulator served in-process over HTTPS on 127.0.0.1 (test CA
// made at test time), file sink in raw format, assertions by record id (Graph `id`, Activity Log
// `eventDataId`, as interfaces.md pins them).
#pragma once

#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "tests/support/loopback_server.h"
#include "tests/support/test_http.h"
#include "tools/emulator/emulator.h"

extern char** environ;

namespace siem::pulltest {

namespace fs = std::filesystem;
using nlohmann::json;

const std::string kBinary = std::string(SIEM_BINARY_DIR) + "/siem-connector";
constexpr const char* kTenant = "11111111-1111-1111-1111-111111111111";
constexpr const char* kClient = "22222222-2222-2222-2222-222222222222";
constexpr const char* kSecret = "pull-e2e-secret-value";
constexpr const char* kSub = "33333333-3333-3333-3333-333333333333";

inline std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Result {
  int status = -1;
  std::string err;
};

// Runs the binary with stdout/stderr captured to files; killed after `timeout`.
inline Result run_binary(const std::vector<std::string>& args, const fs::path& dir, std::chrono::seconds timeout) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  const std::string out = (dir / "stdout").string(), err = (dir / "stderr").string();
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<std::string> all{kBinary};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  Result r;
  if (posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ) != 0) {
    posix_spawn_file_actions_destroy(&fa);
    r.err = "posix_spawn failed";
    return r;
  }
  posix_spawn_file_actions_destroy(&fa);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  bool exited = false;
  while (std::chrono::steady_clock::now() < deadline) {
    if (waitpid(pid, &status, WNOHANG) == pid) {
      exited = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (!exited) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    r.status = -1;
  } else {
    r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  r.err = slurp(dir / "stderr");
  return r;
}

// Record identity as interfaces.md pins it: Activity Log eventDataId, otherwise Graph/ARM id.
inline std::string record_id(const json& r) {
  if (r.contains("eventDataId")) return r["eventDataId"].get<std::string>();
  return r.value("id", "");
}

class PullRunOnce : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { pki_ = new test::TestPki(); }
  static void TearDownTestSuite() {
    delete pki_;
    pki_ = nullptr;
  }

  void SetUp() override {
    ASSERT_TRUE(fs::exists(kBinary)) << kBinary;
    dir_ = fs::temp_directory_path() /
           ("siem-pull-" + std::to_string(getpid()) + "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    setenv("SIEM_PULL_TEST_SECRET", kSecret, 1);
  }
  void TearDown() override {
    // The server first: its connection threads call into the emulator (routes, request log).
    server_.reset();
    emu_.reset();
    if (!HasFailure()) fs::remove_all(dir_);
  }

  void start_emulator(emulator::AppRegistration app, int reports_limit = 0, bool wrong_name = false) {
    emulator::Options o;
    o.apps = {std::move(app)};
    o.subscriptions = subscriptions_;
    o.reports_limit_per_10s = reports_limit;
    o.seed = seed_;
    server_ = test::make_tls_server(*pki_, wrong_name);
    emu_ = std::make_unique<emulator::Emulator>(o, *server_);
    server_->start();
    url_ = server_->base_url();
  }
  void start_emulator() { start_emulator(app()); }

  // Defined in pull_run_once_test.cc (start-up order tests).
  void expect_sign_ins_tagged_after_roster_source(const std::string& roster_source, const std::string& slow_prefix,
                                                  const std::set<std::string>& expected);

  static emulator::AppRegistration app() {
    emulator::AppRegistration a;
    a.tenant_id = kTenant;
    a.client_id = kClient;
    a.client_secret = kSecret;
    return a;
  }

  // One source entry: the connection keys every pull source shares plus `extra` lines.
  std::string source(const std::string& name, const std::string& type, const std::string& extra,
                     const std::string& tenant = kTenant, const std::string& cloud = "custom", std::string ca = {}) const {
    if (ca.empty()) ca = pki_->ca_pem();
    std::string s = "  - name: " + name + "\n    type: " + type + "\n    tenant_id: " + tenant + "\n    cloud: " + cloud +
                    "\n    endpoints: {login: " + url_ + ", graph: " + url_ + ", arm: " + url_ + "}\n" +
                    "    auth:\n      method: client_secret\n      client_id: " + kClient + "\n      client_secret: ${SIEM_PULL_TEST_SECRET}\n" +
                    "    tls: {ca_file: " + ca + "}\n" +
                    "    poll_interval: 1s\n    lookback: " + lookback_ + "\n    safety_lag: 0s\n" + window_keys_ +
                    "    connect_timeout: 5s\n    request_timeout: 10s\n";
    std::istringstream lines(extra);
    std::string line;
    while (std::getline(lines, line)) s += "    " + line + "\n";
    return s;
  }

  void write_config(const std::string& sources) const {
    std::ofstream(dir_ / "config.yaml") << "state_dir: " << (dir_ / "state").string() << "\n"
                                        << "dead_letter: {path: " << (dir_ / "dead-letter.ndjson").string() << "}\n"
                                        << "sources:\n"
                                        << sources << "sinks:\n  - {name: out, type: file, format: raw, path: "
                                        << (dir_ / "out.ndjson").string() << "}\n";
  }

  Result run(std::chrono::seconds timeout = std::chrono::seconds(90)) {
    return run_binary({"run", "-c", (dir_ / "config.yaml").string(), "--once"}, dir_, timeout);
  }

  // Ids in the sink file from line `from` on; `lines` gets the new line count.
  std::map<std::string, int> delivered(std::size_t from, std::size_t* lines = nullptr) const {
    std::map<std::string, int> ids;
    std::ifstream in(dir_ / "out.ndjson");
    std::string line;
    std::size_t n = 0;
    while (std::getline(in, line)) {
      if (n++ < from) continue;
      ids[record_id(json::parse(line))]++;
    }
    if (lines) *lines = n;
    return ids;
  }

  std::set<std::string> emulator_ids(std::initializer_list<const char*> collections) const {
    std::set<std::string> ids;
    for (const char* c : collections)
      for (const auto& r : emu_->records(c)) ids.insert(record_id(r));
    return ids;
  }

  json endpoint_stats(const std::string& name) const {
    auto s = emu_->stats()["endpoints"];
    return s.contains(name) ? s[name] : json{{"count", 0}, {"statuses", json::array()}, {"received_ms", json::array()}, {"targets", json::array()}};
  }

  // Stderr lines at error level.
  static std::vector<std::string> error_lines(const std::string& err) {
    std::vector<std::string> out;
    std::istringstream in(err);
    std::string line;
    while (std::getline(in, line))
      if (line.find(" error ") != std::string::npos || line.find("[error]") != std::string::npos ||
          line.find("\"level\":\"error\"") != std::string::npos)
        out.push_back(line);
    return out;
  }

  static inline test::TestPki* pki_ = nullptr;
  std::unique_ptr<test::LoopbackServer> server_;
  std::unique_ptr<emulator::Emulator> emu_;
  std::string url_;
  fs::path dir_;
  // First-run window keys of every source: by default two 1 h windows overlapping by the lookback.
  std::string window_keys_ = "    initial_lookback: 2h\n";
  std::string lookback_ = "30m";
  bool seed_ = true;  // the emulator's built-in scenario
  std::vector<std::string> subscriptions_{kSub};  // the emulator's subscriptions (each seeded with its events)
};

}  // namespace siem::pulltest
