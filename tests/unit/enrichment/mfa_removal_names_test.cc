// pa.account.mfa_removed by the activity's name (docs/detections.md): "Disable Strong
// Authentication", or exactly [Admin | User] delete(d) / remove(d) "security info" or "user
// authentication method(s)", in any case, white space around and between the words ignored. The
// near misses name security info or a user authentication method with a delete or remove in them
// but change no user's methods (a substring match took them all for removals).
#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <string>
#include <vector>

#include "connector/config/config_node.h"
#include "connector/enrichment/mapping_stage.h"
#include "connector/mapping/mapper.h"

namespace siem {
namespace {

// A successful audit named `activity` whose target is Carol, on the roster (privileged_principals).
std::string audit(const std::string& activity) {
  return R"({"id":"Directory_mfa","activityDateTime":"2026-12-07T10:00:00Z","activityDisplayName":")" + activity +
         R"(","category":"UserManagement","loggedByService":"Authentication Methods","result":"success",)"
         R"("initiatedBy":{"user":{"id":"a1","userPrincipalName":"alice@contoso.example"}},)"
         R"("targetResources":[{"id":"c1","type":"User","userPrincipalName":"carol@contoso.example","modifiedProperties":[]}],)"
         R"("additionalDetails":[]})";
}

TEST(MfaRemovalNames, TheRemovalActivitiesFireAndTheirNearMissesDoNot) {
  Diagnostics diags;
  const auto doc = ConfigDocument::load_string("enrichment: {privileged_principals: [carol@contoso.example]}\n",
                                               "test.yaml", diags, ".");
  const auto mapper = make_mapping_stage(doc->root(), nullptr);
  ASSERT_FALSE(diags.has_errors()) << diags.format();
  const auto fires = [&](const std::string& activity) {
    RawRecord rec;
    rec.json = audit(activity);
    MappedEvent ev;
    EXPECT_FALSE(mapper->map(rec, std::nullopt, format_bit(OutputFormat::ecs), ev)) << activity;
    return ev.tags().contains("pa.account.mfa_removed");
  };
  const std::vector<std::string> removals{
      "Disable Strong Authentication", "disable strong authentication", "Admin deleted security info",
      "User deleted security info", "  USER DELETED SECURITY INFO ", "User  deleted\tsecurity info",
      "Admin removed security info", "Deleted security info", "Delete user authentication method",
      "Remove user authentication methods", "Disable  Strong Authentication", "Disable\tStrong  Authentication",
      " disable strong authentication\t"};
  for (const auto& a : removals) EXPECT_TRUE(fires(a)) << "'" << a << "' is a removal";
  const std::vector<std::string> near_misses{
      // A delete or remove, and security info, but not a removal of the user's methods.
      "Restore deleted security info", "Undelete security info", "User deleted security info registration",
      "Admin deleted security info registration campaign", "Download deleted security info report",
      "User started security info deletion", "Security info removed from review",
      // A user authentication method named with a policy or a campaign, or deleted nowhere.
      "Delete user authentication method policy", "Remove user authentication method registration campaign",
      "Delete authentication methods policy", "Admin deleted user authentication method policy",
      // The activities around a removal that remove nothing.
      "Admin registered security info", "User reviewed security info", "User canceled security info registration",
      "Update user authentication method", "Enable Strong Authentication", "Delete user", "Remove member from role",
      "Disable Strong Authentication policy", "Disable StrongAuthentication"};
  for (const auto& a : near_misses) EXPECT_FALSE(fires(a)) << "'" << a << "' is no removal";
}

// An activity naming a delete or remove and security info or an authentication method that is no
// removal the detection knows is logged at debug level with its name (a wording it may not know);
// one that names neither, or a known removal, is not.
TEST(MfaRemovalNames, AnUnmatchedRemovalWordingIsLoggedWithItsName) {
  Diagnostics diags;
  const auto doc = ConfigDocument::load_string("{}", "test.yaml", diags, ".");
  const auto mapper = make_mapping_stage(doc->root(), nullptr);
  ASSERT_TRUE(mapper);
  auto sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(16);
  const auto previous = spdlog::default_logger();
  auto capture = std::make_shared<spdlog::logger>("capture", sink);
  capture->set_level(spdlog::level::debug);
  spdlog::set_default_logger(capture);
  for (const char* activity : {"Admin deleted security info", "Delete user", "Update user",
                               "Admin removes security  information",
                               "Remove authentication method from user"}) {
    RawRecord rec;
    rec.json = audit(activity);
    MappedEvent ev;
    EXPECT_FALSE(mapper->map(rec, std::nullopt, format_bit(OutputFormat::ecs), ev)) << activity;
  }
  const auto logged = sink->last_formatted();
  spdlog::set_default_logger(previous);
  std::vector<std::string> unmatched;
  for (const auto& line : logged)
    if (line.find("pa.account.mfa_removed: activity") != std::string::npos) unmatched.push_back(line);
  ASSERT_EQ(unmatched.size(), 2u) << ::testing::PrintToString(logged);
  EXPECT_NE(unmatched[0].find("[debug] enrichment: pa.account.mfa_removed: activity \"Admin removes security  "
                              "information\" names a delete or remove"),
            std::string::npos)
      << unmatched[0];
  EXPECT_NE(unmatched[0].find(" such audit(s) so far"), std::string::npos) << unmatched[0];
  EXPECT_NE(unmatched[1].find("activity \"Remove authentication method from user\""), std::string::npos)
      << unmatched[1];
}

}  // namespace
}  // namespace siem
