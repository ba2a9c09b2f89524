// Routing through the real binary (docs/configuration.md, "Routing"): a file source with
// directory audits, sign-ins and PIM requests into file sinks (and the HEC emulator over HTTPS),
// each sink with its own `route:` and `format:`.
//   * by kind, by tag and severity, each sink in its own format (CEF and ECS files from one run);
//   * the drop rule and events no sink takes are acknowledged: `run --once` exits 0, the
//     checkpoint moves (the next run reads nothing), the summary counts them;
//   * a sink that fails while the others take their events holds the checkpoint: killed and
//     restarted with its peer back, every event it takes reaches it;
//   * a sink that fails and was routed no event owes nothing: `run --once` delivers the others'
//     events and exits 0 (the failure logged at error level, FAILED in the summary), a SIGTERM'd
//     run exits 0 at once; as soon as an event is routed to it, `run --once` exits 2.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <string>

#include "tests/component/kafka/kafka_test_support.h"
#include "tests/component/pipeline/e2e_support.h"
#include "tests/support/audit_record.h"
#include "tests/support/test_http.h"

namespace {

using namespace siem::e2e;

// Ids per kind: "audit-N" (graph_directory_audit: no tag, severity 3), "signin-N" (graph_sign_in:
// no tag, severity 1), "pim-N" (graph_pim_request, a tier 0 self-activation: pa.pim.activation,
// pa.role.tier0 and, without a justification, pa.pim.no_justification; severity 7).
std::string audit(int i) {
  return siem::test::directory_audit(fmt::format("audit-{}", i)).dump();
}
std::string signin(int i) {
  return nlohmann::json{{"id", fmt::format("signin-{}", i)},
                        {"createdDateTime", "2026-03-04T10:15:30Z"},
                        {"userPrincipalName", "bob@contoso.example"},
                        {"userId", "11111111-1111-1111-1111-111111111111"},
                        {"appDisplayName", "Office 365"},
                        {"ipAddress", "203.0.113.5"},
                        {"status", {{"errorCode", 0}}},
                        {"isInteractive", true}}
      .dump();
}
std::string pim(int i) {
  return nlohmann::json{{"id", fmt::format("pim-{}", i)},
                        {"action", "selfActivate"},
                        {"principalId", "22222222-2222-2222-2222-222222222222"},
                        {"roleDefinitionId", "62e90394-69f5-4237-9190-012177145e10"},
                        {"directoryScopeId", "/"},
                        {"status", "Provisioned"},
                        {"createdDateTime", "2026-03-04T10:15:30Z"},
                        {"scheduleInfo",
                         {{"startDateTime", "2026-03-04T10:15:30Z"},
                          {"expiration", {{"type", "afterDuration"}, {"duration", "PT1H"}}}}}}
      .dump();
}

std::set<std::string> named(const std::string& prefix, int from, int to) {
  std::set<std::string> out;
  for (int i = from; i < to; ++i) out.insert(fmt::format("{}-{}", prefix, i));
  return out;
}
std::set<std::string> joined(std::set<std::string> a, const std::set<std::string>& b) {
  a.insert(b.begin(), b.end());
  return a;
}

class Routing : public E2eTest {
 protected:
  // A file source over in.ndjson and the given sinks; `pipeline_extra`: more keys of `pipeline:`.
  // `top_extra`: more top-level keys.
  fs::path config(const std::string& sinks, const std::string& pipeline_extra = {},
                  const std::string& top_extra = {}) {
    const auto cfg = dir_ / "config.yaml";
    std::ofstream(cfg) << top_extra
                       << fmt::format(
                              "state_dir: {0}/state\n"
                              "dead_letter: {{path: {0}/dead-letter.ndjson}}\n"
                              "pipeline:\n  drain_timeout: 60s\n  checkpoint_interval: 100ms\n{2}"
                              "sources:\n"
                              "  - {{name: logs, type: file, path: {0}/in.ndjson, poll_interval: 100ms}}\n"
                              "sinks:\n{1}",
                              dir_.string(), sinks, pipeline_extra);
    std::ofstream(dir_ / "in.ndjson", std::ios::app).flush();
    return cfg;
  }
  // Interleaved: audit-i, signin-i, pim-i for i in [from, to).
  void write_mix(int from, int to) {
    std::ofstream out(dir_ / "in.ndjson", std::ios::app);
    for (int i = from; i < to; ++i) out << audit(i) << "\n" << signin(i) << "\n" << pim(i) << "\n";
  }
  std::string file_sink(const std::string& name, const std::string& format, const std::string& route) const {
    return fmt::format("  - name: {}\n    type: file\n    format: {}\n    path: {}\n{}", name, format,
                       (dir_ / (name + ".out")).string(), route.empty() ? "" : "    route: " + route + "\n");
  }
  // The ids in a sink's file, by its format; every line must parse in that format. Complete lines
  // only: while the connector runs, a read can see a batch it is still writing, cut short.
  std::multiset<std::string> file_ids(const std::string& name, const std::string& format) const {
    std::multiset<std::string> out;
    std::string text = slurp(dir_ / (name + ".out"));
    text.erase(text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1);
    std::istringstream in(text);
    static const std::regex external_id(" externalId=(\\S+)");
    for (std::string line; std::getline(in, line);) {
      if (line.empty()) continue;
      if (format == "cef") {
        EXPECT_EQ(line.rfind("CEF:0|", 0), 0u) << line;
        std::smatch m;
        if (std::regex_search(line, m, external_id))
          out.insert(m[1]);
        else
          ADD_FAILURE() << "no externalId: " << line;
      } else if (format == "ecs") {
        out.insert(nlohmann::json::parse(line).at("event").at("id").get<std::string>());
      } else {
        out.insert(nlohmann::json::parse(line).at("id").get<std::string>());
      }
    }
    return out;
  }
  std::set<std::string> unique_ids(const std::string& name, const std::string& format) const {
    const auto ids = file_ids(name, format);
    return {ids.begin(), ids.end()};
  }
  int run_once(std::string* err = nullptr) {
    Connector c(dir_, {"run", "--once", "-c", (dir_ / "config.yaml").string()});
    EXPECT_TRUE(c.started());
    const int status = c.wait(120s);
    if (err) *err = c.err();
    return status;
  }
};

std::uint64_t source_read(const std::string& err) {
  std::smatch m;
  static const std::regex line("\\n\\s+logs\\s+read\\s+(\\d+)");
  return std::regex_search(err, m, line) ? std::stoull(m[1]) : ~0ull;
}

TEST_F(Routing, ByKindByTagAndSeverityEachSinkInItsOwnFormat) {
  config(file_sink("pim-cef", "cef", "{kinds: [graph_pim_request]}") +
         file_sink("signins-ecs", "ecs", "{kinds: [graph_sign_in]}") +
         file_sink("tier0-alerts", "ecs",
                   "{tags: [\"pa.role.*\"], min_severity: 5, exclude: [{sources: [nobody]}]}") +
         file_sink("audit-or-signin", "raw",
                   "{kinds: [graph_directory_audit, graph_sign_in], max_severity: 2}") +
         file_sink("everything", "raw", ""));
  write_mix(0, 30);
  std::string err;
  ASSERT_EQ(run_once(&err), 1) << err;  // `nobody` is not a configured source: validate's error stops the run
  EXPECT_NE(err.find("sinks[2].route.exclude[0].sources[0]: unknown source 'nobody'"), std::string::npos)
      << err;

  config(
      file_sink("pim-cef", "cef", "{kinds: [graph_pim_request]}") +
      file_sink("signins-ecs", "ecs", "{kinds: [graph_sign_in]}") +
      file_sink("tier0-alerts", "ecs", "{tags: [\"pa.role.*\"], min_severity: 5}") +
      file_sink("low-severity", "raw", "{kinds: [graph_directory_audit, graph_sign_in], max_severity: 2}") +
      file_sink("everything", "raw", ""));
  ASSERT_EQ(run_once(&err), 0) << err;
  const auto pims = named("pim", 0, 30), signins = named("signin", 0, 30), audits = named("audit", 0, 30);
  EXPECT_EQ(file_ids("pim-cef", "cef"), std::multiset<std::string>(pims.begin(), pims.end()));
  EXPECT_EQ(file_ids("signins-ecs", "ecs"), std::multiset<std::string>(signins.begin(), signins.end()));
  EXPECT_EQ(unique_ids("tier0-alerts", "ecs"), pims);
  EXPECT_EQ(unique_ids("low-severity", "raw"), signins);  // audits are severity 3
  EXPECT_EQ(unique_ids("everything", "raw"), joined(joined(pims, signins), audits));
  EXPECT_NE(err.find("routing: 0 dropped by pipeline.drop, 0 taken by no sink"), std::string::npos) << err;
  EXPECT_TRUE(std::regex_search(err, std::regex("\\n\\s+pim-cef\\s+routed\\s+30\\s+not taken\\s+60\\n")))
      << err;
  expect_no_dead_letters();
}

TEST_F(Routing, DroppedAndUnroutedEventsAreAcknowledgedAndCounted) {
  config(
      file_sink(
          "pim-only", "ecs",
          "{kinds: [graph_pim_request], exclude: [{tags: [pa.pim.no_justification]}, {min_severity: 9}]}") +
          file_sink("audits", "raw", "{kinds: [graph_directory_audit]}"),
      "  drop:\n    - {kinds: [graph_directory_audit]}\n");
  write_mix(0, 20);
  {
    std::ofstream out(dir_ / "in.ndjson", std::ios::app);  // justified: not excluded from pim-only
    for (int i = 100; i < 110; ++i) {
      auto j = nlohmann::json::parse(pim(i));
      j["justification"] = "Quarterly access review of the tenant";
      out << j.dump() << "\n";
    }
  }
  std::string err;
  // `audits` takes only what the drop rule removes: validate reports it and the run does not start.
  ASSERT_EQ(run_once(&err), 1) << err;
  EXPECT_NE(err.find("sinks[1].route: no event can reach this sink"), std::string::npos) << err;

  config(file_sink(
             "pim-only", "ecs",
             "{kinds: [graph_pim_request], exclude: [{tags: [pa.pim.no_justification]}, {min_severity: 9}]}"),
         "  drop:\n    - {kinds: [graph_directory_audit]}\n");
  ASSERT_EQ(run_once(&err), 0) << err;
  EXPECT_EQ(unique_ids("pim-only", "ecs"), named("pim", 100, 110));
  // 20 audits dropped; 20 sign-ins and the 20 unjustified PIM requests taken by no sink.
  EXPECT_NE(err.find("routing: 20 dropped by pipeline.drop, 40 taken by no sink"), std::string::npos) << err;
  EXPECT_EQ(source_read(err), 70u) << err;
  // Everything was acknowledged: the checkpoint is past every record, the next run reads nothing.
  ASSERT_EQ(run_once(&err), 0) << err;
  EXPECT_EQ(source_read(err), 0u) << err;
  EXPECT_EQ(unique_ids("pim-only", "ecs"), named("pim", 100, 110));
  expect_no_dead_letters();
}

// CEF to a real rsyslogd over TLS (the detections of severity 5 or more) and ECS to Kafka (librdkafka's
// mock cluster, everything but the directory audits), from one `run --once`.
TEST_F(Routing, CefToSyslogAndEcsToKafkaFromOneRun) {
  siem::test::TestPki pki;
  Rsyslog rs(dir_ / "rsyslog", pki);
  rs.start();
  siem::testing::MockKafkaCluster mc(1);
  mc.create_topic("siem.routed", 1, 1);
  config(
      fmt::format("  - name: siem\n    type: syslog\n    format: cef\n    host: localhost\n    port: {}\n"
                  "    protocol: tls\n    rfc: 5424\n    framing: octet_counting\n    tls: {{ca_file: {}}}\n"
                  "    route: {{tags: [\"pa.*\"], min_severity: 5}}\n",
                  rs.tls_port, pki.ca_pem()) +
      fmt::format("  - name: datalake\n    type: kafka\n    format: ecs\n    brokers: \"{}\"\n"
                  "    topic: siem.routed\n    properties: {{log_level: 0}}\n"
                  "    route: {{exclude: [{{kinds: [graph_directory_audit]}}]}}\n",
                  mc.bootstraps()));
  write_mix(0, 25);
  std::string err;
  ASSERT_EQ(run_once(&err), 0) << err;
  std::set<std::string> syslog;
  for (const auto& l : rs.lines()) {
    const auto p = siem::testing::parse5424(l);
    ASSERT_TRUE(p) << "not RFC 5424: " << l;
    EXPECT_EQ(p->body.rfind("CEF:0|", 0), 0u) << p->body;
    EXPECT_NE(p->body.find(" externalId=" + p->sd.at("id")), std::string::npos) << p->body;
    syslog.insert(p->sd.at("id"));
  }
  EXPECT_EQ(syslog, named("pim", 0, 25));
  std::set<std::string> kafka;
  for (const auto& r : siem::testing::kcat_consume(mc.bootstraps(), "siem.routed"))
    kafka.insert(
        nlohmann::json::parse(r.payload).at("event").at("id").get<std::string>());  // ECS or it fails
  EXPECT_EQ(kafka, joined(named("pim", 0, 25), named("signin", 0, 25)));
  expect_no_dead_letters();
}

// The HEC sink takes the PIM requests and fails ("503 server busy" on every request) while the
// file sink takes and acknowledges the audits and sign-ins. The PIM requests' acknowledgements
// are owed by the HEC sink only: the checkpoint must not pass them. SIGKILL, the indexer
// recovers, restart: every PIM request reaches the HEC sink, and nothing else does.
TEST_F(Routing, FailingSinkHoldsTheCheckpointWhileTheOthersTakeTheirEvents) {
  Hec h;
  h.hec->fail_busy(1'000'000);
  config(file_sink("directory", "raw", "{kinds: [graph_directory_audit, graph_sign_in]}") +
             h.sink(kToken, "    route: {kinds: [graph_pim_request]}\n"),
         {}, "observability: {listen: \"127.0.0.1:0\"}\n");
  write_mix(0, 50);
  const auto others = joined(named("audit", 0, 50), named("signin", 0, 50));
  {
    Connector c(dir_, {"run", "-c", (dir_ / "config.yaml").string()});
    ASSERT_TRUE(c.started());
    ASSERT_TRUE(eventually([&] { return unique_ids("directory", "raw") == others; }, 60s)) << c.err();
    const auto seen = h.hec->requests().size();
    ASSERT_TRUE(eventually([&] { return h.hec->requests().size() >= seen + 4; }, 30s)) << c.err();
    EXPECT_EQ(h.hec->event_count(), 0u);
    // The routing counters on /metrics.
    const std::string marker = "/readyz on 127.0.0.1:";
    const auto log = c.err();
    const auto at = log.find(marker);
    ASSERT_NE(at, std::string::npos) << log;
    const auto metrics = siem::test::http_fetch(
        "GET", fmt::format("http://127.0.0.1:{}/metrics", std::stoi(log.substr(at + marker.size()))));
    ASSERT_EQ(metrics.status, 200);
    for (const auto* sample :
         {"siem_sink_events_routed_total{sink=\"directory\"} 100\n",
          "siem_sink_events_routed_total{sink=\"hec-out\"} 50\n",
          "siem_sink_events_not_taken_total{sink=\"directory\"} 50\n",
          "siem_sink_events_not_taken_total{sink=\"hec-out\"} 100\n",
          "siem_pipeline_events_dropped_total 0\n", "siem_pipeline_events_unrouted_total 0\n"})
      EXPECT_NE(metrics.body.find(sample), std::string::npos) << sample << metrics.body;
    ASSERT_TRUE(c.running()) << c.err();
    c.kill9();
  }
  h.hec->fail_busy(0);
  Connector again(dir_, {"run", "-c", (dir_ / "config.yaml").string()});
  EXPECT_TRUE(eventually([&] { return h.ids() == named("pim", 0, 50); }, 60s))
      << h.ids().size() << " of 50 reached the HEC sink after the restart\n"
      << again.err();
  again.signal(SIGTERM);
  EXPECT_EQ(again.wait(60s), 0) << again.err();
  std::size_t total = 0;
  EXPECT_EQ(h.ids(&total), named("pim", 0, 50));  // only what its route takes
  EXPECT_EQ(unique_ids("directory", "raw"), others);
  expect_no_dead_letters();
}

// A sink that cannot start (its output path is a symbolic link, which it refuses) and whose route
// takes the PIM requests only. While no PIM request comes, it owes no acknowledgement and cannot
// hold a checkpoint: `run --once` delivers everything else and exits 0, saying loudly that the
// sink failed, and a continuous run stops on SIGTERM without waiting for it. Once PIM requests
// come, they cannot be delivered: exit 2, their checkpoint unmoved, until the sink is fixed.
TEST_F(Routing, FailingSinkNoEventWasRoutedToDoesNotFailTheRun) {
  fs::create_symlink(dir_ / "elsewhere.out", dir_ / "pim.out");
  config(file_sink("directory", "raw", "{kinds: [graph_directory_audit, graph_sign_in]}") +
         file_sink("pim", "raw", "{kinds: [graph_pim_request]}"));
  {
    std::ofstream out(dir_ / "in.ndjson", std::ios::app);
    for (int i = 0; i < 20; ++i) out << audit(i) << "\n" << signin(i) << "\n";
  }
  const auto others = joined(named("audit", 0, 20), named("signin", 0, 20));
  std::string err;
  ASSERT_EQ(run_once(&err), 0) << err;
  EXPECT_EQ(unique_ids("directory", "raw"), others);
  EXPECT_NE(err.find("symbolic link"), std::string::npos) << err;
  EXPECT_NE(err.find("error sink pim: FAILED (see the error above) and was routed no event in this run"), std::string::npos)
      << err;
  EXPECT_GE(summary_of(err, "pim").failed, 1u) << err;
  EXPECT_NE(err.find("ms/batch  FAILED"), std::string::npos) << err;
  ASSERT_EQ(run_once(&err), 0) << err;
  EXPECT_EQ(source_read(err), 0u) << err;  // the checkpoint moved past everything delivered

  {
    Connector c(dir_, {"run", "-c", (dir_ / "config.yaml").string()});
    ASSERT_TRUE(c.started());
    ASSERT_TRUE(eventually([&] { return c.err().find("retrying start") != std::string::npos; }, 30s)) << c.err();
    c.signal(SIGTERM);
    EXPECT_EQ(c.wait(30s), 0) << c.err();
  }

  {
    std::ofstream out(dir_ / "in.ndjson", std::ios::app);
    for (int i = 0; i < 5; ++i) out << pim(i) << "\n";
  }
  ASSERT_EQ(run_once(&err), 2) << err;
  EXPECT_EQ(err.find("was routed no event"), std::string::npos) << err;
  fs::remove(dir_ / "pim.out");
  ASSERT_EQ(run_once(&err), 0) << err;
  EXPECT_EQ(unique_ids("pim", "raw"), named("pim", 0, 5));
  EXPECT_EQ(unique_ids("directory", "raw"), others);
  expect_no_dead_letters();
}

}  // namespace
