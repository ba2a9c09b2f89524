#include "connector/core/event_texts.h"

#include <gtest/gtest.h>

#include <cstring>
#include <iterator>
#include <ranges>
#include <type_traits>
#include <string>
#include <vector>

#include "connector/core/event.h"
#include "connector/core/footprint.h"

namespace siem {
namespace {

const std::string kGuid = "8f9c1f6e-0000-4000-8000-000000000001";

TEST(EventTexts, EveryFieldAndTagReadsBackAsAssigned) {
  EventTexts t;
  for (int f = 0; f < EventTexts::kFields; ++f) EXPECT_EQ(t.get(static_cast<EventTexts::Field>(f)), "");
  EXPECT_TRUE(t.tags().empty());
  const std::vector<std::string> detections = {"pa.role.tier0", ""};
  const std::vector<std::string> engine = {"schema_unknown"};
  t.assign({"file.ndjson:12", kGuid, "tenant-2", "", "Add member to role"}, detections, engine);
  EXPECT_EQ(t.get(EventTexts::origin), "file.ndjson:12");
  EXPECT_EQ(t.get(EventTexts::id), kGuid);
  EXPECT_EQ(t.get(EventTexts::tenant_id), "tenant-2");
  EXPECT_EQ(t.get(EventTexts::subscription_id), "");
  EXPECT_EQ(t.get(EventTexts::action), "Add member to role");
  EXPECT_EQ(t.tags().to_vector(), (std::vector<std::string>{"pa.role.tier0", "", "schema_unknown"}));
  EXPECT_EQ(t.tags().size(), 3u);
  EXPECT_TRUE(t.tags().contains("schema_unknown"));
  EXPECT_FALSE(t.tags().contains("pa.role"));
  // Each field is followed by a NUL byte (the syslog formatter runs strcspn over the id).
  for (int f = 0; f < EventTexts::kFields; ++f) {
    const std::string_view v = t.get(static_cast<EventTexts::Field>(f));
    EXPECT_EQ(v.data()[v.size()], '\0') << f;
  }
  // Texts holding NUL bytes keep their length.
  t.set(EventTexts::id, std::string_view("a\0b", 3));
  EXPECT_EQ(t.get(EventTexts::id), std::string_view("a\0b", 3));
  EXPECT_EQ(t.get(EventTexts::action), "Add member to role");
}

TEST(EventTexts, SettingOneFieldOrTagKeepsTheOthers) {
  MappedEvent e;
  e.set_id(kGuid);
  e.set_tags({"pa.one"});
  e.set_origin("https://graph/x#3");
  e.add_tag("pa.two");
  e.set_tenant_id("t");
  e.set_id(e.id().substr(0, 8));  // a view into the buffer being replaced
  e.set_action("Sign-in");
  e.set_subscription_id("sub");
  EXPECT_EQ(e.id(), "8f9c1f6e");
  EXPECT_EQ(e.origin(), "https://graph/x#3");
  EXPECT_EQ(e.tenant_id(), "t");
  EXPECT_EQ(e.subscription_id(), "sub");
  EXPECT_EQ(e.action(), "Sign-in");
  EXPECT_EQ(e.tags(), (std::vector<std::string>{"pa.one", "pa.two"}));
  const MappedEvent copy = e;  // a copy has its own buffer
  e.set_tags({});
  EXPECT_TRUE(e.tags().empty());
  EXPECT_EQ(e.id(), "8f9c1f6e");
  EXPECT_EQ(copy.tags(), (std::vector<std::string>{"pa.one", "pa.two"}));
  EXPECT_EQ(copy.origin(), "https://graph/x#3");
}

TEST(EventTexts, AnEventsTextsAndTagsAreOneAllocation) {
  MappedEvent e;
  const std::vector<std::string> tags = {"pa.role.tier0", "pa.signin.no_mfa", "pa.pim.activation"};
  e.texts.assign({"/var/log/entra/audit.ndjson:123456", kGuid, kGuid, kGuid, "Add member to role"}, tags);
  const std::size_t bytes = 34 + 3 * 36 + 18 + 5 + (13 + 16 + 17) + 3 * 4;
  // One block holding the packed bytes: the fields, their NULs, the tags and their lengths (the
  // string may round its capacity up: at least the packed size, its trailing NUL counted once).
  EXPECT_GE(e.texts.heap_capacity(), bytes + 1);
  EXPECT_LT(e.texts.heap_capacity(), 2 * (bytes + 1)) << "one block, not one per text";
  MappedEvent small;
  small.texts.assign({"f:1", "id", "", "", ""}, std::vector<std::string>{});
  EXPECT_EQ(small.texts.heap_capacity(), 0u) << "fits in the string's inline bytes";
}

TEST(EventTexts, TextsNeverSetAreEmptyAndNulTerminated) {
  const EventTexts t;
  for (int f = 0; f < EventTexts::kFields; ++f) {
    const std::string_view v = t.get(static_cast<EventTexts::Field>(f));
    ASSERT_NE(v.data(), nullptr) << f;
    EXPECT_EQ(v.data()[0], '\0') << f;
    EXPECT_TRUE(v.empty()) << f;
  }
  EXPECT_EQ(t.get(EventTexts::id).data()[0], '\0');
  EXPECT_TRUE(t.tags().empty());
  EXPECT_EQ(t.tags().begin(), t.tags().end());
  EXPECT_TRUE(t.tags().to_vector().empty());
  EXPECT_EQ(t.heap_capacity(), 0u);
}

// The tag list's iterator yields views by value: an input iterator to the old categories, a
// forward iterator to C++20's (ranges algorithms take it).
static_assert(std::is_same_v<std::iterator_traits<TagList::iterator>::iterator_category, std::input_iterator_tag>);
static_assert(std::forward_iterator<TagList::iterator>);
static_assert(std::ranges::forward_range<TagList>);

}  // namespace
}  // namespace siem
