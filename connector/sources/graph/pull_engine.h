// The I/O-free core of the Graph / ARM pull sources: cloud roots, query URL building, poll-window
// arithmetic, the bounded de-duplication window and checkpoint encoding (pull_engine.cc), and a
// per-stream state machine that turns pages into records and emits a checkpoint only at the end of
// a window (StreamPoller, stream_poller.cc).
//
// Correctness rules (docs/sources.md):
//  * windows are scheduled by next_window() (docs/sources.md, "Window scheduling"): a chunk ends at
//    min(checkpoint_end + max_window, now - safety_lag); it starts at the checkpoint end while
//    catching up, and at the settled point (before which no late record can still arrive) when it
//    reaches now - safety_lag, so the lookback is re-read only where late records are possible;
//    servers that only offer `le` get `le end` and records at or after `end` are dropped here;
//  * nextLink is followed as given, but only within the stream's configured origin (the HTTP client
//    checks Request::pin), never twice in one window and for at most max_pages pages; a failure
//    mid-window restarts the window from its start;
//  * records are de-duplicated by key (id; sign-ins id+createdDateTime; activity eventDataId;
//    PIM requests id+status) against a window that is persisted with the checkpoint and pruned by
//    time (a record older than the settled point can never be read again) and by size;
//  * the checkpoint is the window END (never "newest timestamp seen"), the settled point and the
//    dedupe window; an end more than future_tolerance after now is logged and clamped to now.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "connector/core/event.h"
#include "connector/sources/graph/page_reader.h"

namespace siem::sources {

using Micros = std::int64_t;  // epoch microseconds, UTC

std::optional<Micros> parse_time(std::string_view iso8601);
// "2024-01-01T00:00:00Z", or with 7 fractional digits when the value is not whole seconds.
std::string format_time(Micros t);
Micros to_micros(std::chrono::system_clock::time_point tp);
constexpr Micros kSecond = 1'000'000;

// ------------------------------------------------------------------ clouds
struct CloudRoots {
  std::string login;  // token authority
  std::string graph;  // Microsoft Graph root
  std::string arm;    // Azure Resource Manager root
};
// "global" (default), "usgov", "usgov_dod", "china"; nullopt for unknown names ("custom" uses endpoints).
std::optional<CloudRoots> cloud_roots(std::string_view cloud);
// Whether the cloud serves Graph beta sign-in event types (sovereign clouds: interactive v1.0 only).
bool cloud_has_beta_sign_ins(std::string_view cloud);

// ------------------------------------------------------------------ URLs
// Percent-encodes a query value (RFC 3986 unreserved kept; space -> %20; `$` in names kept).
std::string encode_query_value(std::string_view v);

enum class StreamType { directory_audits, sign_ins, pim_assignment_requests, pim_eligibility_requests,
                        activity_log, arm_pim_requests, roster_assignments, roster_eligibilities,
                        // Identity Protection and PIM alerts (alert_streams.h)
                        risk_detections, sp_risk_detections, pim_alerts,
                        // security alerts (security_alert_streams.cc)
                        security_alerts, defender_alerts };

struct StreamSpec {
  StreamSpec() = default;
  StreamSpec(std::string name_, StreamType type_, std::string root_, std::string event_type = {}, bool beta = false)
      : name(std::move(name_)), type(type_), root(std::move(root_)), sign_in_event_type(std::move(event_type)), use_beta(beta) {}

  std::string name;        // checkpoint key inside the source ("directoryAudits", "signIns.nonInteractiveUser", subscription id...)
  StreamType type = StreamType::directory_audits;
  std::string root;        // Graph or ARM root URL (no trailing slash)
  std::string sign_in_event_type;  // sign_ins: interactiveUser, nonInteractiveUser, servicePrincipal, managedIdentity
  bool use_beta = false;   // sign_ins: beta + signInEventTypes filter
  std::string scope;       // activity_log / arm_pim_requests / defender_alerts: "/subscriptions/{id}"
  int page_size = 1000;    // $top (1..1000)

  bool windowed() const noexcept;        // time-filtered report (audits, sign-ins, activity)
  bool arm() const noexcept;             // needs an ARM token
  // State read whole every poll whose dedupe window keeps only the keys of the last complete
  // snapshot, whatever their age (PIM alerts, PIM requests: Graph and ARM list requests older than
  // the retention): an unchanged record is never delivered again, however long it lasts.
  bool snapshot_dedupe() const noexcept;
  bool properties_record() const noexcept;  // ARM resource: time and status under `properties`
  SourceKind kind() const noexcept;
  const char* time_field() const noexcept;  // record field holding the event time
  // Dedupe key of a parsed record; empty when the record has no id.
  std::string dedupe_key(const std::string& id, const std::string& time, const std::string& status) const;
};

// First-page URL for a window [start, end) (windowed streams) or the collection (others).
std::string build_url(const StreamSpec& spec, Micros start, Micros end);

// ------------------------------------------------------------------ windows
struct WindowOptions {
  Micros lookback = 30 * 60 * kSecond;     // a record becomes visible at most this long after its event time
  Micros safety_lag = 2 * 60 * kSecond;    // never read closer than this to now
  Micros max_window = 60 * 60 * kSecond;   // each window moves the checkpoint end by at most this
  Micros retention = 30LL * 86400 * kSecond;  // the service keeps this much (audits/sign-ins P1/P2: 30 d)
  Micros initial_lookback = 60 * 60 * kSecond;  // first run without start_at
  Micros future_tolerance = 10 * 60 * kSecond;  // a checkpoint end later than now + this is clamped to now
};

struct Window {
  Micros start = 0;
  Micros end = 0;
  Micros settled = 0;  // the stream's settled point once this window is complete (see next_window)
};

struct StreamCheckpoint;

// The next window to read, or nullopt when nothing new can be read yet (now - lag <= checkpoint end).
// With C = checkpoint end, S = settled point (every record with an event time before S was read at a
// moment when no late record before S could still arrive; C - lookback for checkpoints without it),
// L = now - safety_lag and F = now - retention + 1 min (all whole seconds):
//   end   = min(L, C + max_window)                    progress >= min(max_window, L - C) > 0
//   start = S when end == L (the window reaches now), else C (catching up: no re-read)
//   settled after it = max(S, min(end, now - lookback)) when start == S, else S
// A first run starts at start_at (or L - initial_lookback) with S = that start; everything is
// clamped to F. Hence: no gap ([S, C) is re-read before S moves past it), every record whose
// arrival delay is within lookback is read (its last re-read happens after event time + lookback),
// and a backfill reads each record at most twice (its chunk, then the one re-read at the end).
std::optional<Window> next_window(const StreamCheckpoint& checkpoint, std::optional<Micros> start_at, Micros now,
                                  const WindowOptions& options);

// A checkpoint end later than now + future_tolerance (a clock that went back, an edited state
// file) would stop the stream until the clock got there: it is clamped to now, that is to where a
// stream caught up now resumes, now - safety_lag - lookback (whole seconds), as is the settled
// point when it was later. Returns a description when it clamped (the caller logs it at error
// level), nullopt otherwise.
std::optional<std::string> clamp_future_checkpoint(StreamCheckpoint& checkpoint, Micros now, const WindowOptions& options);

// Says when a stream has read nothing (no page) for longer than `threshold`: once per quiet spell.
class StallWatch {
 public:
  StallWatch(Micros threshold, Micros now) : threshold_(threshold), last_read_(now) {}
  void on_read(Micros now) noexcept {
    last_read_ = now;
    warned_ = false;
  }
  // The quiet time when it first exceeds the threshold (then nullopt until the next read).
  std::optional<Micros> due(Micros now) noexcept;
  Micros threshold() const noexcept { return threshold_; }

 private:
  Micros threshold_;
  Micros last_read_;
  bool warned_ = false;
};
// The stall threshold of a stream polled every `interval`: three polls, at least five minutes.
Micros stall_threshold(Micros interval);
// The warn line of a stall ("stream X has read nothing for ..."), with the likely cause when the
// stream waits for the clock to pass its checkpoint end.
std::string stall_message(const StreamSpec& spec, const StreamCheckpoint& checkpoint, Micros quiet, Micros threshold,
                          Micros now, const WindowOptions& options);

// ------------------------------------------------------------------ dedupe window
class DedupeWindow {
 public:
  explicit DedupeWindow(std::size_t max_entries = 200'000) : max_(max_entries) {}
  // True when the key was not seen before (and records it).
  bool insert(const std::string& key, Micros time);
  bool contains(const std::string& key) const { return keys_.count(key) != 0; }
  // Forgets every entry whose key is not in `keep`.
  void retain_only(const std::unordered_set<std::string>& keep);
  // Forgets entries older than `horizon` (they can never be read again).
  void prune_before(Micros horizon);
  std::size_t size() const noexcept { return keys_.size(); }
  // Entries forgotten because the window was full (not because they aged out).
  std::size_t evicted() const noexcept { return evicted_; }
  const std::deque<std::pair<std::string, Micros>>& entries() const noexcept { return order_; }
  void clear();

 private:
  std::size_t max_;
  std::size_t evicted_ = 0;
  std::unordered_set<std::string> keys_;
  std::deque<std::pair<std::string, Micros>> order_;  // insertion order
};

// ------------------------------------------------------------------ checkpoints
struct StreamCheckpoint {
  std::optional<Micros> end;                           // last completed window end (windowed streams)
  std::vector<std::pair<std::string, Micros>> seen;    // dedupe window
  std::optional<Micros> settled;                       // settled point (next_window); absent: end - lookback
};
// {"v":1,"streams":{"<name>":{"end":"...","settled":"...","seen":[["key",micros],...]}}}
std::string encode_checkpoint(const std::map<std::string, StreamCheckpoint>& streams);
// Throws std::invalid_argument naming what is wrong.
std::map<std::string, StreamCheckpoint> decode_checkpoint(std::string_view text);

// ------------------------------------------------------------------ per-stream state machine
// A window that cannot be completed as the server answers it: a paging loop (a nextLink repeating
// a URL of the same window), more pages than the cap, a page that is not a list. The caller fails
// the window (it is read again from its start) and counts it like a window whose retries ran out.
class WindowError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct PagingLimits {
  PageLimits page;                 // depth and record size inside a page
  std::size_t max_pages = 10'000;  // pages in one window (max_pages_per_window)
};

class StreamPoller {
 public:
  StreamPoller(StreamSpec spec, WindowOptions options, std::size_t dedupe_max = 200'000, PagingLimits limits = {});
  // Names the stream in log lines ("source X: stream Y").
  void set_log_name(std::string name) { log_name_ = std::move(name); }

  // Restores from a committed checkpoint (or starts fresh: start_at, else now - initial_lookback).
  void restore(const std::optional<StreamCheckpoint>& checkpoint, std::optional<Micros> start_at);

  // Starts the next window; returns the first URL, or nullopt when nothing new can be read yet.
  // Clamps a checkpoint from the future first (error line, see clamp_future_checkpoint).
  std::optional<std::string> begin(Micros now);
  bool in_window() const noexcept { return in_window_; }
  const Window& window() const noexcept { return window_; }

  struct PageResult {
    std::vector<RawRecord> records;        // new records (after window and dedupe filtering)
    std::optional<std::string> next_url;   // nextLink to follow; nullopt when the window is complete
    std::size_t duplicates = 0;            // records skipped as already delivered
    std::size_t outside = 0;               // records outside [start, end) dropped
  };
  // Consumes one page body. Records nested deeper than the limit or larger than the record cap
  // come back with `read_error` set (the pipeline dead-letters them); the others keep their text
  // from the page. Throws WindowError when the body is not a Graph/ARM list, when the nextLink
  // repeats a URL already read in this window, or when the window would exceed max_pages.
  PageResult on_page(const std::string& url, std::string_view body, const std::string& tenant);
  std::size_t pages() const noexcept { return pages_; }  // pages read in the current window

  // Abandons the current window (a page failed after retries): it is read again from its start.
  // Records already returned stay in the dedupe window and are not delivered twice.
  void restart_window();

  // The checkpoint of the last COMPLETED window (what to persist with the window's last batch).
  const StreamCheckpoint& completed() const noexcept { return completed_; }
  const StreamSpec& spec() const noexcept { return spec_; }

 private:
  StreamSpec spec_;
  WindowOptions options_;
  DedupeWindow seen_;
  StreamCheckpoint completed_;
  std::optional<Micros> start_at_;
  std::string log_name_;
  std::size_t evicted_reported_ = 0;
  Window window_{};
  bool in_window_ = false;
  PagingLimits limits_;
  std::size_t pages_ = 0;
  std::unordered_set<std::string> urls_;  // every URL read in the current window (loop detection)
  std::unordered_set<std::string> snapshot_keys_;  // snapshot_dedupe(): every key read in the current window
};

}  // namespace siem::sources
