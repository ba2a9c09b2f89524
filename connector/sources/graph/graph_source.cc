#include "connector/sources/graph/graph_source.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "connector/auth/token_provider.h"
#include "connector/http/token_bucket.h"
#include "connector/record/record_attributes.h"
#include "connector/sources/graph/graph_get.h"
#include "connector/sources/graph/graph_source_settings.h"

namespace siem {

namespace {

using sources::Micros;
using sources::StreamPoller;
using sources::StreamSpec;
using sources::StreamType;
using graph_sources::Settings;
using graph_sources::SourceType;
using graph_sources::type_name;

// Identity-and-access reports budget window: Graph's 10 s plus 500 ms of margin (see start()).
constexpr std::chrono::milliseconds kReportsWindow{10'500};

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
    streams_.clear();  // a start() retried after a failure (no token yet) begins afresh
    completed_.clear();
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
      progress_.add_stream(spec.name);
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

  SourceProgress* progress() override { return &progress_; }
  void set_run_once() override { once_ = true; }

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
    // Under `run --once`, a stream the service refused is done with: once every other stream is, the
    // run ends with the refusals (the pipeline logs them, the exit status says a source failed)
    // after the others' records and checkpoints were handed over.
    if (!streams_.empty() && std::all_of(streams_.begin(), streams_.end(), [this](const StreamState& st) {
          return !st.url && (st.fresh || (once_ && st.refusals > 0));
        })) {
      if (once_) throw_if_refused();
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
    const std::size_t first = cursor_;
    for (std::size_t n = 0; n < streams_.size(); ++n) {
      StreamState& st = streams_[(first + n) % streams_.size()];
      if (!st.url) {
        if (now_steady < st.next_due) continue;
        const auto interval = interval_of(st);
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
      cursor_ = (first + n) % streams_.size();
      const PageOutcome outcome = read_page(st, batch, stop);
      if (outcome == PageOutcome::refused) continue;  // parked on its own backoff, the next stream's turn
      batch.read_failed = outcome == PageOutcome::failed;  // not a read: the source is not ready by it
      idle_last_poll_ = false;
      log_refusals();
      return batch;
    }
    // No stream read a page. While the source has read nothing at all (no stream completed a
    // window) and a stream is refused, this poll is no success: the refusal goes to the pipeline
    // (the source is not ready, the pipeline backs off). Once some stream reads, a refused one no
    // longer holds the others back: it waits on its own backoff and is logged once per refusal.
    if (std::none_of(streams_.begin(), streams_.end(), [](const StreamState& st) { return st.completed; })) {
      const auto refused = std::find_if(streams_.begin(), streams_.end(), [](const StreamState& st) { return st.refusals > 0; });
      if (refused != streams_.end()) {
        refused->refusal_unlogged = false;  // the pipeline logs this one
        log_refusals();                     // and the source the others refused since the last log
        throw SourceError(refusal_line(*refused));
      }
    }
    log_refusals();
    if (once_) throw_if_refused();
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
    int refusals = 0;        // permanent refusals in a row (refuse_stream)
    std::string last_refusal;  // the last of them, reported again by an idle poll
    bool completed = false;  // has completed a window since the source started
    bool refusal_unlogged = false;  // refused since the last poll that logged (log_refusals)
    std::chrono::milliseconds refused_delay{0};  // the wait before it is asked again
  };

  // After this many consecutive abandoned windows the failure is reported to the pipeline, which
  // backs off (continuous run, up to PipelineOptions::source_retry_max, 10 minutes) or ends the source (`run --once`).
  static constexpr int kMaxFailedWindows = 3;
  // The longest a refused stream waits before it is asked again (refuse_stream).
  static constexpr std::chrono::hours kMaxRefusedDelay{1};

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

  std::chrono::steady_clock::duration interval_of(const StreamState& st) const {
    return is_roster(st.poller.spec()) ? s_.roster_interval : s_.poll_interval;
  }

  // The next poll starts with the stream after the one just read: a stream that keeps failing
  // never keeps the others from their turns.
  void pass_turn() { cursor_ = (cursor_ + 1) % streams_.size(); }

  // "stream X: <the service's answer> (refused N time(s) in a row; not asked again for S s)": the
  // stream's own wait; the next poll may come later (the other streams' turns, the pipeline's backoff).
  std::string refusal_line(const StreamState& st) const {
    return fmt::format("stream {}: {} (refused {} time(s) in a row; not asked again for {} s)", st.poller.spec().name,
                       st.last_refusal, st.refusals,
                       std::chrono::duration_cast<std::chrono::seconds>(st.refused_delay).count());
  }

  // One error line per refusal, that is once per step of the stream's own backoff, with the count
  // (`run --once`: a warn line, the run's end names every refused stream in one error line).
  void log_refusals() {
    for (auto& st : streams_)
      if (st.refusal_unlogged) {
        st.refusal_unlogged = false;
        spdlog::log(once_ ? spdlog::level::warn : spdlog::level::err, "source {}: {}", name_, refusal_line(st));
      }
  }

  // `run --once`: the streams refused in this run, named with the service's answer (HTTP status
  // and error), end the source as failed.
  void throw_if_refused() {
    std::string refused;
    for (const auto& st : streams_)
      if (st.refusals > 0)  // reset when the stream completes a window: refused since its last one
        refused += (refused.empty() ? "" : "; ") + ("stream " + st.poller.spec().name + ": " + st.last_refusal);
    if (refused.empty()) return;
    for (auto& st : streams_) st.refusal_unlogged = false;
    throw SourceError("refused by the service, not read (the other streams were read): " + refused);
  }

  // The service refused this stream's URL for good (a permission or licence missing, a subscription
  // the app may not read: a 4xx answer): the stream's window is read again from its start once it
  // is due again, after its interval doubled for each refusal in a row (at most kMaxRefusedDelay),
  // and the other streams go on meanwhile, in the same poll. The refusal is logged by the poll
  // (log_refusals), or goes to the pipeline while the source has read nothing at all.
  void refuse_stream(StreamState& st, const sources::GraphGetError& e) {
    const std::string why = e.what();
    st.poller.restart_window();
    st.url.reset();
    const std::chrono::milliseconds interval = std::chrono::duration_cast<std::chrono::milliseconds>(interval_of(st));
    const std::chrono::milliseconds doubled = interval * (std::int64_t{1} << std::min(st.refusals, 16));
    const std::chrono::milliseconds delay = std::max(interval, std::min(doubled, std::chrono::milliseconds(kMaxRefusedDelay)));
    st.refusals = std::min(st.refusals + 1, 16);
    st.last_refusal = why;
    st.refused_delay = delay;
    st.refusal_unlogged = true;
    st.next_due = std::chrono::steady_clock::now() + delay;
    progress_.set_refused(st.poller.spec().name, static_cast<std::uint32_t>(st.refusals), why,
                          "HTTP " + std::to_string(e.status()) + (e.code().empty() ? "" : " " + e.code()));
    pass_turn();
  }

  // The window in progress cannot be completed now: it is read again from its start (after the
  // other streams' turns), and after kMaxFailedWindows in a row the failure goes to the pipeline.
  void fail_window(StreamState& st, const std::string& why) {
    const std::string& stream = st.poller.spec().name;
    st.poller.restart_window();
    st.url.reset();
    st.next_due = std::chrono::steady_clock::now();
    pass_turn();
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

  // What read_page did: read a page; the service refused the stream (parked); or no page was read
  // (the window failed and is read again, or the source is stopping).
  enum class PageOutcome { read, refused, failed };

  // Reads the stream's next page into `batch`.
  PageOutcome read_page(StreamState& st, SourceBatch& batch, std::stop_token stop) {
    const StreamSpec& spec = st.poller.spec();
    const std::string url = *st.url;
    std::optional<http::Response> res;
    try {
      res = getter_->get(target(spec), url, stop);
    } catch (const sources::GraphGetError& e) {
      if (e.kind() == sources::GraphGetError::Kind::permanent) {
        if (e.status() != 0 && e.status() != 401 && e.status() != 407) {
          refuse_stream(st, e);
          return PageOutcome::refused;
        }
        // No token (a wrong secret or certificate), a TLS or connection failure: no stream of the
        // source can be read, none is parked; the pipeline backs off and the page is asked again.
        throw SourceError(e.what());
      }
      fail_window(st, e.what());  // retries exhausted, or a URL/page the window cannot go on with
      return PageOutcome::failed;
    } catch (const std::exception& e) {
      fail_window(st, e.what());
      return PageOutcome::failed;
    }
    if (!res) return PageOutcome::failed;  // stopping
    StreamPoller::PageResult page;
    try {
      page = st.poller.on_page(url, res->body, s_.connection.auth.tenant_id);
    } catch (const sources::WindowError& e) {
      fail_window(st, e.what());
      return PageOutcome::failed;
    }
    st.stall.on_read(sources::to_micros(std::chrono::system_clock::now()));
    progress_.pages.fetch_add(1, std::memory_order_relaxed);
    warn_if_long(st);
    batch.records = std::move(page.records);
    if (is_roster(spec) && !s_.roster_events)
      for (auto& r : batch.records) r.attributes.set(attr::state_only, 1);  // feeds the enrichment roster only
    if (page.next_url) {
      st.url = page.next_url;
      return PageOutcome::read;
    }
    st.url.reset();
    st.failed_windows = 0;  // a completed window ends a run of failed ones
    // Not only after this source's own refusals: one carried over a reload (SourceProgress::carry_over) too.
    progress_.set_reading(spec.name);
    st.refusals = 0;
    st.completed = true;
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
    return PageOutcome::read;
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
  bool once_ = false;  // run --once
  SourceProgress progress_;
};

void add_type(PluginRegistry& r, SourceType type, std::string description) {
  r.add_source(type_name(type), std::move(description), [type](const ConfigNode& cfg, const PluginContext& ctx) -> std::unique_ptr<Source> {
    return std::make_unique<PullSource>(ctx.name, graph_sources::read_settings(type, cfg));
  }, &graph_sources::type_keys(type));
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
