#include "connector/sources/graph/graph_source_settings.h"

#include "connector/sources/graph/alert_streams.h"
#include "connector/sources/graph/security_alert_sources.h"

namespace siem::graph_sources {

using sources::Micros;
using sources::StreamSpec;
using sources::StreamType;

const char* type_name(SourceType t) {
  switch (t) {
    case SourceType::directory_audits: return "graph_directory_audits";
    case SourceType::sign_ins: return "graph_sign_ins";
    case SourceType::pim: return "graph_pim";
    case SourceType::activity: return "azure_activity";
    case SourceType::risk_detections: return "graph_risk_detections";
    case SourceType::pim_alerts: return "graph_pim_alerts";
    case SourceType::security_alerts: return "graph_security_alerts";
    case SourceType::defender_alerts: return "azure_defender_alerts";
  }
  return "?";
}

namespace {

using config::Type;

// Keys of every Graph/ARM pull source besides the connection (auth_config.cc).
const config::Section& pull_keys() {
  static const config::Section s{"graph_common", "sources[] of the Graph and ARM types", {&auth::source_connection_keys()}, {
      {"poll_interval", Type::duration, "60s", "*pinned.* time between polls once the source has caught up"},
      {"lookback", Type::duration, "30m", "*pinned.* how late a record may arrive after its event time; once caught up, polls re-read the part of the timeline where late records can still arrive, and duplicates are removed by id ([sources.md](sources.md#window-scheduling))"},
      {"safety_lag", Type::duration, "2m", "windows end this long before now (records still being written)"},
      {"max_window", Type::duration, "1h", "backfill chunk: the longest window read in one go"},
      {"initial_lookback", Type::duration, "1h", "first run without `start_at`: how far back to start"},
      {"retention", Type::duration, "30d (azure_activity 90d)", "how long the service keeps records: no window starts before now - retention"},
      {"start_at", Type::timestamp, "now - lookback", "*pinned.* first run only: where to start (backfill); ignored once a checkpoint exists"},
      {"dedupe_max", Type::integer, "200000", "record ids remembered per stream to remove duplicates of re-read windows"},
      {"requests_per_10s", Type::integer, "5", "request budget per 10 s (the Graph reports budget is shared per app and tenant)"},
      {"page_size", Type::integer, "1000", "records per page (`$top`), 1-1000"},
      {"max_record_bytes", Type::size, "1MiB", "a larger record goes to the dead-letter file (`record of N bytes exceeds max_record_bytes`) instead of the sinks"},
      {"max_pages_per_window", Type::integer, "10000", "a window whose server keeps offering pages beyond this fails"},
      {"window_warn_pages", Type::integer, "1000", "one warn line when a window has read more pages than this"},
      {"window_warn_after", Type::duration, "30m", "one warn line when a window has been read for longer than this"},
      {"roster_interval", Type::duration, "1h", "*pinned.* `graph_pim`: how often the role schedule snapshots (the roster) are read"},
  }};
  return s;
}

const config::Section& inventory_keys() {
  static const config::Section s{"graph_pim.inventory", "sources[] with type: graph_pim, inventory:", {}, {
      {"enabled", Type::boolean, "true", "`false` keeps the section but takes no scheduled inventory (the `inventory` command still works)"},
      {"interval", Type::duration, "24h", "time between inventories (at least `1m`); the first one at the first start, a restart waits for the rest of the interval"},
      {"page_size", Type::integer, "999", "`$top` of the `transitiveMembers` pages (1-999)"},
      {"max_pages", Type::integer, "1000", "pages of one collection (the schedule instances, or one group's members); beyond it the inventory fails and is retried like a failed window"},
      {"max_groups", Type::integer, "1000", "groups holding roles whose members are read; more fail the inventory"},
      {"max_group_members", Type::integer, "10000", "members read per group; the rest are left out (`groupMembersTruncated: true` on the group's roles, a warning)"},
  }};
  return s;
}

}  // namespace

const config::Section& type_keys(SourceType type) {
  static const config::Section directory_audits{"graph_directory_audits", "sources[] with type: graph_directory_audits", {&pull_keys()}, {}};
  static const config::Section sign_ins{"graph_sign_ins", "sources[] with type: graph_sign_ins", {&pull_keys()}, {
      {"event_types", Type::list, "[interactiveUser]", "*pinned.* any of `interactiveUser`, `nonInteractiveUser`, `servicePrincipal`, `managedIdentity`. The default reads Graph v1.0, which every cloud serves; the other types come from the beta endpoint (public cloud only) and non-interactive sign-ins are often tens of times the interactive volume, so they are read only when listed"},
  }};
  static const config::Section pim{"graph_pim", "sources[] with type: graph_pim", {&pull_keys()}, {
      {"roster", Type::boolean, "true", "*pinned.* also read the role schedule snapshots (the roster of who holds a role), every `roster_interval`"},
      {"roster_events", Type::boolean, "false", "*pinned.* also deliver the roster snapshots to the sinks (not only to the enrichment). Accepted with `roster: false`, where it has no effect"},
      {"inventory", Type::section, "not set", "take the privileged-identity inventory on a schedule, as the companion source `<name>.inventory` (docs/detections.md, \"Privileged-identity inventory\")", {}, &inventory_keys()},
  }};
  static const config::Section activity{"azure_activity", "sources[] with type: azure_activity", {&pull_keys()}, {
      {"subscriptions", Type::list, "required", "*pinned.* subscription ids"},
      {"pim_requests", Type::boolean, "true", "also read the ARM PIM role assignment schedule requests of each subscription"},
  }};
  static const config::Section risk{"graph_risk_detections", "sources[] with type: graph_risk_detections", {&pull_keys()}, {
      {"service_principals", Type::boolean, "true", "also read `servicePrincipalRiskDetections` (needs Workload ID Premium; set `false` without it: a 403 on it is an error line at each refusal, and `run --once` reads the user risk detections, then exits 2 naming it)"},
  }};
  static const config::Section pim_alerts{"graph_pim_alerts", "sources[] with type: graph_pim_alerts", {&pull_keys()}, {}};
  static const config::Section security_alerts{"graph_security_alerts", "sources[] with type: graph_security_alerts", {&pull_keys()}, {}};
  static const config::Section defender{"azure_defender_alerts", "sources[] with type: azure_defender_alerts", {&pull_keys()}, {
      {"subscriptions", Type::list, "required", "subscription ids whose Defender for Cloud alerts are read"},
  }};
  switch (type) {
    case SourceType::directory_audits: return directory_audits;
    case SourceType::sign_ins: return sign_ins;
    case SourceType::pim: return pim;
    case SourceType::activity: return activity;
    case SourceType::risk_detections: return risk;
    case SourceType::pim_alerts: return pim_alerts;
    case SourceType::security_alerts: return security_alerts;
    case SourceType::defender_alerts: return defender;
  }
  return directory_audits;
}

Settings read_settings(SourceType type, const ConfigNode& cfg) {
  Settings s;
  s.type = type;
  s.connection = auth::read_source_connection(cfg);
  auto ms_to_us = [](std::chrono::milliseconds d) { return static_cast<Micros>(d.count()) * 1000; };
  const bool alerts = type == SourceType::risk_detections || type == SourceType::pim_alerts;
  s.poll_interval = cfg.duration("poll_interval", alerts ? std::chrono::minutes(5) : s.poll_interval);
  // A risk detection's state changes after it is detected: the lookback re-reads a day of them.
  s.window.lookback = ms_to_us(cfg.duration("lookback", type == SourceType::risk_detections ? std::chrono::minutes(24 * 60)
                                                                                            : std::chrono::minutes(30)));
  s.window.safety_lag = ms_to_us(cfg.duration("safety_lag", std::chrono::minutes(2)));
  s.window.max_window = ms_to_us(cfg.duration("max_window", std::chrono::hours(1)));
  s.window.initial_lookback = ms_to_us(cfg.duration("initial_lookback", std::chrono::hours(1)));
  const bool ninety_days = type == SourceType::activity || type == SourceType::defender_alerts;
  s.window.retention = ms_to_us(cfg.duration("retention", ninety_days ? std::chrono::hours(24 * 90) : std::chrono::hours(24 * 30)));
  if (auto t = cfg.optional_timestamp("start_at")) s.start_at = *t * 1000;
  s.dedupe_max = static_cast<std::size_t>(cfg.integer("dedupe_max", 200'000, 1000, 10'000'000));
  s.reports_per_10s = static_cast<int>(cfg.integer("requests_per_10s", 5, 1, 1000));
  s.roster_interval = cfg.duration("roster_interval", s.roster_interval);
  int page_size = static_cast<int>(cfg.integer("page_size", 1000, 1, 1000));
  s.limits.max_pages = static_cast<std::size_t>(cfg.integer("max_pages_per_window", 10'000, 1, 10'000'000));
  s.limits.page.max_record_bytes = cfg.bytes("max_record_bytes", 1024 * 1024);
  if (s.limits.page.max_record_bytes < 1024) cfg.error_at("max_record_bytes", "max_record_bytes must be at least 1KiB");
  s.warn_pages = static_cast<std::size_t>(cfg.integer("window_warn_pages", 1000, 1, 10'000'000));
  s.warn_after = cfg.duration("window_warn_after", s.warn_after);
  const std::string cloud_name = s.connection.auth.cloud.name;
  const std::string& graph = s.connection.auth.cloud.graph;
  const std::string& arm = s.connection.auth.cloud.arm;
  auto add = [&](StreamSpec spec) {
    spec.page_size = page_size;
    s.streams.push_back(std::move(spec));
  };
  switch (type) {
    case SourceType::directory_audits: add(StreamSpec("directoryAudits", StreamType::directory_audits, graph)); break;
    case SourceType::sign_ins: {
      auto types = cfg.string_list("event_types");
      if (types.empty()) types = {"interactiveUser"};
      bool beta_ok = sources::cloud_has_beta_sign_ins(cloud_name);
      for (const auto& t : types) {
        if (t != "interactiveUser" && t != "nonInteractiveUser" && t != "servicePrincipal" && t != "managedIdentity") {
          cfg.error_at("event_types", "unknown sign-in event type '" + t +
                                          "' (expected interactiveUser, nonInteractiveUser, servicePrincipal, managedIdentity)");
          continue;
        }
        // Without beta (v1.0 serves interactive sign-ins only) interactiveUser is read through v1.0;
        // only the other types are errors.
        bool beta = !(types.size() == 1 && t == "interactiveUser") && !(t == "interactiveUser" && !beta_ok);
        if (beta && !beta_ok) {
          cfg.error_at("event_types", "cloud '" + cloud_name + "' serves interactive sign-ins only (v1.0); remove '" + t + "'");
          continue;
        }
        add(StreamSpec("signIns." + t, StreamType::sign_ins, graph, t, beta));
      }
      break;
    }
    case SourceType::pim:
      add(StreamSpec("roleAssignmentScheduleRequests", StreamType::pim_assignment_requests, graph));
      add(StreamSpec("roleEligibilityScheduleRequests", StreamType::pim_eligibility_requests, graph));
      // Both keys are read whatever `roster` says (roster_events has no effect without the roster),
      // so neither is reported as unknown.
      s.roster_events = cfg.boolean("roster_events", false);
      if (cfg.boolean("roster", true)) {
        add(StreamSpec("roster.assignments", StreamType::roster_assignments, graph));
        add(StreamSpec("roster.eligibilities", StreamType::roster_eligibilities, graph));
      }
      break;
    case SourceType::activity: {
      auto subs = cfg.string_list("subscriptions");
      if (subs.empty()) cfg.error_at("subscriptions", "azure_activity needs at least one subscription id");
      bool pim = cfg.boolean("pim_requests", true);
      for (const auto& sub : subs) {
        StreamSpec a(sub, StreamType::activity_log, arm);
        a.scope = "/subscriptions/" + sub;
        add(a);
        if (pim) {
          StreamSpec p("pim." + sub, StreamType::arm_pim_requests, arm);
          p.scope = "/subscriptions/" + sub;
          add(p);
        }
      }
      break;
    }
    case SourceType::risk_detections:
    case SourceType::pim_alerts:
      for (auto& spec : sources::alert_source_streams(type == SourceType::pim_alerts, cfg, cloud_name, graph)) add(std::move(spec));
      break;
    case SourceType::security_alerts:
    case SourceType::defender_alerts: sources::add_security_alert_streams(type == SourceType::defender_alerts, cfg, graph, arm, add); break;
  }
  return s;
}

}  // namespace siem::graph_sources
