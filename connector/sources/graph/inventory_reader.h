// Reads what the privileged-identity inventory is built from (connector/enrichment/inventory.h):
// every role assignment and eligibility schedule instance of the directory with its principal
// expanded, and the transitive members of every group that holds a role (role-assignable groups).
// Every request goes through the tenant's shared Graph throttling budget, retries 429/5xx with
// Retry-After, follows nextLinks only within the configured Graph root, and is bounded in pages,
// groups and members.
#pragma once

#include <cstddef>
#include <memory>
#include <stdexcept>
#include <stop_token>
#include <string>

#include <nlohmann/json.hpp>

#include "connector/auth/auth_config.h"
#include "connector/config/config_node.h"

namespace siem::sources {

struct InventoryReadOptions {
  int page_size = 999;                      // $top of the transitiveMembers pages (Graph: at most 999)
  std::size_t max_pages = 1000;             // pages of one collection (instances, or one group's members)
  std::size_t max_groups = 1000;            // groups expanded per inventory
  std::size_t max_group_members = 10'000;   // members read per group; beyond: the group is marked truncated
  std::size_t max_record_bytes = 1024 * 1024;
};

// The `inventory:` keys of a graph_pim source that concern reading (the rest: the schedule).
InventoryReadOptions read_inventory_read_options(const ConfigNode& inventory);

// A failure retrying will not fix (credentials, permissions, a 4xx): the message names it.
class InventoryError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class InventoryReader {
 public:
  InventoryReader(auth::SourceConnection connection, InventoryReadOptions options);
  ~InventoryReader();
  InventoryReader(const InventoryReader&) = delete;
  InventoryReader& operator=(const InventoryReader&) = delete;

  // {"assignments": [...], "eligibilities": [...], "groups": {"<id>": {"members": [...], "truncated": b}},
  //  "skipped": n}. Throws InventoryError (permanent) or std::runtime_error (retries exhausted, a
  // page that is not a Graph list, a paging loop, a bound exceeded); returns null when `stop` was
  // requested.
  nlohmann::json read(std::stop_token stop);

  // Requests sent (tests).
  std::size_t requests() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace siem::sources
