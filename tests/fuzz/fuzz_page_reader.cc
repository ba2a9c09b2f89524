// Fuzz target: arbitrary bytes as a Graph / ARM list page -> split_page (the iterative splitter
// with the 512-level depth limit) and StreamPoller::on_page for an audit and a PIM eligibility
// stream.
//
// Must hold for every input (a violation aborts, so libFuzzer saves the input as a crash):
//   - no crash, hang, stack overflow or undefined behaviour, whatever the nesting (the splitter
//     never recurses; a too-deep record is never parsed);
//   - every record slice lies inside the input; a slice without an error is at most 512 levels
//     deep and at most max_record_bytes long; a slice with a depth error is deeper than 512;
//   - on_page either throws WindowError or returns records whose text is the slice (with the
//     @odata.type member added for eligibility requests) and that parse when the slice parsed.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "connector/sources/graph/pull_engine.h"

namespace {

using namespace siem::sources;

[[noreturn]] void violation(const char* what, std::string_view detail) {
  std::fprintf(stderr, "fuzz_page_reader: %s\n%.*s\n", what, static_cast<int>(std::min<std::size_t>(detail.size(), 2048)),
               detail.data());
  std::abort();
}

// Nesting depth of valid JSON, or -1 when it does not parse. nlohmann's parser is iterative and
// only slices within the limit reach it.
int parsed_depth(std::string_view text) {
  int deepest = 0;
  const auto cb = [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json&) {
    if (event == nlohmann::json::parse_event_t::object_start || event == nlohmann::json::parse_event_t::array_start)
      deepest = std::max(deepest, depth + 1);
    return true;
  };
  const auto j = nlohmann::json::parse(text, cb, false);
  return j.is_discarded() ? -1 : deepest;
}

void check_split(std::string_view input, const PageLimits& limits) {
  Page page;
  try {
    page = split_page(input, limits);
  } catch (const PageError&) {
    return;
  }
  for (const auto& r : page.records) {
    if (r.text.data() < input.data() || r.text.data() + r.text.size() > input.data() + input.size())
      violation("record slice outside the input", r.text);
    if (!r.error.empty()) {
      if (r.error.starts_with("record nested") && r.text.size() <= static_cast<std::size_t>(limits.max_depth))
        violation("depth error for a record too short to be that deep", r.text);
      continue;
    }
    if (r.text.size() > limits.max_record_bytes) violation("oversized record without an error", r.text);
    if (const int depth = parsed_depth(r.text); depth > limits.max_depth)
      violation(("record " + std::to_string(depth) + " levels deep without an error, limit " + std::to_string(limits.max_depth)).c_str(),
                r.text);
  }
}

void check_poller(std::string_view input, StreamType type) {
  WindowOptions o;
  StreamPoller p({"fuzz", type, "https://g"}, o);
  p.restore(std::nullopt, std::nullopt);
  const auto url = p.begin(to_micros(std::chrono::system_clock::now()));
  if (!url) return;
  StreamPoller::PageResult result;
  try {
    result = p.on_page(*url, input, "tenant");
  } catch (const WindowError&) {
    return;
  }
  for (const auto& r : result.records) {
    if (!r.read_error.empty()) continue;
    if (type == StreamType::directory_audits && input.find(r.json) == std::string_view::npos)
      violation("record text is not a slice of the page", r.json);
    if (parsed_depth(r.json) < 0) violation("record handed on without an error does not parse", r.json);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  check_split(input, PageLimits{});
  PageLimits small;
  small.max_depth = 8;
  small.max_record_bytes = 256;
  check_split(input, small);
  check_poller(input, StreamType::directory_audits);
  check_poller(input, StreamType::pim_eligibility_requests);
  return 0;
}
