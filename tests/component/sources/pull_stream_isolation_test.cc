// One stream of a pull source that the service refuses for good (a subscription the app may not
// read, a collection without its permission or licence) must not stall the source's other streams:
// the real binary, run continuously (not --once) against the emulator over HTTPS.
#include <signal.h>

#include "tests/component/sources/pull_fixture.h"
#include "tests/support/wait.h"

namespace siem::pulltest {
namespace {

constexpr const char* kForbiddenSub = "44444444-4444-4444-4444-444444444444";

class PullStreamIsolation : public PullRunOnce {
 protected:
  // `run -c config.yaml` in the background; stdout/stderr to files in the test's directory.
  pid_t start_connector() {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    const std::string out = (dir_ / "stdout").string(), err = (dir_ / "stderr").string();
    posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::vector<std::string> all{kBinary, "run", "-c", (dir_ / "config.yaml").string()};
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = -1;
    if (posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ) != 0) pid = -1;
    posix_spawn_file_actions_destroy(&fa);
    return pid;
  }
  // SIGTERM, then SIGKILL if it has not exited within `grace`.
  static void stop_connector(pid_t pid, std::chrono::seconds grace) {
    kill(pid, SIGTERM);
    int status = 0;
    const bool exited = test::wait_until([&] { return waitpid(pid, &status, WNOHANG) == pid; }, grace, std::chrono::milliseconds(20));
    if (!exited) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
    }
  }
  // Runs the connector until every activity record of the emulator was delivered (60 s at most),
  // then stops it; whether they all were.
  bool run_until_every_activity_record_is_delivered() {
    const auto expected = emulator_ids({"activity"});
    EXPECT_FALSE(expected.empty());
    const pid_t pid = start_connector();
    EXPECT_GT(pid, 0);
    if (pid <= 0) return false;
    const bool all_read = test::wait_until(
        [&] {
          const auto got = delivered(0);
          return std::all_of(expected.begin(), expected.end(), [&](const std::string& id) { return got.count(id) > 0; });
        },
        std::chrono::seconds(60), std::chrono::milliseconds(100));
    stop_connector(pid, std::chrono::seconds(20));
    return all_read && !expected.empty();
  }
};

TEST_F(PullStreamIsolation, ASubscriptionRefusedForGoodDoesNotStallTheOtherSubscriptions) {
  start_emulator();
  // The refused subscription is listed first: it is the first stream read.
  write_config(source("activity", "azure_activity",
                      std::string("requests_per_10s: 1000\nsubscriptions: [") + kForbiddenSub + ", " + kSub + "]"));
  const std::string forbidden =
      R"({"error":{"code":"AuthorizationFailed","message":"The client does not have authorization to perform action 'Microsoft.Insights/eventtypes/values/read' over scope '/subscriptions/)" +
      std::string(kForbiddenSub) + R"('."}})";
  server_->add_fault(httpd::Fault::with_status(std::string("/subscriptions/") + kForbiddenSub + "/", 403, 1'000'000, {}, forbidden));
  const bool all_read = run_until_every_activity_record_is_delivered();
  const std::string err = slurp(dir_ / "stderr");
  EXPECT_TRUE(all_read) << "the readable subscription's events were not delivered while the other one is refused\n" << err;
  // The refused stream is reported, naming its subscription and the service's error code.
  EXPECT_NE(err.find("AuthorizationFailed"), std::string::npos) << err;
  EXPECT_NE(err.find(kForbiddenSub), std::string::npos) << err;
}

// A stream whose windows keep failing after their retries (an endpoint that answers 503 to every
// request) is read again, but only after the other streams had their turn.
TEST_F(PullStreamIsolation, ASubscriptionFailingEveryWindowDoesNotStarveTheOtherSubscriptions) {
  start_emulator();
  write_config(source("activity", "azure_activity",
                      std::string("requests_per_10s: 1000\nsubscriptions: [") + kForbiddenSub + ", " + kSub + "]"));
  server_->add_fault(httpd::Fault::with_status(std::string("/subscriptions/") + kForbiddenSub + "/", 503, 1'000'000,
                                               {{"Retry-After", "0"}}, R"({"error":{"code":"ServerBusy","message":"busy"}})"));
  const bool all_read = run_until_every_activity_record_is_delivered();
  EXPECT_TRUE(all_read) << "the healthy subscription's events were not delivered while the other one fails\n" << slurp(dir_ / "stderr");
}

}  // namespace
}  // namespace siem::pulltest
