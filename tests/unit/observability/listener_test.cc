// The observability listener against hostile clients on 127.0.0.1: garbage, an oversized header,
// other methods, idle connections that hold a slot (they do not block others, and the cap refuses
// the extra ones), and the address parsing. Every wait is bounded by the socket timeouts below.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <string>
#include <vector>

#include "connector/observability/http_listener.h"

namespace siem::observability {
namespace {

// A client socket with 10 s send/receive timeouts (a broken server fails the test, never hangs it).
int connect_to(std::uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  return fd;
}

// Sends `request` and reads until the server closes (or 64 KiB, or the timeout).
std::string exchange(std::uint16_t port, const std::string& request) {
  const int fd = connect_to(port);
  (void)!send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string out;
  char buf[4096];
  for (int i = 0; i < 16; ++i) {
    const auto n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  close(fd);
  return out;
}

class Listener : public ::testing::Test {
 protected:
  Listener()
      : listener_(
            "127.0.0.1:0",
            [this](std::string_view path, std::string_view) {
              ++calls_;
              return Reply{path == "/metrics" ? 200 : 404, "text/plain", "body\n"};
            },
            ListenerLimits{8 * 1024, 4, 1000, 10'000}) {}
  std::atomic<int> calls_{0};
  HttpListener listener_;
};

TEST_F(Listener, AnswersGet) {
  const auto r =
      exchange(listener_.port(), "GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(r.rfind("HTTP/1.1 200", 0), 0u) << r;
  EXPECT_NE(r.find("\r\n\r\nbody\n"), std::string::npos) << r;
}

TEST_F(Listener, GarbageIsABadRequest) {
  const auto r = exchange(listener_.port(), "\x01\x02garbage \xff\r\n\r\n");
  EXPECT_EQ(r.rfind("HTTP/1.1 400", 0), 0u) << r;
  EXPECT_EQ(calls_, 0);
}

TEST_F(Listener, OversizedHeaderIsRefused) {
  const auto r =
      exchange(listener_.port(), "GET /metrics HTTP/1.1\r\nX: " + std::string(20'000, 'a') + "\r\n\r\n");
  EXPECT_EQ(r.rfind("HTTP/1.1 400", 0), 0u) << r.substr(0, 100);
  EXPECT_EQ(calls_, 0);
}

TEST_F(Listener, HeadIsGetWithoutTheBody) {
  // A probe such as `wget --spider` asks with HEAD: the GET's status and Content-Length, no body,
  // and the connection stays usable for the next request.
  const auto r = exchange(listener_.port(),
                          "HEAD /metrics HTTP/1.1\r\nHost: a\r\n\r\n"
                          "GET /metrics HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(r.rfind("HTTP/1.1 200", 0), 0u) << r;
  const auto second = r.find("HTTP/1.1 200", 1);
  ASSERT_NE(second, std::string::npos) << r;
  const auto head = r.substr(0, second);
  EXPECT_NE(head.find("Content-Length: 5\r\n"), std::string::npos) << head;
  EXPECT_EQ(head.size(), head.find("\r\n\r\n") + 4) << head;  // nothing after the header
  EXPECT_NE(r.find("\r\n\r\nbody\n", second), std::string::npos) << r;
  EXPECT_EQ(calls_, 2);
}

TEST_F(Listener, OnlyGetAndHead) {
  for (const char* m : {"POST", "PUT", "DELETE"}) {
    const auto r = exchange(listener_.port(),
                            std::string(m) + " /metrics HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nab");
    EXPECT_EQ(r.rfind("HTTP/1.1 405", 0), 0u) << m << ": " << r;
  }
  EXPECT_EQ(calls_, 0);
}

TEST_F(Listener, IdleClientsDoNotBlockOthersAndTheCapRefusesMore) {
  // Three idle connections (one slot short of the cap of 4), then a normal request is answered.
  std::vector<int> idle;
  for (int i = 0; i < 3; ++i) idle.push_back(connect_to(listener_.port()));
  const auto r = exchange(listener_.port(), "GET /metrics HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(r.rfind("HTTP/1.1 200", 0), 0u) << r;
  // With a fourth idle one the cap is reached: a fifth connection is closed without an answer.
  idle.push_back(connect_to(listener_.port()));
  // (Accepts are served in order on one thread: the fourth is counted before the fifth arrives.)
  const auto refused =
      exchange(listener_.port(), "GET /metrics HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(refused, "") << "answered over the connection cap";
  for (int fd : idle) close(fd);
}

TEST(ListenAddress, ParsesHostAndPortAndRefusesTheRest) {
  EXPECT_EQ(HttpListener::parse_listen("127.0.0.1:9464"),
            std::make_pair(std::string("127.0.0.1"), std::uint16_t{9464}));
  EXPECT_EQ(HttpListener::parse_listen("[::1]:9464").first, "::1");
  EXPECT_EQ(HttpListener::parse_listen("0.0.0.0:0").second, 0);
  for (const char* bad : {"9464", "localhost:9464", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:9x", ":9464"})
    EXPECT_THROW(HttpListener::parse_listen(bad), std::invalid_argument) << bad;
}

// With a POST handler: a body-less POST reaches it with what the listener knows of the peer; a POST
// with a body and other methods do not.
class PostListener : public ::testing::Test {
 protected:
  PostListener()
      : listener_(
            "127.0.0.1:0", [](std::string_view, std::string_view) { return Reply{200, "text/plain", "get\n"}; },
            ListenerLimits{8 * 1024, 4, 1000, 10'000},
            [this](const HttpListener::PostRequest& r) {
              std::lock_guard lock(mu_);
              seen_.push_back(r);
              paths_.emplace_back(r.path);
              return Reply{200, "text/plain", "posted\n"};
            }) {}
  std::mutex mu_;
  std::vector<HttpListener::PostRequest> seen_;
  std::vector<std::string> paths_;
  HttpListener listener_;
};

TEST_F(PostListener, BodylessPostReachesTheHandlerWithThePeerFacts) {
  auto r = exchange(listener_.port(), "POST /-/reload?x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(r.rfind("HTTP/1.1 200", 0), 0u) << r;
  EXPECT_NE(r.find("posted"), std::string::npos) << r;
  r = exchange(listener_.port(),
               "POST /-/reload HTTP/1.1\r\nHost: a\r\nOrigin: http://x.test\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(r.rfind("HTTP/1.1 200", 0), 0u) << r;
  r = exchange(listener_.port(),
               "POST /-/reload HTTP/1.1\r\nHost: a\r\nSec-Fetch-Site: cross-site\r\nConnection: close\r\n\r\n");
  std::lock_guard lock(mu_);
  ASSERT_EQ(seen_.size(), 3u);
  EXPECT_EQ(paths_[0], "/-/reload");
  EXPECT_TRUE(seen_[0].from_loopback);
  EXPECT_FALSE(seen_[0].from_browser);
  EXPECT_TRUE(seen_[1].from_browser);
  EXPECT_TRUE(seen_[2].from_browser);
}

TEST_F(PostListener, PostWithABodyAndOtherMethodsAreRefused) {
  auto r = exchange(listener_.port(), "POST /-/reload HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nab");
  EXPECT_EQ(r.rfind("HTTP/1.1 405", 0), 0u) << r;
  for (const char* m : {"PUT", "DELETE"}) {
    r = exchange(listener_.port(), std::string(m) + " /-/reload HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(r.rfind("HTTP/1.1 405", 0), 0u) << m << ": " << r;
    EXPECT_NE(r.find("Allow: GET, HEAD, POST"), std::string::npos) << r;
  }
  std::lock_guard lock(mu_);
  EXPECT_TRUE(seen_.empty());
}

}  // namespace
}  // namespace siem::observability
