// The start-up order (Source::startup_order) with an earlier source in error backoff: the pipeline,
// built from a configuration by the production builder (connector/app/pipeline_builder.h), runs a
// graph_directory_audits source (order kStartupOrderRoleEvents) against the Graph/ARM emulator over
// HTTPS, whose audit-log endpoint answers every request 503 with Retry-After 30, and a file source
// (the default, larger order). state_warmup_max is set to ten minutes, so without the rule "a source
// in error backoff counts as warm" the file source would wait for minutes (six attempts per window,
// three windows before the Graph source reports a failure); with it the file source's records
// arrive within seconds, and one info line names the source no longer waited for and why.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <stop_token>
#include <thread>

#include <fmt/format.h>
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

TEST(StartupOrder, AnEarlierSourceInErrorBackoffDoesNotHoldTheOthersBack) {
  const fs::path dir = fs::temp_directory_path() / fmt::format("siem-startup-order-{}", ::getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);

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
  // The audit-log endpoint is down for the whole test (tokens are still issued).
  graph.add_fault({{"path_prefix", "/v1.0/auditLogs"}, {"count", 1'000'000}, {"status", 503}, {"retry_after", "30"}});

  {
    std::ofstream in(dir / "in.ndjson");
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
      fmt::arg("dir", dir.string()), fmt::arg("tenant", kTenant), fmt::arg("url", url), fmt::arg("client", kClient),
      fmt::arg("secret", kSecret), fmt::arg("ca", pki.ca_pem()));

  CapturedLog log;
  Diagnostics diags;
  auto doc = ConfigDocument::load_string(config, "startup-order.yaml", diags);
  StateStore state(dir / "state");
  app::PipelineParts parts = app::build_pipeline(*doc, PluginRegistry::builtin(), /*validate_only=*/false, &state);
  ASSERT_FALSE(diags.has_errors()) << diags.format();
  parts.options.state_warmup_max = std::chrono::minutes(10);  // far beyond the bound below
  DeadLetterWriter dead_letters(parts.dead_letter_path);
  Pipeline pipeline(parts.options, std::move(parts.sources), std::move(parts.sinks), std::move(parts.processors), state,
                    dead_letters);
  std::stop_source stop;
  int status = -1;
  std::thread runner([&] { status = pipeline.run(stop.get_token()); });

  // The Graph source is refused (503, Retry-After 30 s): the file source must not wait for it.
  const bool arrived = test::wait_until([&] { return count_lines(dir / "out.ndjson") >= kRecords; }, 30s, 50ms);
  stop.request_stop();
  runner.join();
  const std::string text = log.text();
  EXPECT_TRUE(arrived) << count_lines(dir / "out.ndjson") << " of " << kRecords
                       << " file records delivered while the Graph source backs off\n"
                       << text;
  EXPECT_EQ(count_lines(dir / "out.ndjson"), static_cast<std::size_t>(kRecords));
  EXPECT_NE(graph.stats().dump().find("503"), std::string::npos) << "the Graph source was never refused\n"
                                                                 << graph.stats().dump();
  EXPECT_EQ(count_of(text, "source audits-file: no longer waiting for source graph-audits (start-up order): it is in "
                           "error backoff (its last request failed and it waits to retry)"),
            1u)
      << text;
  EXPECT_EQ(count_of(text, "starting after"), 0u) << text;
  (void)status;
  if (!HasFailure()) fs::remove_all(dir);
}

}  // namespace
}  // namespace siem
