// The delivery promises of the README, through the production path: the real `siem-connector`
// binary, a file source, and real peers (file sink, rsyslogd over TLS, the HEC emulator over HTTPS).
//   * at least once to every sink: with two and three sinks, one failing, slow or dead, the process
//     is SIGKILLed once the healthy sinks have everything, and restarted with every peer up: every
//     id reaches every sink (a checkpoint that moved on one sink's acknowledgement loses them);
//   * dead letters are durable before their events count as done: with the dead-letter file on a
//     full device (/dev/full: every write fails with ENOSPC), in the mapping stage and in the sink
//     stage, the run ends with its documented status, and the next start (a writable dead-letter
//     file) dead-letters what the first could not, and delivers the rest.
#include <gtest/gtest.h>

#include <signal.h>

#include <map>
#include <set>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tests/component/pipeline/e2e_support.h"

namespace {

using namespace siem::e2e;

class DeliveryPromises : public E2eTest {
 protected:
  std::string file_sink(const std::string& name = "file-out") const {
    return fmt::format("  - {{name: {}, type: file, format: raw, path: {}}}\n", name, (dir_ / (name + ".ndjson")).string());
  }
  // Ids in a file sink's output (raw format: the records as read), complete lines only (the sink
  // may be writing the last one).
  std::set<std::string> file_ids(const std::string& name = "file-out") const {
    std::set<std::string> out;
    std::string text = slurp(dir_ / (name + ".ndjson"));
    text.erase(text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1);
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) out.insert(nlohmann::json::parse(line).at("id").get<std::string>());
    return out;
  }
  // Dead letters by stage ("read", "map", "sink:<name>") -> the ids (or raw text) of their records.
  std::map<std::string, std::set<std::string>> dead_letters(const fs::path& path) const {
    std::map<std::string, std::set<std::string>> out;
    std::istringstream in(slurp(path));
    for (std::string line; std::getline(in, line);) {
      if (line.empty()) continue;
      const auto l = nlohmann::json::parse(line);
      const auto record = l.at("record").get<std::string>();
      const auto parsed = nlohmann::json::parse(record, nullptr, false);
      out[l.at("stage").get<std::string>()].insert(parsed.is_object() && parsed.contains("id") ? parsed["id"].get<std::string>() : record);
    }
    return out;
  }
};

std::set<std::string> syslog_ids(const Rsyslog& rs) {
  std::set<std::string> out;
  for (const auto& l : rs.lines())
    if (const auto p = siem::testing::parse5424(l)) out.insert(p->sd.at("id"));
  return out;
}

// Two sinks, the HEC one failing (every request "503 server busy"): the file sink has every event,
// the checkpoint must still not move. SIGKILL, the HEC indexer recovers, restart: every id reaches
// both sinks.
TEST_F(DeliveryPromises, TwoSinksOneFailingKilledAndRestartedEveryIdReachesEverySink) {
  Hec h;
  h.hec->fail_busy(1'000'000);
  const auto cfg = write_config(file_sink() + h.sink());
  append(0, 300);
  {
    Connector c(dir_, {"run", "-c", cfg.string()});
    ASSERT_TRUE(c.started());
    ASSERT_TRUE(eventually([&] { return file_ids() == ids(0, 300); }, 60s)) << c.err();
    // Several HEC retries later (checkpoints are committed every 100 ms meanwhile):
    const auto seen = h.hec->requests().size();
    ASSERT_TRUE(eventually([&] { return h.hec->requests().size() >= seen + 4; }, 30s)) << c.err();
    EXPECT_EQ(h.hec->event_count(), 0u);
    ASSERT_TRUE(c.running()) << c.err();
    c.kill9();
  }
  h.hec->fail_busy(0);
  Connector again(dir_, {"run", "-c", cfg.string()});
  EXPECT_TRUE(eventually([&] { return h.ids() == ids(0, 300); }, 60s))
      << h.ids().size() << " of 300 reached the HEC sink after the restart\n" << again.err();
  EXPECT_EQ(file_ids(), ids(0, 300));
  again.signal(SIGTERM);
  EXPECT_EQ(again.wait(60s), 0) << again.err();
  expect_no_dead_letters();
}

// Three sinks: file (healthy), HEC with indexer acknowledgement (slow: each ack granted only after
// 400 ms and two polls), syslog (dead: rsyslogd not running yet). SIGKILL once the file and HEC
// sinks have everything; rsyslogd starts; restart: every id reaches all three.
TEST_F(DeliveryPromises, ThreeSinksSlowAndDeadKilledAndRestartedEveryIdReachesEverySink) {
  siem::hec::HecOptions ho;
  ho.ack_enabled = true;
  Hec h(false, ho);
  h.hec->set_slow_acks(400ms, 2);
  siem::test::TestPki pki;
  Rsyslog rs(dir_ / "rsyslog", pki);  // ports chosen, not started: connections are refused
  const auto cfg = write_config(file_sink() + h.sink(kToken, "    ack: true\n    ack_poll_interval: 100ms\n") +
                                syslog_sink(rs.tls_port, pki));
  append(0, 200);
  {
    Connector c(dir_, {"run", "-c", cfg.string()});
    ASSERT_TRUE(c.started());
    ASSERT_TRUE(eventually([&] { return file_ids() == ids(0, 200) && h.ids() == ids(0, 200); }, 60s)) << c.err();
    const auto polls = h.hec->ack_polls();
    ASSERT_TRUE(eventually([&] { return h.hec->ack_polls() >= polls + 4; }, 30s)) << c.err();
    ASSERT_TRUE(c.running()) << c.err();
    c.kill9();
  }
  rs.start();
  Connector again(dir_, {"run", "-c", cfg.string()});
  EXPECT_TRUE(eventually([&] { return syslog_ids(rs) == ids(0, 200); }, 60s))
      << syslog_ids(rs).size() << " of 200 reached the syslog sink after the restart\n" << again.err();
  EXPECT_EQ(file_ids(), ids(0, 200));
  EXPECT_EQ(h.ids(), ids(0, 200));
  again.signal(SIGTERM);
  EXPECT_EQ(again.wait(60s), 0) << again.err();
  expect_no_dead_letters();
}

// A record that cannot be read while the dead-letter file cannot be written: it stays
// unacknowledged and the run ends with status 1 (an error it cannot work around); the next start,
// with a writable dead-letter file, dead-letters that record and delivers every other one. The
// broken line is appended alone once the first 40 are delivered, so it is a batch of its own: had
// it counted as done, its checkpoint would have moved past it.
TEST_F(DeliveryPromises, MappingStageHoldsRecordsWhileTheDeadLetterFileCannotBeWritten) {
  const auto full = write_config(file_sink(), "10s", "/dev/full", "full.yaml");
  const auto ok = write_config(file_sink());
  append(0, 40);
  Connector first(dir_, {"run", "-c", full.string()});
  ASSERT_TRUE(eventually([&] { return file_ids() == ids(0, 40); }, 60s)) << first.err();
  { std::ofstream(dir_ / "in.ndjson", std::ios::app) << "broken: not a JSON record\n"; }
  EXPECT_EQ(first.wait(30s), 1) << first.err();
  EXPECT_NE(first.err().find("left unacknowledged"), std::string::npos) << first.err();
  append(40, 80);

  Connector second(dir_, {"run", "--once", "-c", ok.string()});
  EXPECT_EQ(second.wait(60s), 3) << second.err();  // everything handled, one record dead-lettered
  const auto letters = dead_letters(dir_ / "dead-letter.ndjson");
  ASSERT_EQ(letters.size(), 1u) << slurp(dir_ / "dead-letter.ndjson");
  ASSERT_EQ(letters.count("read"), 1u);
  EXPECT_EQ(letters.at("read").size(), 1u);
  EXPECT_EQ(file_ids(), ids(0, 80));
}

// Every event refused by one sink for good (HEC code 7, an index the token may not write) while the
// dead-letter file cannot be written: the refused events are held, not acknowledged, so `run
// --once` ends at its drain deadline with status 2; the next start dead-letters every one of them.
TEST_F(DeliveryPromises, SinkStageHoldsRefusedEventsWhileTheDeadLetterFileCannotBeWritten) {
  siem::hec::HecOptions ho;
  ho.allowed_indexes = {"main"};
  Hec h(false, ho);
  const std::string hec = h.sink(kToken, "    index: restricted\n");
  const auto full = write_config(file_sink() + hec, "3s", "/dev/full", "full.yaml");
  const auto ok = write_config(file_sink() + hec);
  append(0, 30);
  Connector first(dir_, {"run", "--once", "-c", full.string()});
  EXPECT_EQ(first.wait(60s), 2) << first.err();
  EXPECT_EQ(file_ids(), ids(0, 30));
  EXPECT_EQ(h.hec->event_count(), 0u);

  Connector second(dir_, {"run", "--once", "-c", ok.string()});
  EXPECT_EQ(second.wait(60s), 3) << second.err();
  const auto letters = dead_letters(dir_ / "dead-letter.ndjson");
  ASSERT_EQ(letters.count("sink:hec-out"), 1u) << slurp(dir_ / "dead-letter.ndjson");
  EXPECT_EQ(letters.at("sink:hec-out"), ids(0, 30));
  EXPECT_EQ(letters.size(), 1u);
  EXPECT_EQ(file_ids(), ids(0, 30));
}

}  // namespace
