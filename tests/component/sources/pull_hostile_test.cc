// A hostile Graph endpoint on 127.0.0.1 against the real `siem-connector run --once` binary: the
// emulator issues tokens, and /v1.0/auditLogs/directoryAudits is answered by each test's handler
// (nextLinks to other origins, injected bytes, paging loops, a 100 000-deep record, an oversized
// page). Each test asserts what the servers saw (no token outside the configured origin, no
// injected header) and what the connector did (error naming the stream, exit status, dead letters).
#include <mutex>

#include "connector/sources/graph/pull_engine.h"
#include "tests/component/sources/pull_fixture.h"

namespace siem::pulltest {
namespace {

constexpr const char* kAudits = "/v1.0/auditLogs/directoryAudits";

class PullHostile : public PullRunOnce {
 protected:
  struct Seen {
    std::string target;
    httpd::Headers headers;
  };

  // Serves the audit collection with `handler` (given the request and the 1-based request number).
  void serve_audits(std::function<httpd::Response(const httpd::Request&, int)> handler) {
    if (!server_) start_emulator();
    server_->route("GET", kAudits, [this, handler](const httpd::Request& r) {
      int n;
      {
        std::lock_guard lock(mu_);
        seen_.push_back({r.target, r.headers});
        n = static_cast<int>(seen_.size());
      }
      return handler(r, n);
    });
    write_config(source("audit", "graph_directory_audits", "requests_per_10s: 1000"));
  }

  std::vector<Seen> seen() {
    std::lock_guard lock(mu_);
    return seen_;
  }

  // The one error line naming the source; it also names the stream.
  static std::string the_error(const Result& r) {
    std::vector<std::string> naming;
    for (const auto& line : error_lines(r.err))
      if (line.find("source audit") != std::string::npos) naming.push_back(line);
    EXPECT_EQ(naming.size(), 1u) << r.err;
    if (naming.empty()) return {};
    EXPECT_NE(naming[0].find("stream directoryAudits"), std::string::npos) << naming[0];
    return naming[0];
  }

  static httpd::Response page(const json& records, const std::optional<std::string>& next) {
    json p = {{"value", records}};
    if (next) p["@odata.nextLink"] = *next;
    return httpd::Response::json(200, p.dump());
  }

  // A record inside the first window (the fixture's runs start 2 h back in windows of 1 h).
  static json audit_record(const std::string& id) {
    const auto t = siem::sources::to_micros(std::chrono::system_clock::now()) - 90LL * 60 * siem::sources::kSecond;
    return {{"id", id},
            {"activityDateTime", siem::sources::format_time(t)},
            {"activityDisplayName", "Add member to role"},
            {"category", "RoleManagement"},
            {"result", "success"},
            {"loggedByService", "Core Directory"},
            {"initiatedBy", {{"user", {{"id", "u1"}, {"userPrincipalName", "admin@contoso.example"}}}}},
            {"targetResources", json::array()}};
  }

  // The run ended by itself, non-zero, within the time a few windows take.
  static void expect_failed_run(const Result& r) {
    EXPECT_NE(r.status, -1) << "the run did not end by itself: " << r.err;
    EXPECT_EQ(r.status, 2) << r.err;
    EXPECT_EQ(r.err.find(kSecret), std::string::npos) << "secret logged";
  }

  // A nextLink to `foreign` on the first page: never requested (another server counts its
  // connections), the window fails three times, the error names the stream and the origin.
  void expect_not_followed(const std::string& foreign, const std::string& named_origin, const test::LoopbackServer* other) {
    serve_audits([&](const httpd::Request&, int) { return page(json::array(), foreign); });
    auto r = run(std::chrono::seconds(60));
    expect_failed_run(r);
    const std::string error = the_error(r);
    EXPECT_NE(error.find(named_origin), std::string::npos) << error;
    EXPECT_NE(error.find("3 windows in a row"), std::string::npos) << error;
    for (const auto& s : seen()) EXPECT_EQ(s.target.find("foreign"), std::string::npos) << s.target;
    EXPECT_EQ(seen().size(), 3u) << "one first page per window";
    if (other) {
      EXPECT_EQ(other->connections_accepted(), 0u) << "the foreign server was contacted";
    }
    EXPECT_TRUE(delivered(0).empty());
  }

  std::mutex mu_;
  std::vector<Seen> seen_;
};

TEST_F(PullHostile, NextLinkToAnotherHostIsNotFollowed) {
  // Same server, other name: had it been followed, the request would show up in seen().
  start_emulator();
  const std::string foreign = server_->localhost_url() + kAudits + "?foreign=1";
  expect_not_followed(foreign, "https://localhost:", nullptr);
}

TEST_F(PullHostile, NextLinkToAnotherPortIsNotFollowed) {
  auto other = test::make_tls_server(*pki_);
  other->start();
  expect_not_followed(other->base_url() + kAudits + "?foreign=1", "https://127.0.0.1:" + std::to_string(other->port()), other.get());
}

TEST_F(PullHostile, NextLinkDowngradingToPlainHttpIsNotFollowed) {
  auto other = test::make_plain_server();
  other->start();
  expect_not_followed(other->base_url() + kAudits + "?foreign=1", "http://127.0.0.1:" + std::to_string(other->port()), other.get());
}

TEST_F(PullHostile, NextLinkWithUserinfoIsNotFollowed) {
  auto other = test::make_tls_server(*pki_);
  other->start();
  expect_not_followed("https://graph.microsoft.com@127.0.0.1:" + std::to_string(other->port()) + kAudits + "?foreign=1", "userinfo",
                      other.get());
}

TEST_F(PullHostile, NextLinkWithCrLfSpaceOrNulNeverReachesTheWire) {
  for (const std::string& bad : {std::string("\r\nX-Injected: 1"), std::string(" HTTP/1.1\r\nX-Injected: 1\r\n\r\nGET /x"),
                                 std::string("\0X-Injected", 11)}) {
    seen_.clear();
    serve_audits([&](const httpd::Request& r, int) {
      return page(json::array(), url_ + kAudits + "?$skiptoken=" + (r.target.find("skiptoken") == std::string::npos ? "a" : "b") + bad);
    });
    auto r = run(std::chrono::seconds(60));
    expect_failed_run(r);
    const std::string error = the_error(r);
    EXPECT_NE(error.find("invalid URL"), std::string::npos) << error;
    EXPECT_EQ(error.find('\r'), std::string::npos) << "raw CR in the log line";
    for (const auto& s : seen()) {
      EXPECT_EQ(s.target.find("skiptoken"), std::string::npos) << s.target;
      for (const auto& [name, value] : s.headers) EXPECT_NE(name, "X-Injected");
    }
    EXPECT_EQ(seen().size(), 3u);
    emu_.reset();
    server_.reset();
  }
}

TEST_F(PullHostile, SelfLinkingPageEndsRunOnceWithAnError) {
  serve_audits([&](const httpd::Request& r, int) { return page(json::array(), url_ + r.target); });
  auto r = run(std::chrono::seconds(60));
  expect_failed_run(r);
  EXPECT_NE(the_error(r).find("repeats a URL already read in this window (a paging loop)"), std::string::npos) << r.err;
  EXPECT_EQ(seen().size(), 3u) << "one page per window, three windows";
  for (const auto& s : seen()) {
    bool has_token = false;
    for (const auto& [name, value] : s.headers) has_token = has_token || (name == "Authorization" && value.starts_with("Bearer "));
    EXPECT_TRUE(has_token) << "the configured origin gets the token";
  }
}

TEST_F(PullHostile, TwoPageCycleEndsRunOnceWithAnError) {
  serve_audits([&](const httpd::Request& r, int) {
    const bool on_b = r.target.find("$skiptoken=b") != std::string::npos;
    return page(json::array(), url_ + kAudits + (on_b ? "?$skiptoken=a" : "?$skiptoken=b"));
  });
  // The first page links to b, b to a, a to b: the loop is a -> b -> a.
  auto r = run(std::chrono::seconds(60));
  expect_failed_run(r);
  EXPECT_NE(the_error(r).find("a paging loop"), std::string::npos) << r.err;
  EXPECT_LE(seen().size(), 9u) << "at most three pages per window, three windows";
}

TEST_F(PullHostile, RecordNested100000DeepIsDeadLetteredAndTheRunGoesOn) {
  const std::string deep = R"({"id":"deep","x":)" + std::string(100'000, '[') + std::string(100'000, ']') + "}";
  serve_audits([&](const httpd::Request&, int) {
    return httpd::Response::json(200, R"({"value":[)" + audit_record("ok-1").dump() + "," + deep + "]}");
  });
  auto r = run(std::chrono::seconds(60));
  EXPECT_EQ(r.status, 3) << "dead letters, everything else delivered: " << r.err;
  EXPECT_EQ(delivered(0).count("ok-1"), 1u) << r.err;
  std::ifstream in(dir_ / "dead-letter.ndjson");
  std::string line;
  int letters = 0;
  while (std::getline(in, line)) {
    ++letters;
    const auto letter = json::parse(line);
    EXPECT_NE(letter.dump().find("record nested 100001 levels deep (limit 512)"), std::string::npos) << line.substr(0, 300);
    EXPECT_NE(line.find(R"(\"id\":\"deep\")"), std::string::npos) << "the record's text is kept";
  }
  EXPECT_GE(letters, 1);
}

TEST_F(PullHostile, OversizedPageFailsTheWindowWithoutReadingIt) {
  serve_audits([&](const httpd::Request&, int) {
    json big = audit_record("big");
    big["padding"] = std::string(2 * 1024 * 1024, 'a');
    return page(json::array({big}), std::nullopt);
  });
  write_config(source("audit", "graph_directory_audits", "requests_per_10s: 1000\nmax_page_bytes: 1MiB"));
  auto r = run(std::chrono::seconds(60));
  expect_failed_run(r);
  const std::string error = the_error(r);
  EXPECT_NE(error.find("Content-Length"), std::string::npos) << error;
  EXPECT_NE(error.find("limit 1048576 bytes"), std::string::npos) << error;
  EXPECT_TRUE(delivered(0).empty());
}

TEST_F(PullHostile, OversizedRecordIsDeadLetteredWithItsReason) {
  serve_audits([&](const httpd::Request&, int) {
    json big = audit_record("big");
    big["padding"] = std::string(100 * 1024, 'a');
    return page(json::array({audit_record("ok-1"), big}), std::nullopt);
  });
  write_config(source("audit", "graph_directory_audits", "requests_per_10s: 1000\nmax_record_bytes: 64KiB"));
  auto r = run(std::chrono::seconds(60));
  EXPECT_EQ(r.status, 3) << r.err;
  EXPECT_EQ(delivered(0).count("ok-1"), 1u);
  EXPECT_EQ(delivered(0).count("big"), 0u);
  const std::string letters = slurp(dir_ / "dead-letter.ndjson");
  EXPECT_NE(letters.find("exceeds max_record_bytes (65536 bytes)"), std::string::npos) << letters.substr(0, 300);
}

TEST_F(PullHostile, EndlessDistinctPagesStopAtTheCapAndLongWindowsAreReported) {
  serve_audits([&](const httpd::Request&, int n) { return page(json::array(), url_ + kAudits + "?$skiptoken=p" + std::to_string(n)); });
  write_config(source("audit", "graph_directory_audits", "requests_per_10s: 1000\nmax_pages_per_window: 4\nwindow_warn_pages: 2"));
  auto r = run(std::chrono::seconds(60));
  expect_failed_run(r);
  EXPECT_NE(the_error(r).find("the window has read 4 pages and the server offers more (max_pages_per_window 4)"), std::string::npos)
      << r.err;
  EXPECT_EQ(seen().size(), 12u) << "four pages per window, three windows";
  // One warn line per window that went past window_warn_pages.
  std::size_t warns = 0;
  for (std::size_t at = r.err.find("has taken 3 pages"); at != std::string::npos; at = r.err.find("has taken 3 pages", at + 1)) ++warns;
  EXPECT_EQ(warns, 3u) << r.err;
  EXPECT_EQ(r.err.find("has taken 4 pages"), std::string::npos) << "warned once per window: " << r.err;
}

TEST_F(PullHostile, AWindowPastWindowWarnAfterIsReportedOncePerWindow) {
  // Three pages per window; window_warn_after: 0s makes every window "long" from its first page.
  serve_audits([&](const httpd::Request& r, int) {
    const auto at = r.target.find("$skiptoken=");
    const int next = at == std::string::npos ? 1 : std::stoi(r.target.substr(at + 11)) + 1;
    return page(json::array(), next < 3 ? std::optional(url_ + kAudits + "?$skiptoken=" + std::to_string(next)) : std::nullopt);
  });
  write_config(source("audit", "graph_directory_audits", "requests_per_10s: 1000\nwindow_warn_after: 0s"));
  auto r = run(std::chrono::seconds(60));
  EXPECT_EQ(r.status, 0) << r.err;
  const std::size_t windows = seen().size() / 3;
  EXPECT_EQ(seen().size(), windows * 3) << "three pages per window";
  EXPECT_GE(windows, 2u);
  std::size_t warns = 0;
  for (std::size_t at = r.err.find("has taken 1 pages"); at != std::string::npos; at = r.err.find("has taken 1 pages", at + 1)) ++warns;
  EXPECT_EQ(warns, windows) << r.err;
  EXPECT_EQ(r.err.find("has taken 2 pages"), std::string::npos) << "warned once per window: " << r.err;
}

TEST_F(PullHostile, ConfiguredAndEnvironmentProxiesSeeNothingOfManagedIdentityOrLoopback) {
  start_emulator();
  auto proxy = test::make_plain_server();  // answers 404 to anything: it must see no connection at all
  proxy->start();
  std::string src = source("audit", "graph_directory_audits", "requests_per_10s: 1000\nproxy: " + proxy->base_url());
  const auto auth_at = src.find("    auth:\n");
  const auto tls_at = src.find("    tls:");
  src.replace(auth_at, tls_at - auth_at, "    auth: {method: managed_identity, endpoint: " + url_ + "/metadata/identity/oauth2/token}\n");
  write_config(src);
  ::setenv("HTTPS_PROXY", proxy->base_url().c_str(), 1);
  ::setenv("HTTP_PROXY", proxy->base_url().c_str(), 1);
  auto r = run(std::chrono::seconds(60));
  ::unsetenv("HTTPS_PROXY");
  ::unsetenv("HTTP_PROXY");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_GE(endpoint_stats("imds")["count"].get<int>(), 1) << "the identity endpoint issued the token";
  EXPECT_FALSE(delivered(0).empty()) << r.err;
  EXPECT_EQ(proxy->connections_accepted(), 0u);
}

}  // namespace
}  // namespace siem::pulltest
