#include "connector/app/inventory_source.h"

#include <spdlog/spdlog.h>

#include <condition_variable>
#include <mutex>

#include "connector/enrichment/enricher.h"
#include "connector/enrichment/inventory.h"
#include "connector/enrichment/roster.h"
#include "connector/record/json_access.h"
#include "connector/state/state_store.h"

namespace siem::app {

using Json = nlohmann::json;

namespace {

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

void sleep_for(std::chrono::milliseconds d, std::stop_token stop) {
  std::mutex m;
  std::condition_variable_any cv;
  std::unique_lock lock(m);
  cv.wait_for(lock, stop, d, [] { return false; });
}

class InventorySource final : public Source {
 public:
  InventorySource(InventorySettings s, StateStore* state) : s_(std::move(s)), state_(state) {}

  // After every other source caught up: the saved roster then knows the latest privileged sign-ins
  // (once their events are delivered and the state saved: a first run may not report them yet).
  // After every other source (the graph sources' orders are 0, 1 and the default 100, see
  // connector/sources/graph/graph_source.h): the inventory reports the last privileged sign-ins
  // the roster learned from them.
  static constexpr int kStartupOrderInventory = 200;
  int startup_order() const override { return kStartupOrderInventory; }

  void start(const std::optional<std::string>& checkpoint) override {
    if (checkpoint) {
      const Json cp = Json::parse(*checkpoint, nullptr, false);
      if (!cp.is_object() || cp.value("v", 0) != 1 || !cp.contains("last_run_ms") || !cp["last_run_ms"].is_number_integer() ||
          !cp.contains("previous") || !cp["previous"].is_object())
        throw SourceError("stored inventory checkpoint is unusable (delete the state file to start a new inventory)");
      last_run_ms_ = cp["last_run_ms"].get<std::int64_t>();
      previous_ = cp["previous"];
    }
    try {
      reader_ = std::make_unique<sources::InventoryReader>(s_.connection, s_.read);
    } catch (const sources::InventoryError& e) {
      throw SourceError(e.what());
    }
    spdlog::info("source {}.inventory: every {} s{}", s_.source_name, s_.interval.count() / 1000,
                 last_run_ms_ ? "; previous inventory restored" : "; no previous inventory (the first one reports no changes)");
  }

  SourceBatch poll(std::stop_token stop) override {
    SourceBatch batch;
    const std::int64_t now = wall_ms();
    const std::int64_t due = last_run_ms_ == 0 ? now : last_run_ms_ + s_.interval.count();
    if (now < due) {
      // Caught up; `run --once` stops here. A continuous run waits (at most a minute per poll).
      if (idle_) sleep_for(std::chrono::milliseconds(std::min<std::int64_t>(due - now, 60'000)), stop);
      idle_ = true;
      batch.caught_up = true;
      return batch;
    }
    idle_ = false;
    std::optional<std::vector<Json>> records;
    try {
      const auto roster = saved_roster(state_);
      records = take_inventory(*reader_, s_, roster.get(), now, stop);
    } catch (const sources::InventoryError& e) {
      throw SourceError(std::string("inventory: ") + e.what());
    }
    if (!records) return batch;  // stopping
    auto changes = inventory_changes(previous_, *records, now);
    Json summary = inventory_summary(*records, now);
    spdlog::info("source {}.inventory: {} privileged principal(s), {} change(s) since the previous inventory", s_.source_name,
                 records->size(), changes.size());
    for (auto* list : {&*records, &changes})
      for (const auto& r : *list) {
        RawRecord raw;
        raw.json = r.dump();
        raw.origin = s_.source_name + ".inventory (" + r.value("recordType", "") + " " + r.value("id", "") + ")";
        raw.kind_hint = SourceKind::privileged_inventory;
        raw.tenant_hint = s_.connection.auth.tenant_id;
        batch.records.push_back(std::move(raw));
      }
    last_run_ms_ = now;
    batch.checkpoint = Json{{"v", 1}, {"last_run_ms", now}, {"previous", summary}}.dump();
    previous_ = std::move(summary);
    return batch;
  }

 private:
  InventorySettings s_;
  StateStore* state_;
  std::unique_ptr<sources::InventoryReader> reader_;
  std::int64_t last_run_ms_ = 0;
  Json previous_ = Json::object();
  bool idle_ = false;
};

}  // namespace

std::optional<InventorySettings> read_inventory_section(const ConfigNode& source, const std::string& source_name,
                                                        bool any) {
  const ConfigNode inv = source.child("inventory");
  InventorySettings s;
  s.source_name = source_name;
  bool enabled = inv.valid();
  if (inv.valid()) {
    enabled = inv.boolean("enabled", true);
    s.interval = inv.duration("interval", s.interval);
    if (s.interval < std::chrono::minutes(1)) inv.error_at("interval", "inventory.interval must be at least 1m");
    s.read = sources::read_inventory_read_options(inv);
  }
  if (!enabled && !any) return std::nullopt;
  return s;
}

void complete_inventory_settings(InventorySettings& s, const ConfigNode& source, const ConfigNode& enrichment) {
  s.connection = auth::read_source_connection(source);
  s.roles = std::make_shared<const RoleTable>(load_role_table(enrichment));
  if (enrichment.valid())
    for (const auto& b : enrichment.string_list("break_glass_accounts")) s.break_glass.insert(siem::json::to_lower(b));
}

std::optional<std::vector<Json>> take_inventory(sources::InventoryReader& reader, const InventorySettings& s,
                                                const Roster* roster, std::int64_t now_ms, std::stop_token stop) {
  const Json graph = reader.read(stop);
  if (graph.is_null()) return std::nullopt;
  InventoryContext ctx;
  ctx.roles = s.roles.get();
  ctx.break_glass = s.break_glass;
  ctx.roster = roster;
  ctx.tenant = s.connection.auth.tenant_id;
  ctx.now_ms = now_ms;
  std::size_t skipped = 0;
  auto records = build_inventory(graph, ctx, &skipped);
  skipped += graph.value("skipped", std::size_t{0});
  if (skipped > 0)
    spdlog::warn("inventory of {}: {} malformed Graph record(s) skipped (no principal or role id, a bad time, too deep or "
                 "too large)",
                 s.source_name, skipped);
  return records;
}

std::unique_ptr<Roster> saved_roster(StateStore* state) {
  if (!state) return nullptr;
  try {
    const auto text = state->get("roster");
    if (!text) return nullptr;
    auto r = std::make_unique<Roster>();
    r->deserialize(*text);
    return r;
  } catch (const std::exception& e) {
    spdlog::warn("inventory: the saved roster is unreadable ({}): last privileged sign-ins are not reported", e.what());
    return nullptr;
  }
}

std::unique_ptr<Source> make_inventory_source(InventorySettings settings, StateStore* state) {
  return std::make_unique<InventorySource>(std::move(settings), state);
}

}  // namespace siem::app
