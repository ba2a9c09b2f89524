// A sink for pipeline tests: keeps, in the order it is sent them, what `describe` makes of each event
// (its id, its raw text, or both), and acknowledges every batch at once.
#pragma once

#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "connector/core/sink.h"

namespace siem::test {

struct Received {
  std::mutex mu;
  std::vector<std::string> events;
};

class CollectingSink : public Sink {
 public:
  using Describe = std::function<std::string(const MappedEvent&)>;
  CollectingSink(Received& r, Describe describe) : r_(r), describe_(std::move(describe)) {}
  void start() override {}
  SendResult send(std::span<const EventPtr> batch) override {
    std::lock_guard l(r_.mu);
    for (const auto& e : batch) r_.events.push_back(describe_(*e));
    return SendResult::success();
  }

 private:
  Received& r_;
  Describe describe_;
};

}  // namespace siem::test
