#include <gtest/gtest.h>

#include <cctype>
#include <string>

#include "connector/enrichment/role_table.h"

namespace siem {
namespace {

// What canonical_id() answered before it wrote into a buffer (a string of the hex digits, then
// the dashes inserted): the reference the in-place version must match.
std::optional<std::string> reference_canonical(std::string_view text) {
  if (auto slash = text.rfind('/'); slash != std::string_view::npos) text = text.substr(slash + 1);
  std::string hex;
  for (char c : text) {
    if (c == '-' || c == '{' || c == '}' || c == ' ') continue;
    if (!std::isxdigit(static_cast<unsigned char>(c))) return std::nullopt;
    hex += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (hex.size() != 32) return std::nullopt;
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-" + hex.substr(20);
}

TEST(RoleTable, CanonicalIdAnswersAsTheReference) {
  const std::string guid = "8E3AF657-A8FF-443C-A75C-2FE8C4BCB635";
  std::vector<std::string> texts{guid, "8e3af657a8ff443ca75c2fe8c4bcb635", "{" + guid + "}", " 8e3af657 a8ff-443c-a75c-2fe8c4bcb635 ",
                                 "/subscriptions/x/providers/Microsoft.Authorization/roleDefinitions/" + guid,
                                 "/roleDefinitions/", "", "-", "8e3af657-a8ff-443c-a75c-2fe8c4bcb63",  // 31 digits
                                 "8e3af657-a8ff-443c-a75c-2fe8c4bcb6355",  // 33
                                 "8e3af657-a8ff-443c-a75c-2fe8c4bcb63g", "8e3af657-a8ff-443c-a75c-2fe8c4bcb635x",
                                 "8e3af657-a8ff-443c-a75c-2fe8c4bcb635-", "--8e3af657a8ff443ca75c2fe8c4bcb635--",
                                 "8e3af657-a8ff-443c-a75c-2fe8c4bcb635/", "8e3af657a8ff443ca75c2fe8c4bcb6350000"};
  // Every prefix and every one-character change of a GUID with dashes, too.
  for (std::size_t n = 0; n <= guid.size(); ++n) texts.push_back(guid.substr(0, n));
  for (std::size_t i = 0; i < guid.size(); ++i)
    for (char c : {'-', 'g', 'F', '0', ' ', '/', '}'}) {
      std::string t = guid;
      t[i] = c;
      texts.push_back(t);
    }
  for (const auto& t : texts) EXPECT_EQ(RoleTable::canonical_id(t), reference_canonical(t)) << t;
}

TEST(RoleTable, ByIdTakesEveryFormOfAnId) {
  RoleTable t;
  RoleInfo owner;
  owner.id = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635";
  owner.name = "Owner";
  owner.tier = 0;
  t.add(owner);
  for (std::string_view id : {"8e3af657-a8ff-443c-a75c-2fe8c4bcb635", "8E3AF657A8FF443CA75C2FE8C4BCB635",
                              "{8e3af657-a8ff-443c-a75c-2fe8c4bcb635}",
                              "/providers/Microsoft.Authorization/roleDefinitions/8e3af657-a8ff-443c-a75c-2fe8c4bcb635"}) {
    const RoleInfo* r = t.by_id(id);
    ASSERT_NE(r, nullptr) << id;
    EXPECT_EQ(r->name, "Owner");
  }
  EXPECT_EQ(t.by_id("8e3af657-a8ff-443c-a75c-2fe8c4bcb636"), nullptr);
  EXPECT_EQ(t.by_id("8e3af657-a8ff-443c-a75c-2fe8c4bcb63"), nullptr);
  EXPECT_EQ(t.by_id("8e3af657-a8ff-443c-a75c-2fe8c4bcb6355"), nullptr);
  EXPECT_EQ(t.by_id(""), nullptr);
  EXPECT_EQ(t.by_name("OWNER"), t.by_id("8e3af657a8ff443ca75c2fe8c4bcb635"));
}

}  // namespace
}  // namespace siem
