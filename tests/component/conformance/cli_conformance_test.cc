// The interfaces of interfaces.md as a user scripts them, checked with the real binary: the
// command line's exit statuses and the line-oriented outputs (one record per line).
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

extern char** environ;

namespace {

namespace fs = std::filesystem;
const std::string kBinary = std::string(SIEM_BINARY_DIR) + "/siem-connector";
const fs::path kData = SIEM_TEST_DATA_DIR;

struct Result {
  int status = -1;
  std::string out, err;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("siem-cli-" + std::to_string(getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Runs the binary with `args` (at most 60 s, then killed), stdout and stderr captured.
  Result run(const std::vector<std::string>& args) {
    std::vector<std::string> all{kBinary};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    const fs::path out = dir_ / "stdout", err = dir_ / "stderr";
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addchdir_np(&fa, dir_.c_str());
    pid_t pid = -1;
    const int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    Result r;
    if (rc != 0) return r;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    int status = 0;
    while (waitpid(pid, &status, WNOHANG) != pid) {
      if (std::chrono::steady_clock::now() > deadline) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        return r;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.out = slurp(out);
    r.err = slurp(err);
    return r;
  }

  // Every line of `text` is one JSON object; returns how many.
  static std::size_t json_lines(const std::string& text) {
    std::istringstream in(text);
    std::string line;
    std::size_t n = 0;
    while (std::getline(in, line)) {
      EXPECT_TRUE(nlohmann::json::accept(line)) << "not one JSON record per line: " << line.substr(0, 80);
      ++n;
    }
    return n;
  }

  fs::path dir_;
};

// interfaces.md, `map`: "one output record per line" — also for `raw`, whose text is the record's
// own and keeps the line breaks of a pretty-printed list response (the sample as Microsoft shows it).
TEST_F(Cli, MapRawWritesOneRecordPerLine) {
  const Result r = run({"map", "--format", "raw", (kData / "graph-directoryaudits-list-v1.json").string()});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(json_lines(r.out), 1u);
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j.at("category"), "UserManagement");
  EXPECT_EQ(j.at("targetResources").at(0).at("Type"), "Group");
}

// The file sink writes NDJSON: a raw record read from a pretty-printed envelope is one line, its
// values unchanged; a record without line breaks is written byte for byte.
TEST_F(Cli, FileSinkRawWritesOneRecordPerLine) {
  fs::copy_file(kData / "eventhub-auditlogs-records-envelope.json", dir_ / "in.json");
  std::ofstream(dir_ / "in.json", std::ios::app) << "\n{\"id\":\"compact-1\",\"activityDisplayName\":\"x\"}\n";
  std::ofstream(dir_ / "c.yaml") << "state_dir: ./state\n"
                                    "dead_letter: {path: ./dl.ndjson}\n"
                                    "sources: [{name: f, type: file, path: ./in.json}]\n"
                                    "sinks: [{name: out, type: file, format: raw, path: ./out.ndjson}]\n";
  const Result r = run({"run", "-c", "c.yaml", "--once"});
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string out = slurp(dir_ / "out.ndjson");
  ASSERT_EQ(json_lines(out), 2u) << out;
  const auto first = nlohmann::json::parse(out.substr(0, out.find('\n')));
  const auto envelope = nlohmann::json::parse(slurp(kData / "eventhub-auditlogs-records-envelope.json"));
  EXPECT_EQ(first, envelope.at("records").at(0));
  EXPECT_EQ(out.substr(out.find('\n') + 1), "{\"id\":\"compact-1\",\"activityDisplayName\":\"x\"}\n");
}

// A command line that cannot be parsed is a usage error: status 1, like every configuration
// error (README, exit statuses), not CLI11's 105/106; --help stays 0.
TEST_F(Cli, UsageErrorsExitOne) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{}, {"run"}, {"bogus"}, {"map", "--format", "xml"}, {"run", "-c", "x.yaml", "--onse"}}) {
    const Result r = run(args);
    EXPECT_EQ(r.status, 1) << (args.empty() ? "(no arguments)" : args[0]) << ": " << r.err;
    EXPECT_FALSE(r.err.empty());
  }
  EXPECT_EQ(run({"--help"}).status, 0);
  EXPECT_EQ(run({"map", "--help"}).status, 0);
}

// validate names file:line:column and the key for identifiers that would break the peer's parse:
// an RFC 5424 SD-ID outside printable ASCII or without a numeric PEN (§6.3.2, §7.2.2), an RFC 3164
// TAG with a space or colon (§5.3), a HEC channel that is not a GUID (formats.md §3.3: code 11).
TEST_F(Cli, ValidateRejectsMalformedSyslogAndHecIdentifiers) {
  std::ofstream(dir_ / "in.json") << "";
  std::ofstream(dir_ / "c.yaml")
      << "state_dir: ./state\n"
         "sources: [{name: f, type: file, path: ./in.json}]\n"
         "sinks:\n"
         "  - {name: s1, type: syslog, host: 127.0.0.1, sd_id: \"s\u00e4ge@32473\"}\n"
         "  - {name: s2, type: syslog, host: 127.0.0.1, sd_id: \"conn@abc\"}\n"
         "  - {name: s3, type: syslog, host: 127.0.0.1, rfc: 3164, tag: \"my app:x\"}\n"
         "  - {name: s4, type: splunk_hec, url: \"https://127.0.0.1:8088\", token: \"${T:-x}\",\n"
         "     channel: \"not-a-guid-but-36-characters-long!!!\"}\n"
         "  - {name: s5, type: syslog, host: 127.0.0.1, app_name: \"My App\", sd_id: \"conn@32473.1\"}\n";
  const Result r = run({"validate", "-c", "c.yaml"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("c.yaml:4:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("sinks[0].sd_id"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("c.yaml:5:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("sinks[1].sd_id"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("c.yaml:6:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("sinks[2].tag"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("sinks[3].channel"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("sinks[4]"), std::string::npos) << "5424 has no TAG; a dotted PEN is valid: " << r.err;
  EXPECT_NE(r.err.find("4 error(s)"), std::string::npos) << r.err;
}

// interfaces.md, validate: "errors name file:line:column" for the mapping files it loads too: an
// override file's errors name that file as the user wrote it, a missing one is one error.
TEST_F(Cli, ValidateNamesMappingOverrideFiles) {
  std::ofstream(dir_ / "in.json") << "";
  std::ofstream(dir_ / "local.yaml") << "kind: graph_sign_in\necs:\n  user.name: {form: userPrincipalName}\n";
  std::ofstream(dir_ / "c.yaml") << "state_dir: ./state\n"
                                    "sources: [{name: f, type: file, path: ./in.json}]\n"
                                    "sinks: [{name: o, type: stdout}]\n"
                                    "mappings: {overrides: [./local.yaml, ./missing.yaml]}\n";
  const Result r = run({"validate", "-c", "c.yaml"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("\nlocal.yaml:3:15: error: ecs.user.name: unknown rule key 'form' (did you mean 'from'?)"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("c.yaml:4:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("mapping file missing.yaml does not exist"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("missing.yaml", r.err.find("missing.yaml") + 1), std::string::npos) << "reported twice: " << r.err;
  EXPECT_NE(r.err.find("2 error(s)"), std::string::npos) << r.err;
}

// formats.md §1.3: "list truncated keys in cs5 (cs5Label=truncatedKeys)". A security alert whose
// description exceeds msg's 1023 characters keeps its detectionSource and names msg in cs5; no CEF
// key appears twice (a parser keeps one of two, losing the other's value).
TEST_F(Cli, CefTruncatedKeysNeverShareAKey) {
  auto list = nlohmann::json::parse(slurp(kData / "graph-security-alerts-v2-list.json"));
  auto alert = list.at("value").at(0);
  alert["description"] = std::string(1500, 'd');
  std::ofstream(dir_ / "alert.json") << alert.dump() << "\n";
  const Result r = run({"map", "--format", "cef", "alert.json"});
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string line = r.out.substr(0, r.out.find('\n'));
  EXPECT_NE(line.find(" cs5Label=truncatedKeys cs5=msg"), std::string::npos) << line;
  EXPECT_NE(line.find("=detectionSource "), std::string::npos) << line;
  // Every key (a word followed by an unescaped '=' after a space) at most once.
  std::set<std::string> keys;
  const std::size_t ext = line.find('|', line.find("|", line.find("CEF:0|") + 6));
  for (std::size_t at = line.find(' ', ext); at != std::string::npos; at = line.find(' ', at + 1)) {
    std::size_t end = at + 1;
    while (end < line.size() && std::isalnum(static_cast<unsigned char>(line[end]))) ++end;
    if (end == at + 1 || end >= line.size() || line[end] != '=') continue;
    const std::string key = line.substr(at + 1, end - at - 1);
    EXPECT_TRUE(keys.insert(key).second) << "key " << key << " twice: " << line.substr(0, 300);
  }
}

// A mapping override cannot claim cs5: validate says which key is reserved, where.
TEST_F(Cli, ValidateRefusesAMappingRuleForCs5) {
  std::ofstream(dir_ / "in.json") << "";
  std::ofstream(dir_ / "local.yaml") << "kind: graph_sign_in\ncef:\n  extension:\n    cs5: {from: appId, label: appId}\n";
  std::ofstream(dir_ / "c.yaml") << "state_dir: ./state\n"
                                    "sources: [{name: f, type: file, path: ./in.json}]\n"
                                    "sinks: [{name: o, type: stdout}]\n"
                                    "mappings: {overrides: [local.yaml]}\n";
  const Result r = run({"validate", "-c", "c.yaml"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("local.yaml:4:5: error: cef.extension: CEF key 'cs5' is written by the engine"), std::string::npos)
      << r.err;
}

// sources.md §2.2: v1.0 returns interactive sign-ins only, beta adds the other types. In a cloud
// without beta the error names the types to remove, not interactiveUser, which v1.0 serves.
TEST_F(Cli, ValidateSignInTypesWithoutBetaNamesOnlyTheUnservedTypes) {
  std::ofstream(dir_ / "c.yaml")
      << "state_dir: ./state\n"
         "sources:\n"
         "  - name: s\n"
         "    type: graph_sign_ins\n"
         "    tenant_id: 00000000-0000-0000-0000-000000000000\n"
         "    cloud: usgov\n"
         "    auth: {method: client_secret, client_id: 11111111-1111-1111-1111-111111111111, client_secret: \"${S:-x}\"}\n"
         "    event_types: [interactiveUser, nonInteractiveUser]\n"
         "sinks: [{name: o, type: stdout}]\n";
  const Result r = run({"validate", "-c", "c.yaml"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("c.yaml:8:18: error: sources[0].event_types: cloud 'usgov' serves interactive sign-ins only (v1.0); "
                       "remove 'nonInteractiveUser'"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("remove 'interactiveUser'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("1 error(s)"), std::string::npos) << r.err;
}

// formats.md §4.3: an RFC 3164 packet is at most 1024 bytes. A UDP 3164 sink without a
// max_message_size sends a long CEF event as one datagram of at most 1024 bytes, cut inside the
// extension (never inside an escape pair), its header intact.
TEST_F(Cli, Rfc3164OverUdpFitsTheRfcPacketSize) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const int port = ntohs(addr.sin_port);
  nlohmann::json rec = {{"id", "Directory_long_1"},
                        {"category", "RoleManagement"},
                        {"activityDisplayName", "Add member to role"},
                        {"activityDateTime", "2026-03-04T10:15:30.123Z"},
                        {"result", "failure"},
                        {"resultReason", std::string(1500, 'r')},
                        {"loggedByService", "Core Directory"},
                        {"operationType", "Assign"},
                        {"initiatedBy", {{"user", {{"id", "u1"}, {"userPrincipalName", "alice@contoso.example"}}}}},
                        {"targetResources", nlohmann::json::array()}};
  std::ofstream(dir_ / "in.json") << rec.dump() << "\n";
  std::ofstream(dir_ / "c.yaml") << "state_dir: ./state\n"
                                    "dead_letter: {path: ./dl.ndjson}\n"
                                    "sources: [{name: f, type: file, path: ./in.json}]\n"
                                    "sinks: [{name: s, type: syslog, format: cef, host: 127.0.0.1, protocol: udp, rfc: 3164,\n"
                                    "         hostname: connector01.contoso.example, port: "
                                 << port << "}]\n";
  const Result r = run({"run", "-c", "c.yaml", "--once"});
  ASSERT_EQ(r.status, 0) << r.err;
  pollfd p{fd, POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 10000), 1) << "no datagram";
  std::string buf(65536, '\0');
  const ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
  ::close(fd);
  ASSERT_GT(n, 0);
  buf.resize(static_cast<std::size_t>(n));
  EXPECT_LE(buf.size(), 1024u);
  EXPECT_GT(buf.size(), 900u) << "the body is cut at the limit, not dropped";
  EXPECT_EQ(buf.rfind("<165>Mar  4 10:15:30 connector01 siem-connector: CEF:0|Microsoft|Entra ID|", 0), 0u) << buf;
}

}  // namespace
