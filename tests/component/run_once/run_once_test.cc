// End-to-end behaviour of `siem-connector run` and `validate` as an operator sees it: exact
// delivery across restarts, dead letters with reasons, no loss after kill -9, drain on SIGTERM.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/component/run_once/run_binary.h"
#include "tests/support/audit_record.h"

namespace {

using namespace siem::test::binary;  // NOLINT(google-build-using-namespace): the helpers of run_binary.h

class RunOnce : public BinaryTest {
 protected:
  RunOnce() : BinaryTest("siem-e2e", std::chrono::seconds(60)) {}

  void write_config(const std::string& extra_sink = "", const std::string& format = "ecs") {
    std::ofstream(dir_ / "config.yaml") << "state_dir: state\n"
                                           "dead_letter: {path: dead-letter.ndjson}\n"
                                           "sources:\n"
                                           "  - {name: audit, type: file, path: in.ndjson}\n"
                                           "sinks:\n"
                                           "  - {name: out, type: file, format: "
                                        << format << ", path: out.ndjson}\n"
                                        << extra_sink;
  }

  static std::string record(int i) {
    return siem::test::directory_audit("Directory_e2e_" + std::to_string(i), "UserManagement", "Update user").dump();
  }

  void append(int from, int to, const std::set<int>& malformed = {}) {
    std::ofstream out(dir_ / "in.ndjson", std::ios::app);
    for (int i = from; i < to; ++i) out << (malformed.count(i) ? "{\"id\": \"broken-" + std::to_string(i) + "\", " : record(i)) << "\n";
  }

  // `cut_short`: counts the lines that are not events instead of failing on them (after a kill -9,
  // the line the connector was writing, cut short and ended by the next start; its events were not
  // acknowledged and are written again).
  std::map<std::string, int> delivered_ids(std::size_t* cut_short = nullptr) {
    std::map<std::string, int> ids;
    // The connector may be writing while this reads: a last line without its newline yet is not
    // a delivered event (yet), so only complete lines are parsed.
    const std::string text = slurp(dir_ / "out.ndjson");
    std::size_t start = 0;
    for (std::size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1) {
      const auto line = text.substr(start, nl - start);
      if (cut_short != nullptr && !nlohmann::json::accept(line)) {
        ++*cut_short;
        continue;
      }
      ids[nlohmann::json::parse(line)["event"]["id"].get<std::string>()]++;
    }
    return ids;
  }
};

TEST_F(RunOnce, DeliversGoodRecordsDeadLettersBadOnesAndNeverTwice) {
  write_config();
  append(0, 20, {4, 11});
  auto r = run({"run", "-c", (dir_ / "config.yaml").string(), "--once"});
  EXPECT_EQ(r.status, 3) << r.err;  // done, with dead letters
  auto ids = delivered_ids();
  EXPECT_EQ(ids.size(), 18u);
  for (const auto& [id, n] : ids) EXPECT_EQ(n, 1) << id;
  const auto dl = slurp(dir_ / "dead-letter.ndjson");
  std::istringstream lines(dl);
  std::string line;
  std::set<std::string> origins;
  while (std::getline(lines, line)) {
    auto j = nlohmann::json::parse(line);
    EXPECT_FALSE(j["reason"].get<std::string>().empty());
    EXPECT_EQ(j["source"], "audit");
    origins.insert(j["origin"].get<std::string>());
  }
  EXPECT_EQ(origins, (std::set<std::string>{(dir_ / "in.ndjson").string() + ":5", (dir_ / "in.ndjson").string() + ":12"}));
  EXPECT_NE(r.err.find("in.ndjson:5"), std::string::npos) << r.err;

  // A second run delivers nothing again.
  r = run({"run", "-c", (dir_ / "config.yaml").string(), "--once"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(delivered_ids().size(), 18u);
  for (const auto& [id, n] : delivered_ids()) EXPECT_EQ(n, 1) << id;

  // Appended records: exactly the new ones.
  append(20, 25);
  r = run({"run", "-c", (dir_ / "config.yaml").string(), "--once"});
  EXPECT_EQ(r.status, 0) << r.err;
  ids = delivered_ids();
  EXPECT_EQ(ids.size(), 23u);
  for (const auto& [id, n] : ids) EXPECT_EQ(n, 1) << id;
}

// format: ocsf end to end: every good record is one OCSF event (its class, type_uid, and the
// record's id as metadata.uid), a malformed record goes to the dead-letter file with its reason.
TEST_F(RunOnce, OcsfSinkDeliversEventsAndDeadLettersMalformedRecords) {
  write_config("", "ocsf");
  append(0, 10, {3});
  auto r = run({"run", "-c", (dir_ / "config.yaml").string(), "--once"});
  EXPECT_EQ(r.status, 3) << r.err;  // done, with dead letters
  std::ifstream in(dir_ / "out.ndjson");
  std::string line;
  std::set<std::string> uids;
  while (std::getline(in, line)) {
    const auto e = nlohmann::json::parse(line);
    EXPECT_EQ(e["class_uid"], 3004) << line;  // "Update user" without targets: Entity Management
    EXPECT_EQ(e["type_uid"], 300499) << line;  // no operationType: activity Other (99)
    EXPECT_EQ(e["time"], 1772619330000) << line;
    EXPECT_EQ(e["metadata"]["version"], "1.3.0") << line;
    uids.insert(e["metadata"]["uid"].get<std::string>());
  }
  EXPECT_EQ(uids.size(), 9u);
  EXPECT_EQ(uids.count("Directory_e2e_3"), 0u);
  const auto dl = nlohmann::json::parse(slurp(dir_ / "dead-letter.ndjson"));
  EXPECT_EQ(dl["origin"], (dir_ / "in.ndjson").string() + ":4");
  EXPECT_NE(dl["reason"].get<std::string>().find("invalid JSON"), std::string::npos) << dl.dump();
}

TEST_F(RunOnce, KillNineLosesNothing) {
  write_config();
  constexpr int kRecords = 60'000;
  append(0, kRecords);
  const auto config = (dir_ / "config.yaml").string();
  // Kill the first run part-way: once some output exists, or after a bounded wait.
  const pid_t pid = spawn({kBinary, "run", "-c", config, "--once"}, dir_ / "stdout", dir_ / "stderr");
  ASSERT_GT(pid, 0);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    std::error_code ec;
    if (fs::file_size(dir_ / "out.ndjson", ec) > 200'000) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  // Restart until done: every record must be there at least once (duplicates are allowed).
  auto r = run({"run", "-c", config, "--once"}, std::chrono::seconds(120));
  EXPECT_EQ(r.status, 0) << r.err;
  // At most one line is not an event: the one the kill cut short (when it came during a write),
  // ended by the restart so that the next events start on lines of their own.
  std::size_t cut_short = 0;
  const auto ids = delivered_ids(&cut_short);
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(kRecords));
  EXPECT_LE(cut_short, 1u);
  // The checkpoint never ran ahead of the sink: a third run adds nothing.
  r = run({"run", "-c", config, "--once"});
  EXPECT_EQ(r.status, 0);
  cut_short = 0;
  EXPECT_EQ(delivered_ids(&cut_short).size(), static_cast<std::size_t>(kRecords));
  EXPECT_LE(cut_short, 1u);
}

TEST_F(RunOnce, SigtermDrainsAndExitsCleanly) {
  write_config();
  append(0, 100);
  const auto config = (dir_ / "config.yaml").string();
  const pid_t pid = spawn({kBinary, "run", "-c", config}, dir_ / "stdout", dir_ / "stderr");
  ASSERT_GT(pid, 0);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline && delivered_ids().size() < 100)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_EQ(delivered_ids().size(), 100u);
  kill(pid, SIGTERM);
  EXPECT_EQ(wait_for(pid, std::chrono::seconds(30)), 0) << slurp(dir_ / "stderr");
  EXPECT_NE(slurp(dir_ / "stderr").find("draining"), std::string::npos);
  // Checkpoints were saved: a --once run afterwards delivers nothing new.
  auto r = run({"run", "-c", config, "--once"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(delivered_ids().size(), 100u);
}

TEST_F(RunOnce, ValidateNamesEachProblemByLine) {
  std::ofstream(dir_ / "bad.yaml") << "state_dir: state\n"
                                      "sources:\n"
                                      "  - name: audit\n"
                                      "    type: file\n"
                                      "    path: in.ndjson\n"
                                      "    poll_intervall: 10s\n"
                                      "sinks:\n"
                                      "  - name: out\n"
                                      "    type: file\n"
                                      "    path: out.ndjson\n"
                                      "    batch: {max_events: lots}\n"
                                      "enrichment:\n"
                                      "  roles_file: /nonexistent/roles.yaml\n";
  auto r = run({"validate", "-c", (dir_ / "bad.yaml").string()});
  EXPECT_EQ(r.status, 1);
  const std::string file = (dir_ / "bad.yaml").string();
  EXPECT_NE(r.err.find(file + ":6:5: error: sources[0]: unknown key 'poll_intervall' (did you mean 'poll_interval'?)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(file + ":11:25: error: sinks[0].batch.max_events: expected an integer"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(file + ":13:15: error: enrichment.roles_file: file /nonexistent/roles.yaml does not exist"), std::string::npos) << r.err;
}

TEST_F(RunOnce, ValidateUnknownPluginTypeReportsOnlyTheType) {
  // The entry's other keys belong to a type we do not know: no cascade of "unknown key" errors.
  std::ofstream(dir_ / "type.yaml") << "state_dir: state\n"
                                       "sources:\n"
                                       "  - name: audit\n"
                                       "    type: fiel\n"
                                       "    path: in.ndjson\n"
                                       "    poll_interval: 10s\n"
                                       "sinks:\n"
                                       "  - name: out\n"
                                       "    type: splunk\n"
                                       "    url: https://splunk.example:8088\n"
                                       "    token: abc\n"
                                       "    batch: {max_events: 10}\n";
  auto r = run({"validate", "-c", (dir_ / "type.yaml").string()});
  EXPECT_EQ(r.status, 1);
  const std::string file = (dir_ / "type.yaml").string();
  EXPECT_NE(r.err.find(file + ":4:11: error: sources[0].type: unknown source type 'fiel' (did you mean 'file'?)"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find(file + ":9:11: error: sinks[0].type: unknown sink type 'splunk'"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("unknown key"), std::string::npos) << r.err;
  std::size_t errors = 0;
  for (std::size_t pos = 0; (pos = r.err.find(": error: ", pos)) != std::string::npos; ++pos) ++errors;
  EXPECT_EQ(errors, 2u) << r.err;
}

// A source or sink name becomes a metrics label, a /readyz line, a file name and part of log lines:
// one with a control character (here a newline that would forge a "sink x: ok" line in /readyz) is
// refused by validate and run, naming the key by line.
TEST_F(RunOnce, ValidateRefusesControlCharactersInNames) {
  std::ofstream(dir_ / "names.yaml") << "state_dir: state\n"
                                        "sources:\n"
                                        "  - {name: \"audit\\nsink out: ok\", type: file, path: in.ndjson}\n"
                                        "sinks:\n"
                                        "  - name: \"out\\t\"\n"
                                        "    type: file\n"
                                        "    path: out.ndjson\n";
  const std::string file = (dir_ / "names.yaml").string();
  auto r = run({"validate", "-c", file});
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_NE(r.err.find(file + ":3:12: error: sources[0].name: source name contains a control character (0x0a)"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find(file + ":5:11: error: sinks[0].name: sink name contains a control character (0x09)"),
            std::string::npos)
      << r.err;
  r = run({"run", "--once", "-c", file});
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_NE(r.err.find("source name contains a control character"), std::string::npos) << r.err;
}

// A command line that cannot be parsed is a start-up error (README "Exit status of run": 1), not
// one of the parser's own codes (105, 106, 109...) that no table documents; --help still exits 0.
TEST_F(RunOnce, CommandLineErrorsExitOneWithTheReason) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases{
      {{"run"}, "--config is required"},
      {{}, "A subcommand is required"},
      {{"bogus"}, "A subcommand is required"},
      {{"map", "--format", "xyz"}, "--format: xyz not in"},
      {{"run", "-c", "x.yaml", "--onse"}, "--onse"},
      {{"probe", "--path", "/nothing"}, "--path: /nothing not in"},
  };
  for (const auto& [args, reason] : cases) {
    const auto r = run(args);
    EXPECT_EQ(r.status, 1) << testing::PrintToString(args) << ": " << r.err;
    EXPECT_NE(r.err.find(reason), std::string::npos) << r.err;
  }
  EXPECT_EQ(run({"--help"}).status, 0);
  EXPECT_EQ(run({"run", "--help"}).status, 0);
}

// SIGHUP with an unchanged configuration reloads it (the mapping stage is rebuilt; reload details
// in tests/component/reload) and never stops the connector.
TEST_F(RunOnce, SighupReloadsAndKeepsDelivering) {
  write_config();
  append(0, 50);
  const auto config = (dir_ / "config.yaml").string();
  const pid_t pid = spawn({kBinary, "run", "-c", config}, dir_ / "stdout", dir_ / "stderr");
  ASSERT_GT(pid, 0);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline && delivered_ids().size() < 50)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_EQ(delivered_ids().size(), 50u);
  kill(pid, SIGHUP);
  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline && slurp(dir_ / "stderr").find("the mapping stage is rebuilt") == std::string::npos)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_NE(slurp(dir_ / "stderr").find("the mapping stage is rebuilt"), std::string::npos) << slurp(dir_ / "stderr");
  // Still running and still delivering after the hang-up.
  EXPECT_EQ(waitpid(pid, nullptr, WNOHANG), 0) << "SIGHUP terminated the connector";
  append(50, 80);
  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline && delivered_ids().size() < 80)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(delivered_ids().size(), 80u);
  kill(pid, SIGTERM);
  EXPECT_EQ(wait_for(pid, std::chrono::seconds(30)), 0) << slurp(dir_ / "stderr");
}

TEST_F(RunOnce, SummaryShowsPerSinkMetrics) {
  write_config();
  append(0, 40);
  auto r = run({"run", "-c", (dir_ / "config.yaml").string(), "--once"});
  ASSERT_EQ(r.status, 0) << r.err;
  // "out   sent 40  acked 40  retried 0  failed 0  dead-lettered 0  bytes N  latency X ms/batch"
  const auto pos = r.err.find("  sinks:\n");
  ASSERT_NE(pos, std::string::npos) << r.err;
  std::istringstream line(r.err.substr(pos + 9));
  std::string name, k_sent, k_acked, k_retried, k_failed, k_dead, k_bytes, k_latency, unit;
  std::uint64_t sent = 0, acked = 0, retried = 0, failed = 0, dead = 0, bytes = 0;
  double latency = -1;
  line >> name >> k_sent >> sent >> k_acked >> acked >> k_retried >> retried >> k_failed >> failed >> k_dead >> dead >>
      k_bytes >> bytes >> k_latency >> latency >> unit;
  EXPECT_EQ(name, "out");
  EXPECT_EQ(k_sent + k_acked + k_retried + k_failed + k_dead + k_bytes + k_latency,
            "sentackedretriedfaileddead-letteredbyteslatency")
      << r.err;
  EXPECT_EQ(sent, 40u);
  EXPECT_EQ(acked, 40u);
  EXPECT_EQ(retried, 0u);
  EXPECT_EQ(failed, 0u);
  EXPECT_EQ(dead, 0u);
  EXPECT_EQ(bytes + 40, std::filesystem::file_size(dir_ / "out.ndjson"));  // payloads + one newline each
  EXPECT_GE(latency, 0.0);
  EXPECT_EQ(unit, "ms/batch");
}

TEST_F(RunOnce, ValidateAcceptsEveryShippedConfig) {
  for (const auto& entry : fs::directory_iterator(std::string(SIEM_SOURCE_DIR) + "/config")) {
    if (entry.path().extension() != ".yaml") continue;
    auto r = run({"validate", "-c", entry.path().string()});
    EXPECT_EQ(r.status, 0) << entry.path() << "\n" << r.err;
  }
}

TEST_F(RunOnce, SecretsAreNeverPrinted) {
  setenv("SIEM_E2E_SECRET", "hunter2-very-secret", 1);
  std::ofstream(dir_ / "s.yaml") << "state_dir: state\nsources:\n  - {name: a, type: file, path: in.ndjson}\n"
                                    "sinks:\n  - {name: b, type: file, path: out.ndjson, bogus: ${SIEM_E2E_SECRET}}\n";
  auto r = run({"validate", "-c", (dir_ / "s.yaml").string()});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err.find("hunter2"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("hunter2"), std::string::npos) << r.out;
}

// --once reads the file as it is: a last line without a newline that is not a complete record is
// dead-lettered with its reason (exit 3, README), never left unread without a word; a complete
// record without a newline is delivered.
TEST_F(RunOnce, UnterminatedLastLineIsDeadLetteredWithItsReason) {
  write_config();
  append(0, 2);
  std::ofstream(dir_ / "in.ndjson", std::ios::app) << record(2);  // complete, no newline
  auto r = run({"run", "-c", (dir_ / "config.yaml").string(), "--once"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(delivered_ids().size(), 3u);
  EXPECT_FALSE(fs::exists(dir_ / "dead-letter.ndjson"));

  std::ofstream(dir_ / "in.ndjson", std::ios::app) << "\n" << record(3) << "\n{\"id\": \"Directory_e2e_4\", \"cat";
  r = run({"run", "-c", (dir_ / "config.yaml").string(), "--once"});
  EXPECT_EQ(r.status, 3) << r.err;  // done, with dead letters
  EXPECT_EQ(delivered_ids().size(), 4u);
  const auto dl = nlohmann::json::parse(slurp(dir_ / "dead-letter.ndjson"));
  EXPECT_EQ(dl["origin"], (dir_ / "in.ndjson").string() + ":5");
  EXPECT_EQ(dl["stage"], "read");
  EXPECT_EQ(dl["record"], "{\"id\": \"Directory_e2e_4\", \"cat");
  EXPECT_EQ(dl["reason"], "invalid JSON: unterminated object or array (the file's last line, which has no newline: "
                          "run --once reads the file as it is)");
  EXPECT_NE(r.err.find("in.ndjson:5"), std::string::npos) << r.err;

  // Nothing is read twice: the next run has nothing to do.
  r = run({"run", "-c", (dir_ / "config.yaml").string(), "--once"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(delivered_ids().size(), 4u);
}

// A line over the file source's max_record_bytes is dead-lettered with its PATH:LINE and size and
// passed over; the records around it are delivered; an oversize last line without a newline too.
TEST_F(RunOnce, OversizeLinesAreDeadLetteredAndTheRestDelivered) {
  std::ofstream(dir_ / "config.yaml") << "state_dir: state\n"
                                         "dead_letter: {path: dead-letter.ndjson}\n"
                                         "sources:\n"
                                         "  - {name: audit, type: file, path: in.ndjson, max_record_bytes: 1MiB}\n"
                                         "sinks:\n"
                                         "  - {name: out, type: file, format: ecs, path: out.ndjson}\n";
  const std::string huge = "{\"id\": \"" + std::string(40u << 20, 'x') + "\"}";
  std::ofstream(dir_ / "in.ndjson", std::ios::binary) << record(0) << "\n" << huge << "\n" << record(2) << "\n" << huge;
  auto r = run({"run", "-c", (dir_ / "config.yaml").string(), "--once"});
  EXPECT_EQ(r.status, 3) << r.err;  // done, with dead letters
  EXPECT_EQ(delivered_ids(), (std::map<std::string, int>{{"Directory_e2e_0", 1}, {"Directory_e2e_2", 1}}));
  std::istringstream lines(slurp(dir_ / "dead-letter.ndjson"));
  std::vector<nlohmann::json> letters;
  for (std::string line; std::getline(lines, line);) letters.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(letters.size(), 2u);
  const std::string path = (dir_ / "in.ndjson").string();
  EXPECT_EQ(letters[0]["origin"], path + ":2");
  EXPECT_EQ(letters[0]["reason"], "record at " + path + ":2 exceeds max_record_bytes (1048576): " +
                                      std::to_string(huge.size()) + " bytes; only its first 4096 bytes are kept here");
  EXPECT_EQ(letters[0]["record"], huge.substr(0, 4096));
  EXPECT_EQ(letters[1]["origin"], path + ":4");
  EXPECT_NE(letters[1]["reason"].get<std::string>().find("record at " + path + ":4 exceeds max_record_bytes"),
            std::string::npos);
  // Nothing is read twice.
  r = run({"run", "-c", (dir_ / "config.yaml").string(), "--once"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(delivered_ids().size(), 2u);
}

// A state_dir other users can reach is refused at start-up with an error naming it; warnings
// `validate` prints (here a file sink mode others can write) are logged by `run` at start-up.
TEST_F(RunOnce, StateDirOthersCanReachIsRefusedAndWarningsAreLoggedAtStartUp) {
  write_config("  - {name: shared, type: file, format: ecs, path: shared.ndjson, mode: '0666'}\n");
  append(0, 3);
  fs::create_directory(dir_ / "state");
  fs::permissions(dir_ / "state", fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                      fs::perms::others_read | fs::perms::others_exec);
  auto r = run({"run", "-c", (dir_ / "config.yaml").string(), "--once"});
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_NE(r.err.find("state_dir " + (dir_ / "state").string() + " is readable by group or others (mode 0755)"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "out.ndjson"));

  fs::permissions(dir_ / "state", fs::perms::owner_all);
  r = run({"run", "-c", (dir_ / "config.yaml").string(), "--once"});
  EXPECT_EQ(r.status, 0) << r.err;
  const std::string warning = "sinks[1].mode: mode 0666 lets other users write events into the output";
  EXPECT_NE(r.err.find(warning), std::string::npos) << r.err;
  EXPECT_EQ(fs::status(dir_ / "shared.ndjson").permissions(), static_cast<fs::perms>(0666));
  EXPECT_EQ(fs::status(dir_ / "out.ndjson").permissions(), fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(fs::status(dir_ / "state").permissions(), fs::perms::owner_all);
  r = run({"validate", "-c", (dir_ / "config.yaml").string()});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find((dir_ / "config.yaml").string() + ":7:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(": warning: " + warning), std::string::npos) << r.err;
}

// The Kafka warnings through the binary: exact text at file:line, exit 0 (a warning, not an error).
TEST_F(RunOnce, ValidateWarnsAboutKafkaSaslWithoutTls) {
  std::ofstream(dir_ / "k.yaml") << "state_dir: state\nsources:\n  - {name: a, type: file, path: in.ndjson}\n"
                                    "sinks:\n  - name: k\n    type: kafka\n    topic: t\n    brokers: 127.0.0.1:9092\n"
                                    "    sasl: {mechanism: PLAIN, username: u, password: p}\n";
  auto r = run({"validate", "-c", (dir_ / "k.yaml").string()});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find((dir_ / "k.yaml").string() +
                       ":9:11: warning: sinks[0].sasl: SASL without TLS (security.protocol=SASL_PLAINTEXT): the SASL "
                       "credentials and every event travel unencrypted; add 'tls: {enabled: true}'\n"),
            std::string::npos)
      << r.err;
}

}  // namespace
