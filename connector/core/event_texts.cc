#include "connector/core/event_texts.h"

#include <limits>
#include <stdexcept>

namespace siem {

namespace {

constexpr std::size_t kMaxBytes = std::numeric_limits<std::uint32_t>::max();

void put_tag(char*& p, std::string_view tag) {
  const auto n = static_cast<std::uint32_t>(tag.size());
  std::memcpy(p, &n, sizeof n);
  p += sizeof n;
  if (!tag.empty()) std::memcpy(p, tag.data(), tag.size());
  p += tag.size();
}

}  // namespace

// The new buffer is built aside and then moved in: the fields and tags may be views into the old.
template <typename Tags>
void EventTexts::build(const Fields& fields, std::size_t tag_bytes, std::size_t tag_count, const Tags& write_tags) {
  std::size_t total = tag_bytes + kFields;  // a NUL after each field
  for (std::string_view f : fields) total += f.size();
  if (total > kMaxBytes || tag_count > kMaxBytes) throw std::length_error("event texts over 4 GiB");
  std::string buf(total, '\0');
  char* p = buf.data();
  std::array<std::uint32_t, kFields> ends{};
  for (std::size_t i = 0; i < kFields; ++i) {
    if (!fields[i].empty()) std::memcpy(p, fields[i].data(), fields[i].size());
    p += fields[i].size();
    ends[i] = static_cast<std::uint32_t>(p - buf.data());
    ++p;  // its NUL (the string was zeroed)
  }
  write_tags(p);
  buf_ = std::move(buf);
  end_ = ends;
  tag_count_ = static_cast<std::uint32_t>(tag_count);
}

void EventTexts::assign(const Fields& fields, std::span<const std::string> first, std::span<const std::string> second) {
  std::size_t bytes = 0;
  for (const auto& t : first) bytes += sizeof(std::uint32_t) + t.size();
  for (const auto& t : second) bytes += sizeof(std::uint32_t) + t.size();
  build(fields, bytes, first.size() + second.size(), [&](char* p) {
    for (const auto& t : first) put_tag(p, t);
    for (const auto& t : second) put_tag(p, t);
  });
}

void EventTexts::assign(const Fields& fields, const TagList& tags) {
  std::size_t bytes = 0;
  for (std::string_view t : tags) bytes += sizeof(std::uint32_t) + t.size();
  build(fields, bytes, tags.size(), [&](char* p) {
    for (std::string_view t : tags) put_tag(p, t);
  });
}

void EventTexts::set(Field f, std::string_view value) {
  Fields fields = all_fields();
  fields[f] = value;
  assign(fields, tags());
}

void EventTexts::set_tags(std::initializer_list<std::string_view> tags) {
  std::size_t bytes = 0;
  for (std::string_view t : tags) bytes += sizeof(std::uint32_t) + t.size();
  build(all_fields(), bytes, tags.size(), [&](char* p) {
    for (std::string_view t : tags) put_tag(p, t);
  });
}

void EventTexts::add_tag(std::string_view tag) {
  const TagList old = tags();
  std::size_t bytes = sizeof(std::uint32_t) + tag.size();
  for (std::string_view t : old) bytes += sizeof(std::uint32_t) + t.size();
  build(all_fields(), bytes, old.size() + 1, [&](char* p) {
    for (std::string_view t : old) put_tag(p, t);
    put_tag(p, tag);
  });
}

}  // namespace siem
