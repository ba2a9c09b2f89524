// Files holding one top-level JSON array of records, through the real binary: `map` over the
// array forms of real exports, and the file source into the file sink with a kill -9 mid-array.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <string>

#include <nlohmann/json.hpp>

#include "tests/component/run_once/run_binary.h"
#include "tests/support/audit_record.h"

namespace {

using namespace siem::test::binary;  // NOLINT(google-build-using-namespace): the helpers of run_binary.h

class ArrayFile : public BinaryTest {
 protected:
  ArrayFile() : BinaryTest("siem-array", std::chrono::seconds(120)) {}
  // The event ids in the file sink's output (complete lines only), with how often each came;
  // `cut_short` counts lines that are not JSON (the one a kill may cut).
  std::map<std::string, int> delivered_ids(std::size_t& cut_short) {
    std::map<std::string, int> ids;
    const std::string text = slurp(dir_ / "out.ndjson");
    std::size_t start = 0;
    for (std::size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1) {
      const auto line = text.substr(start, nl - start);
      if (!nlohmann::json::accept(line)) {
        ++cut_short;
        continue;
      }
      ids[nlohmann::json::parse(line)["event"]["id"].get<std::string>()]++;
    }
    return ids;
  }
};

// ECS's event.created is the time of mapping: the only part of two runs that differs.
std::string without_created(const std::string& out) {
  static const std::regex created("\"created\":\"[^\"]*\"");
  return std::regex_replace(out, created, "\"created\":\"-\"");
}

// The array form of an export maps exactly as the list document it was taken from: the Entra
// admin center's download (Graph sign-in / audit objects, pretty-printed) and `az monitor
// activity-log list` (ARM Activity Log events, here on one line).
TEST_F(ArrayFile, MapGivesTheSameEventsAsTheListDocument) {
  for (const auto& [sample, indent] : {std::pair{"graph-signins-list-beta-mfa-fido2.json", 2},
                                       std::pair{"graph-directoryaudits-list-v1.json", 4},
                                       std::pair{"arm-activitylog-values-filtered.json", -1}}) {
    SCOPED_TRACE(sample);
    const fs::path list = fs::path(SIEM_TEST_DATA_DIR) / sample;
    const auto values = nlohmann::json::parse(slurp(list))["value"];
    nlohmann::json twice = values;  // two elements, so that the split is seen
    for (const auto& v : values) twice.push_back(v);
    std::ofstream(dir_ / "array.json") << twice.dump(indent) << "\n";
    std::ofstream(dir_ / "list2.json") << nlohmann::json{{"value", twice}}.dump() << "\n";
    for (const std::string format : {"ecs", "cef"}) {
      const auto expected = run({"map", "--format", format, (dir_ / "list2.json").string()});
      ASSERT_EQ(expected.status, 0) << expected.err;
      const auto got = run({"map", "--format", format, (dir_ / "array.json").string()});
      EXPECT_EQ(got.status, 0) << got.err;
      EXPECT_EQ(got.err, "");
      EXPECT_EQ(without_created(got.out), without_created(expected.out));
      EXPECT_NE(got.out.find('\n'), std::string::npos);
      EXPECT_EQ(std::count(got.out.begin(), got.out.end(), '\n'), static_cast<long>(twice.size()));
    }
  }
}

TEST_F(ArrayFile, MapReportsElementsThatAreNotRecordsAndMapsTheOthers) {
  const std::string a = siem::test::directory_audit("Directory_array_a").dump();
  const std::string b = siem::test::directory_audit("Directory_array_b").dump();
  std::ofstream(dir_ / "mixed.json") << "[\n  " << a << ",\n  \"text\",\n  " << b << ",\n  {\"id\": tru}\n]\n"
                                     << "[]\n";
  const auto r = run({"map", "--format", "ecs", (dir_ / "mixed.json").string()});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 2);
  EXPECT_NE(r.out.find("Directory_array_a"), std::string::npos);
  EXPECT_NE(r.out.find("Directory_array_b"), std::string::npos);
  const std::string file = (dir_ / "mixed.json").string();
  EXPECT_NE(r.err.find(file + ":3: element 1 of the JSON array opened at line 1 is a string, not a JSON object (a record)\n"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find(file + ":5: element 3 of the JSON array: invalid JSON: "), std::string::npos) << r.err;
}

// A pretty-printed array far larger than max_record_bytes (the whole export in one document):
// delivered element by element; a kill -9 part-way and a restart lose nothing (the checkpoint
// lies inside the array and never ahead of the sink), and a third run adds nothing.
TEST_F(ArrayFile, KillNineMidArrayLosesNothingAndNothingIsReadTwiceAfterwards) {
  std::ofstream(dir_ / "config.yaml") << "state_dir: state\n"
                                         "dead_letter: {path: dead-letter.ndjson}\n"
                                         "sources:\n"
                                         "  - {name: export, type: file, path: export.json, max_record_bytes: 64KiB}\n"
                                         "sinks:\n"
                                         "  - {name: out, type: file, format: ecs, path: out.ndjson}\n";
  constexpr int kRecords = 30'000;
  {
    std::ofstream out(dir_ / "export.json");
    out << "[\n";
    for (int i = 0; i < kRecords; ++i)
      out << siem::test::directory_audit("Directory_array_" + std::to_string(i), "UserManagement", "Update user").dump(2)
          << (i + 1 < kRecords ? ",\n" : "\n");
    out << "]\n";
  }
  ASSERT_GT(fs::file_size(dir_ / "export.json"), 64u << 20 >> 4);  // far over max_record_bytes
  const auto config = (dir_ / "config.yaml").string();
  const pid_t pid = spawn({kBinary, "run", "-c", config, "--once"}, dir_ / "stdout", dir_ / "stderr");
  ASSERT_GT(pid, 0);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    std::error_code ec;
    if (fs::file_size(dir_ / "out.ndjson", ec) > 200'000 && !ec) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  std::size_t cut_short = 0;
  const std::size_t before = delivered_ids(cut_short).size();
  EXPECT_LT(before, static_cast<std::size_t>(kRecords));  // killed mid-array

  auto r = run({"run", "-c", config, "--once"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "dead-letter.ndjson"));
  cut_short = 0;
  auto ids = delivered_ids(cut_short);
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(kRecords));
  EXPECT_LE(cut_short, 1u);
  std::size_t repeated = 0;
  for (const auto& [id, n] : ids) repeated += static_cast<std::size_t>(n - 1);
  // At-least-once: only what was written but not yet acknowledged at the kill comes twice.
  EXPECT_LT(repeated, static_cast<std::size_t>(kRecords) / 2);
  const std::size_t lines = slurp(dir_ / "out.ndjson").size();
  r = run({"run", "-c", config, "--once"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(slurp(dir_ / "out.ndjson").size(), lines);
}

}  // namespace
