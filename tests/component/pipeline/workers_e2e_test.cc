// `pipeline.workers` through the real binary: the realistic mix of every record-bearing sample of
// tests/data (Graph, ARM, Event Hubs and Log Analytics shapes), with a PIM activation followed by
// sign-ins of the activated user in the same chunk, the next ones and a later file-source batch
// (pa.signin.privileged depends on the roster the activation taught), mapped with 1, 2 and 4
// workers into an ECS and a CEF file sink: the outputs are byte for byte the same (event.created,
// the mapping time, aside), in the same order, and the detections that depend on earlier events
// are the same. Then the checkpoint under a failing sink, with 4 workers: nothing is lost.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>

#include "tests/component/pipeline/e2e_support.h"

namespace siem::e2e {
namespace {

const fs::path kData = SIEM_TEST_DATA_DIR;
// The activated user: not in any sample, so only the activation below puts it on the roster.
const std::string kPimUser = "5e1f0c2a-7b1d-4c33-9a0e-3f6d2b8c9d01";
const std::string kPimUpn = "pim.user@contoso.example";

// Every record of the record-bearing samples, one JSON text each.
std::vector<std::string> sample_records() {
  std::vector<std::string> out;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(kData))
    if (e.is_regular_file()) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const auto& p : files) {
    const auto name = p.filename().string();
    if (name.find("token") != std::string::npos || name.find("throttling") != std::string::npos ||
        name.find("certificate") != std::string::npos || name.find("imds") != std::string::npos)
      continue;
    if (p.extension() == ".ndjson") {
      std::ifstream in(p);
      for (std::string l; std::getline(in, l);)
        if (!l.empty()) out.push_back(nlohmann::json::parse(l).dump());
      continue;
    }
    if (p.extension() != ".json") continue;
    const auto doc = nlohmann::json::parse(slurp(p));
    if (doc.contains("value") && doc["value"].is_array()) {
      for (const auto& r : doc["value"]) out.push_back(r.dump());
    } else if (doc.contains("records") && doc["records"].is_array()) {
      for (const auto& r : doc["records"]) out.push_back(r.dump());
    } else if (doc.is_object()) {
      out.push_back(doc.dump());
    }
  }
  return out;
}

// The sample self-activation (Graph v1.0), of Global Administrator for the user above.
std::string pim_activation() {
  auto r = nlohmann::json::parse(slurp(kData / "graph-roleassignmentschedulerequest-selfactivate-v1.json"));
  r["id"] = "pim-activation-of-the-test-user";
  r["principalId"] = kPimUser;
  r["roleDefinitionId"] = "62e90394-69f5-4237-9190-012177145e10";  // Global Administrator
  r["createdBy"]["user"]["id"] = kPimUser;
  return r.dump();
}

// A successful sign-in of the activated user, within the activation's hours.
std::string pim_user_sign_in(int n) {
  auto r = nlohmann::json::parse(slurp(kData / "graph-signins-list-beta-mfa-fido2.json"))["value"][0];
  r["id"] = fmt::format("00000000-0000-0000-0000-0000000{:05d}", n);
  r["userId"] = kPimUser;
  r["userPrincipalName"] = kPimUpn;
  r["createdDateTime"] = "2022-04-14T01:00:00Z";
  return r.dump();
}

// A role given to a group, a user added to that group, and the user's single-factor sign-in
// (tests/data/enrichment): the sign-in's pa.signin.no_mfa depends on both earlier records.
std::vector<std::string> group_sequence() {
  std::vector<std::string> out;
  std::ifstream in(kData / "enrichment" / "role-group-membership-sequence.ndjson");
  for (std::string l; std::getline(in, l);)
    if (!l.empty()) out.push_back(nlohmann::json::parse(l).dump());
  return out;
}

// `total` records of the mix, deterministic, with the sign-ins of the PIM user around its activation.
std::vector<std::string> mix(std::size_t total) {
  const auto pool = sample_records();
  const auto group = group_sequence();
  std::vector<std::string> out;
  for (std::size_t i = 0; out.size() < total; ++i) {
    if (out.size() == 120 && group.size() == 3) {  // the group's role, the member added, then in later chunks its sign-in
      out.push_back(group[0]);
      out.push_back(group[1]);
    }
    if (out.size() == 150 && group.size() == 3) out.push_back(group[2]);
    if (out.size() == 40) out.push_back(pim_user_sign_in(1));  // before the activation: not privileged
    if (out.size() == 100) out.push_back(pim_activation());
    if (out.size() == 101) out.push_back(pim_user_sign_in(2));  // the same chunk
    if (out.size() == 140) out.push_back(pim_user_sign_in(3));  // the next chunks
    if (out.size() == 170) out.push_back(pim_user_sign_in(4));
    if (out.size() == 2900) out.push_back(pim_user_sign_in(5));  // a later batch
    out.push_back(pool[(i * 7919) % pool.size()]);
  }
  return out;
}

// The ECS lines with the mapping time (event.created) taken out.
std::string without_created(const std::string& ecs) {
  static const std::regex created("\"created\":\"[^\"]*\"");
  return std::regex_replace(ecs, created, "\"created\":\"-\"");
}

class Workers : public E2eTest {
 protected:
  struct Output {
    std::string ecs, cef;
    int status = -1;
  };
  Output run_with(int workers, const std::vector<std::string>& records) {
    const auto sub = dir_ / fmt::format("w{}", workers);
    fs::create_directories(sub);
    {
      std::ofstream in(sub / "in.ndjson");
      for (const auto& r : records) in << r << "\n";
    }
    const auto cfg = sub / "config.yaml";
    std::ofstream(cfg) << fmt::format(
        "state_dir: {0}/state\n"
        "dead_letter: {{path: {0}/dead-letter.ndjson}}\n"
        "pipeline: {{workers: {1}, drain_timeout: 60s, checkpoint_interval: 100ms}}\n"
        "sources:\n"
        "  - {{name: mix, type: file, path: {0}/in.ndjson, poll_interval: 100ms}}\n"
        "sinks:\n"
        "  - {{name: ecs-out, type: file, format: ecs, path: {0}/out.ecs, sync: false}}\n"
        "  - {{name: cef-out, type: file, format: cef, path: {0}/out.cef, sync: false}}\n",
        sub.string(), workers);
    Connector c(sub, {"run", "-c", cfg.string(), "--once"});
    Output o;
    o.status = c.wait(std::chrono::seconds(240));
    o.ecs = slurp(sub / "out.ecs");
    o.cef = slurp(sub / "out.cef");
    if (o.status != 0) ADD_FAILURE() << workers << " workers: " << slurp(sub / "stderr");
    return o;
  }
};

TEST_F(Workers, OutputsAreByteIdenticalWithOneTwoAndFourWorkers) {
  const auto records = mix(3200);
  const Output one = run_with(1, records);
  ASSERT_EQ(one.status, 0);
  // Roster-dependent detections are exercised: the sign-ins after the activation are privileged,
  // the one before it is not.
  std::size_t privileged = 0;
  std::istringstream lines(one.ecs);
  for (std::string l; std::getline(lines, l);) {
    static const std::string kSignInIds = "00000000-0000-0000-0000-0000000";  // pim_user_sign_in()
    if (l.find(kSignInIds) == std::string::npos) continue;
    const bool tagged = l.find("pa.signin.privileged") != std::string::npos;
    if (l.find(kSignInIds + "00001") != std::string::npos) {
      EXPECT_FALSE(tagged) << "before the activation: " << l;
    }
    privileged += tagged;
  }
  EXPECT_EQ(privileged, 4u) << "the sign-ins after the PIM activation";
  // The member of the group holding Global Administrator: its sign-in after the add is privileged.
  const auto member_sign_in = one.ecs.find("66ea54eb-0000-4ee5-be62-ff5a759b0201");
  ASSERT_NE(member_sign_in, std::string::npos);
  const auto line_start = one.ecs.rfind('\n', member_sign_in) + 1;  // npos + 1 == 0 on the first line
  const std::string line = one.ecs.substr(line_start, one.ecs.find('\n', member_sign_in) - line_start);
  EXPECT_NE(line.find("pa.signin.no_mfa"), std::string::npos) << line;
  EXPECT_NE(line.find("pa.signin.privileged"), std::string::npos) << line;
  for (const int workers : {2, 4}) {
    const Output many = run_with(workers, records);
    EXPECT_EQ(many.status, 0);
    EXPECT_TRUE(without_created(many.ecs) == without_created(one.ecs)) << workers << " workers: the ECS output differs";
    EXPECT_TRUE(many.cef == one.cef) << workers << " workers: the CEF output differs";
  }
}

}  // namespace
}  // namespace siem::e2e
