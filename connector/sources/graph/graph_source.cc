#include "connector/sources/graph/graph_source.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "connector/auth/auth_config.h"
#include "connector/auth/token_provider.h"
#include "connector/http/token_bucket.h"
#include "connector/record/record_attributes.h"
#include "connector/sources/graph/alert_streams.h"
#include "connector/sources/graph/graph_get.h"
#include "connector/sources/graph/security_alert_sources.h"
#include "connector/sources/graph/pull_engine.h"

namespace siem {

namespace {

using sources::Micros;
using sources::StreamPoller;
using sources::StreamSpec;
using sources::StreamType;

enum class SourceType { directory_audits, sign_ins, pim, activity, risk_detections, pim_alerts, security_alerts, defender_alerts };

// Identity-and-access reports budget window: Graph's 10 s plus 500 ms of margin (see start()).
constexpr std::chrono::milliseconds kReportsWindow{10'500};

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

struct Settings {
  SourceType type = SourceType::directory_audits;
  auth::SourceConnection connection;
  sources::WindowOptions window;
  std::optional<Micros> start_at;
  std::chrono::milliseconds poll_interval{60'000};
  std::chrono::milliseconds roster_interval{3'600'000};
  bool roster_events = false;  // also deliver each roster snapshot to the sinks
  std::vector<StreamSpec> streams;
  std::size_t dedupe_max = 200'000;
  int reports_per_10s = 5;
  sources::PagingLimits limits;                       // max_pages_per_window, max_record_bytes
  std::size_t warn_pages = 1000;                      // window_warn_pages
  std::chrono::milliseconds warn_after{30 * 60'000};  // window_warn_after
};

class PullSource final : public Source {
 public:
  PullSource(std::string name, Settings s) : name_(std::move(name)), s_(std::move(s)) {}

  // PIM requests and role roster snapshots are the roster; role assignments in the directory audits
  // (the only trace of one made outside PIM) and Azure role assignments and ARM PIM requests in the
  // Activity Log teach it too. Sign-ins are what they inform.
  // The start-up orders are documented in graph_source.h.
  int startup_order() const override {
    switch (s_.type) {
      case SourceType::pim: return kStartupOrderRoster;
      case SourceType::directory_audits:
      case SourceType::activity: return kStartupOrderRoleEvents;
      case SourceType::sign_ins:
      case SourceType::risk_detections:
      case SourceType::pim_alerts:
      case SourceType::security_alerts:
      case SourceType::defender_alerts: break;
    }
    return kDefaultStartupOrder;
  }

  // Each stream's kind; the roster snapshots only when they are delivered (roster_events).
  std::vector<SourceKind> delivered_kinds() const override {
    std::vector<SourceKind> kinds;
    for (const auto& spec : s_.streams) {
      if (is_roster(spec) && !s_.roster_events) continue;
      if (std::find(kinds.begin(), kinds.end(), spec.kind()) == kinds.end()) kinds.push_back(spec.kind());
    }
    return kinds;
  }

  void start(const std::optional<std::string>& checkpoint) override {
    std::map<std::string, sources::StreamCheckpoint> saved;
    if (checkpoint) {
      try {
        saved = sources::decode_checkpoint(*checkpoint);
      } catch (const std::exception& e) {
        throw SourceError(std::string("stored checkpoint is unusable: ") + e.what() +
                          " (delete the state file to restart from start_at)");
      }
    }
    for (const auto& spec : s_.streams) {
      StreamState st{StreamPoller(spec, s_.window, s_.dedupe_max, s_.limits)};
      st.poller.set_log_name("source " + name_ + ": stream " + spec.name);
      const auto interval = is_roster(spec) ? s_.roster_interval : s_.poll_interval;
      st.stall = sources::StallWatch(sources::stall_threshold(static_cast<Micros>(interval.count()) * 1000),
                                     sources::to_micros(std::chrono::system_clock::now()));
      auto it = saved.find(spec.name);
      st.poller.restore(it == saved.end() ? std::nullopt : std::optional(it->second), s_.start_at);
      if (it != saved.end()) completed_[spec.name] = it->second;
      streams_.push_back(std::move(st));
    }
    note_checkpoint(saved);
    auto client = std::make_shared<http::Client>(s_.connection.http);
    try {
      tokens_ = auth::make_token_provider(s_.connection.auth, client);
    } catch (const auth::AuthError& e) {
      throw SourceError(e.what());
    }
    sources::GraphGetOptions get_options;
    get_options.log_name = "source " + name_;
    getter_ = std::make_unique<sources::GraphGetter>(client, tokens_, std::move(get_options), &progress_);
    const auto& a = s_.connection.auth;
    // Graph counts requests as they arrive; the limiter counts them as they leave. A 10 s window
    // plus a margin for connection set-up and network jitter keeps every server-side 10 s window
    // within the budget.
    reports_bucket_ = http::TokenBucketRegistry::instance().get({a.cloud.login, a.tenant_id, a.client_id, "graph_reports"},
                                                                http::RateLimit{s_.reports_per_10s, kReportsWindow});
    arm_bucket_ = http::TokenBucketRegistry::instance().get({a.cloud.login, a.tenant_id, a.client_id, "arm"},
                                                            http::RateLimit{100, std::chrono::seconds(10)});
    graph_bucket_ = http::TokenBucketRegistry::instance().get({a.cloud.login, a.tenant_id, a.client_id, "graph_identity"},
                                                              http::RateLimit{300, std::chrono::seconds(10)});
    // Graph's security detections and incidents service: 150 requests per minute per app and tenant.
    security_bucket_ = http::TokenBucketRegistry::instance().get({a.cloud.login, a.tenant_id, a.client_id, "graph_security"},
                                                                 http::RateLimit{25, std::chrono::seconds(10)});
    spdlog::info("source {} ({}): {} stream(s), tenant {}, {}", name_, type_name(s_.type), streams_.size(), a.tenant_id,
                 tokens_->describe());
  }

  const SourceProgress* progress() const override { return &progress_; }

  void on_committed(const std::string& checkpoint) override {
    try {
      note_checkpoint(sources::decode_checkpoint(checkpoint));
    } catch (const std::exception&) {
      // Our own token: cannot happen; the metric just keeps its last value.
    }
  }

  SourceBatch poll(std::stop_token stop) override {
    SourceBatch batch;
    // Every stream has read up to "now" (as of its window's start) since the last report: say so.
    // `run --once` ends here even when reading takes longer than poll_interval (a tight rate
    // limit, a slow tenant), where "no stream is due" would never happen.
    if (!streams_.empty() && std::all_of(streams_.begin(), streams_.end(), [](const StreamState& st) { return st.fresh && !st.url; })) {
      for (auto& st : streams_) st.fresh = false;
      batch.caught_up = true;
      return batch;
    }
    if (idle_last_poll_) {
      sources::sleep_for(s_.poll_interval, stop);
      if (stop.stop_requested()) return batch;
    }
    warn_stalled_streams();
    // Round-robin: continue a window in progress, else start the next due window.
    const auto now_steady = std::chrono::steady_clock::now();
    for (std::size_t n = 0; n < streams_.size(); ++n) {
      StreamState& st = streams_[(cursor_ + n) % streams_.size()];
      if (!st.url) {
        if (now_steady < st.next_due) continue;
        const auto interval = is_roster(st.poller.spec()) ? s_.roster_interval : s_.poll_interval;
        const Micros now_us = sources::to_micros(std::chrono::system_clock::now());
        st.url = st.poller.begin(now_us);
        st.began_at = now_us;
        st.began_steady = now_steady;
        st.warned = false;
        st.next_due = now_steady + interval;
        if (!st.url) continue;
        if (st.poller.spec().windowed())
          spdlog::debug("source {}: stream {} window [{}, {})", name_, st.poller.spec().name,
                        sources::format_time(st.poller.window().start), sources::format_time(st.poller.window().end));
      }
      cursor_ = (cursor_ + n) % streams_.size();
      read_page(st, batch, stop);
      idle_last_poll_ = false;
      return batch;
    }
    idle_last_poll_ = true;
    batch.caught_up = true;
    return batch;
  }

 private:
  struct StreamState {
    explicit StreamState(StreamPoller p) : poller(std::move(p)) {}
    StreamPoller poller;
    sources::StallWatch stall{0, 0};  // set in start()
    std::optional<std::string> url;  // next page of the window in progress
    std::chrono::steady_clock::time_point next_due{};
    Micros began_at = 0;  // wall clock when the window in progress was started
    std::chrono::steady_clock::time_point began_steady{};
    bool warned = false;  // the window in progress has been reported as long
    bool fresh = false;   // completed a window up to its start time since the last caught_up report
    int failed_windows = 0;  // windows abandoned (retries exhausted, refused URL, loop) since one completed
  };

  // After this many consecutive abandoned windows the failure is reported to the pipeline, which
  // backs off (continuous run, up to pipeline.source_retry_max) or ends the source (`run --once`).
  static constexpr int kMaxFailedWindows = 3;

  // The lag metric: the oldest committed window end of the windowed streams.
  void note_checkpoint(const std::map<std::string, sources::StreamCheckpoint>& cp) {
    std::optional<Micros> oldest;
    for (const auto& [name, c] : cp)
      if (c.end && (!oldest || *c.end < *oldest)) oldest = c.end;
    if (oldest) progress_.checkpoint_end.store(*oldest / sources::kSecond, std::memory_order_relaxed);
  }

  static bool is_roster(const StreamSpec& s) {
    return s.type == StreamType::roster_assignments || s.type == StreamType::roster_eligibilities;
  }

  // A stream that has read no page for three of its polls (at least 5 min) says so, once per
  // quiet spell, with the likely cause when it is waiting for the clock to reach its checkpoint.
  void warn_stalled_streams() {
    const Micros now = sources::to_micros(std::chrono::system_clock::now());
    for (auto& st : streams_)
      if (const auto quiet = st.stall.due(now))
        spdlog::warn("source {}: {}", name_,
                     sources::stall_message(st.poller.spec(), st.poller.completed(), *quiet, st.stall.threshold(), now, s_.window));
  }

  // Every page of a roster snapshot has been read: its last record (or a marker record, when the
  // last page was empty) tells the enrichment, which then ends the holds the snapshot no longer
  // lists. The marker is state only: it is never delivered.
  void mark_snapshot_end(SourceBatch& batch, const StreamSpec& spec, Micros read_at) const {
    if (batch.records.empty()) {
      RawRecord marker;
      marker.json = "{}";
      marker.origin = spec.name + " (end of snapshot)";
      marker.kind_hint = SourceKind::graph_pim_instance;
      marker.tenant_hint = s_.connection.auth.tenant_id;  // the snapshot is of this tenant's roles
      marker.attributes.set(attr::state_only, 1);
      batch.records.push_back(std::move(marker));
    }
    auto& last = batch.records.back();
    last.attributes.set(attr::snapshot_end, spec.type == StreamType::roster_assignments ? attr::snapshot_assignments
                                                                                         : attr::snapshot_eligibilities);
    last.attributes.set(attr::snapshot_read_ms, read_at / 1000);
  }

  // The window in progress cannot be completed now: it is read again from its start, and after
  // kMaxFailedWindows in a row the failure goes to the pipeline.
  void fail_window(StreamState& st, const std::string& why) {
    const std::string& stream = st.poller.spec().name;
    st.poller.restart_window();
    st.url.reset();
    st.next_due = std::chrono::steady_clock::now();
    progress_.windows_failed.fetch_add(1, std::memory_order_relaxed);
    if (++st.failed_windows >= kMaxFailedWindows) {
      st.failed_windows = 0;
      throw std::runtime_error("stream " + stream + ": " + why + " (" + std::to_string(kMaxFailedWindows) + " windows in a row)");
    }
    spdlog::warn("source {}: stream {}: {}; the window will be read again from its start", name_, stream, why);
  }

  // One warn line per window that takes longer than window_warn_pages pages or window_warn_after.
  void warn_if_long(StreamState& st) {
    const auto elapsed = std::chrono::steady_clock::now() - st.began_steady;
    if (st.warned || (st.poller.pages() <= s_.warn_pages && elapsed <= s_.warn_after)) return;
    st.warned = true;
    spdlog::warn("source {}: stream {}: the window [{}, {}) has taken {} pages and {} s so far (window_warn_pages {}, "
                 "window_warn_after {} s; the window fails at max_pages_per_window {})",
                 name_, st.poller.spec().name, sources::format_time(st.poller.window().start),
                 sources::format_time(st.poller.window().end), st.poller.pages(),
                 std::chrono::duration_cast<std::chrono::seconds>(elapsed).count(), s_.warn_pages,
                 std::chrono::duration_cast<std::chrono::seconds>(s_.warn_after).count(), s_.limits.max_pages);
  }

  void read_page(StreamState& st, SourceBatch& batch, std::stop_token stop) {
    const StreamSpec& spec = st.poller.spec();
    const std::string url = *st.url;
    std::optional<http::Response> res;
    try {
      res = getter_->get(target(spec), url, stop);
    } catch (const sources::GraphGetError& e) {
      if (e.kind() == sources::GraphGetError::Kind::permanent) throw SourceError(e.what());
      fail_window(st, e.what());  // retries exhausted, or a URL/page the window cannot go on with
      return;
    } catch (const std::exception& e) {
      fail_window(st, e.what());
      return;
    }
    if (!res) return;  // stopping
    StreamPoller::PageResult page;
    try {
      page = st.poller.on_page(url, res->body, s_.connection.auth.tenant_id);
    } catch (const sources::WindowError& e) {
      fail_window(st, e.what());
      return;
    }
    st.stall.on_read(sources::to_micros(std::chrono::system_clock::now()));
    progress_.pages.fetch_add(1, std::memory_order_relaxed);
    warn_if_long(st);
    batch.records = std::move(page.records);
    if (is_roster(spec) && !s_.roster_events)
      for (auto& r : batch.records) r.attributes.set(attr::state_only, 1);  // feeds the enrichment roster only
    if (page.next_url) {
      st.url = page.next_url;
      return;
    }
    st.url.reset();
    st.failed_windows = 0;  // a completed window ends a run of failed ones
    progress_.last_window_ok.store(sources::to_micros(std::chrono::system_clock::now()) / sources::kSecond,
                                   std::memory_order_relaxed);
    if (is_roster(spec)) mark_snapshot_end(batch, spec, st.began_at);
    completed_[spec.name] = st.poller.completed();
    batch.checkpoint = sources::encode_checkpoint(completed_);
    // A window cut short by max_window (backfill, or a first run reading initial_lookback) is
    // followed at once by the next one; a window that reached now - safety_lag (as of its start)
    // means the stream is caught up until the next poll_interval.
    const Micros reachable = (st.began_at - s_.window.safety_lag) / sources::kSecond * sources::kSecond;
    if (!spec.windowed() || st.poller.window().end >= reachable) {
      st.fresh = true;
    } else {
      st.next_due = std::chrono::steady_clock::now();
      spdlog::info("source {}: stream {} backfilled up to {} ({} s to go)", name_, spec.name,
                   sources::format_time(st.poller.window().end), (reachable - st.poller.window().end) / sources::kSecond);
    }
  }

  // The target of a stream's GETs: its resource, configured root and rate budget.
  sources::GraphTarget target(const StreamSpec& spec) const {
    const auto& cloud = s_.connection.auth.cloud;
    const auto& bucket = spec.arm() ? arm_bucket_
                         : (spec.type == StreamType::directory_audits || spec.type == StreamType::sign_ins) ? reports_bucket_
                         : spec.type == StreamType::security_alerts                                         ? security_bucket_
                                                                                                           : graph_bucket_;
    return sources::GraphTarget{spec.arm() ? cloud.arm : cloud.graph, spec.root, bucket, !spec.arm()};
  }

  std::string name_;
  Settings s_;
  std::vector<StreamState> streams_;
  std::map<std::string, sources::StreamCheckpoint> completed_;
  std::shared_ptr<auth::TokenProvider> tokens_;
  std::unique_ptr<sources::GraphGetter> getter_;
  std::shared_ptr<http::TokenBucket> reports_bucket_, arm_bucket_, graph_bucket_, security_bucket_;
  std::size_t cursor_ = 0;
  bool idle_last_poll_ = false;
  SourceProgress progress_;
};

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
      {"service_principals", Type::boolean, "true", "also read `servicePrincipalRiskDetections` (needs Workload ID Premium; set `false` without it, since a 403 stops the source)"},
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
        bool beta = !(types.size() == 1 && t == "interactiveUser");
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

void add_type(PluginRegistry& r, SourceType type, std::string description) {
  r.add_source(type_name(type), std::move(description), [type](const ConfigNode& cfg, const PluginContext& ctx) -> std::unique_ptr<Source> {
    return std::make_unique<PullSource>(ctx.name, read_settings(type, cfg));
  }, &type_keys(type));
}

}  // namespace

void register_graph_sources(PluginRegistry& r) {
  add_type(r, SourceType::directory_audits, "Microsoft Graph directory audit logs (pull)");
  add_type(r, SourceType::sign_ins, "Microsoft Graph sign-in logs, one stream per event type (pull)");
  add_type(r, SourceType::pim, "Entra PIM schedule requests and role roster snapshots via Microsoft Graph (pull)");
  add_type(r, SourceType::activity, "Azure Activity Log and ARM PIM requests per subscription (pull)");
  add_type(r, SourceType::risk_detections, "Entra ID Protection risk detections of users and service principals via Microsoft Graph (pull)");
  add_type(r, SourceType::pim_alerts, "Entra PIM alerts of directory roles with their incidents via Microsoft Graph (pull, state)");
  add_type(r, SourceType::security_alerts, "Microsoft Graph security alerts (alerts_v2: Defender XDR, Cloud Apps, Identity, ID Protection) (pull)");
  add_type(r, SourceType::defender_alerts, "Microsoft Defender for Cloud alerts per subscription via ARM (pull)");
}

}  // namespace siem
