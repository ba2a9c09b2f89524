#include "connector/sources/graph/inventory_reader.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <unordered_set>

#include "connector/auth/token_provider.h"
#include "connector/http/token_bucket.h"
#include "connector/sources/graph/graph_get.h"
#include "connector/sources/graph/page_reader.h"

namespace siem::sources {

using nlohmann::json;

InventoryReadOptions read_inventory_read_options(const ConfigNode& inv) {
  InventoryReadOptions o;
  if (!inv.valid()) return o;
  o.max_pages = static_cast<std::size_t>(inv.integer("max_pages", 1000, 1, 1'000'000));
  o.max_groups = static_cast<std::size_t>(inv.integer("max_groups", 1000, 0, 100'000));
  o.max_group_members = static_cast<std::size_t>(inv.integer("max_group_members", 10'000, 1, 1'000'000));
  o.page_size = static_cast<int>(inv.integer("page_size", 999, 1, 999));
  return o;
}

namespace {

// A directory object id as Graph writes it (a GUID): the only text put into a request path.
bool is_guid(std::string_view s) {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!std::isxdigit(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return true;
}

}  // namespace

struct InventoryReader::Impl {
  auth::SourceConnection conn;
  InventoryReadOptions opt;
  std::shared_ptr<http::TokenBucket> bucket;
  std::unique_ptr<GraphGetter> getter;
  std::size_t skipped = 0;

  // One GET through the shared helper (token, budget, pinned origin, retries); nullopt when stopping.
  std::optional<std::string> get(const std::string& url, std::stop_token stop) {
    try {
      auto res = getter->get(GraphTarget{conn.auth.cloud.graph, conn.auth.cloud.graph, bucket, true}, url, stop);
      if (!res) return std::nullopt;
      return std::move(res->body);
    } catch (const GraphGetError& e) {
      switch (e.kind()) {
        case GraphGetError::Kind::permanent: throw InventoryError(e.what());
        case GraphGetError::Kind::unusable: throw std::runtime_error("unusable page from " + redact_url(url) + ": " + e.what());
        case GraphGetError::Kind::exhausted: break;
      }
      throw std::runtime_error(e.what());
    }
  }

  // Every page of a collection, records appended to `out` until `max_records`; true when the
  // collection was cut at that bound. Nothing when stopping (returns false, stop requested).
  bool collect(std::string url, json& out, std::size_t max_records, std::stop_token stop) {
    PageLimits limits;
    limits.max_record_bytes = opt.max_record_bytes;
    std::unordered_set<std::string> seen;
    for (std::size_t pages = 0;; ++pages) {
      if (pages >= opt.max_pages)
        throw std::runtime_error("more than " + std::to_string(opt.max_pages) + " pages from " + redact_url(url) +
                                 " (inventory.max_pages)");
      if (!seen.insert(url).second) throw std::runtime_error("paging loop: " + redact_url(url) + " was already read");
      const auto body = get(url, stop);
      if (!body) return false;
      Page page;
      try {
        page = split_page(*body, limits);
      } catch (const PageError& e) {
        throw std::runtime_error("the page from " + redact_url(url) + " is not a Graph list: " + e.what());
      }
      for (const auto& r : page.records) {
        json j = r.error.empty() ? json::parse(r.text, nullptr, false) : json();
        if (!j.is_object()) {
          ++skipped;  // too deep, too large or not an object: never used
          continue;
        }
        if (out.size() >= max_records) return true;
        out.push_back(std::move(j));
      }
      if (!page.next_link) return false;
      url = *page.next_link;
    }
  }
};

InventoryReader::InventoryReader(auth::SourceConnection connection, InventoryReadOptions options)
    : impl_(std::make_unique<Impl>()) {
  impl_->conn = std::move(connection);
  impl_->opt = options;
  auto client = std::make_shared<http::Client>(impl_->conn.http);
  std::shared_ptr<auth::TokenProvider> tokens;
  try {
    tokens = auth::make_token_provider(impl_->conn.auth, client);
  } catch (const auth::AuthError& e) {
    throw InventoryError(e.what());
  }
  GraphGetOptions get_options;
  get_options.log_name = "inventory";
  impl_->getter = std::make_unique<GraphGetter>(std::move(client), std::move(tokens), std::move(get_options));
  const auto& a = impl_->conn.auth;
  // The same budget as the graph_pim source's roster and request streams of this identity.
  impl_->bucket = http::TokenBucketRegistry::instance().get({a.cloud.login, a.tenant_id, a.client_id, "graph_identity"},
                                                            http::RateLimit{300, std::chrono::seconds(10)});
}

InventoryReader::~InventoryReader() = default;

std::size_t InventoryReader::requests() const noexcept { return impl_->getter->requests(); }

json InventoryReader::read(std::stop_token stop) {
  Impl& m = *impl_;
  m.skipped = 0;
  const std::string root = m.conn.auth.cloud.graph + "/v1.0/roleManagement/directory/";
  constexpr std::size_t kMaxInstances = 1'000'000;
  json doc = {{"assignments", json::array()}, {"eligibilities", json::array()}, {"groups", json::object()}};
  m.collect(root + "roleAssignmentScheduleInstances?$expand=principal", doc["assignments"], kMaxInstances, stop);
  if (stop.stop_requested()) return nullptr;
  m.collect(root + "roleEligibilityScheduleInstances?$expand=principal", doc["eligibilities"], kMaxInstances, stop);
  if (stop.stop_requested()) return nullptr;
  // The groups that hold a role: their members hold it through them.
  std::vector<std::string> groups;
  for (const char* list : {"assignments", "eligibilities"})
    for (const auto& inst : doc[list]) {
      const auto p = inst.find("principal");
      if (p == inst.end() || !p->is_object() || p->value("@odata.type", "") != "#microsoft.graph.group") continue;
      const std::string id = inst.value("principalId", "");
      if (!is_guid(id)) {
        ++m.skipped;
        continue;
      }
      if (std::find(groups.begin(), groups.end(), id) == groups.end()) groups.push_back(id);
    }
  if (groups.size() > m.opt.max_groups)
    throw std::runtime_error(std::to_string(groups.size()) + " groups hold roles, more than inventory.max_groups (" +
                             std::to_string(m.opt.max_groups) + ")");
  for (const auto& id : groups) {
    json members = json::array();
    const bool truncated = m.collect(m.conn.auth.cloud.graph + "/v1.0/groups/" + id + "/transitiveMembers?$top=" +
                                         std::to_string(m.opt.page_size),
                                     members, m.opt.max_group_members, stop);
    if (stop.stop_requested()) return nullptr;
    if (truncated)
      spdlog::warn("inventory: group {} has more than {} members (inventory.max_group_members): the rest are not listed", id,
                   m.opt.max_group_members);
    doc["groups"][id] = {{"members", std::move(members)}, {"truncated", truncated}};
  }
  doc["skipped"] = m.skipped;
  return doc;
}

}  // namespace siem::sources
