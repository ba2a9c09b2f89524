#include "tools/emulator/server/http_server.h"
#include "tools/hec_emulator/hec_emulator.h"

#include <algorithm>
#include <cctype>
#include <stdexcept>
#include <string_view>

namespace siem::hec {

using httpd::Request;
using httpd::Response;
using nlohmann::json;

std::string HecEmulator::reply_body(int code) {
  return json{{"text", code_text(code)}, {"code", code}}.dump();
}

int HecEmulator::http_status(int code) {
  switch (code) {
    case 0: case 17: return 200;
    case 1: case 4: return 403;
    case 2: case 3: return 401;
    case 8: return 500;
    case 9: case 18: case 19: case 20: return 503;
    default: return 400;
  }
}

HecEmulator::HecEmulator(HecOptions options, httpd::HttpServer& server) : options_(std::move(options)), server_(server) {
  for (const char* p : {"/services/collector/event/1.0", "/services/collector/event", "/services/collector"}) {
    std::string path = p;
    server.route("*", path, [this, path](const Request& r) {
      if (r.path != path) return Response::json(404, reply_body(404));
      if (r.method != "POST") return Response::json(405, R"({"text":"Method not allowed","code":-1})");
      return handle_data(r, false);
    });
  }
  server.route("*", "/services/collector/raw", [this](const Request& r) {
    if (r.method != "POST") return Response::json(405, R"({"text":"Method not allowed","code":-1})");
    return handle_data(r, true);
  });
  server.route("*", "/services/collector/ack", [this](const Request& r) { return handle_ack(r); });
  server.route("*", "/services/collector/health", [this](const Request& r) { return handle_health(r); });
  if (options_.admin_api) server.route("*", "/admin/", [this](const Request& r) { return handle_admin(r); });
}

std::optional<Response> HecEmulator::authenticate(const Request& req) const {
  auto auth = req.header("Authorization");
  if (!auth) {
    if (req.query_params().count("token")) return Response::json(400, reply_body(16));
    return Response::json(401, reply_body(2));
  }
  std::string token;
  if (iequals_prefix(*auth, "Splunk ")) {
    token = auth->substr(7);
  } else if (iequals_prefix(*auth, "Basic ")) {
    std::string decoded = base64_decode(auth->substr(6));
    auto colon = decoded.find(':');
    if (colon == std::string::npos) return Response::json(401, reply_body(3));
    token = decoded.substr(colon + 1);
  } else {
    return Response::json(401, reply_body(3));
  }
  while (!token.empty() && is_ws(token.back())) token.pop_back();
  if (token.empty()) return Response::json(401, reply_body(2));
  const auto& dis = options_.disabled_tokens;
  if (std::find(dis.begin(), dis.end(), token) != dis.end()) return Response::json(403, reply_body(1));
  const auto& ok = options_.tokens;
  if (std::find(ok.begin(), ok.end(), token) == ok.end()) return Response::json(403, reply_body(4));
  return std::nullopt;
}

Response HecEmulator::reply(const Request& req, int code, std::size_t stored, bool gzip, const std::string& channel,
                            json extra) {
  json body{{"text", code_text(code)}, {"code", code}};
  if (extra.is_object())
    for (auto& [k, v] : extra.items()) body[k] = v;
  RequestRecord rec;
  rec.path = req.path;
  rec.status = http_status(code);
  rec.code = code;
  rec.events_stored = stored;
  rec.body_bytes = req.body.size();
  rec.gzip = gzip;
  rec.channel = channel;
  requests_.push_back(std::move(rec));
  return Response::json(http_status(code), body.dump());
}

Response HecEmulator::handle_data(const Request& req, bool raw) {
  std::unique_lock lock(mu_);
  if (drop_ > 0) {
    --drop_;
    requests_.push_back(RequestRecord{req.path, 0, -1, 0, req.body.size(), false, {}});
    Response r;
    r.drop_connection = true;
    return r;
  }
  if ((busy_ > 0 && busy_after_ == 0) || health_ == 18 || health_ == 20) {
    if (busy_ > 0 && busy_after_ == 0) --busy_;
    return reply(req, 9, 0, false, {});
  }
  if (busy_after_ > 0) --busy_after_;
  if (auto err = authenticate(req)) {
    requests_.push_back(RequestRecord{req.path, err->status, json::parse(err->body).value("code", -1), 0, req.body.size(), false, {}});
    return *err;
  }
  std::string channel = req.header("X-Splunk-Request-Channel").value_or("");
  if (channel.empty()) {
    auto q = req.query_params();
    if (auto it = q.find("channel"); it != q.end()) channel = it->second;
  }
  if (options_.ack_enabled) {
    if (channel.empty()) return reply(req, 10, 0, false, channel);
    if (!is_guid(channel)) return reply(req, 11, 0, false, channel);
  } else if (!channel.empty() && !is_guid(channel)) {
    return reply(req, 11, 0, false, channel);
  }
  if (req.body.size() > options_.max_content_length) {
    requests_.push_back(RequestRecord{req.path, 413, -1, 0, req.body.size(), false, channel});
    return Response::json(413, json{{"text", "Content-Length of " + std::to_string(req.body.size()) +
                                                 " too large (maximum is " + std::to_string(options_.max_content_length) + ")"},
                                    {"code", 413}}.dump());
  }
  bool gzip = false;
  std::string inflated;
  const std::string* body = &req.body;
  if (auto enc = req.header("Content-Encoding"); enc && !enc->empty() && *enc != "identity") {
    if (!iequals_prefix(*enc, "gzip")) return reply(req, 6, 0, false, channel);
    gzip = true;
    try {
      // Bound the inflated size (a gzip bomb must not exhaust the test machine).
      inflated = gunzip(req.body, std::max<std::size_t>(options_.max_content_length * 20, std::size_t{64} << 20));
    } catch (const std::exception&) {
      return reply(req, 6, 0, true, channel);
    }
    body = &inflated;
  }
  std::string_view text(*body);
  if (std::all_of(text.begin(), text.end(), is_ws)) return reply(req, 5, 0, gzip, channel);

  ++data_requests_;
  std::vector<json> accepted;
  int fail_code = 0;
  std::size_t fail_index = 0;
  if (raw) {
    accepted = parse_raw_body(text, req.query_params());
  } else {
    EventBody parsed = parse_event_body(text, options_.allowed_indexes);
    accepted = std::move(parsed.accepted);
    fail_code = parsed.fail_code;
    fail_index = parsed.fail_index;
  }

  // Objects before a bad one are kept (as Splunk does); no ackId is given for a failed request.
  std::optional<std::uint64_t> ack_id;
  if (fail_code == 0 && options_.ack_enabled) {
    ack_id = next_ack_[channel]++;
    acks_[channel][*ack_id] = AckState{std::chrono::steady_clock::now(), 0, false};
  }
  for (auto& env : accepted) events_.push_back(ReceivedEvent{std::move(env), channel, ack_id, data_requests_});
  std::size_t stored = accepted.size();
  cv_.notify_all();

  if (drop_after_store_ > 0) {
    --drop_after_store_;
    requests_.push_back(RequestRecord{req.path, 0, -1, stored, req.body.size(), gzip, channel});
    Response r;
    r.drop_connection = true;
    return r;
  }
  if (fail_code != 0) return reply(req, fail_code, stored, gzip, channel, json{{"invalid-event-number", fail_index}});
  if (ack_id) return reply(req, 0, stored, gzip, channel, json{{"ackId", *ack_id}});
  return reply(req, 0, stored, gzip, channel);
}

Response HecEmulator::handle_ack(const Request& req) {
  if (req.method != "POST") return Response::json(405, R"({"text":"Method not allowed","code":-1})");
  std::unique_lock lock(mu_);
  if (auto err = authenticate(req)) return *err;
  if (!options_.ack_enabled) return Response::json(400, reply_body(14));
  if (health_ == 19 || health_ == 20) return Response::json(503, reply_body(health_));
  std::string channel = req.header("X-Splunk-Request-Channel").value_or("");
  if (channel.empty()) {
    auto q = req.query_params();
    if (auto it = q.find("channel"); it != q.end()) channel = it->second;
  }
  if (channel.empty()) return Response::json(400, reply_body(10));
  if (!is_guid(channel)) return Response::json(400, reply_body(11));
  json body;
  try {
    body = json::parse(req.body);
  } catch (const json::exception&) {
    return Response::json(400, reply_body(6));
  }
  if (!body.is_object() || !body.contains("acks") || !body["acks"].is_array()) return Response::json(400, reply_body(6));
  ++ack_polls_;
  json out = json::object();
  auto now = std::chrono::steady_clock::now();
  auto& chan = acks_[channel];
  for (const auto& id : body["acks"]) {
    if (!id.is_number_unsigned() && !id.is_number_integer()) return Response::json(400, reply_body(6));
    auto n = id.get<std::uint64_t>();
    bool granted = false;
    if (auto it = chan.find(n); it != chan.end() && !it->second.reported_true) {
      ++it->second.polls;
      if (!acks_lost_ && now - it->second.issued >= ack_delay_ && it->second.polls >= ack_min_polls_) {
        granted = true;
        it->second.reported_true = true;  // Splunk forgets an ack once it reported it
      }
    }
    out[std::to_string(n)] = granted;
  }
  return Response::json(200, json{{"acks", out}}.dump());
}

Response HecEmulator::handle_health(const Request& req) {
  if (req.path != "/services/collector/health" && req.path != "/services/collector/health/1.0")
    return Response::json(404, reply_body(404));
  std::unique_lock lock(mu_);
  return Response::json(http_status(health_), reply_body(health_));
}

Response HecEmulator::handle_admin(const Request& req) {
  // GET /admin/events -> {"count":N,"events":[envelopes...]}; POST /admin/reset;
  // POST /admin/faults {"busy":N,"busy_after":K,"drop":N,"drop_after_store":N,"ack_delay_ms":D,
  //                     "ack_polls":P,"acks_lost":bool,"expire_acks":true,"health":17..20}
  if (req.path == "/admin/events" && req.method == "GET") {
    json list = json::array();
    for (const auto& e : events()) list.push_back(json{{"channel", e.channel}, {"envelope", e.envelope}});
    return Response::json(200, json{{"count", list.size()}, {"events", list}}.dump());
  }
  if (req.path == "/admin/reset" && req.method == "POST") {
    reset();
    return Response::json(200, R"({"reset":true})");
  }
  if (req.path == "/admin/faults" && req.method == "POST") {
    json f;
    try {
      f = json::parse(req.body);
      if (!f.is_object()) throw std::runtime_error("not an object");
      if (f.contains("busy")) fail_busy(f["busy"].get<int>(), f.value("busy_after", 0));
      if (f.contains("drop")) drop_connections(f["drop"].get<int>());
      if (f.contains("drop_after_store")) drop_after_store(f["drop_after_store"].get<int>());
      if (f.contains("ack_delay_ms") || f.contains("ack_polls"))
        set_slow_acks(std::chrono::milliseconds(f.value("ack_delay_ms", 0)), f.value("ack_polls", 0));
      if (f.contains("acks_lost")) set_acks_lost(f["acks_lost"].get<bool>());
      if (f.value("expire_acks", false)) expire_acks();
      if (f.contains("health")) set_health(f["health"].get<int>());
    } catch (const std::exception& e) {
      return Response::json(400, json{{"error", std::string("bad fault document: ") + e.what()}}.dump());
    }
    return Response::json(200, R"({"ok":true})");
  }
  return Response::json(404, R"({"error":"unknown admin endpoint"})");
}

std::vector<ReceivedEvent> HecEmulator::events() const {
  std::lock_guard lock(mu_);
  return events_;
}
std::size_t HecEmulator::event_count() const {
  std::lock_guard lock(mu_);
  return events_.size();
}
std::vector<RequestRecord> HecEmulator::requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}
bool HecEmulator::wait_for_events(std::size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return events_.size() >= n; });
}
void HecEmulator::reset() {
  std::lock_guard lock(mu_);
  events_.clear();
  requests_.clear();
  next_ack_.clear();
  acks_.clear();
  data_requests_ = ack_polls_ = 0;
  busy_ = busy_after_ = drop_ = drop_after_store_ = 0;
  ack_delay_ = std::chrono::milliseconds(0);
  ack_min_polls_ = 0;
  acks_lost_ = false;
  health_ = 17;
}
void HecEmulator::fail_busy(int n, int after) {
  std::lock_guard lock(mu_);
  busy_ = std::max(0, n);
  busy_after_ = busy_ > 0 ? std::max(0, after) : 0;
}
void HecEmulator::drop_connections(int n) {
  std::lock_guard lock(mu_);
  drop_ = std::max(0, n);
}
void HecEmulator::drop_after_store(int n) {
  std::lock_guard lock(mu_);
  drop_after_store_ = std::max(0, n);
}
void HecEmulator::set_slow_acks(std::chrono::milliseconds delay, int polls) {
  std::lock_guard lock(mu_);
  ack_delay_ = delay;
  ack_min_polls_ = polls;
}
void HecEmulator::set_acks_lost(bool lost) {
  std::lock_guard lock(mu_);
  acks_lost_ = lost;
}
void HecEmulator::expire_acks() {
  std::lock_guard lock(mu_);
  acks_.clear();
}
void HecEmulator::set_health(int code) {
  if (code != 17 && (code < 18 || code > 20)) throw std::invalid_argument("health code must be 17..20");
  std::lock_guard lock(mu_);
  health_ = code;
}
std::size_t HecEmulator::requests_held() const { return server_.requests_held(); }

std::size_t HecEmulator::ack_polls() const {
  std::lock_guard lock(mu_);
  return ack_polls_;
}

}  // namespace siem::hec
