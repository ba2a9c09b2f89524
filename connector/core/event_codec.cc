#include "connector/core/event_codec.h"

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace siem {

namespace {

constexpr std::uint8_t kEventFormat = 1;
constexpr std::uint32_t kMaxTags = 4096;

void put_u64(std::string& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFFU));
}
void put_str(std::string& out, std::string_view s) {
  put_u64(out, s.size());
  out.append(s);
}

class Reader {
 public:
  explicit Reader(std::string_view d) : d_(d) {}
  bool u64(std::uint64_t& v) {
    if (d_.size() < 8) return false;
    v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(d_[static_cast<std::size_t>(i)]);
    d_.remove_prefix(8);
    return true;
  }
  bool view(std::string_view& s) {
    std::uint64_t n = 0;
    if (!u64(n) || n > d_.size()) return false;
    s = d_.substr(0, n);
    d_.remove_prefix(n);
    return true;
  }
  bool str(std::string& s) {
    std::uint64_t n = 0;
    if (!u64(n) || n > d_.size()) return false;
    s.assign(d_.substr(0, n));
    d_.remove_prefix(n);
    return true;
  }
  bool i64(std::int64_t& v) {
    std::uint64_t u = 0;
    if (!u64(u)) return false;
    std::memcpy(&v, &u, sizeof v);
    return true;
  }
  bool done() const { return d_.empty(); }

 private:
  std::string_view d_;
};

}  // namespace

std::string encode_buffered_event(const MappedEvent& e, OutputFormat format) {
  std::string out;
  out.reserve(128 + e.raw.size() + (format == OutputFormat::raw ? 0 : e.payload(format).size()));
  out.push_back(static_cast<char>(kEventFormat));
  out.push_back(static_cast<char>(e.kind));
  put_u64(out, static_cast<std::uint64_t>(e.time_ms));
  put_u64(out, static_cast<std::uint64_t>(static_cast<std::int64_t>(e.severity)));
  put_u64(out, static_cast<std::uint64_t>(static_cast<std::int64_t>(e.tier)));
  put_str(out, e.source_name);
  for (std::string_view s : {e.origin(), e.id(), e.tenant_id(), e.subscription_id(), e.action()}) put_str(out, s);
  put_str(out, e.raw);
  put_str(out, format == OutputFormat::raw ? std::string_view() : std::string_view(e.payload(format)));
  put_u64(out, e.tags().size());
  for (std::string_view t : e.tags()) put_str(out, t);
  return out;
}

std::optional<MappedEvent> decode_buffered_event(std::string_view data, OutputFormat format) {
  if (data.size() < 2 || static_cast<std::uint8_t>(data[0]) != kEventFormat) return std::nullopt;
  const auto kind = static_cast<std::uint8_t>(data[1]);
  if (kind > static_cast<std::uint8_t>(kLastSourceKind)) return std::nullopt;
  MappedEvent e;
  e.kind = static_cast<SourceKind>(kind);
  Reader r(data.substr(2));
  std::int64_t severity = 0, tier = 0;
  if (!r.i64(e.time_ms) || !r.i64(severity) || !r.i64(tier)) return std::nullopt;
  if (severity < -1 || severity > 10 || tier < -1 || tier > 1000) return std::nullopt;
  e.severity = static_cast<int>(severity);
  e.tier = static_cast<int>(tier);
  if (!r.str(e.source_name)) return std::nullopt;
  EventTexts::Fields fields;  // views into `data`, packed into the event once the tags are read
  for (auto& s : fields)
    if (!r.view(s)) return std::nullopt;
  std::string raw;
  if (!r.str(raw)) return std::nullopt;
  e.raw = std::move(raw);
  std::string payload;
  if (!r.str(payload)) return std::nullopt;
  if (format == OutputFormat::ecs) e.ecs = std::move(payload);
  if (format == OutputFormat::cef) e.cef = std::move(payload);
  if (format == OutputFormat::ocsf) e.ocsf = std::move(payload);
  std::uint64_t ntags = 0;
  if (!r.u64(ntags) || ntags > kMaxTags) return std::nullopt;
  std::vector<std::string> tags(static_cast<std::size_t>(ntags));
  for (auto& t : tags)
    if (!r.str(t)) return std::nullopt;
  if (!r.done()) return std::nullopt;
  // The texts are packed in one buffer of at most 4 GiB (event_texts.h): a record past that (only
  // a hostile one: the mapper never makes such texts) is refused like any other malformed record.
  try {
    e.texts.assign(fields, tags);
  } catch (const std::length_error&) {
    return std::nullopt;
  }
  return e;
}

}  // namespace siem
