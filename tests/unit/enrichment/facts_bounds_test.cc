// The facts of a directory audit read its targetResources, their modifiedProperties and its
// additionalDetails up to a bound each (facts.h: kMaxAuditTargets, kMaxAuditModifiedProperties,
// kMaxAuditDetails). A hostile or broken record with many more is read up to the bound, the list
// is named (Facts::truncated) and the mapped event is tagged enrichment_truncated and counted; a
// record at the bound is read whole and untagged. A sign-in's authenticationDetails and
// signInEventTypes the same (kMaxSignInAuthDetails, kMaxSignInEventTypes).
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include <simdjson.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include "connector/config/config_node.h"
#include "connector/enrichment/facts.h"
#include "connector/enrichment/mapping_stage.h"
#include "connector/mapping/mapper.h"

namespace siem {
namespace {

constexpr std::string_view kGlobalAdmin = "62e90394-69f5-4237-9190-012177145e10";

// A successful "Add member to role" audit giving Global Administrator to its first target, with
// `targets` User targets in all, `properties` modifiedProperties on each (the first two name the
// role) and `details` additionalDetails.
std::string audit(std::size_t targets, std::size_t properties, std::size_t details) {
  std::string r = R"({"id":"Directory_bounds","activityDateTime":"2026-12-07T10:00:00Z","activityDisplayName":"Add member to role",)"
                  R"("category":"RoleManagement","loggedByService":"Core Directory","result":"success",)"
                  R"("initiatedBy":{"user":{"id":"a0","userPrincipalName":"admin@contoso.com"}},"additionalDetails":[)";
  for (std::size_t i = 0; i < details; ++i) r += (i ? ",{\"key\":\"k" : "{\"key\":\"k") + std::to_string(i) + "\",\"value\":\"v\"}";
  r += R"(],"targetResources":[)";
  for (std::size_t t = 0; t < targets; ++t) {
    r += (t ? "," : "") + std::string(R"({"id":"t)") + std::to_string(t) + R"(","type":"User","userPrincipalName":"u)" +
         std::to_string(t) + R"(@contoso.com","modifiedProperties":[)";
    for (std::size_t p = 0; p < properties; ++p) {
      if (p > 0) r += ",";
      if (p == 0) r += R"({"displayName":"Role.TemplateId","oldValue":null,"newValue":"\")" + std::string(kGlobalAdmin) + R"(\""})";
      else if (p == 1) r += R"({"displayName":"Role.DisplayName","oldValue":null,"newValue":"\"Global Administrator\""})";
      else r += R"({"displayName":"p","oldValue":"","newValue":"\"v\""})";
    }
    r += "]}";
  }
  return r + "]}";
}

Facts facts_of(const std::string& json) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  EXPECT_EQ(parser.parse(json).get(root), simdjson::SUCCESS);
  return extract_facts(SourceKind::graph_directory_audit, root);
}

TEST(FactsBounds, TargetResourcesAreReadUpToTheirBound) {
  const Facts at = facts_of(audit(kMaxAuditTargets, 1, 0));
  EXPECT_EQ(at.targets.size(), kMaxAuditTargets);
  EXPECT_EQ(at.truncated, "");
  for (const std::size_t n : {kMaxAuditTargets + 1, std::size_t{100'000}}) {
    const Facts f = facts_of(audit(n, 1, 0));
    ASSERT_EQ(f.targets.size(), kMaxAuditTargets) << n;
    EXPECT_EQ(f.targets.back().id, "t" + std::to_string(kMaxAuditTargets - 1));
    EXPECT_EQ(f.modified_properties.size(), kMaxAuditTargets) << "the properties of the targets read only";
    EXPECT_EQ(f.truncated, "targetResources") << n;
  }
}

TEST(FactsBounds, ModifiedPropertiesAreReadUpToTheirBoundOverAllTargets) {
  const Facts at = facts_of(audit(2, kMaxAuditModifiedProperties / 2, 0));  // the bound exactly, in two targets
  EXPECT_EQ(at.modified_properties.size(), kMaxAuditModifiedProperties);
  EXPECT_EQ(at.truncated, "");
  const Facts over = facts_of(audit(2, kMaxAuditModifiedProperties / 2 + 1, 0));
  EXPECT_EQ(over.modified_properties.size(), kMaxAuditModifiedProperties);
  EXPECT_EQ(over.targets.size(), 2u) << "a target is read whole but for its properties";
  EXPECT_EQ(over.truncated, "modifiedProperties");
  const Facts many = facts_of(audit(1, 100'000, 0));
  EXPECT_EQ(many.modified_properties.size(), kMaxAuditModifiedProperties);
  EXPECT_EQ(many.truncated, "modifiedProperties");
}

TEST(FactsBounds, AdditionalDetailsAreReadUpToTheirBoundAndTheFirstListOverItIsNamed) {
  const Facts at = facts_of(audit(1, 1, kMaxAuditDetails));
  EXPECT_EQ(at.details.size(), kMaxAuditDetails);
  EXPECT_EQ(at.truncated, "");
  const Facts over = facts_of(audit(1, 1, 100'000));
  EXPECT_EQ(over.details.size(), kMaxAuditDetails);
  EXPECT_EQ(over.targets.size(), 1u);
  EXPECT_EQ(over.truncated, "additionalDetails");
  // additionalDetails is read before the targets: the first list over its bound is the one named.
  EXPECT_EQ(facts_of(audit(kMaxAuditTargets + 1, 1, kMaxAuditDetails + 1)).truncated, "additionalDetails");
}

// A Graph sign-in with `steps` authenticationDetails entries, of which only the last is a
// succeeded MFA step, and `types` signInEventTypes ("t0", ...; the last "interactiveUser").
std::string sign_in(std::size_t steps, std::size_t types) {
  std::string r = R"({"id":"SignIn_bounds","createdDateTime":"2026-12-07T10:00:00Z","userPrincipalName":"u@contoso.com",)"
                  R"("userId":"u1","appId":"a1","appDisplayName":"App","status":{"errorCode":0},"authenticationDetails":[)";
  for (std::size_t i = 0; i < steps; ++i) {
    if (i > 0) r += ",";
    r += i + 1 == steps ? R"({"authenticationStepRequirement":"Multifactor authentication","succeeded":true})"
                        : R"({"authenticationStepRequirement":"Primary authentication","succeeded":true})";
  }
  r += R"(],"signInEventTypes":[)";
  for (std::size_t i = 0; i < types; ++i) r += (i ? ",\"" : "\"") + (i + 1 == types ? std::string("interactiveUser") : "t" + std::to_string(i)) + "\"";
  return r + "]}";
}

Facts sign_in_facts_of(const std::string& json) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  EXPECT_EQ(parser.parse(json).get(root), simdjson::SUCCESS);
  return extract_facts(SourceKind::graph_sign_in, root);
}

TEST(FactsBounds, SignInAuthenticationDetailsAreReadUpToTheirBound) {
  const Facts at = sign_in_facts_of(sign_in(kMaxSignInAuthDetails, 1));
  EXPECT_TRUE(at.mfa_step_succeeded) << "the last step read";
  EXPECT_EQ(at.truncated, "");
  for (const std::size_t n : {kMaxSignInAuthDetails + 1, std::size_t{100'000}}) {
    const Facts f = sign_in_facts_of(sign_in(n, 1));
    EXPECT_FALSE(f.mfa_step_succeeded) << n << ": the MFA step is past the bound";
    EXPECT_EQ(f.truncated, "authenticationDetails") << n;
    EXPECT_EQ(f.user_upn, "u@contoso.com") << "the rest of the sign-in is read";
    EXPECT_EQ(f.sign_in_event_types.size(), 1u);
  }
}

TEST(FactsBounds, SignInEventTypesAreReadUpToTheirBound) {
  const Facts at = sign_in_facts_of(sign_in(1, kMaxSignInEventTypes));
  EXPECT_EQ(at.sign_in_event_types.size(), kMaxSignInEventTypes);
  EXPECT_EQ(at.sign_in_event_types.back(), "interactiveUser");
  EXPECT_EQ(at.truncated, "");
  for (const std::size_t n : {kMaxSignInEventTypes + 1, std::size_t{100'000}}) {
    const Facts f = sign_in_facts_of(sign_in(1, n));
    ASSERT_EQ(f.sign_in_event_types.size(), kMaxSignInEventTypes) << n;
    EXPECT_EQ(f.sign_in_event_types.back(), "t" + std::to_string(kMaxSignInEventTypes - 1));
    EXPECT_EQ(f.truncated, "signInEventTypes") << n;
    EXPECT_TRUE(f.mfa_step_succeeded);
  }
  // authenticationDetails is read first: the first list over its bound is the one named.
  EXPECT_EQ(sign_in_facts_of(sign_in(kMaxSignInAuthDetails + 1, kMaxSignInEventTypes + 1)).truncated,
            "authenticationDetails");
}

// Through the mapping stage: the event of a record over a bound is mapped (the detections read the
// first entries: the role given to the first target is still seen), tagged enrichment_truncated
// and counted; a record at the bound maps without the tag.
TEST(FactsBounds, AnEventOverABoundIsTaggedAndCountedOneAtTheBoundIsNot) {
  Diagnostics diags;
  const auto doc = ConfigDocument::load_string("{}", "test.yaml", diags, ".");
  const auto mapper = make_mapping_stage(doc->root(), nullptr);
  ASSERT_TRUE(mapper);
  const auto map = [&](const std::string& json, const std::string& origin = "audits.json:1") {
    RawRecord rec;
    rec.json = json;
    rec.origin = origin;
    MappedEvent ev;
    EXPECT_FALSE(mapper->map(rec, std::nullopt, format_bit(OutputFormat::ecs), ev));
    return ev;
  };
  const auto tagged = [](const MappedEvent& ev, std::string_view tag) {
    return ev.tags().contains(tag);
  };
  const MappedEvent at = map(audit(kMaxAuditTargets, 2, kMaxAuditDetails));
  EXPECT_FALSE(tagged(at, "enrichment_truncated"));
  EXPECT_TRUE(tagged(at, "pa.role.assigned"));
  EXPECT_EQ(mapper->stats().enrichment_truncated, 0u);
  // The first record over a bound is logged once for its list, naming where it came from.
  auto sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(16);
  const auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", sink));
  const MappedEvent over = map(audit(10'000, 2, 0), "audits.json:42");
  map(audit(10'000, 2, 0), "audits.json:43");
  const auto logged = sink->last_formatted();
  spdlog::set_default_logger(previous);
  ASSERT_EQ(logged.size(), 1u) << "once per list";
  EXPECT_NE(logged[0].find("[warning] enrichment: record audits.json:42 has more targetResources entries than the "
                           "detections read (64)"),
            std::string::npos)
      << logged[0];
  EXPECT_TRUE(tagged(over, "enrichment_truncated"));
  EXPECT_TRUE(tagged(over, "pa.role.assigned"));
  EXPECT_EQ(over.tier, at.tier);
  EXPECT_NE(over.ecs.find("\"enrichment_truncated\""), std::string::npos) << "the ECS tags name it";
  EXPECT_EQ(mapper->stats().enrichment_truncated, 2u);
  EXPECT_TRUE(std::find(mapping_engine_tags().begin(), mapping_engine_tags().end(), "enrichment_truncated") !=
              mapping_engine_tags().end());
}

// Through the mapping stage (the facts read from the mapper's resolved paths): a sign-in over a
// bound is tagged and counted, each list logged once with its own bound, one at the bounds is not.
TEST(FactsBounds, ASignInOverABoundIsTaggedAndEachListLoggedOnce) {
  Diagnostics diags;
  const auto doc = ConfigDocument::load_string("{}", "test.yaml", diags, ".");
  const auto mapper = make_mapping_stage(doc->root(), nullptr);
  ASSERT_TRUE(mapper);
  const auto map = [&](const std::string& json, const std::string& origin) {
    RawRecord rec;
    rec.json = json;
    rec.origin = origin;
    MappedEvent ev;
    EXPECT_FALSE(mapper->map(rec, std::nullopt, format_bit(OutputFormat::ecs), ev));
    EXPECT_EQ(ev.kind, SourceKind::graph_sign_in);
    return ev;
  };
  const MappedEvent at = map(sign_in(kMaxSignInAuthDetails, kMaxSignInEventTypes), "signins.json:1");
  EXPECT_FALSE(at.tags().contains("enrichment_truncated"));
  EXPECT_EQ(mapper->stats().enrichment_truncated, 0u);
  auto sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(16);
  const auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", sink));
  const MappedEvent steps = map(sign_in(10'000, 1), "signins.json:7");
  map(sign_in(10'000, 1), "signins.json:8");
  const MappedEvent types = map(sign_in(1, 10'000), "signins.json:9");
  map(sign_in(1, 10'000), "signins.json:10");
  const auto logged = sink->last_formatted();
  spdlog::set_default_logger(previous);
  ASSERT_EQ(logged.size(), 2u) << "once per list";
  EXPECT_NE(logged[0].find("record signins.json:7 has more authenticationDetails entries than the detections read (64)"),
            std::string::npos)
      << logged[0];
  EXPECT_NE(logged[1].find("record signins.json:9 has more signInEventTypes entries than the detections read (16)"),
            std::string::npos)
      << logged[1];
  EXPECT_TRUE(steps.tags().contains("enrichment_truncated"));
  EXPECT_TRUE(types.tags().contains("enrichment_truncated"));
  EXPECT_EQ(mapper->stats().enrichment_truncated, 4u);
}

}  // namespace
}  // namespace siem
