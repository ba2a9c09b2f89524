// A pull source's stream status across live reloads (SourceProgress::carry_over): a stream the
// service refused stays refused through any number of pipeline restarts, also one that comes
// before the new source has started and registered its streams.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "connector/core/source.h"

namespace siem {
namespace {

SourceProgress::StreamStatus refused(const std::string& stream, std::uint64_t total) {
  return {stream, 2, total, "HTTP 403: {\"error\":\"AuthorizationFailed\"}", "HTTP 403 AuthorizationFailed"};
}

TEST(SourceProgressCarry, ACarriedRefusalIsReportedBeforeTheSourceRegistersItsStreams) {
  SourceProgress next;  // the source of the restarted pipeline, not started yet
  next.carry_over({refused("sub-b", 3)});
  const auto streams = next.streams();
  ASSERT_EQ(streams.size(), 1u);
  EXPECT_EQ(streams[0].stream, "sub-b");
  EXPECT_EQ(streams[0].refusals, 2u);
  EXPECT_EQ(streams[0].refusals_total, 3u);
  EXPECT_EQ(next.refused_streams(true), "stream sub-b: HTTP 403 AuthorizationFailed");
}

TEST(SourceProgressCarry, ARefusalSurvivesASecondReloadBeforeTheSourceStarted) {
  SourceProgress first;
  first.add_stream("sub-a");
  first.add_stream("sub-b");
  first.set_refused("sub-b", 1, "HTTP 403: denied", "HTTP 403 AuthorizationFailed");
  // Reload 1: the new source has not started when reload 2 takes its status.
  SourceProgress second;
  second.carry_over(first.streams());
  SourceProgress third;
  third.carry_over(second.streams());
  // The third source starts: it registers its streams and takes the refusal over.
  third.add_stream("sub-a");
  third.add_stream("sub-b");
  third.end_carry_over();
  EXPECT_EQ(third.refused_streams(true), "stream sub-b: HTTP 403 AuthorizationFailed");
  const auto streams = third.streams();
  ASSERT_EQ(streams.size(), 2u);
  EXPECT_EQ(streams[1].refusals_total, 1u);
  third.set_reading("sub-b");
  EXPECT_EQ(third.refused_streams(), "");
}

TEST(SourceProgressCarry, AStreamTheStartedSourceNoLongerReadsLeavesItsStatusBehind) {
  SourceProgress next;
  next.carry_over({refused("gone", 1), refused("kept", 1)});
  next.add_stream("kept");
  ASSERT_EQ(next.streams().size(), 2u) << "not started yet: both are reported";
  next.end_carry_over();
  const auto streams = next.streams();
  ASSERT_EQ(streams.size(), 1u);
  EXPECT_EQ(streams[0].stream, "kept");
  EXPECT_EQ(next.refused_streams(true), "stream kept: HTTP 403 AuthorizationFailed");
}

}  // namespace
}  // namespace siem
