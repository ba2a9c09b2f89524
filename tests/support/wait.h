// Bounded waits on a condition, for tests: never sleep-then-assert, poll the condition instead.
#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace siem::test {

// Polls `done` every `poll` until it holds or `timeout` passed; returns its last value.
inline bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout,
                       std::chrono::milliseconds poll = std::chrono::milliseconds(5)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(poll);
  }
  return done();
}

}  // namespace siem::test
