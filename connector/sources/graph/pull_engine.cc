#include "connector/sources/graph/pull_engine.h"

#include "connector/sources/graph/alert_streams.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "connector/record/time_parse.h"
#include "connector/sources/graph/security_alert_streams.h"

namespace siem::sources {

using nlohmann::json;

// ------------------------------------------------------------------ time
// The project's one RFC 3339 reader, in microseconds: the filter times written below and the
// checkpoints read back stay exact to the microsecond. Graph and ARM times without a zone are UTC;
// nothing before 1970 is a record's time.
std::optional<Micros> parse_time(std::string_view s) {
  return parse_rfc3339_us(s, Rfc3339Rules{.zone_optional = true, .min_year = 1970});
}

std::string format_time(Micros t) {
  Micros secs = t >= 0 ? t / kSecond : (t - kSecond + 1) / kSecond;
  Micros frac = t - secs * kSecond;
  std::time_t tt = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  if (frac == 0) return std::string(buf) + "Z";
  char out[64];
  std::snprintf(out, sizeof out, "%s.%06lld0Z", buf, static_cast<long long>(frac));
  return out;
}

Micros to_micros(std::chrono::system_clock::time_point tp) {
  return std::chrono::duration_cast<std::chrono::microseconds>(tp.time_since_epoch()).count();
}

// ------------------------------------------------------------------ clouds
std::optional<CloudRoots> cloud_roots(std::string_view cloud) {
  if (cloud.empty() || cloud == "global" || cloud == "public" || cloud == "azure")
    return CloudRoots{"https://login.microsoftonline.com", "https://graph.microsoft.com", "https://management.azure.com"};
  if (cloud == "usgov" || cloud == "usgov_high" || cloud == "gcc_high")
    return CloudRoots{"https://login.microsoftonline.us", "https://graph.microsoft.us", "https://management.usgovcloudapi.net"};
  if (cloud == "usgov_dod" || cloud == "dod")
    return CloudRoots{"https://login.microsoftonline.us", "https://dod-graph.microsoft.us", "https://management.usgovcloudapi.net"};
  if (cloud == "china")
    return CloudRoots{"https://login.chinacloudapi.cn", "https://microsoftgraph.chinacloudapi.cn", "https://management.chinacloudapi.cn"};
  return std::nullopt;
}

bool cloud_has_beta_sign_ins(std::string_view cloud) {
  return cloud.empty() || cloud == "global" || cloud == "public" || cloud == "azure" || cloud == "custom";
}

// ------------------------------------------------------------------ URLs
std::string encode_query_value(std::string_view v) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char ch : v) {
    auto c = static_cast<unsigned char>(ch);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
        c == '~' || c == ':') {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

bool StreamSpec::windowed() const noexcept {
  return type == StreamType::directory_audits || type == StreamType::sign_ins || type == StreamType::activity_log ||
         type == StreamType::risk_detections || type == StreamType::sp_risk_detections ||
         type == StreamType::security_alerts;
}

bool StreamSpec::snapshot_dedupe() const noexcept {
  return type == StreamType::pim_alerts || type == StreamType::pim_assignment_requests ||
         type == StreamType::pim_eligibility_requests || type == StreamType::arm_pim_requests;
}

bool StreamSpec::arm() const noexcept {
  return type == StreamType::activity_log || type == StreamType::arm_pim_requests || type == StreamType::defender_alerts;
}

bool StreamSpec::properties_record() const noexcept {
  return type == StreamType::arm_pim_requests || type == StreamType::defender_alerts;
}

SourceKind StreamSpec::kind() const noexcept {
  switch (type) {
    case StreamType::directory_audits: return SourceKind::graph_directory_audit;
    case StreamType::sign_ins: return SourceKind::graph_sign_in;
    case StreamType::pim_assignment_requests:
    case StreamType::pim_eligibility_requests: return SourceKind::graph_pim_request;
    case StreamType::roster_assignments:
    case StreamType::roster_eligibilities: return SourceKind::graph_pim_instance;
    case StreamType::activity_log: return SourceKind::azure_activity;
    case StreamType::arm_pim_requests: return SourceKind::arm_pim_request;
    case StreamType::risk_detections:
    case StreamType::sp_risk_detections: return SourceKind::graph_risk_detection;
    case StreamType::pim_alerts: return SourceKind::graph_pim_alert;
    case StreamType::security_alerts:
    case StreamType::defender_alerts: return security_alert_stream_kind(type);
  }
  return SourceKind::unknown;
}

const char* StreamSpec::time_field() const noexcept {
  switch (type) {
    case StreamType::directory_audits: return "activityDateTime";
    case StreamType::activity_log: return "eventTimestamp";
    case StreamType::arm_pim_requests: return "createdOn";  // under properties
    case StreamType::roster_assignments:
    case StreamType::roster_eligibilities:
    case StreamType::pim_alerts: return "";
    case StreamType::risk_detections:
    case StreamType::sp_risk_detections: return "detectedDateTime";
    case StreamType::security_alerts:
    case StreamType::defender_alerts: return security_alert_time_field(type);
    default: return "createdDateTime";
  }
}

std::string StreamSpec::dedupe_key(const std::string& id, const std::string& time, const std::string& status) const {
  if (id.empty()) return {};
  switch (type) {
    case StreamType::roster_assignments:
    case StreamType::roster_eligibilities: return {};  // snapshots: every refresh is delivered
    case StreamType::sign_ins: return id + "|" + time;  // one sign-in can be split into rows sharing the id
    case StreamType::pim_assignment_requests:
    case StreamType::pim_eligibility_requests:
    case StreamType::arm_pim_requests: return id + "|" + status;  // a request moves through statuses
    case StreamType::security_alerts:
    case StreamType::defender_alerts: return security_alert_dedupe_key(type, id, time, status);
    default: return id;
  }
}

std::string build_url(const StreamSpec& spec, Micros start, Micros end) {
  std::string top = "$top=" + std::to_string(std::clamp(spec.page_size, 1, 1000));
  switch (spec.type) {
    case StreamType::directory_audits: {
      std::string filter = "activityDateTime ge " + format_time(start) + " and activityDateTime lt " + format_time(end);
      return spec.root + "/v1.0/auditLogs/directoryAudits?$filter=" + encode_query_value(filter) + "&" + top;
    }
    case StreamType::sign_ins: {
      // createdDateTime documents eq/le/ge only: ask `le end` and drop records at `end` ourselves.
      std::string filter = "createdDateTime ge " + format_time(start) + " and createdDateTime le " + format_time(end);
      if (spec.use_beta) {
        filter += " and signInEventTypes/any(t: t eq '" + spec.sign_in_event_type + "')";
        return spec.root + "/beta/auditLogs/signIns?$filter=" + encode_query_value(filter) + "&" + top;
      }
      return spec.root + "/v1.0/auditLogs/signIns?$filter=" + encode_query_value(filter) + "&" + top;
    }
    case StreamType::activity_log: {
      std::string filter = "eventTimestamp ge '" + format_time(start) + "' and eventTimestamp le '" + format_time(end) + "'";
      return spec.root + spec.scope + "/providers/Microsoft.Insights/eventtypes/management/values?api-version=2015-04-01&$filter=" +
             encode_query_value(filter);
    }
    case StreamType::arm_pim_requests:
      return spec.root + spec.scope + "/providers/Microsoft.Authorization/roleAssignmentScheduleRequests?api-version=2020-10-01";
    case StreamType::pim_assignment_requests:
      return spec.root + "/v1.0/roleManagement/directory/roleAssignmentScheduleRequests?" + top;
    case StreamType::pim_eligibility_requests:
      return spec.root + "/v1.0/roleManagement/directory/roleEligibilityScheduleRequests?" + top;
    case StreamType::roster_assignments:
      return spec.root + "/v1.0/roleManagement/directory/roleAssignmentScheduleInstances?" + top;
    case StreamType::roster_eligibilities:
      return spec.root + "/v1.0/roleManagement/directory/roleEligibilityScheduleInstances?" + top;
    case StreamType::risk_detections:
    case StreamType::sp_risk_detections:
    case StreamType::pim_alerts: return alert_stream_url(spec, start, end);
    case StreamType::security_alerts:
    case StreamType::defender_alerts: return security_alert_stream_url(spec, start, end);
  }
  return {};
}

// ------------------------------------------------------------------ windows
namespace {
// Whole seconds keep the filter text short and the boundaries exact.
Micros floor_second(Micros t) { return (t >= 0 ? t : t - kSecond + 1) / kSecond * kSecond; }
Micros ceil_second(Micros t) { return floor_second(t + kSecond - 1); }
}  // namespace

std::optional<Window> next_window(const StreamCheckpoint& cp, std::optional<Micros> start_at, Micros now,
                                  const WindowOptions& o) {
  const Micros limit = floor_second(now - o.safety_lag);
  const Micros floor = ceil_second(now - o.retention + 60 * kSecond);  // inside retention, a minute to spare
  Micros end_from;  // C: the checkpoint end (reading resumes there)
  Micros settled;   // S: nothing before it can still arrive; [S, C) may still get late records
  if (cp.end) {
    if (limit <= *cp.end) return std::nullopt;  // nothing new yet
    end_from = std::max(*cp.end, floor);
    settled = std::clamp(cp.settled.value_or(*cp.end - o.lookback), floor, end_from);
  } else {
    end_from = settled = std::max(start_at ? *start_at : limit - o.initial_lookback, floor);
  }
  if (end_from >= limit) return std::nullopt;
  Window w;
  w.end = std::min(limit, end_from + o.max_window);
  // Catching up (the chunk ends before now - lag): no re-read, the settled point waits. Reaching now:
  // re-read from the settled point, which then moves up to what can no longer change.
  w.start = w.end == limit ? settled : end_from;
  w.settled = w.start == settled ? std::max(settled, std::min(w.end, floor_second(now - o.lookback))) : settled;
  return w;
}

std::optional<std::string> clamp_future_checkpoint(StreamCheckpoint& cp, Micros now, const WindowOptions& o) {
  if (!cp.end || *cp.end <= now + o.future_tolerance) return std::nullopt;
  const Micros was = *cp.end;
  // Resume with the lookback before now - safety_lag, as a stream caught up now would: the first
  // window can start at once (run --once included), and late records of that span are read.
  const Micros resume = floor_second(now - o.safety_lag) - std::max(o.lookback, kSecond);
  cp.end = resume;
  cp.settled = std::min(cp.settled.value_or(was - o.lookback), resume);
  return "checkpoint end " + format_time(was) + " is " + std::to_string((was - now) / (60 * kSecond)) +
         " min after now (" + format_time(now) + "; tolerance " + std::to_string(o.future_tolerance / (60 * kSecond)) +
         " min): the clock went back or the state was edited. Clamped to now: the stream reads again from " +
         format_time(*cp.settled) + " (records from then on may be delivered again; records between the real last "
         "read and then are not re-read: set start_at and remove the state file to read them)";
}

std::optional<Micros> StallWatch::due(Micros now) noexcept {
  const Micros quiet = now - last_read_;
  if (warned_ || quiet <= threshold_) return std::nullopt;
  warned_ = true;
  return quiet;
}

Micros stall_threshold(Micros interval) { return std::max(3 * interval, 5 * 60 * kSecond); }

std::string stall_message(const StreamSpec& spec, const StreamCheckpoint& cp, Micros quiet, Micros threshold, Micros now,
                          const WindowOptions& o) {
  std::string out = "stream " + spec.name + " has read nothing for " + std::to_string(quiet / (60 * kSecond)) +
                    " min (warned after " + std::to_string(threshold / (60 * kSecond)) + " min without a page)";
  const Micros limit = floor_second(now - o.safety_lag);
  if (spec.windowed() && cp.end && *cp.end >= limit)
    out += ": its checkpoint end " + format_time(*cp.end) + " is not before now - safety_lag (" + format_time(limit) +
           "), the clock went back?";
  return out;
}

// ------------------------------------------------------------------ dedupe
bool DedupeWindow::insert(const std::string& key, Micros time) {
  if (!keys_.insert(key).second) return false;
  order_.emplace_back(key, time);
  while (order_.size() > max_) {
    keys_.erase(order_.front().first);
    order_.pop_front();
    ++evicted_;
  }
  return true;
}

void DedupeWindow::prune_before(Micros horizon) {
  std::deque<std::pair<std::string, Micros>> kept;
  for (auto& e : order_) {
    if (e.second >= horizon) kept.push_back(std::move(e));
    else keys_.erase(e.first);
  }
  order_.swap(kept);
}

void DedupeWindow::retain_only(const std::unordered_set<std::string>& keep) {
  std::deque<std::pair<std::string, Micros>> kept;
  for (auto& e : order_) {
    if (keep.count(e.first)) kept.push_back(std::move(e));
    else keys_.erase(e.first);
  }
  order_.swap(kept);
}

void DedupeWindow::clear() {
  keys_.clear();
  order_.clear();
}

// ------------------------------------------------------------------ checkpoints
std::string encode_checkpoint(const std::map<std::string, StreamCheckpoint>& streams) {
  json doc = {{"v", 1}, {"streams", json::object()}};
  for (const auto& [name, cp] : streams) {
    json s = json::object();
    if (cp.end) s["end"] = format_time(*cp.end);
    if (cp.settled) s["settled"] = format_time(*cp.settled);
    json seen = json::array();
    for (const auto& [key, t] : cp.seen) seen.push_back(json::array({key, t}));
    s["seen"] = std::move(seen);
    doc["streams"][name] = std::move(s);
  }
  return doc.dump();
}

std::map<std::string, StreamCheckpoint> decode_checkpoint(std::string_view text) {
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) throw std::invalid_argument("checkpoint is not a JSON object");
  if (doc.value("v", 0) != 1) throw std::invalid_argument("checkpoint version is not 1");
  if (!doc.contains("streams") || !doc["streams"].is_object()) throw std::invalid_argument("checkpoint has no 'streams' object");
  std::map<std::string, StreamCheckpoint> out;
  for (const auto& [name, s] : doc["streams"].items()) {
    StreamCheckpoint cp;
    if (s.contains("end")) {
      if (!s["end"].is_string()) throw std::invalid_argument("checkpoint stream '" + name + "': 'end' is not a string");
      cp.end = parse_time(s["end"].get<std::string>());
      if (!cp.end) throw std::invalid_argument("checkpoint stream '" + name + "': bad 'end' timestamp");
    }
    if (s.contains("settled")) {
      if (!s["settled"].is_string()) throw std::invalid_argument("checkpoint stream '" + name + "': 'settled' is not a string");
      cp.settled = parse_time(s["settled"].get<std::string>());
      if (!cp.settled) throw std::invalid_argument("checkpoint stream '" + name + "': bad 'settled' timestamp");
    }
    if (s.contains("seen")) {
      for (const auto& e : s["seen"]) {
        if (!e.is_array() || e.size() != 2 || !e[0].is_string() || !e[1].is_number_integer())
          throw std::invalid_argument("checkpoint stream '" + name + "': malformed 'seen' entry");
        cp.seen.emplace_back(e[0].get<std::string>(), e[1].get<Micros>());
      }
    }
    out.emplace(name, std::move(cp));
  }
  return out;
}

}  // namespace siem::sources
