// The start-up order (Source::startup_order) with an earlier source in error backoff: the pipeline,
// built from a configuration by the production builder (connector/app/pipeline_builder.h), runs a
// graph_directory_audits source (order kStartupOrderRoleEvents) against the Graph/ARM emulator over
// HTTPS, whose audit-log endpoint answers every request 503 with Retry-After 30, and a file source
// (the default, larger order). state_warmup_max is set to ten minutes, so without the rule "a source
// in error backoff counts as warm" the file source would wait for minutes (six attempts per window,
// three windows before the Graph source reports a failure); with it the file source's records
// arrive within seconds, and one info line names the source no longer waited for and why. A 429
// (throttling) is not error backoff: the file source then waits up to state_warmup_max.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <stop_token>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include "connector/app/pipeline_builder.h"
#include "connector/core/pipeline.h"
#include "connector/state/state_store.h"
#include "tests/support/loopback_server.h"
#include "tests/support/test_pki.h"
#include "tests/support/wait.h"
#include "tools/emulator/emulator.h"

namespace siem {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr const char* kTenant = "66666666-6666-6666-6666-666666666666";
constexpr const char* kClient = "77777777-7777-7777-7777-777777777777";
constexpr const char* kSecret = "startup-order-secret";
constexpr int kRecords = 50;

std::size_t count_lines(const fs::path& p) {
  std::ifstream in(p);
  std::size_t n = 0;
  for (std::string l; std::getline(in, l);) ++n;
  return n;
}

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}

// Captures the connector's log lines (spdlog's default logger) for the test's lifetime.
class CapturedLog {
 public:
  CapturedLog() : previous_(spdlog::default_logger()), sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(20'000)) {
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("startup-order-test", sink_));
    spdlog::set_level(spdlog::level::info);
  }
  ~CapturedLog() { spdlog::set_default_logger(previous_); }
  std::string text() const {
    std::string out;
    for (const auto& l : sink_->last_formatted()) out += l;
    return out;
  }

 private:
  std::shared_ptr<spdlog::logger> previous_;
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
};

// A Graph source (order kStartupOrderRoleEvents) against the emulator with `fault` on every audit
// request, and a file source (default order) holding kRecords records, into a file sink; the
// pipeline from the production builder with `warmup_max`, run until the file records arrived or
// `bound` passed.
class StartupOrder : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           fmt::format("siem-startup-order-{}-{}", ::getpid(), ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }

  void run(const nlohmann::json& fault, std::chrono::milliseconds warmup_max, std::chrono::milliseconds bound) {
    test::TestPki pki;
    auto server = test::make_tls_server(pki);
    emulator::Options eo;
    emulator::AppRegistration app;
    app.tenant_id = kTenant;
    app.client_id = kClient;
    app.client_secret = kSecret;
    eo.apps = {app};
    eo.seed = false;
    emulator::Emulator graph(eo, *server);
    server->start();
    graph.add_fault(fault);  // tokens are still issued
    {
      std::ofstream in(dir_ / "in.ndjson");
      for (int i = 0; i < kRecords; ++i)
        in << fmt::format(R"({{"id":"order-{:03d}","category":"RoleManagement","activityDisplayName":"Add member to role",)"
                          R"("activityDateTime":"2026-03-04T10:15:30Z","loggedByService":"Core Directory","result":"success"}})",
                          i)
           << "\n";
    }
    const std::string url = server->base_url();
    const std::string config = fmt::format(
        "state_dir: {dir}/state\n"
        "dead_letter: {{path: {dir}/dead-letter.ndjson}}\n"
        "sources:\n"
        "  - name: graph-audits\n"
        "    type: graph_directory_audits\n"
        "    tenant_id: {tenant}\n"
        "    cloud: custom\n"
        "    endpoints: {{login: {url}, graph: {url}, arm: {url}}}\n"
        "    auth: {{method: client_secret, client_id: {client}, client_secret: {secret}}}\n"
        "    tls: {{ca_file: {ca}}}\n"
        "    poll_interval: 1s\n"
        "    connect_timeout: 5s\n"
        "    request_timeout: 10s\n"
        "  - {{name: audits-file, type: file, path: {dir}/in.ndjson, poll_interval: 200ms}}\n"
        "sinks:\n"
        "  - {{name: out, type: file, format: raw, path: {dir}/out.ndjson}}\n",
        fmt::arg("dir", dir_.string()), fmt::arg("tenant", kTenant), fmt::arg("url", url), fmt::arg("client", kClient),
        fmt::arg("secret", kSecret), fmt::arg("ca", pki.ca_pem()));

    CapturedLog log;
    Diagnostics diags;
    auto doc = ConfigDocument::load_string(config, "startup-order.yaml", diags);
    StateStore state(dir_ / "state");
    app::PipelineParts parts = app::build_pipeline(*doc, PluginRegistry::builtin(), /*validate_only=*/false, &state);
    ASSERT_FALSE(diags.has_errors()) << diags.format();
    parts.options.state_warmup_max = warmup_max;
    DeadLetterWriter dead_letters(parts.dead_letter_path);
    Pipeline pipeline(parts.options, std::move(parts.sources), std::move(parts.sinks), std::move(parts.processors), state,
                      dead_letters);
    std::stop_source stop;
    const auto t0 = std::chrono::steady_clock::now();
    std::thread runner([&] { pipeline.run(stop.get_token()); });
    arrived_ = test::wait_until([&] { return count_lines(dir_ / "out.ndjson") >= kRecords; }, bound, 50ms);
    took_ = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
    stop.request_stop();
    runner.join();
    log_ = log.text();
    graph_stats_ = graph.stats().dump();
    server->stop();  // joins its connection threads before the emulator they call is destroyed
  }

  fs::path dir_;
  bool arrived_ = false;
  std::chrono::milliseconds took_{0};
  std::string log_, graph_stats_;
};

constexpr const char* kReleased =
    "source audits-file: no longer waiting for source graph-audits (start-up order): it is in error backoff (its last "
    "request failed and it waits to retry)";

// The audit-log endpoint answers 503 (Retry-After 30 s) for the whole test; state_warmup_max is ten
// minutes: the file records must arrive within 30 s.
TEST_F(StartupOrder, AnEarlierSourceInErrorBackoffDoesNotHoldTheOthersBack) {
  run({{"path_prefix", "/v1.0/auditLogs"}, {"count", 1'000'000}, {"status", 503}, {"retry_after", "30"}},
      std::chrono::minutes(10), 30s);
  EXPECT_TRUE(arrived_) << count_lines(dir_ / "out.ndjson") << " of " << kRecords
                        << " file records delivered while the Graph source backs off\n"
                        << log_;
  EXPECT_EQ(count_lines(dir_ / "out.ndjson"), static_cast<std::size_t>(kRecords));
  EXPECT_NE(graph_stats_.find("503"), std::string::npos) << "the Graph source was never refused\n" << graph_stats_;
  EXPECT_EQ(count_of(log_, kReleased), 1u) << log_;
  EXPECT_EQ(count_of(log_, "starting after"), 0u) << log_;
}

// Throttling is not an error: with every audit request answered 429 (Retry-After 30 s) the file
// source keeps waiting for the Graph source, until state_warmup_max (here 3 s).
TEST_F(StartupOrder, ThrottlingIsNotErrorBackoff) {
  run({{"path_prefix", "/v1.0/auditLogs"}, {"count", 1'000'000}, {"status", 429}, {"retry_after", "30"}},
      std::chrono::seconds(3), 30s);
  EXPECT_TRUE(arrived_) << log_;
  EXPECT_GE(took_, std::chrono::milliseconds(3000)) << "the file source did not wait for the throttled Graph source";
  EXPECT_NE(graph_stats_.find("429"), std::string::npos) << graph_stats_;
  EXPECT_EQ(count_of(log_, kReleased), 0u) << log_;
  EXPECT_EQ(count_of(log_, "source audits-file: starting after 3000 ms although the roster sources have not caught up yet"),
            1u)
      << log_;
}

}  // namespace
}  // namespace siem
