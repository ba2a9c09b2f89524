// The HEC component tests' fixture (splunk_hec_component_test.cc, splunk_hec_drain_test.cc): the HEC
// emulator behind a TLS loopback server on 127.0.0.1 with a test CA, the sink's settings for it,
// and events to send.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "connector/core/ack_tracker.h"
#include "connector/core/dead_letter.h"
#include "connector/core/sink_runner.h"
#include "sinks/splunk_hec/splunk_hec_sink.h"
#include "tests/support/loopback_server.h"
#include "tests/support/test_pki.h"
#include "tests/support/wait.h"
#include "tools/hec_emulator/hec_emulator.h"

namespace siem::hec_test {

using namespace std::chrono_literals;

inline const std::string kToken = "00000000-0000-0000-0000-00000000cafe";

inline std::vector<EventPtr> make_events(std::size_t n, std::size_t pad = 0) {
  std::vector<EventPtr> v;
  for (std::size_t i = 0; i < n; ++i) {
    auto e = std::make_shared<MappedEvent>();
    e->set_id("evt-" + std::to_string(i));
    e->kind = SourceKind::graph_directory_audit;
    e->source_name = "entra-audit";
    e->set_tenant_id("tenant-1");
    e->time_ms = 1772619330123 + static_cast<std::int64_t>(i);
    e->ecs = R"({"event":{"id":")" + std::string(e->id()) + R"("},"message":")" + std::string(pad, 'x') + R"("})";
    e->raw = R"({"id":")" + std::string(e->id()) + R"("})";
    e->cef = "CEF:0|Microsoft|Entra ID|1.0|x|y|5|externalId=" + std::string(e->id());
    v.push_back(std::move(e));
  }
  return v;
}

struct Fixture : ::testing::Test {
  test::TestPki pki;
  std::unique_ptr<test::LoopbackServer> server = test::make_tls_server(pki);
  std::unique_ptr<hec::HecEmulator> hec;
  // The server stops (joining its connection threads) before the emulator they call is destroyed.
  ~Fixture() override { server->stop(); }

  void start_hec(hec::HecOptions o = {}) {
    hec = std::make_unique<hec::HecEmulator>(std::move(o), *server);
    server->start();
  }
  // An emulator whose acknowledgements are all lost, and settings that wait for them.
  HecSinkSettings start_hec_losing_acks() {
    hec::HecOptions o;
    o.ack_enabled = true;
    start_hec(o);
    hec->set_acks_lost(true);
    auto s = settings();
    s.ack = true;
    return s;
  }
  HecSinkSettings settings() {
    HecSinkSettings s;
    s.name = "siem";
    s.url = server->base_url() + "/services/collector/event";
    s.base_url = server->base_url();
    s.token = Secret(kToken);
    s.host = "connector01";
    s.index = "identity";
    s.http.ca_file = pki.ca_pem();
    s.http.request_timeout = 5s;
    s.ack_poll_interval = 20ms;
    s.ack_timeout = 5s;
    return s;
  }
  std::multiset<std::string> ids() const {
    std::multiset<std::string> out;
    for (const auto& e : hec->events()) out.insert(e.envelope["event"]["event"]["id"].get<std::string>());
    return out;
  }
};

}  // namespace siem::hec_test
