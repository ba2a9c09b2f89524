// The pipeline's per-source state (private to pipeline.cc and pipeline_metrics.cc).
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "connector/core/pipeline.h"

namespace siem {

struct Pipeline::SourceState {
  std::string name;
  std::unique_ptr<Source> source;
  std::uint32_t index = 0;
  std::jthread thread;
  std::atomic<bool> finished{false};
  std::atomic<bool> failed{false};
  std::atomic<bool> caught_up{false};
  std::atomic<std::uint64_t> read{0};
  std::atomic<std::uint64_t> dead_lettered{0};
  // Records each processor consumed (Verdict::consumed), by processor index.
  std::unique_ptr<std::atomic<std::uint64_t>[]> consumed;
  std::atomic<std::uint64_t> committed{0};
  std::atomic<bool> polled_ok{false};  // a poll succeeded (readiness)
  int startup_order = Source::kDefaultStartupOrder;
  bool warm = false;  // caught up once, failed, stopped or seen in error backoff (Pipeline::warm_mu_)
  // The streams the service refuses now, with its answers (SourceProgress::refused_streams); empty: none.
  std::string refused_streams(bool brief = false) const {
    const auto* p = source->progress();
    return p ? p->refused_streams(brief) : std::string();
  }
};

}  // namespace siem
