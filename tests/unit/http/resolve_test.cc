// A name resolution that hangs (a DNS server that does not answer: getaddrinfo waits out its own
// timeouts, 10-30 s) is abandoned at Request::cancel within kCancelCheck and at connect_timeout,
// not waited for; the resolving thread ends on its own later, touching only what it owns.
#include <gtest/gtest.h>
#include <netdb.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>

#include "connector/http/http_client.h"
#include "connector/http/http_connection.h"
#include "tests/support/wait.h"

namespace siem::http {
namespace {

using namespace std::chrono_literals;

// A resolver that hangs until the test opens the gate (at most a minute).
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  std::atomic<int> entered{0};
  std::atomic<int> left{0};
};
Gate gate;

int hanging_resolve(const std::string&, std::uint16_t, std::vector<detail::tcp::endpoint>&) {
  ++gate.entered;
  {
    std::unique_lock lock(gate.mu);
    gate.cv.wait_for(lock, 60s, [] { return gate.open; });
  }
  ++gate.left;
  return EAI_AGAIN;
}

class HangingDns : public ::testing::Test {
 protected:
  void SetUp() override {
    std::lock_guard lock(gate.mu);
    gate.open = false;
    detail::resolve_fn.store(&hanging_resolve);
  }
  void TearDown() override {
    detail::resolve_fn.store(&detail::system_resolve);
    {
      std::lock_guard lock(gate.mu);
      gate.open = true;
    }
    gate.cv.notify_all();
    // The abandoned resolutions end once they return.
    EXPECT_TRUE(test::wait_until([] { return gate.left.load() == gate.entered.load(); }, 30s));
  }
  // Sends a GET to a host name (resolved by hanging_resolve) on another thread.
  static std::future<Error::Kind> send_async(Client& client, const std::atomic<bool>* cancel) {
    return std::async(std::launch::async, [&client, cancel] {
      Request r;
      r.url = "http://collector.example.invalid:8088/services/collector/health";
      r.cancel = cancel;
      try {
        client.send(r);
      } catch (const Error& e) {
        return e.kind();
      }
      return Error::Kind::url;  // not expected: nothing can answer
    });
  }
  // Waits (bounded) for the answer; opens the gate first when it does not come, so the test ends.
  static std::optional<Error::Kind> outcome(std::future<Error::Kind>& f) {
    if (f.wait_for(10s) == std::future_status::ready) return f.get();
    {
      std::lock_guard lock(gate.mu);
      gate.open = true;
    }
    gate.cv.notify_all();
    f.wait();
    return std::nullopt;
  }
};

TEST_F(HangingDns, CancelAbandonsTheResolutionUnderWay) {
  ClientOptions o;
  o.use_env_proxy = false;
  o.connect_timeout = std::chrono::minutes(2);
  Client client(o);
  std::atomic<bool> cancel{false};
  const int before = gate.entered.load();
  auto f = send_async(client, &cancel);
  ASSERT_TRUE(test::wait_until([&] { return gate.entered.load() > before; }, 10s));  // inside the resolution
  cancel = true;
  EXPECT_EQ(outcome(f), std::optional<Error::Kind>(Error::Kind::cancelled))
      << "the cancel waited for the resolution under way";
}

TEST_F(HangingDns, ConnectTimeoutAbandonsTheResolutionUnderWay) {
  ClientOptions o;
  o.use_env_proxy = false;
  o.connect_timeout = 200ms;
  Client client(o);
  auto f = send_async(client, nullptr);
  EXPECT_EQ(outcome(f), std::optional<Error::Kind>(Error::Kind::timeout))
      << "connect_timeout waited for the resolution under way";
}

}  // namespace
}  // namespace siem::http
