// Live reload through the real `siem-connector run` (file source -> file sink, observability
// endpoint on 127.0.0.1):
//   * a mapping override changed on disk shows in the next events after SIGHUP;
//   * a broken configuration is rejected with file:line:column, the old one keeps delivering, and
//     the failure is counted in /metrics (parsed with the Prometheus reference parser);
//   * ids appended while the configuration is reloaded several times (mapping swaps and pipeline
//     restarts) reach the sink exactly once each;
//   * POST /-/reload reloads from a loopback client, and is refused for a browser request, a
//     request with a body, and when `observability.reload: off`;
//   * a SIGHUP while `run` is still reading its configuration does not kill it.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tests/support/audit_record.h"
#include "tests/support/connector_process.h"
#include "tests/support/test_http.h"

namespace siem::test {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using std::chrono::seconds;

std::string record(int i) {
  return siem::test::directory_audit("Directory_reload_" + std::to_string(i), "UserManagement", "Update user").dump();
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

class Reload : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           fmt::format("siem-reload-{}-{}", getpid(), ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::ofstream(dir_ / "in.ndjson");
  }
  void TearDown() override {
    if (proc_) {
      proc_->signal(SIGTERM);
      EXPECT_NE(proc_->wait(seconds(60)), -1) << "no exit within 60 s of SIGTERM";
    }
    if (!HasFailure()) fs::remove_all(dir_);
  }

  // The configuration: file source and file sink, an override file setting labels.reload_marker.
  // Four mapping workers (more than the cores of a small machine): the swap must still take over
  // between two records with every record in flight finished.
  void write_config(const std::string& pipeline = "{drain_timeout: 20s, workers: 4}", const std::string& observability = "",
                    const std::string& sink_extra = "") const {
    std::ofstream(dir_ / "config.yaml")
        << "state_dir: " << (dir_ / "state").string() << "\n"
        << "observability: {listen: \"127.0.0.1:0\"" << observability << "}\n"
        << "pipeline: " << pipeline << "\n"
        << "mappings: {overrides: [" << (dir_ / "override.yaml").string() << "]}\n"
        << "sources:\n  - {name: audit, type: file, path: " << (dir_ / "in.ndjson").string() << "}\n"
        << "sinks:\n  - {name: out, type: file, format: ecs, path: " << (dir_ / "out.ndjson").string() << sink_extra
        << "}\n";
  }
  void write_override(const std::string& marker) const {
    std::ofstream(dir_ / "override.yaml") << "kind: graph_directory_audit\necs:\n  labels.reload_marker: {value: "
                                          << marker << "}\n";
  }
  void append(int from, int to) const {
    std::string text;
    for (int i = from; i < to; ++i) text += record(i) + "\n";
    std::ofstream(dir_ / "in.ndjson", std::ios::app) << text;
  }
  // id -> labels.reload_marker of every delivered event (an id seen twice is recorded in dups_).
  std::map<std::string, std::string> delivered() {
    std::map<std::string, std::string> out;
    std::ifstream in(dir_ / "out.ndjson");
    std::string line;
    dups_.clear();
    while (std::getline(in, line)) {
      const auto j = json::parse(line, nullptr, false);
      if (j.is_discarded()) continue;  // a line being written
      const auto id = j["event"]["id"].get<std::string>();
      if (!out.emplace(id, j["labels"].value("reload_marker", "")).second) dups_.push_back(id);
    }
    return out;
  }
  bool delivered_count(std::size_t n) { return delivered().size() >= n; }
  std::string err() const { return slurp(dir_ / "stderr"); }

  void launch() {
    proc_ = std::make_unique<ConnectorProcess>(dir_, std::vector<std::string>{"run", "-c", (dir_ / "config.yaml").string()});
    ASSERT_TRUE(proc_->started());
    ASSERT_TRUE(eventually([&] { return port_in_log(err()) != 0 || !proc_->running(); }, seconds(30))) << err();
    ASSERT_TRUE(proc_->running()) << err();
    port_ = port_in_log(err());
  }
  // SIGHUP, then waits until the log shows the outcome `what` once more than before.
  void hangup_and_wait(const std::string& what) {
    const auto before = count(err(), what);
    proc_->signal(SIGHUP);
    ASSERT_TRUE(eventually([&] { return count(err(), what) > before; }, seconds(60))) << err();
  }

  TestResponse post(const std::string& path, const std::string& body = {}, const httpd::Headers& headers = {}) const {
    return http_fetch("POST", fmt::format("http://127.0.0.1:{}{}", port_, path), body, headers);
  }
  // /metrics parsed by the Prometheus reference parser: name -> value of the unlabelled samples.
  std::map<std::string, double> scrape() const {
    const auto r = http_fetch("GET", fmt::format("http://127.0.0.1:{}/metrics", port_));
    EXPECT_EQ(r.status, 200);
    std::ofstream(dir_ / "scrape.txt", std::ios::binary) << r.body;
    const auto cmd = fmt::format("{} {} prometheus < {} > {}", SIEM_SYSTEM_PYTHON, SIEM_PARSE_EXPOSITION,
                                 (dir_ / "scrape.txt").string(), (dir_ / "scrape.json").string());
    EXPECT_EQ(std::system(cmd.c_str()), 0) << r.body;
    std::map<std::string, double> out;
    const auto doc = json::parse(slurp(dir_ / "scrape.json"), nullptr, false);
    if (doc.is_discarded()) return out;
    for (const auto& s : doc["samples"])
      if (s["labels"].empty()) out[s["name"].get<std::string>()] = s["value"].get<double>();
    return out;
  }
  // Scrapes until /metrics shows every one of `expected` (bounded): the reload thread counts an
  // outcome just after it logs it, and sets the figures one after the other.
  std::map<std::string, double> scrape_until(const std::map<std::string, double>& expected) const {
    std::map<std::string, double> m;
    eventually(
        [&] {
          m = scrape();
          for (const auto& [name, value] : expected)
            if (const auto it = m.find(name); it == m.end() || it->second != value) return false;
          return true;
        },
        seconds(30));
    return m;
  }

  fs::path dir_;
  std::unique_ptr<ConnectorProcess> proc_;
  int port_ = 0;
  std::vector<std::string> dups_;
};

constexpr const char* kSwapped = "the mapping stage is rebuilt";
constexpr const char* kRestarted = "pipeline: starting with the reloaded configuration";
constexpr const char* kRejected = "rejected, the running configuration stays";
constexpr const char* kApplied = "reload: the new mapping stage maps the records from here on";

TEST_F(Reload, ChangedMappingOverrideShowsInTheNextEventsAfterSighup) {
  write_override("before");
  write_config();
  launch();
  append(0, 3);
  ASSERT_TRUE(eventually([&] { return delivered_count(3); }, seconds(60))) << err();
  write_override("after");
  hangup_and_wait(kSwapped);
  append(3, 6);
  ASSERT_TRUE(eventually([&] { return delivered_count(6); }, seconds(60))) << err();
  const auto d = delivered();
  for (int i = 0; i < 6; ++i)
    EXPECT_EQ(d.at("Directory_reload_" + std::to_string(i)), i < 3 ? "before" : "after") << i;
  EXPECT_TRUE(dups_.empty());
  EXPECT_EQ(count(err(), kRestarted), 0u) << "a mapping change must not restart the pipeline";
  const auto m = scrape();
  EXPECT_EQ(m.at("siem_config_reload_successes_total"), 1);
  EXPECT_EQ(m.at("siem_config_reload_failures_total"), 0);
  EXPECT_EQ(m.at("siem_config_last_reload_successful"), 1);
  EXPECT_GT(m.at("siem_config_last_reload_success_timestamp_seconds"), 1.6e9);
}

TEST_F(Reload, BrokenConfigurationIsRejectedAndTheOldOneKeepsRunning) {
  write_override("kept");
  write_config();
  launch();
  append(0, 2);
  ASSERT_TRUE(eventually([&] { return delivered_count(2); }, seconds(60))) << err();
  // A misspelt sink key on line 8 (and a changed override, which must not apply either).
  write_config("{drain_timeout: 20s}", "", ", pathh: x");
  write_override("changed");
  hangup_and_wait(kRejected);
  // The reload logs the diagnostics `validate` prints for the same file.
  fs::create_directories(dir_ / "validate");
  ConnectorProcess validate(dir_ / "validate", {"validate", "-c", (dir_ / "config.yaml").string()});
  ASSERT_EQ(validate.wait(seconds(60)), 1);
  std::string first_error;
  std::getline(std::istringstream(slurp(dir_ / "validate" / "stderr")) >> std::ws, first_error);
  EXPECT_NE(first_error.find((dir_ / "config.yaml").string() + ":8:"), std::string::npos) << first_error;
  EXPECT_NE(first_error.find("unknown key 'pathh'"), std::string::npos) << first_error;
  const auto log = err();
  EXPECT_NE(log.find(first_error), std::string::npos) << first_error << "\n" << log;
  auto m = scrape_until({{"siem_config_reload_failures_total", 1}, {"siem_config_last_reload_successful", 0}});
  EXPECT_EQ(m.at("siem_config_reload_failures_total"), 1);
  EXPECT_EQ(m.at("siem_config_reload_successes_total"), 0);
  EXPECT_EQ(m.at("siem_config_last_reload_successful"), 0);
  // A YAML syntax error is rejected too.
  std::ofstream(dir_ / "config.yaml", std::ios::app) << "sources: [\n";
  hangup_and_wait(kRejected);
  EXPECT_EQ(scrape_until({{"siem_config_reload_failures_total", 2}}).at("siem_config_reload_failures_total"), 2);
  // The old configuration (and its mapping) still delivers.
  append(2, 5);
  ASSERT_TRUE(eventually([&] { return delivered_count(5); }, seconds(60))) << err();
  for (const auto& [id, marker] : delivered()) EXPECT_EQ(marker, "kept") << id;
  EXPECT_TRUE(proc_->running());
}

TEST_F(Reload, NoEventLostOrDuplicatedAcrossReloadsUnderLoad) {
  write_override("marker0");
  write_config();
  launch();
  // The writer appends until the reloads are done (at most kMax ids), so every reload happens
  // while ids are being appended and read.
  constexpr int kMax = 400'000, kChunk = 200;
  std::atomic<bool> reloads_done{false};
  std::atomic<int> written{0};
  std::thread writer([&] {
    for (int i = 0; i < kMax && !reloads_done; i += kChunk) {
      append(i, i + kChunk);
      written = i + kChunk;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  });
  // Six reloads while the ids are appended: mapping swaps and pipeline restarts in turn (the
  // restart changes a pipeline setting and the sink's batch size, so sink and source are rebuilt).
  for (int r = 1; r <= 6; ++r) {
    if (r % 2 == 1) {
      // A mapping swap, applied with the next record mapped (the writer keeps them coming).
      const auto applied = count(err(), kApplied);
      write_override(fmt::format("marker{}", r));
      hangup_and_wait(kSwapped);
      ASSERT_TRUE(eventually([&] { return count(err(), kApplied) > applied; }, seconds(60))) << err();
    } else {
      write_config(fmt::format("{{drain_timeout: 20s, workers: 4, checkpoint_interval: {}ms}}", 500 + r),
                   "", fmt::format(", batch: {{max_events: {}}}", 100 + r));
      hangup_and_wait(kRestarted);
    }
    if (HasFailure()) break;
  }
  EXPECT_LT(written.load(), kMax) << "the reloads did not all happen while ids were appended";
  reloads_done = true;
  writer.join();
  const int kTotal = written.load();
  ASSERT_GT(kTotal, 0);
  ASSERT_TRUE(eventually([&] { return delivered_count(kTotal); }, seconds(180))) << err();
  proc_->signal(SIGTERM);
  EXPECT_EQ(proc_->wait(seconds(60)), 0) << err();
  proc_.reset();
  const auto d = delivered();
  EXPECT_EQ(d.size(), static_cast<std::size_t>(kTotal));
  EXPECT_TRUE(dups_.empty()) << dups_.size() << " duplicate(s), first " << dups_.front();
  for (int i = 0; i < kTotal; ++i) EXPECT_EQ(d.count("Directory_reload_" + std::to_string(i)), 1u) << i;
  const auto log = err();
  EXPECT_EQ(count(log, kRestarted), 3u) << log;
  EXPECT_EQ(count(log, kApplied), 3u) << log;
  // In the sink's order, the markers never go back: no record was mapped by the old mapping after
  // one was mapped by the new (each swap takes over between two records, whatever the workers).
  std::ifstream out(dir_ / "out.ndjson");
  int last = 0;
  std::size_t lines = 0;
  static const std::regex marker("\"reload_marker\":\"marker([0-9]+)\"");
  for (std::string l; std::getline(out, l); ++lines) {
    std::smatch m;
    ASSERT_TRUE(std::regex_search(l, m, marker)) << l;
    const int now = std::stoi(m[1]);
    ASSERT_GE(now, last) << "line " << lines + 1 << " has an older mapping than an earlier line";
    last = now;
  }
  EXPECT_EQ(last, 5);
}

TEST_F(Reload, PostReloadFromLoopbackAndRefusals) {
  write_override("before");
  write_config();
  launch();
  write_override("after");
  auto r = post("/-/reload");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("mappings and enrichment apply"), std::string::npos) << r.body;
  append(0, 1);
  ASSERT_TRUE(eventually([&] { return delivered_count(1); }, seconds(60))) << err();
  EXPECT_EQ(delivered().at("Directory_reload_0"), "after");

  EXPECT_EQ(post("/-/reload", {}, {{"Origin", "http://example.test"}}).status, 403);
  EXPECT_EQ(post("/-/reload", {}, {{"Sec-Fetch-Site", "cross-site"}}).status, 403);
  EXPECT_EQ(post("/-/reload", "x").status, 405);  // the POST takes no body
  EXPECT_EQ(post("/metrics").status, 404);
  EXPECT_EQ(http_fetch("GET", fmt::format("http://127.0.0.1:{}/-/reload", port_)).status, 404);
  // A broken file: 400 with the diagnostics in the body.
  std::ofstream(dir_ / "config.yaml", std::ios::app) << "sources: [\n";
  r = post("/-/reload");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find((dir_ / "config.yaml").string() + ":"), std::string::npos) << r.body;
  const auto m = scrape();
  EXPECT_EQ(m.at("siem_config_reload_successes_total"), 1);
  EXPECT_EQ(m.at("siem_config_reload_failures_total"), 1);
}

TEST_F(Reload, PostReloadRefusedWhenOff) {
  write_override("before");
  write_config("{drain_timeout: 20s}", ", reload: off");
  launch();
  const auto r = post("/-/reload");
  EXPECT_EQ(r.status, 403);
  EXPECT_NE(r.body.find("observability.reload: off"), std::string::npos) << r.body;
  EXPECT_EQ(count(err(), "reload (POST"), 0u);
  // SIGHUP still works.
  hangup_and_wait(kSwapped);
}

// The exit status of `run` covers the whole process, not only the pipeline built by the last
// reload (README "Exit status of run": 3, some records went to the dead-letter file). A record
// dead-lettered before a reload that restarts the pipeline still makes SIGTERM exit 3.
TEST_F(Reload, DeadLettersBeforeAPipelineRestartStillSetTheExitStatus) {
  write_override("m");
  write_config();
  launch();
  append(0, 5);
  std::ofstream(dir_ / "in.ndjson", std::ios::app) << "{\"id\": \"broken\", \n";
  append(5, 10);
  ASSERT_TRUE(eventually([&] { return delivered_count(10) && fs::exists(dir_ / "state" / "dead-letter.ndjson") &&
                                      slurp(dir_ / "state" / "dead-letter.ndjson").find("broken") != std::string::npos; },
                         seconds(60)))
      << err();
  write_config("{drain_timeout: 20s, workers: 2}");
  hangup_and_wait(kRestarted);
  append(10, 15);
  ASSERT_TRUE(eventually([&] { return delivered_count(15); }, seconds(60))) << err();
  proc_->signal(SIGTERM);
  EXPECT_EQ(proc_->wait(seconds(60)), 3) << err();
  proc_.reset();
}

// `systemctl reload` (SIGHUP) or a SIGTERM that arrives while `run` is still starting (reading its
// configuration, building the pipeline) must not kill it with the signal's default action: the
// signals are handled from the start. The configuration is a FIFO here, so the test knows the
// connector is reading it (the FIFO has a reader) when it sends SIGHUP.
TEST_F(Reload, SighupWhileStartingDoesNotKillTheConnector) {
  write_override("m");
  write_config();
  const auto text = slurp(dir_ / "config.yaml");
  const auto fifo = dir_ / "config.fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  ConnectorProcess p(dir_, {"run", "--once", "-c", fifo.string()});
  ASSERT_TRUE(p.started());
  int fd = -1;
  ASSERT_TRUE(eventually([&] { return (fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC)) >= 0; }, seconds(30)))
      << "the connector never opened its configuration";
  p.signal(SIGHUP);
  ::signal(SIGPIPE, SIG_IGN);  // a connector the signal killed has left the FIFO without a reader
  ::fcntl(fd, F_SETFL, 0);
  EXPECT_EQ(::write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  ::close(fd);
  EXPECT_EQ(p.wait(seconds(60)), 0) << slurp(dir_ / "stderr");
}

}  // namespace
}  // namespace siem::test
