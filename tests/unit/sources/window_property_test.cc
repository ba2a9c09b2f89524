// Property test of the pull-window scheduler: the real StreamPoller (next_window, build_url,
// on_page, checkpoint encoding) against a simulated Graph / ARM server, with a simulated clock.
//
// The server holds records with an event time and a visibility time (late arrivals: visible up to
// `max_delay` after their event time), answers the `$filter` that build_url() writes (checking the
// stream's own time field and operators), pages newest first with live offsets (a record that
// arrives between two pages shifts the later pages, as offset paging does) and forgets records
// older than its retention. The connector's clock is the server's plus a skew that steps forward
// and back; the true time also jumps (suspend), the process restarts from its last checkpoint
// (mid-window too), and pages fail (the window is read again).
//
// Properties, for random lookback, max_window, safety_lag, poll_interval, retention, page size,
// start_at, clock steps and restarts, for directory audits, sign-ins and the Activity Log:
//  * no gap, every record read: each record still within retention at the end is delivered, as long
//    as arrival delay + clock skew ahead stays within the lookback (the documented assumption);
//  * duplicates only where documented: records of a window in progress at a restart, and records
//    inside the lookback of a checkpoint from the future that was clamped;
//  * bounded work: a backfill makes at most ceil(span / max_window) + 2 window requests (plus
//    paging), and returns each record at most twice.
// Seeds: SIEM_PROPERTY_SEED (default fixed) and SIEM_PROPERTY_RUNS; the seed is printed on failure.
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>
#include <set>
#include <sstream>

#include "connector/sources/graph/pull_engine.h"

namespace siem::sources {
namespace {

using nlohmann::json;
constexpr Micros kMin = 60 * kSecond;
constexpr Micros kHour = 60 * kMin;

struct SimRecord {
  std::string id;
  Micros event = 0;
  Micros visible = 0;
  std::string body;  // the JSON the server returns
};

std::string percent_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// The time range a first-page URL asks for, parsed from its $filter as a server would.
struct Query {
  Micros from = 0;
  Micros to = 0;
  bool to_inclusive = false;
};

class SimServer {
 public:
  SimServer(StreamSpec spec, Micros retention, int page_size)
      : spec_(std::move(spec)), retention_(retention), page_size_(page_size) {}

  void add(SimRecord r) { records_.push_back(std::move(r)); }
  const std::vector<SimRecord>& records() const { return records_; }
  std::size_t requests() const { return requests_; }
  std::size_t windows() const { return windows_; }
  // Per record: the windows (first-page requests) that returned it.
  const std::map<std::string, std::set<std::size_t>>& returned() const { return returned_; }
  void reset_counts() {
    requests_ = windows_ = 0;
    returned_.clear();
  }

  // The page body for `url` at true time `now`.
  std::string serve(const std::string& url, Micros now) {
    ++requests_;
    std::size_t offset = 0;
    std::size_t qid = 0;
    if (url.rfind("sim://next/", 0) == 0) {
      std::istringstream in(url.substr(11));
      char sep = 0;
      in >> qid >> sep >> offset;
    } else {
      queries_.push_back(parse(url));
      qid = queries_.size() - 1;
      ++windows_;
    }
    const Query q = queries_.at(qid);
    std::vector<const SimRecord*> match;
    for (const auto& r : records_)
      if (r.visible <= now && r.event >= now - retention_ && r.event >= q.from &&
          (q.to_inclusive ? r.event <= q.to : r.event < q.to))
        match.push_back(&r);
    std::stable_sort(match.begin(), match.end(),
                     [](const SimRecord* a, const SimRecord* b) { return a->event > b->event; });
    json page = {{"value", json::array()}};
    for (std::size_t i = offset; i < match.size() && i < offset + static_cast<std::size_t>(page_size_); ++i) {
      page["value"].push_back(json::parse(match[i]->body));
      returned_[match[i]->id].insert(qid);
    }
    if (offset + static_cast<std::size_t>(page_size_) < match.size()) {
      page[spec_.arm() ? "nextLink" : "@odata.nextLink"] =
          "sim://next/" + std::to_string(qid) + "/" +
          std::to_string(offset + static_cast<std::size_t>(page_size_));
    }
    return page.dump();
  }

 private:
  // Checks the URL is the stream's own query and reads its time range.
  Query parse(const std::string& url) {
    const std::string path =
        spec_.type == StreamType::activity_log
            ? spec_.root + spec_.scope + "/providers/Microsoft.Insights/eventtypes/management/values?"
        : spec_.type == StreamType::sign_ins ? spec_.root + "/beta/auditLogs/signIns?"
                                             : spec_.root + "/v1.0/auditLogs/directoryAudits?";
    if (url.rfind(path, 0) != 0) throw std::runtime_error("unexpected URL " + url);
    const auto f = url.find("$filter=");
    if (f == std::string::npos) throw std::runtime_error("no $filter in " + url);
    const std::string filter = percent_decode(url.substr(f + 8, url.find('&', f) - f - 8));
    const bool quoted = spec_.type == StreamType::activity_log;
    static const std::regex term_re(R"((\w+) (ge|lt|le) ('?)([0-9T:.Z-]+)('?))");
    Query q;
    int terms = 0;
    std::size_t pos = 0;
    for (;;) {
      const auto next = filter.find(" and ", pos);
      const std::string term = filter.substr(pos, next == std::string::npos ? std::string::npos : next - pos);
      std::smatch m;
      if (std::regex_match(term, m, term_re)) {
        if (m[1] != spec_.time_field()) throw std::runtime_error("filter on " + m[1].str() + " in " + filter);
        if ((m[3].length() == 1) != quoted || m[3] != m[5]) throw std::runtime_error("quoting of " + term);
        const Micros t = parse_time(m[4].str()).value();
        if (m[2] == "ge")
          q.from = t;
        else
          q.to = t, q.to_inclusive = m[2] == "le";
        ++terms;
      } else if (term != "signInEventTypes/any(t: t eq '" + spec_.sign_in_event_type + "')") {
        throw std::runtime_error("unexpected filter term '" + term + "' in " + filter);
      }
      if (next == std::string::npos) break;
      pos = next + 5;
    }
    if (terms != 2) throw std::runtime_error("filter without a time range: " + filter);
    return q;
  }

  StreamSpec spec_;
  Micros retention_;
  int page_size_;
  std::vector<SimRecord> records_;
  std::vector<Query> queries_;
  std::size_t requests_ = 0, windows_ = 0;
  std::map<std::string, std::set<std::size_t>> returned_;
};

struct Scenario {
  WindowOptions window;
  Micros poll_interval = 0;
  Micros max_delay = 0;       // arrival delay bound
  Micros max_skew_ahead = 0;  // max_delay + max_skew_ahead <= lookback
  Micros max_skew_behind = 0;
  Micros start_at = 0;
  int page_size = 0;
  Micros t0 = 0;         // true time the connector first starts
  Micros disturbed = 0;  // length of the phase with restarts, clock steps and failures
  double restart_p = 0, step_p = 0, fail_p = 0, jump_p = 0;
};

std::string describe(const Scenario& s) {
  std::ostringstream o;
  o << "lookback=" << s.window.lookback / kSecond << "s max_window=" << s.window.max_window / kSecond
    << "s safety_lag=" << s.window.safety_lag / kSecond << "s poll=" << s.poll_interval / kSecond
    << "s retention=" << s.window.retention / kSecond << "s max_delay=" << s.max_delay / kSecond
    << "s skew=[-" << s.max_skew_behind / kSecond << "," << s.max_skew_ahead / kSecond << "]s start_at=t0-"
    << (s.t0 - s.start_at) / kSecond << "s page=" << s.page_size;
  return o.str();
}

class Simulation {
 public:
  Simulation(StreamSpec spec, Scenario sc, std::mt19937_64& rng)
      : spec_(std::move(spec)), sc_(sc), rng_(rng), server_(spec_, sc.window.retention, sc.page_size) {}

  void add_records(Micros from, Micros to) {
    Micros t = from;
    int n = 0;
    while (t < to && n < 4000) {
      // Mostly spread out, sometimes on a whole second (window boundaries), sometimes bursts.
      t += uniform(0, 4) == 0 ? 0 : uniform(1, 6 * kMin);
      Micros event = uniform(0, 3) == 0 ? t / kSecond * kSecond : t;
      Micros delay = uniform(0, 4) == 0 ? sc_.max_delay : uniform(0, sc_.max_delay);
      add(event, event + delay, n++);
    }
  }

  void run() {
    true_now_ = sc_.t0;
    start(std::nullopt);
    // Phase 1: the backfill, undisturbed, measured.
    const Micros backfill_from = std::max(sc_.start_at, ceil_s(conn_now() - sc_.window.retention + kMin));
    server_.reset_counts();
    while (!caught_up_ && steps_ < kMaxSteps) step(false);
    ASSERT_TRUE(caught_up_) << "backfill did not finish in " << kMaxSteps << " requests";
    const Micros span = last_end_ - backfill_from;
    const auto bound =
        static_cast<std::size_t>((span + sc_.window.max_window - 1) / sc_.window.max_window) + 2;
    EXPECT_LE(server_.windows(), bound) << "window requests for a backfill of " << span / kSecond << " s";
    for (const auto& [id, windows] : server_.returned())
      EXPECT_LE(windows.size(), 2u) << "record " << id << " returned by that many backfill windows";
    // Phase 2: restarts, clock steps, suspends, failing pages.
    const Micros until = true_now_ + sc_.disturbed;
    while (true_now_ < until && steps_ < kMaxSteps) step(true);
    // Phase 3: the clock is right again; catch up, then read until everything has settled.
    skew_ = 0;
    caught_up_ = false;
    while (!caught_up_ && steps_ < kMaxSteps) step(false);
    const Micros caught_up_at = true_now_;
    while (last_began_ < caught_up_at + sc_.window.lookback && steps_ < kMaxSteps) step(false);
    ASSERT_LT(steps_, kMaxSteps) << "too many requests";
    // Everything old enough to have arrived before the last window reaching now - lag began must
    // be delivered, and the settled point has caught up with it.
    ASSERT_GE(last_began_, caught_up_at + sc_.window.lookback);
    const Micros must_to =
        std::min(last_began_ - sc_.window.safety_lag, last_began_ - sc_.window.lookback) / kSecond * kSecond;
    ASSERT_TRUE(poller_->completed().settled);
    EXPECT_GE(*poller_->completed().settled, must_to) << "the settled point lags behind";
    check(must_to);
  }

 private:
  static constexpr int kMaxSteps = 60'000;

  Micros uniform(Micros lo, Micros hi) { return std::uniform_int_distribution<Micros>(lo, hi)(rng_); }
  bool chance(double p) { return std::bernoulli_distribution(p)(rng_); }
  static Micros ceil_s(Micros t) { return (t + kSecond - 1) / kSecond * kSecond; }
  Micros conn_now() const { return true_now_ + skew_; }

  void add(Micros event, Micros visible, int n) {
    SimRecord r;
    r.id = "r" + std::to_string(n);
    r.event = event;
    r.visible = visible;
    json body;
    switch (spec_.type) {
      case StreamType::directory_audits:
        body = {{"id", r.id}, {"activityDateTime", format_time(event)}};
        break;
      case StreamType::sign_ins:
        body = {{"id", r.id}, {"createdDateTime", format_time(event)}};
        break;
      default:
        body = {{"id", "/subscriptions/s/providers/microsoft.insights/eventtypes/management/values/" + r.id},
                {"eventDataId", r.id},
                {"eventTimestamp", format_time(event)}};
    }
    r.body = body.dump();
    server_.add(std::move(r));
  }

  void start(std::optional<StreamCheckpoint> checkpoint) {
    poller_ = std::make_unique<StreamPoller>(spec_, sc_.window, 10'000'000);
    poller_->restore(checkpoint, sc_.start_at);
  }

  // One scheduling step: maybe a disturbance, then one window (all its pages) or one idle poll.
  void step(bool disturb) {
    if (disturb && chance(sc_.restart_p)) restart();
    if (disturb && chance(sc_.step_p)) {
      skew_ = std::clamp(skew_ + uniform(-sc_.max_skew_behind - sc_.max_skew_ahead,
                                         sc_.max_skew_ahead + sc_.max_skew_behind),
                         -sc_.max_skew_behind, sc_.max_skew_ahead);
    }
    if (disturb && chance(sc_.jump_p)) true_now_ += uniform(0, 3 * kHour);  // suspended / stopped
    const Micros began = conn_now();
    if (poller_->completed().end && *poller_->completed().end > began + sc_.window.future_tolerance)
      clamps_.push_back(began);
    auto url = poller_->begin(began);
    ++steps_;
    if (!url) {
      true_now_ += sc_.poll_interval;
      return;
    }
    for (;;) {
      ++steps_;
      const std::string body = server_.serve(*url, true_now_);
      true_now_ += uniform(50'000, 2 * kSecond);  // request latency
      if (disturb && chance(sc_.fail_p)) {
        poller_->restart_window();  // retries exhausted: the window is read again
        return;
      }
      auto page = poller_->on_page(*url, body, "tenant");
      for (const auto& raw : page.records) deliver(json::parse(std::string_view(raw.json)));
      if (!page.next_url) break;
      url = page.next_url;
      if (disturb && chance(sc_.restart_p)) {
        restart();  // crash mid-window
        return;
      }
    }
    committed_ = encode_checkpoint({{spec_.name, poller_->completed()}});
    in_flight_.clear();
    last_end_ = poller_->window().end;
    if (poller_->window().end >= (began - sc_.window.safety_lag) / kSecond * kSecond) {
      caught_up_ = true;
      last_began_ = began;
      true_now_ += sc_.poll_interval;
    }
  }

  void restart() {
    for (const auto& id : in_flight_) may_repeat_.insert(id);
    in_flight_.clear();
    true_now_ += uniform(0, 20 * kMin);
    std::optional<StreamCheckpoint> cp;
    if (!committed_.empty()) cp = decode_checkpoint(committed_).at(spec_.name);
    start(cp);
  }

  void deliver(const json& rec) {
    const std::string id =
        rec.contains("eventDataId") ? rec["eventDataId"].get<std::string>() : rec["id"].get<std::string>();
    ++delivered_[id];
    in_flight_.push_back(id);
  }

  void check(Micros must_to) {
    // Still within retention at the end (the server keeps it), and not before start_at.
    const Micros must_from = std::max(sc_.start_at, true_now_ - sc_.window.retention + kMin + kSecond);
    std::size_t missing = 0, expected = 0;
    for (const auto& r : server_.records()) {
      const auto it = delivered_.find(r.id);
      const int n = it == delivered_.end() ? 0 : it->second;
      if (r.event >= must_from && r.event < must_to) {
        ++expected;
        if (n == 0 && ++missing <= 5)
          ADD_FAILURE() << "record " << r.id << " (event " << format_time(r.event) << ", visible "
                        << format_time(r.visible) << ") was never delivered";
      }
      // A clamped checkpoint from the future re-reads the lookback before now - safety_lag.
      const bool clamped = std::any_of(clamps_.begin(), clamps_.end(), [&](Micros at) {
        return r.event >= (at - sc_.window.safety_lag) / kSecond * kSecond - std::max(sc_.window.lookback, kSecond);
      });
      if (n > 1 && !may_repeat_.count(r.id)) {
        EXPECT_TRUE(clamped) << "record " << r.id << " (event " << format_time(r.event) << ") delivered " << n
                             << " times";
      }
      if (r.event < sc_.start_at && !clamped) {
        EXPECT_EQ(n, 0) << "record " << r.id << " before start_at";
      }
    }
    EXPECT_EQ(missing, 0u) << "of " << expected;
  }

  StreamSpec spec_;
  Scenario sc_;
  std::mt19937_64& rng_;
  SimServer server_;
  std::unique_ptr<StreamPoller> poller_;
  Micros true_now_ = 0, skew_ = 0, last_end_ = 0;
  Micros last_began_ = 0;  // connector time the last window reaching now - lag began
  bool caught_up_ = false;
  int steps_ = 0;
  std::string committed_;
  std::vector<std::string> in_flight_;  // delivered since the last completed window
  std::set<std::string> may_repeat_;
  std::map<std::string, int> delivered_;
  std::vector<Micros> clamps_;
};

Scenario random_scenario(std::mt19937_64& rng) {
  auto pick = [&](std::initializer_list<Micros> v) {
    return *(v.begin() + std::uniform_int_distribution<std::size_t>(0, v.size() - 1)(rng));
  };
  auto uniform = [&](Micros lo, Micros hi) { return std::uniform_int_distribution<Micros>(lo, hi)(rng); };
  Scenario s;
  s.window.lookback = pick({0, kMin, 10 * kMin, 30 * kMin, 2 * kHour, uniform(kSecond, 3 * kHour)});
  s.window.max_window = pick({kMin, 5 * kMin, kHour, 6 * kHour, uniform(kSecond, 2 * kHour)});
  s.window.safety_lag = pick({0, 2 * kMin, uniform(0, 15 * kMin)});
  s.window.retention = pick({30 * 24 * kHour, uniform(4 * kHour, 48 * kHour)});
  s.window.initial_lookback = uniform(kMin, 3 * kHour);
  s.poll_interval = pick({kSecond, kMin, 5 * kMin, uniform(kSecond, 20 * kMin)});
  // The documented assumption: arrival delay + clock skew ahead <= lookback.
  s.max_skew_ahead = uniform(0, s.window.lookback / 3);
  s.max_delay = s.window.lookback - s.max_skew_ahead;
  s.max_skew_behind = pick({0, 5 * kMin, uniform(0, 2 * kHour)});
  s.page_size = static_cast<int>(uniform(1, 40));
  s.t0 = parse_time("2026-11-20T08:00:00Z").value() + uniform(0, kHour);
  s.start_at = s.t0 - pick({10 * kMin, 3 * kHour, uniform(0, 30 * kHour)});
  s.disturbed = uniform(2 * kHour, 10 * kHour);
  auto maybe = [&](double p) { return std::bernoulli_distribution(0.7)(rng) ? p : 0.0; };
  s.restart_p = maybe(0.05);
  s.step_p = maybe(0.03);
  s.fail_p = maybe(0.03);
  s.jump_p = maybe(0.01);
  return s;
}

std::uint64_t base_seed() {
  const char* env = std::getenv("SIEM_PROPERTY_SEED");
  return env ? std::strtoull(env, nullptr, 10) : 20261120;
}
int runs() {
  const char* env = std::getenv("SIEM_PROPERTY_RUNS");
  return env ? std::clamp(std::atoi(env), 1, 100'000) : 40;
}

void property(const StreamSpec& spec) {
  spdlog::set_level(spdlog::level::off);  // clamps log at error level; asserted in pull_engine_test
  for (int i = 0; i < runs(); ++i) {
    const std::uint64_t seed = base_seed() + static_cast<std::uint64_t>(i);
    std::mt19937_64 rng(seed);
    const Scenario sc = random_scenario(rng);
    SCOPED_TRACE("SIEM_PROPERTY_SEED=" + std::to_string(seed) + " SIEM_PROPERTY_RUNS=1 (" + describe(sc) +
                 ")");
    Simulation sim(spec, sc, rng);
    sim.add_records(sc.t0 - 32 * kHour, sc.t0 + sc.disturbed + 10 * kHour);
    sim.run();
    if (::testing::Test::HasFailure()) break;
  }
  spdlog::set_level(spdlog::level::info);
}

TEST(WindowProperty, DirectoryAudits) {
  property({"directoryAudits", StreamType::directory_audits, "https://graph.test"});
}

TEST(WindowProperty, SignIns) {
  property(
      {"signIns.nonInteractiveUser", StreamType::sign_ins, "https://graph.test", "nonInteractiveUser", true});
}

TEST(WindowProperty, ActivityLog) {
  StreamSpec spec{"sub", StreamType::activity_log, "https://arm.test"};
  spec.scope = "/subscriptions/sub";
  property(spec);
}

}  // namespace
}  // namespace siem::sources
