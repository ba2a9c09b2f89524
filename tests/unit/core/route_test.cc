// The routing matcher (connector/core/route.h) and the AckTracker's release of the sinks that did
// not take an event.
#include "connector/core/route.h"

#include <gtest/gtest.h>

#include "connector/core/ack_tracker.h"

namespace siem {
namespace {

MappedEvent event(std::string source, SourceKind kind, std::vector<std::string> tags, int severity) {
  MappedEvent e;
  e.source_name = std::move(source);
  e.kind = kind;
  e.set_tags(std::move(tags));
  e.severity = severity;
  return e;
}

TEST(GlobMatch, StarQuestionMarkAndLiterals) {
  EXPECT_TRUE(glob_match("pa.*", "pa.role.tier0"));
  EXPECT_TRUE(glob_match("pa.*", "pa."));
  EXPECT_FALSE(glob_match("pa.*", "pa"));
  EXPECT_FALSE(glob_match("pa.*", "xpa.role"));
  EXPECT_TRUE(glob_match("*tier?", "pa.role.tier1"));
  EXPECT_FALSE(glob_match("*tier?", "pa.role.tier10"));
  EXPECT_TRUE(glob_match("pa.*.tier0", "pa.role.tier0"));
  EXPECT_FALSE(glob_match("pa.*.tier0", "pa.role.tier1"));
  EXPECT_TRUE(glob_match("schema_unknown", "schema_unknown"));
  EXPECT_FALSE(glob_match("schema_unknown", "Schema_unknown"));  // tags are case-sensitive
  EXPECT_TRUE(glob_match("*", ""));
  EXPECT_FALSE(glob_match("", "a"));
  EXPECT_TRUE(glob_match("a*b*c", "a-b-x-c"));
  EXPECT_FALSE(glob_match("a*b*c", "a-c-b"));
  // A pattern that would backtrack exponentially in a naive recursive matcher.
  EXPECT_FALSE(glob_match("*a*a*a*a*a*a*a*a*b", std::string(200, 'a')));
}

TEST(EventMatch, EveryCriterionGivenMustMatchAndAListMatchesOnAnyElement) {
  const auto signin = event("signins", SourceKind::graph_sign_in, {"pa.signin.risky", "pa.role.tier0"}, 7);
  EventMatch m;
  EXPECT_TRUE(m.empty());
  EXPECT_TRUE(m.matches(signin));  // no criterion: everything
  m.kinds = {SourceKind::graph_pim_request, SourceKind::graph_sign_in};
  EXPECT_TRUE(m.matches(signin));
  m.sources = {"audit"};
  EXPECT_FALSE(m.matches(signin));  // AND: the source does not match
  m.sources = {"audit", "signins"};
  EXPECT_TRUE(m.matches(signin));
  m.tags = {"pa.pim.*", "pa.role.*"};
  EXPECT_TRUE(m.matches(signin));  // OR within tags: pa.role.* matches pa.role.tier0
  m.tags = {"pa.pim.*"};
  EXPECT_FALSE(m.matches(signin));
  m.tags.clear();
  m.min_severity = 7;
  EXPECT_TRUE(m.matches(signin));  // inclusive
  m.min_severity = 8;
  EXPECT_FALSE(m.matches(signin));
  m.min_severity.reset();
  m.max_severity = 6;
  EXPECT_FALSE(m.matches(signin));
  m.max_severity = 7;
  EXPECT_TRUE(m.matches(signin));
  // An event without tags never matches a tag criterion.
  EventMatch tagged;
  tagged.tags = {"*"};
  EXPECT_FALSE(tagged.matches(event("a", SourceKind::azure_activity, {}, 0)));
}

TEST(Route, TakesWhatItsMatchTakesMinusItsExcludes) {
  Route r;
  EXPECT_TRUE(r.everything());
  const auto pim = event("pim", SourceKind::graph_pim_request, {"pa.pim.activation"}, 3);
  const auto noisy =
      event("pim", SourceKind::graph_pim_request, {"pa.pim.activation", "pa.pim.no_justification"}, 5);
  EXPECT_TRUE(r.takes(pim));
  r.take.kinds = {SourceKind::graph_pim_request};
  EventMatch ex;
  ex.tags = {"pa.pim.no_*"};
  r.exclude.push_back(ex);
  EXPECT_FALSE(r.everything());
  EXPECT_TRUE(r.takes(pim));
  EXPECT_FALSE(r.takes(noisy));
  EXPECT_FALSE(r.takes(event("pim", SourceKind::graph_sign_in, {}, 0)));
  EXPECT_TRUE(any_matches(r.exclude, noisy));
  EXPECT_FALSE(any_matches({}, noisy));
}

TEST(RoutingState, ConfiguredOnlyWhenSomethingIsRestricted) {
  RoutingState s;
  s.init({}, std::vector<Route>(2));
  EXPECT_FALSE(s.configured());
  EXPECT_EQ(s.routed[1].load(), 0u);
  EXPECT_EQ(s.taken.size(), 2u);
  std::vector<Route> routes(2);
  routes[1].take.min_severity = 5;
  s.init({}, std::move(routes));
  EXPECT_TRUE(s.configured());
  s.init({EventMatch{}}, std::vector<Route>(1));
  EXPECT_TRUE(s.configured());
}

// Three sinks; an event taken by one of them owes one acknowledgement: the checkpoint moves after
// that sink acknowledged it, and not before.
TEST(AckTracker, ReleasedSinksOweNothingTheSinkThatTookTheEventDoes) {
  AckTracker t(3);
  const auto s = t.add_source();
  t.begin_batch(s, 2, std::string("cp-after-2"));
  t.release(AckHandle{s, 0}, 2);  // taken by one sink
  t.release(AckHandle{s, 1}, 3);  // taken by none
  EXPECT_TRUE(t.take_ready().empty());
  EXPECT_EQ(t.outstanding(), 1u);
  t.ack(AckHandle{s, 0});
  const auto ready = t.take_ready();
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_EQ(ready[0].second, "cp-after-2");
  EXPECT_EQ(t.outstanding(), 0u);
}

}  // namespace
}  // namespace siem
