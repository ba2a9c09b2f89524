// A real rsyslogd for tests: started per test on free 127.0.0.1 ports (imudp, imtcp — which
// detects octet counting and LF framing per frame — and imtcp with the ossl TLS driver using a
// TestPki certificate), writing every received message raw (%rawmsg%) to a file; plus parsers for
// the RFC 5424 / 3164 lines it writes. Every wait is bounded. Used by the syslog sink component
// tests and the end-to-end pipeline tests.
#pragma once

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <regex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/test_pki.h"

namespace siem::testing {

using namespace std::chrono_literals;

inline std::uint16_t free_port(int type) {
  int fd = ::socket(AF_INET, type, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    throw std::runtime_error("bind failed");
  }
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

inline bool tcp_accepts(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

// One rsyslogd for one test.
class Rsyslog {
 public:
  Rsyslog(const std::filesystem::path& dir, const siem::test::TestPki& pki, bool wrong_name_cert = false,
          std::size_t max_message_size = 65536)
      : dir_(dir) {
    udp_port = free_port(SOCK_DGRAM);
    tcp_port = free_port(SOCK_STREAM);
    tls_port = free_port(SOCK_STREAM);
    std::filesystem::create_directories(dir_ / "work");
    std::ofstream conf(dir_ / "rsyslog.conf");
    conf << "global(workDirectory=\"" << (dir_ / "work").string() << "\" maxMessageSize=\"" << max_message_size
         << "\" parser.escapeControlCharactersOnReceive=\"off\""
         << " defaultNetstreamDriverCAFile=\"" << pki.ca_pem() << "\""
         << " defaultNetstreamDriverCertFile=\"" << (wrong_name_cert ? pki.wrong_name_cert() : pki.server_cert()) << "\""
         << " defaultNetstreamDriverKeyFile=\"" << (wrong_name_cert ? pki.wrong_name_key() : pki.server_key()) << "\")\n"
         << "module(load=\"imudp\")\n"
         << "module(load=\"imtcp\" maxSessions=\"100\")\n"
         << "input(type=\"imudp\" address=\"127.0.0.1\" port=\"" << udp_port << "\")\n"
         << "input(type=\"imtcp\" address=\"127.0.0.1\" port=\"" << tcp_port << "\")\n"
         << "input(type=\"imtcp\" address=\"127.0.0.1\" port=\"" << tls_port << "\" streamDriver.name=\"ossl\""
         << " streamDriver.mode=\"1\" streamDriver.authMode=\"anon\")\n"
         << "template(name=\"raw\" type=\"string\" string=\"%rawmsg%\\n\")\n"
         << "*.* action(type=\"omfile\" file=\"" << out_file().string() << "\" template=\"raw\")\n";
  }
  ~Rsyslog() { stop(); }

  std::filesystem::path out_file() const { return dir_ / "received.log"; }

  void start() {
    pid_ = ::fork();
    if (pid_ == 0) {
      std::string conf = (dir_ / "rsyslog.conf").string(), pidf = (dir_ / "rsyslogd.pid").string();
      int devnull = ::open("/dev/null", O_WRONLY);
      if (devnull >= 0) ::dup2(devnull, 1);
      int err = ::open((dir_ / "rsyslogd.stderr").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (err >= 0) ::dup2(err, 2);
      ::execl("/usr/sbin/rsyslogd", "rsyslogd", "-n", "-f", conf.c_str(), "-i", pidf.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ASSERT_GT(pid_, 0);
    auto deadline = std::chrono::steady_clock::now() + 15s;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      ASSERT_EQ(::waitpid(pid_, &status, WNOHANG), 0) << "rsyslogd exited at start-up (status " << status << ")";
      if (tcp_accepts(tcp_port) && tcp_accepts(tls_port)) return;
      std::this_thread::sleep_for(50ms);
    }
    FAIL() << "rsyslogd did not listen within 15 s";
  }

  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(20ms);
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  // The messages written so far: complete lines only. rsyslogd may be writing while this reads
  // (omfile flushes its buffer in chunks that can end mid-message), and a message cut short is not
  // received yet.
  std::vector<std::string> lines() const {
    std::vector<std::string> out;
    std::ifstream in(out_file(), std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::size_t start = 0;
    for (std::size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1)
      if (nl > start) out.push_back(text.substr(start, nl - start));
    return out;
  }
  // Bounded wait for at least n received messages.
  std::vector<std::string> wait_for(std::size_t n, std::chrono::milliseconds timeout = 15s) const {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    auto got = lines();
    while (got.size() < n && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(50ms);
      got = lines();
    }
    return got;
  }

  std::uint16_t udp_port = 0, tcp_port = 0, tls_port = 0;

 private:
  std::filesystem::path dir_;
  pid_t pid_ = -1;
};

struct Parsed {
  int pri = -1;
  std::string timestamp, hostname, app, msgid;
  std::map<std::string, std::string> sd;
  std::string body;
};

// Parses "<PRI>1 TS HOST APP PROCID MSGID SD MSG" (SD values unescaped).
inline std::optional<Parsed> parse5424(const std::string& m) {
  static const std::regex head(R"(^<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+) )");
  std::smatch sm;
  if (!std::regex_search(m, sm, head)) return std::nullopt;
  Parsed p;
  p.pri = std::stoi(sm[1]);
  p.timestamp = sm[2];
  p.hostname = sm[3];
  p.app = sm[4];
  p.msgid = sm[6];
  std::size_t i = static_cast<std::size_t>(sm.length(0));
  if (m.compare(i, 2, "- ") == 0) {
    i += 2;
  } else {
    if (i >= m.size() || m[i] != '[') return std::nullopt;
    ++i;
    while (i < m.size() && m[i] != ' ' && m[i] != ']') ++i;  // SD-ID
    while (i < m.size() && m[i] == ' ') {
      ++i;
      auto eq = m.find('=', i);
      if (eq == std::string::npos || eq + 1 >= m.size() || m[eq + 1] != '"') return std::nullopt;
      std::string name = m.substr(i, eq - i), value;
      i = eq + 2;
      while (i < m.size() && m[i] != '"') {
        if (m[i] == '\\' && i + 1 < m.size()) ++i;
        value.push_back(m[i++]);
      }
      if (i >= m.size()) return std::nullopt;
      ++i;
      p.sd[name] = value;
    }
    if (i >= m.size() || m[i] != ']') return std::nullopt;
    i += 1;
    if (i >= m.size() || m[i] != ' ') return std::nullopt;
    ++i;
  }
  p.body = m.substr(i);
  return p;
}

// Parses "<PRI>Mmm dd hh:mm:ss HOST TAG: MSG".
inline std::optional<Parsed> parse3164(const std::string& m) {
  static const std::regex head(R"(^<(\d{1,3})>([A-Z][a-z]{2} [ 123]\d \d\d:\d\d:\d\d) (\S+) ([A-Za-z0-9_-]{1,32}): )");
  std::smatch sm;
  if (!std::regex_search(m, sm, head)) return std::nullopt;
  Parsed p;
  p.pri = std::stoi(sm[1]);
  p.timestamp = sm[2];
  p.hostname = sm[3];
  p.app = sm[4];
  p.body = m.substr(static_cast<std::size_t>(sm.length(0)));
  return p;
}

}  // namespace siem::testing
