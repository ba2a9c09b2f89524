// Standard error of `run` with JSON logs (`--log-format json`, or `log: {format: json}` in the
// configuration, as the Helm chart and the sidecar example set it): one JSON object per line, for
// the container runtime's log pipeline. That covers what is not a log message too: the summary
// printed at exit and at each pipeline restart, start-up errors and configuration diagnostics.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/audit_record.h"
#include "tests/support/connector_process.h"

namespace siem::test {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;

class RunLogs : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("siem-logs-" + std::to_string(getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::ofstream in(dir_ / "in.ndjson");
    for (int i = 0; i < 5; ++i) in << directory_audit("Directory_logs_" + std::to_string(i), "UserManagement", "Update user").dump() << "\n";
    in << "{\"id\": \"broken\", \n";  // dead-lettered: the summary then has its dead-letter line too
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }
  void write_config(const std::string& extra = "") const {
    std::ofstream(dir_ / "config.yaml") << "state_dir: " << (dir_ / "state").string() << "\n"
                                        << "sources:\n  - {name: audit, type: file, path: " << (dir_ / "in.ndjson").string()
                                        << "}\n"
                                        << "sinks:\n  - {name: out, type: file, format: ecs, path: "
                                        << (dir_ / "out.ndjson").string() << "}\n"
                                        << extra;
  }
  int run(std::vector<std::string> args) {
    ConnectorProcess p(dir_, std::move(args));
    EXPECT_TRUE(p.started());
    return p.wait(seconds(60));
  }
  // Every line of standard error, parsed; a line that is not a JSON object fails the test.
  std::vector<nlohmann::json> json_lines() const {
    std::vector<nlohmann::json> out;
    std::istringstream err(slurp(dir_ / "stderr"));
    for (std::string line; std::getline(err, line);) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      EXPECT_TRUE(j.is_object()) << "not a JSON log line: " << line;
      if (j.is_object()) out.push_back(std::move(j));
    }
    return out;
  }
  // The `msg` of the first line of `level` containing `text` ("" when none).
  std::string find(const std::string& level, const std::string& text) const {
    for (const auto& j : json_lines())
      if (j.value("level", "") == level && j.value("msg", "").find(text) != std::string::npos) return j["msg"];
    return "";
  }

  fs::path dir_;
};

TEST_F(RunLogs, SummaryIsOneJsonObjectWithJsonLogs) {
  write_config();
  EXPECT_EQ(run({"--log-format", "json", "run", "--once", "-c", (dir_ / "config.yaml").string()}), 3)
      << slurp(dir_ / "stderr");
  const auto summary = find("info", "summary: 5 event(s) mapped, 1 dead-lettered");
  EXPECT_NE(summary.find("record(s) written to the dead-letter file"), std::string::npos) << slurp(dir_ / "stderr");
  EXPECT_NE(summary.find("\n  sinks:\n"), std::string::npos) << summary;
}

TEST_F(RunLogs, ConfigurationLogFormatAppliesToTheSummary) {
  write_config("log: {format: json}\n");
  EXPECT_EQ(run({"run", "--once", "-c", (dir_ / "config.yaml").string()}), 3) << slurp(dir_ / "stderr");
  EXPECT_NE(find("info", "summary: 5 event(s) mapped"), "") << slurp(dir_ / "stderr");
}

TEST_F(RunLogs, StartUpErrorsAreJsonWithJsonLogs) {
  // An invalid configuration: the diagnostics, file:line:column included, in one error object.
  write_config("pipeline: {drain_timout: 5s}\n");
  const auto config = (dir_ / "config.yaml").string();
  EXPECT_EQ(run({"--log-format", "json", "run", "-c", config}), 1);
  EXPECT_NE(find("error", config + ":6:12: error: pipeline: unknown key 'drain_timout'"), "") << slurp(dir_ / "stderr");
  // A state directory others can reach.
  write_config();
  fs::create_directories(dir_ / "state");
  ::chmod((dir_ / "state").c_str(), 0755);
  EXPECT_EQ(run({"--log-format", "json", "run", "-c", config}), 1);
  EXPECT_NE(find("error", "is readable by group or others"), "") << slurp(dir_ / "stderr");
}

}  // namespace
}  // namespace siem::test
