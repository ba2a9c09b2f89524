#include "tools/emulator/server/http_server.h"
#include "tools/hec_emulator/hec_emulator.h"

#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>
#include <string_view>

namespace siem::hec {

namespace {

using httpd::Request;
using httpd::Response;
using nlohmann::json;

const char* code_text(int code) {
  switch (code) {
    case 0: return "Success";
    case 1: return "Token disabled";
    case 2: return "Token is required";
    case 3: return "Invalid authorization";
    case 4: return "Invalid token";
    case 5: return "No data";
    case 6: return "Invalid data format";
    case 7: return "Incorrect index";
    case 8: return "Internal server error";
    case 9: return "Server is busy";
    case 10: return "Data channel is missing";
    case 11: return "Invalid data channel";
    case 12: return "Event field is required";
    case 13: return "Event field cannot be blank";
    case 14: return "ACK is disabled";
    case 15: return "Error in handling indexed fields";
    case 16: return "Query string authorization is not enabled";
    case 17: return "HEC is healthy";
    case 18: return "HEC is unhealthy, queues are full";
    case 19: return "HEC is unhealthy, ack service unavailable";
    case 20: return "HEC is unhealthy, queues are full, ack service unavailable";
    default: return "Unknown";
  }
}

bool iequals_prefix(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[i])) != std::tolower(static_cast<unsigned char>(prefix[i]))) return false;
  return true;
}

std::string base64_decode(std::string_view in) {
  static const std::string chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  unsigned val = 0;
  int bits = -8;
  for (char c : in) {
    if (c == '=') break;
    auto pos = chars.find(c);
    if (pos == std::string::npos) return {};
    val = (val << 6) | static_cast<unsigned>(pos);
    bits += 6;
    if (bits >= 0) {
      out.push_back(static_cast<char>((val >> bits) & 0xFF));
      bits -= 8;
    }
  }
  return out;
}

// Finds the end (one past the closing brace) of the JSON object starting at `pos` (which must be
// '{'), honouring strings and escapes. Returns npos when unterminated.
std::size_t object_end(std::string_view s, std::size_t pos) {
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = pos; i < s.size(); ++i) {
    char c = s[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '{' || c == '[') ++depth;
    else if (c == '}' || c == ']') {
      if (--depth == 0) return i + 1;
    }
  }
  return std::string_view::npos;
}

bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

bool blank_string(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return is_ws(c); });
}

// Validates one envelope; returns 0 or the HEC code of the failure.
int validate_envelope(const json& env, const std::vector<std::string>& allowed_indexes) {
  if (!env.is_object()) return 6;
  auto ev = env.find("event");
  if (ev == env.end()) return 12;
  if (ev->is_null() || (ev->is_string() && blank_string(ev->get_ref<const std::string&>()))) return 13;
  if (ev->is_object() && ev->empty()) return 13;
  if (auto t = env.find("time"); t != env.end()) {
    if (t->is_string()) {
      const auto& ts = t->get_ref<const std::string&>();
      char* end = nullptr;
      std::strtod(ts.c_str(), &end);
      if (ts.empty() || end != ts.c_str() + ts.size()) return 6;
    } else if (!t->is_number()) {
      return 6;
    }
  }
  for (const char* key : {"host", "source", "sourcetype", "index"}) {
    if (auto it = env.find(key); it != env.end() && !it->is_string()) return 6;
  }
  if (auto f = env.find("fields"); f != env.end()) {
    if (!f->is_object()) return 15;
    for (const auto& [k, v] : f->items()) {
      if (v.is_string() || v.is_number() || v.is_boolean()) continue;
      if (v.is_array() && std::all_of(v.begin(), v.end(), [](const json& x) { return x.is_string() || x.is_number(); })) continue;
      return 15;
    }
  }
  if (!allowed_indexes.empty()) {
    if (auto idx = env.find("index"); idx != env.end()) {
      if (std::find(allowed_indexes.begin(), allowed_indexes.end(), idx->get<std::string>()) == allowed_indexes.end()) return 7;
    }
  }
  return 0;
}

}  // namespace

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

std::string gunzip(const std::string& in, std::size_t limit) {
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 32) != Z_OK) throw std::runtime_error("inflateInit2 failed");
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  std::string out;
  char buf[64 * 1024];
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof(buf);
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      inflateEnd(&zs);
      throw std::runtime_error("corrupt gzip body");
    }
    out.append(buf, sizeof(buf) - zs.avail_out);
    if (out.size() > limit) {
      inflateEnd(&zs);
      throw std::runtime_error("inflated body too large");
    }
    if (rc == Z_OK && zs.avail_in == 0 && zs.avail_out != 0) {
      inflateEnd(&zs);
      throw std::runtime_error("truncated gzip body");
    }
  }
  inflateEnd(&zs);
  return out;
}

bool is_guid(const std::string& s) {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i] != '-') return false;
    } else if (!std::isxdigit(static_cast<unsigned char>(s[i]))) {
      return false;
    }
  }
  return true;
}

HecEmulator::HecEmulator(HecOptions options, httpd::HttpServer& server) : options_(std::move(options)) {
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
  if (busy_ > 0 || health_ == 18 || health_ == 20) {
    if (busy_ > 0) --busy_;
    return reply(req, 9, 0, false, {});
  }
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
    auto q = req.query_params();
    std::size_t start = 0;
    while (start < text.size()) {
      auto nl = text.find('\n', start);
      std::string_view line = text.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
      start = nl == std::string_view::npos ? text.size() : nl + 1;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (std::all_of(line.begin(), line.end(), is_ws)) continue;
      json env{{"event", std::string(line)}};
      for (const char* key : {"sourcetype", "index", "host", "source"})
        if (auto it = q.find(key); it != q.end()) env[key] = it->second;
      accepted.push_back(std::move(env));
    }
  } else {
    std::size_t pos = 0;
    std::size_t n = 0;
    while (true) {
      while (pos < text.size() && is_ws(text[pos])) ++pos;
      if (pos >= text.size()) break;
      int code = 0;
      json env;
      if (text[pos] != '{') {
        code = 6;
      } else {
        auto end = object_end(text, pos);
        if (end == std::string_view::npos) {
          code = 6;
        } else {
          try {
            env = json::parse(text.substr(pos, end - pos));
            code = validate_envelope(env, options_.allowed_indexes);
          } catch (const json::exception&) {
            code = 6;
          }
          pos = end;
        }
      }
      if (code != 0) {
        fail_code = code;
        fail_index = n;
        break;
      }
      accepted.push_back(std::move(env));
      ++n;
    }
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
  // POST /admin/faults {"busy":N,"drop":N,"drop_after_store":N,"ack_delay_ms":D,"ack_polls":P,
  //                     "acks_lost":bool,"health":17..20}
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
      if (f.contains("busy")) fail_busy(f["busy"].get<int>());
      if (f.contains("drop")) drop_connections(f["drop"].get<int>());
      if (f.contains("drop_after_store")) drop_after_store(f["drop_after_store"].get<int>());
      if (f.contains("ack_delay_ms") || f.contains("ack_polls"))
        set_slow_acks(std::chrono::milliseconds(f.value("ack_delay_ms", 0)), f.value("ack_polls", 0));
      if (f.contains("acks_lost")) set_acks_lost(f["acks_lost"].get<bool>());
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
  busy_ = drop_ = drop_after_store_ = 0;
  ack_delay_ = std::chrono::milliseconds(0);
  ack_min_polls_ = 0;
  acks_lost_ = false;
  health_ = 17;
}
void HecEmulator::fail_busy(int n) {
  std::lock_guard lock(mu_);
  busy_ = std::max(0, n);
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
void HecEmulator::set_health(int code) {
  if (code != 17 && (code < 18 || code > 20)) throw std::invalid_argument("health code must be 17..20");
  std::lock_guard lock(mu_);
  health_ = code;
}
std::size_t HecEmulator::ack_polls() const {
  std::lock_guard lock(mu_);
  return ack_polls_;
}

}  // namespace siem::hec
