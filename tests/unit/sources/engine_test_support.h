// Shared pieces of the pull engine's unit tests: minutes, times written as text, and a Graph/ARM
// list page.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "connector/sources/graph/pull_engine.h"

namespace siem::sources::engine_test {

constexpr Micros kMin = 60 * kSecond;

inline Micros T(const char* iso) { return parse_time(iso).value(); }

// {"value": records} with a next link under `next_key` when `next` is not empty.
inline std::string page(const std::vector<nlohmann::json>& records, const std::string& next = {},
                        const char* next_key = "@odata.nextLink") {
  nlohmann::json p = {{"value", records}};
  if (!next.empty()) p[next_key] = next;
  return p.dump();
}

// Window options with a lookback (and first-run lookback) of `lookback` and no safety lag.
inline WindowOptions lookback_options(Micros lookback) {
  WindowOptions o;
  o.lookback = lookback;
  o.safety_lag = 0;
  o.initial_lookback = lookback;
  return o;
}

// A poller of `spec` on `options`, starting without a checkpoint.
inline StreamPoller fresh_poller(StreamSpec spec, const WindowOptions& options) {
  StreamPoller p(std::move(spec), options);
  p.restore(std::nullopt, std::nullopt);
  return p;
}

}  // namespace siem::sources::engine_test
