// The per-stream state machine of the pull engine (pull_engine.h): a window begins, pages turn into
// records (filtered to the window, de-duplicated, oldest first), and the checkpoint moves to the
// window end only when its last page is read.
#include <algorithm>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "connector/sources/graph/alert_streams.h"
#include "connector/sources/graph/pull_engine.h"
#include "connector/sources/graph/security_alert_streams.h"

namespace siem::sources {

using nlohmann::json;

StreamPoller::StreamPoller(StreamSpec spec, WindowOptions options, std::size_t dedupe_max, PagingLimits limits)
    : spec_(std::move(spec)), options_(options), seen_(dedupe_max), limits_(limits) {}

void StreamPoller::restore(const std::optional<StreamCheckpoint>& checkpoint, std::optional<Micros> start_at) {
  seen_.clear();
  completed_ = checkpoint.value_or(StreamCheckpoint{});
  for (const auto& [key, t] : completed_.seen) seen_.insert(key, t);
  start_at_ = start_at;
  in_window_ = false;
}

std::optional<std::string> StreamPoller::begin(Micros now) {
  if (spec_.windowed()) {
    if (auto clamped = clamp_future_checkpoint(completed_, now, options_))
      spdlog::error("{}: {}", log_name_.empty() ? "stream " + spec_.name : log_name_, *clamped);
    auto w = next_window(completed_, start_at_, now, options_);
    if (!w) return std::nullopt;
    window_ = *w;
  } else {
    window_ = Window{now - options_.retention, now};  // whole collection; time only prunes the dedupe window
  }
  in_window_ = true;
  std::string url = build_url(spec_, window_.start, window_.end);
  pages_ = 0;
  urls_ = {url};
  snapshot_keys_.clear();
  return url;
}

void StreamPoller::restart_window() { in_window_ = false; }

namespace {

// The record text with "@odata.type" added first (no re-serialisation of the rest).
std::string with_odata_type(std::string_view record, std::string_view type) {
  const auto open = record.find('{');
  const auto next = record.find_first_not_of(" \t\r\n", open + 1);
  const bool empty = next == std::string_view::npos || record[next] == '}';
  std::string out;
  out.reserve(record.size() + type.size() + 20);
  out.append(record.substr(0, open + 1));
  out.append("\"@odata.type\":\"").append(type).append(empty ? "\"" : "\",");
  out.append(record.substr(open + 1));
  return out;
}

}  // namespace

StreamPoller::PageResult StreamPoller::on_page(const std::string& url, std::string_view body, const std::string& tenant) {
  const std::string where = url.substr(0, url.find('?'));
  Page page;
  try {
    page = split_page(body, limits_.page);
  } catch (const PageError& e) {
    throw WindowError("response from " + where + " is not a list: " + e.what());
  }
  ++pages_;
  // A loop or a runaway window is refused before any record of the page counts as delivered.
  if (page.next_link) {
    if (pages_ >= limits_.max_pages)
      throw WindowError("the window has read " + std::to_string(pages_) + " pages and the server offers more (max_pages_per_window " +
                        std::to_string(limits_.max_pages) + ")");
    if (urls_.count(*page.next_link))
      throw WindowError("the nextLink of page " + std::to_string(pages_) + " repeats a URL already read in this window (a paging loop)");
  }
  PageResult result;
  std::vector<Micros> times;  // event time per returned record, for the oldest-first order below
  std::size_t index = 0;
  for (const auto& slice : page.records) {
    ++index;
    auto make_raw = [&](std::string text) {
      RawRecord raw;
      raw.json = std::move(text);
      raw.origin = where + "#" + std::to_string(index);
      raw.kind_hint = spec_.kind();
      raw.tenant_hint = tenant;
      return raw;
    };
    if (!slice.error.empty()) {  // never parsed: the pipeline dead-letters it with the reason
      RawRecord raw = make_raw(std::string(slice.text));
      raw.read_error = slice.error;
      result.records.push_back(std::move(raw));
      times.push_back(window_.end);
      continue;
    }
    const json rec = json::parse(slice.text, nullptr, false);
    if (rec.is_discarded()) {
      RawRecord raw = make_raw(std::string(slice.text));
      raw.read_error = "record is not valid JSON";
      result.records.push_back(std::move(raw));
      times.push_back(window_.end);
      continue;
    }
    if (!rec.is_object()) continue;
    const json* timed = &rec;
    if (spec_.properties_record() && rec.contains("properties") && rec["properties"].is_object())
      timed = &rec["properties"];
    std::string time_text;
    const char* tf = spec_.time_field();
    if (*tf && timed->contains(tf) && (*timed)[tf].is_string()) time_text = (*timed)[tf].get<std::string>();
    auto t = parse_time(time_text);
    Micros when = t.value_or(window_.end);
    if (spec_.windowed() && t && (*t < window_.start || *t >= window_.end)) {
      ++result.outside;  // half-open window enforced here for `le`-only servers
      continue;
    }
    // A state stream's dedupe keys are forgotten once older than the retention: a record that old
    // would come back as new, so it is not read at all.
    if (security_state_horizon(spec_.type) && t && *t < window_.start) {
      ++result.outside;
      continue;
    }
    std::string id;
    if (spec_.type == StreamType::activity_log) {
      if (rec.contains("eventDataId") && rec["eventDataId"].is_string()) id = rec["eventDataId"].get<std::string>();
    }
    if (id.empty() && rec.contains("id") && rec["id"].is_string()) id = rec["id"].get<std::string>();
    std::string status;
    if (rec.contains("status") && rec["status"].is_string()) status = rec["status"].get<std::string>();
    else if (timed->contains("status") && (*timed)["status"].is_string()) status = (*timed)["status"].get<std::string>();
    std::string key = is_alert_stream(spec_.type) ? alert_stream_key(spec_.type, rec, id) : spec_.dedupe_key(id, time_text, status);
    if (spec_.snapshot_dedupe() && !key.empty()) snapshot_keys_.insert(key);
    if (!key.empty() && !seen_.insert(key, when)) {
      ++result.duplicates;
      continue;
    }
    // List items carry no type annotation, and an eligibility request looks like an assignment
    // request field for field: name the entity type as Graph does on a single-entity read, so
    // enrichment records eligibility (may activate), not an active role.
    const bool add_type = spec_.type == StreamType::pim_eligibility_requests && !rec.contains("@odata.type");
    RawRecord raw = make_raw(add_type ? with_odata_type(slice.text, "#microsoft.graph.unifiedRoleEligibilityScheduleRequest")
                                      : std::string(slice.text));
    result.records.push_back(std::move(raw));
    times.push_back(when);
  }
  // Graph and ARM list newest first; hand a page over oldest first (stable for equal times) so
  // stateful enrichment (new account then role grant, activation then use) sees events in the
  // order they happened, at least within a page.
  if (*spec_.time_field() && !std::is_sorted(times.begin(), times.end())) {
    std::vector<std::size_t> order(times.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return times[a] < times[b]; });
    std::vector<RawRecord> sorted;
    sorted.reserve(order.size());
    for (std::size_t i : order) sorted.push_back(std::move(result.records[i]));
    result.records = std::move(sorted);
  }
  if (page.next_link && !page.next_link->empty()) {
    urls_.insert(*page.next_link);
    result.next_url = std::move(page.next_link);
    return result;
  }
  // Window complete: the checkpoint moves to the window end, with the dedupe window pruned to what
  // the next window can still return.
  in_window_ = false;
  // A state snapshot: keys of records no longer listed (or listed changed) can never match again;
  // a key still listed is kept however old its record (it is listed again on the next poll).
  if (spec_.snapshot_dedupe()) seen_.retain_only(snapshot_keys_);
  // Every later window starts at or after the settled point: older keys can never match again.
  else seen_.prune_before(spec_.windowed() ? window_.settled : window_.end - options_.retention);
  if (seen_.evicted() > evicted_reported_) {
    spdlog::warn("{}: the dedupe window is full ({} keys, dedupe_max): {} key(s) were forgotten before they aged "
                 "out, so records the lookback re-reads may be delivered twice; raise dedupe_max",
                 log_name_.empty() ? "stream " + spec_.name : log_name_, seen_.size(), seen_.evicted() - evicted_reported_);
    evicted_reported_ = seen_.evicted();
  }
  completed_.end = window_.end;
  if (spec_.windowed()) completed_.settled = window_.settled;
  completed_.seen.assign(seen_.entries().begin(), seen_.entries().end());
  return result;
}

}  // namespace siem::sources
