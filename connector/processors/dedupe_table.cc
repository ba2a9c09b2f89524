#include "connector/processors/dedupe_table.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace siem::dedupe {

Family family_of(SourceKind kind) noexcept {
  switch (kind) {
    case SourceKind::graph_directory_audit:
    case SourceKind::eventhub_audit: return Family::directory_audit;
    case SourceKind::graph_sign_in:
    case SourceKind::eventhub_sign_in: return Family::sign_in;
    case SourceKind::azure_activity:
    case SourceKind::eventhub_activity: return Family::activity;
    default: return Family::none;
  }
}

std::string_view to_string(Family f) noexcept {
  switch (f) {
    case Family::directory_audit: return "directory_audit";
    case Family::sign_in: return "sign_in";
    case Family::activity: return "activity";
    case Family::none: break;
  }
  return "none";
}

std::size_t Table::DigestHash::operator()(const Digest& d) const noexcept {
  std::size_t h = 0;
  std::memcpy(&h, d.data(), sizeof h);  // the digest is uniform already
  return h;
}

// SHA-256 of (family, id), its first 128 bits: 16 bytes per id whatever the id's length, and no
// two ids share a key in practice (crafting a collision is as hard as for SHA-256/128).
Table::Digest Table::digest(Family family, std::string_view id) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (!ctx) throw std::bad_alloc();
  const auto f = static_cast<unsigned char>(family);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  const bool ok = EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) == 1 && EVP_DigestUpdate(ctx, &f, 1) == 1 &&
                  EVP_DigestUpdate(ctx, id.data(), id.size()) == 1 && EVP_DigestFinal_ex(ctx, md, &len) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok || len < 16) throw std::runtime_error("dedupe: SHA-256 failed");
  Digest d;
  std::memcpy(d.data(), md, d.size());
  return d;
}

Table::Owner Table::owner(std::string_view source_name) {
  for (std::size_t i = 0; i < owners_.size(); ++i)
    if (owners_[i] == source_name) return static_cast<Owner>(i);
  if (owners_.size() >= 0xffff) throw std::length_error("dedupe: too many sources");
  owners_.emplace_back(source_name);
  return static_cast<Owner>(owners_.size() - 1);
}

void Table::expire(std::int64_t now_ms) {
  while (!order_.empty()) {
    const auto it = entries_.find(order_.front());
    const bool too_old = it == entries_.end() || now_ms - it->second.seen_ms >= window_ms_;
    const bool too_many = order_.size() > max_ids_;
    if (!too_old && !too_many) break;
    (too_old ? evicted_age_ : evicted_count_) += 1;
    if (it != entries_.end()) entries_.erase(it);
    order_.pop_front();
  }
}

void Table::insert(const Digest& d, Entry e) {
  last_ms_ = std::max(last_ms_, e.seen_ms);
  e.seen_ms = last_ms_;
  entries_.emplace(d, e);
  order_.push_back(d);
}

Table::Result Table::check(Family family, std::string_view id, Owner owner, std::int64_t now_ms) {
  expire(now_ms);
  const Digest d = digest(family, id);
  if (const auto it = entries_.find(d); it != entries_.end())
    return it->second.owner == owner ? Result::same_source : Result::duplicate;
  insert(d, Entry{now_ms, owner});
  expire(now_ms);  // max_ids: the oldest make room
  return Result::first;
}

namespace {

constexpr std::string_view kMagic = "siem-dedupe/1\n";
constexpr std::size_t kEntryBytes = 16 + 8 + 2;
constexpr std::size_t kMaxName = 4096;

template <typename T>
void put_int(std::string& out, T v) {
  for (std::size_t i = 0; i < sizeof(T); ++i) out.push_back(static_cast<char>((static_cast<std::uint64_t>(v) >> (8 * i)) & 0xff));
}

class Reader {
 public:
  explicit Reader(std::string_view d) : d_(d) {}
  template <typename T>
  T get_int() {
    need(sizeof(T));
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i) v |= std::uint64_t{static_cast<unsigned char>(d_[pos_ + i])} << (8 * i);
    pos_ += sizeof(T);
    return static_cast<T>(v);
  }
  std::string_view bytes(std::size_t n) {
    need(n);
    auto s = d_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  std::size_t left() const { return d_.size() - pos_; }

 private:
  void need(std::size_t n) const {
    if (d_.size() - pos_ < n) throw std::runtime_error("dedupe state: truncated");
  }
  std::string_view d_;
  std::size_t pos_ = 0;
};

}  // namespace

std::string Table::serialize() const {
  std::string out(kMagic);
  out.reserve(out.size() + 16 + owners_.size() * 32 + order_.size() * kEntryBytes);
  put_int<std::uint32_t>(out, static_cast<std::uint32_t>(owners_.size()));
  for (const auto& o : owners_) {
    put_int<std::uint32_t>(out, static_cast<std::uint32_t>(o.size()));
    out += o;
  }
  put_int<std::uint64_t>(out, order_.size());
  for (const auto& d : order_) {
    const auto& e = entries_.at(d);
    out.append(reinterpret_cast<const char*>(d.data()), d.size());
    put_int<std::int64_t>(out, e.seen_ms);
    put_int<Owner>(out, e.owner);
  }
  return out;
}

Table Table::parse(std::string_view data, std::int64_t window_ms, std::size_t max_ids,
                   const std::vector<std::string>& keep_owners, std::int64_t now_ms) {
  if (data.substr(0, kMagic.size()) != kMagic) throw std::runtime_error("dedupe state: unknown format");
  Reader r(data.substr(kMagic.size()));
  Table t(window_ms, max_ids);
  const auto n_owners = r.get_int<std::uint32_t>();
  if (n_owners > 0xffff) throw std::runtime_error("dedupe state: too many sources");
  std::vector<std::optional<Owner>> remap;  // persisted owner -> owner in `t`, if still configured
  for (std::uint32_t i = 0; i < n_owners; ++i) {
    const auto len = r.get_int<std::uint32_t>();
    if (len > kMaxName) throw std::runtime_error("dedupe state: source name too long");
    const auto name = r.bytes(len);
    const bool keep = std::find(keep_owners.begin(), keep_owners.end(), name) != keep_owners.end();
    remap.push_back(keep ? std::optional<Owner>(t.owner(name)) : std::nullopt);
  }
  const auto n = r.get_int<std::uint64_t>();
  if (n > r.left() / kEntryBytes || r.left() != n * kEntryBytes) throw std::runtime_error("dedupe state: bad length");
  for (std::uint64_t i = 0; i < n; ++i) {
    Digest d;
    std::memcpy(d.data(), r.bytes(d.size()).data(), d.size());
    const auto seen = r.get_int<std::int64_t>();
    const auto owner = r.get_int<Owner>();
    if (owner >= remap.size()) throw std::runtime_error("dedupe state: bad source index");
    if (!remap[owner] || now_ms - seen >= window_ms || t.entries_.count(d)) continue;
    t.insert(d, Entry{seen, *remap[owner]});
  }
  t.expire(now_ms);
  t.evicted_age_ = t.evicted_count_ = 0;
  return t;
}

}  // namespace siem::dedupe
