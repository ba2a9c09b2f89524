#include "sinks/splunk_hec/splunk_hec_sink.h"

#include <openssl/rand.h>
#include <zlib.h>

#include <algorithm>
#include <deque>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "connector/auth/auth_config.h"

namespace siem {
namespace {

using json = nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

void append_json_string(std::string& out, std::string_view s) {
  out += json(s).dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string gzip_compress(const std::string& in, int level) {
  z_stream zs{};
  if (deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw std::runtime_error("gzip: deflateInit2 failed");
  std::string out;
  out.resize(deflateBound(&zs, static_cast<uLong>(in.size())) + 32);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&zs, Z_FINISH);
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) throw std::runtime_error("gzip: deflate failed");
  out.resize(zs.total_out);
  return out;
}

// HEC response classes (formats.md §3.4).
enum class Class { ok, retry, fatal, dead_letter, too_large };

Class class_of_code(int code) {
  switch (code) {
    case 0: case 17: return Class::ok;
    case 8: case 9: case 18: case 19: case 20: return Class::retry;
    case 5: case 6: case 7: case 12: case 13: case 15: return Class::dead_letter;
    default: return Class::fatal;  // 1, 2, 3, 4, 10, 11, 14, 16, 21, 22 and anything unknown
  }
}

}  // namespace

struct SplunkHecSink::Reply {
  int status = 0;          // HTTP status; 0 on transport failure
  int code = -1;           // HEC code; -1 when the body had none
  std::string text;        // HEC text or transport error
  std::optional<long long> ack_id;
  std::optional<long long> invalid_event;
  bool transport_permanent = false;  // TLS verification / bad URL
  json body;
};

SplunkHecSink::SplunkHecSink(HecSinkSettings settings) : s_(std::move(settings)) {
  channel_ = s_.channel.empty() ? new_channel() : s_.channel;
  auth_header_ = "Splunk " + s_.token.reveal();
}

SplunkHecSink::~SplunkHecSink() = default;

std::string SplunkHecSink::new_channel() const {
  unsigned char b[16];
  if (RAND_bytes(b, sizeof b) != 1) throw SinkError("cannot generate a channel GUID");
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
  return fmt::format("{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
                     b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

std::string SplunkHecSink::describe_code(int http_status, int code, const std::string& text) const {
  std::string hint;
  switch (code) {
    case 1: case 22: hint = ": the HEC token is disabled"; break;
    case 2: case 3: case 4: case 21: hint = ": check `token` (the HEC token GUID)"; break;
    case 10: case 11: hint = ": channel problem"; break;
    case 14: hint = ": indexer acknowledgement is off for this token; set ack: false or enable it"; break;
    default: break;
  }
  if (code >= 0) return fmt::format("splunk_hec sink '{}': HEC answered HTTP {} code {} \"{}\"{}", s_.name, http_status, code, text, hint);
  return fmt::format("splunk_hec sink '{}': HEC answered HTTP {}{}{}", s_.name, http_status, text.empty() ? "" : ": ", text);
}

void SplunkHecSink::start() {
  stopping_ = false;
  if (!client_) {
    try {
      client_ = std::make_unique<http::Client>(s_.http);
    } catch (const http::Error& e) {
      throw SinkError(e.what());
    }
  }
  http::Request req;
  req.url = s_.base_url + "/services/collector/health";
  req.pin = s_.base_url;
  req.cancel = &interrupted_;
  req.headers = {{"Authorization", auth_header_}};
  try {
    http::Response res = client_->send(req);
    if (res.status == 200) {
      spdlog::info("sink {}: HEC at {} is healthy (channel {}, ack {})", s_.name, s_.base_url, channel_, s_.ack ? "on" : "off");
      return;
    }
    json j = json::parse(res.body, nullptr, false);
    int code = !j.is_discarded() && j.is_object() && j.contains("code") && j["code"].is_number_integer() ? j["code"].get<int>() : -1;
    std::string text = !j.is_discarded() && j.is_object() && j.contains("text") && j["text"].is_string() ? j["text"].get<std::string>() : "";
    if (res.status == 503 || res.status == 429 || res.status >= 500) {
      spdlog::warn("{}; sending anyway (retries back off)", describe_code(res.status, code, text));
      return;
    }
    if (code >= 0 && class_of_code(code) == Class::fatal) throw SinkError(describe_code(res.status, code, text));
    if (res.status == 404) throw SinkError(describe_code(res.status, code, "no HEC health endpoint at " + req.url + " (wrong url?)"));
    spdlog::warn("{} on the health check", describe_code(res.status, code, text));
  } catch (const http::Error& e) {
    if (e.kind() == http::Error::Kind::cancelled) return;  // interrupt(): send() returns at once
    if (!e.transient()) throw SinkError(fmt::format("splunk_hec sink '{}': {}", s_.name, e.what()));
    spdlog::warn("sink {}: HEC health check failed: {} (will retry on send)", s_.name, e.what());
  }
}

void SplunkHecSink::stop() {
  stopping_ = true;
  wake();
}

void SplunkHecSink::interrupt() noexcept {
  interrupted_ = true;
  wake();
}

void SplunkHecSink::wake() noexcept {
  try {
    std::lock_guard lock(wait_mu_);  // a waiter between its check and its wait sees the flag or the notify
  } catch (...) {  // std::system_error: the waiter's own bound still ends its wait
  }
  wait_cv_.notify_all();
}

void SplunkHecSink::append_envelope(std::string& out, const MappedEvent& ev) const {
  out += '{';
  if (ev.time_ms > 0) {
    out += fmt::format("\"time\":{}.{:03d},", ev.time_ms / 1000, static_cast<int>(ev.time_ms % 1000));
  }
  if (!s_.host.empty()) {
    out += "\"host\":";
    append_json_string(out, s_.host);
    out += ',';
  }
  out += "\"source\":";
  append_json_string(out, s_.source.empty() ? "siem-connector:" + ev.source_name : s_.source);
  out += ",\"sourcetype\":";
  if (!s_.sourcetype.empty()) {
    append_json_string(out, s_.sourcetype);
  } else if (auto it = s_.sourcetypes.find(ev.kind); it != s_.sourcetypes.end()) {
    append_json_string(out, it->second);
  } else {
    append_json_string(out, default_hec_sourcetype(s_.format, ev.kind));
  }
  if (!s_.index.empty()) {
    out += ",\"index\":";
    append_json_string(out, s_.index);
  }
  out += ",\"fields\":{";
  bool first = true;
  auto field = [&](std::string_view k, std::string_view v) {
    if (!first) out += ',';
    first = false;
    append_json_string(out, k);
    out += ':';
    append_json_string(out, v);
  };
  bool has_tenant = false, has_kind = false;
  for (const auto& [k, v] : s_.fields) {
    field(k, v);
    has_tenant |= k == "tenant_id";
    has_kind |= k == "source_kind";
  }
  if (!ev.tenant_id().empty() && !has_tenant) field("tenant_id", ev.tenant_id());
  if (!has_kind) field("source_kind", to_string(ev.kind));
  out += "},\"event\":";
  const std::string_view payload = ev.payload(s_.format);
  if (s_.format == OutputFormat::cef) append_json_string(out, payload);
  else out += payload;  // ECS / OCSF document, raw record: already one JSON object
  out += '}';
}

SplunkHecSink::Reply SplunkHecSink::post(const std::string& body) {
  Reply r;
  http::Request req;
  req.method = "POST";
  req.url = s_.url;
  req.pin = s_.base_url;  // the HEC token goes to the configured origin only
  req.cancel = &interrupted_;  // interrupt() (the drain deadline) cuts a POST under way
  req.headers = {{"Authorization", auth_header_},
                 {"X-Splunk-Request-Channel", channel_},
                 {"Content-Type", "application/json"}};
  if (s_.gzip) {
    req.headers.emplace_back("Content-Encoding", "gzip");
    req.body = gzip_compress(body, s_.gzip_level);
  } else {
    req.body = body;
  }
  http::Response res;
  try {
    res = client_->send(req);
  } catch (const http::Error& e) {
    r.text = e.what();
    r.transport_permanent = !e.transient();
    return r;
  }
  r.status = res.status;
  r.body = json::parse(res.body, nullptr, false);
  if (!r.body.is_discarded() && r.body.is_object()) {
    if (r.body.contains("code") && r.body["code"].is_number_integer()) r.code = r.body["code"].get<int>();
    if (r.body.contains("text") && r.body["text"].is_string()) r.text = r.body["text"].get<std::string>();
    if (r.body.contains("ackId") && r.body["ackId"].is_number_integer()) r.ack_id = r.body["ackId"].get<long long>();
    if (r.body.contains("invalid-event-number") && r.body["invalid-event-number"].is_number_integer())
      r.invalid_event = r.body["invalid-event-number"].get<long long>();
  } else {
    r.text = res.body.substr(0, 200);
  }
  return r;
}

SendResult SplunkHecSink::send(std::span<const EventPtr> batch) {
  if (!client_) start();
  const std::size_t n = batch.size();
  std::vector<std::string> envelopes(n);
  std::vector<char> done(n, 0);  // 1 delivered, 2 rejected
  SendResult result;
  auto reject = [&](std::size_t i, std::string reason) {
    done[i] = 2;
    result.rejected.push_back(Rejection{i, std::move(reason)});
  };
  for (std::size_t i = 0; i < n; ++i) {
    if (batch[i]->payload(s_.format).empty()) {
      reject(i, fmt::format("empty {} payload: HEC needs a non-blank event", to_string(s_.format)));
      continue;
    }
    append_envelope(envelopes[i], *batch[i]);
  }
  auto prefix_done = [&] {
    std::size_t i = 0;
    while (i < n && done[i] != 0) ++i;
    return i;
  };

  // Cut into requests of at most max_batch_bytes (a single larger event goes alone).
  struct Range { std::size_t begin, end; };
  std::deque<Range> work;
  {
    std::size_t begin = n, bytes = 0;
    for (std::size_t i = 0; i < n; ++i) {
      if (done[i] != 0) continue;
      if (begin == n) begin = i;
      if (bytes > 0 && bytes + envelopes[i].size() + 1 > s_.max_batch_bytes) {
        work.push_back({begin, i});
        begin = i;
        bytes = 0;
      }
      bytes += envelopes[i].size() + 1;
    }
    if (bytes > 0) work.push_back({begin, n});
  }

  struct PendingAck { long long id; Range range; };
  std::vector<PendingAck> pending;

  auto fail = [&](SendStatus status, std::string why) {
    // Events awaiting an ack are not done: they are resent (duplicates are removed by event.id).
    SendResult r;
    r.status = status;
    r.error = std::move(why);
    r.rejected = std::move(result.rejected);
    for (const auto& p : pending)
      for (std::size_t i = p.range.begin; i < p.range.end; ++i)
        if (done[i] == 1) done[i] = 0;
    r.completed = prefix_done();
    return r;
  };

  while (!work.empty()) {
    if (interrupted_) return fail(SendStatus::retry, fmt::format("splunk_hec sink '{}': interrupted (drain deadline)", s_.name));
    Range r = work.front();
    work.pop_front();
    std::string body;
    std::size_t live = 0;
    for (std::size_t i = r.begin; i < r.end; ++i) {
      if (done[i] != 0) continue;
      body += envelopes[i];
      body += '\n';
      ++live;
    }
    if (live == 0) continue;
    Reply rep = post(body);
    if (rep.status == 0 && interrupted_)
      return fail(SendStatus::retry, fmt::format("splunk_hec sink '{}': interrupted (drain deadline): the request under "
                                                 "way was cancelled; its events stay unacknowledged and will be read "
                                                 "again from the checkpoint", s_.name));
    if (rep.status == 0) {
      if (rep.transport_permanent) return fail(SendStatus::fatal, fmt::format("splunk_hec sink '{}': {}", s_.name, rep.text));
      return fail(SendStatus::retry, fmt::format("splunk_hec sink '{}': {}", s_.name, rep.text));
    }
    // Map index k of the live objects in this request back to the batch.
    auto live_index = [&](long long k) -> std::optional<std::size_t> {
      for (std::size_t i = r.begin; i < r.end; ++i) {
        if (done[i] != 0) continue;
        if (k-- == 0) return i;
      }
      return std::nullopt;
    };
    auto split = [&] {
      std::vector<std::size_t> idx;
      for (std::size_t i = r.begin; i < r.end; ++i)
        if (done[i] == 0) idx.push_back(i);
      std::size_t mid = idx[idx.size() / 2];
      work.push_front({mid, r.end});
      work.push_front({r.begin, mid});
    };
    Class cls;
    if (rep.status == 413) cls = Class::too_large;
    else if (rep.code >= 0) cls = class_of_code(rep.code);
    else if (rep.status >= 200 && rep.status < 300) cls = Class::ok;
    else if (rep.status == 429 || rep.status >= 500 || rep.status == 408) cls = Class::retry;
    else cls = Class::fatal;
    if (cls == Class::ok && (rep.status < 200 || rep.status >= 300)) cls = rep.status >= 500 ? Class::retry : Class::fatal;

    switch (cls) {
      case Class::ok:
        if (s_.ack) {
          if (!rep.ack_id)
            return fail(SendStatus::fatal,
                        fmt::format("splunk_hec sink '{}': ack is on but HEC returned no ackId: enable indexer "
                                    "acknowledgement on the token or set ack: false", s_.name));
          pending.push_back({*rep.ack_id, r});
        }
        for (std::size_t i = r.begin; i < r.end; ++i)
          if (done[i] == 0) done[i] = 1;
        break;
      case Class::too_large:
        if (live == 1) {
          reject(*live_index(0), fmt::format("event of {} bytes is larger than the HEC request limit (413)", body.size()));
        } else {
          split();
        }
        break;
      case Class::dead_letter: {
        std::optional<std::size_t> bad;
        if (rep.invalid_event && *rep.invalid_event >= 0) bad = live_index(*rep.invalid_event);
        if (bad) {
          // Objects before the bad one were indexed (without an ackId: with acks on they are resent).
          if (!s_.ack)
            for (std::size_t i = r.begin; i < *bad; ++i)
              if (done[i] == 0) done[i] = 1;
          reject(*bad, fmt::format("HEC refused the event: code {} \"{}\"", rep.code, rep.text));
          if (s_.ack) work.push_front({r.begin, r.end});  // resend the rest (and the prefix)
          else if (*bad + 1 < r.end) work.push_front({*bad + 1, r.end});
        } else if (live == 1) {
          reject(*live_index(0), fmt::format("HEC refused the event: code {} \"{}\"", rep.code, rep.text));
        } else {
          split();  // no index given: bisect to find the offending objects
        }
        break;
      }
      case Class::retry:
        return fail(SendStatus::retry, describe_code(rep.status, rep.code, rep.text));
      case Class::fatal:
        return fail(SendStatus::fatal, describe_code(rep.status, rep.code, rep.text));
    }
  }

  // Shutting down (the drain deadline passed) with ackIds outstanding: no resend follows; the events
  // sent stay unacknowledged, so their checkpoint does not move and they are read again at the next start.
  auto unacknowledged = [&] {
    std::size_t events = 0;
    for (const auto& p : pending)
      for (std::size_t i = p.range.begin; i < p.range.end; ++i) events += done[i] == 1 ? 1 : 0;
    return fail(SendStatus::retry,
                fmt::format("splunk_hec sink '{}': shutting down before the indexer acknowledged {} ackId(s): their {} "
                            "event(s) stay unacknowledged and will be read again from the checkpoint at the next start",
                            s_.name, pending.size(), events));
  };
  if (!pending.empty()) {
    // Poll /services/collector/ack until every ackId is true, bounded by ack_timeout.
    const auto deadline = SteadyClock::now() + s_.ack_timeout;
    std::string last_problem;
    while (!pending.empty()) {
      if (stopping_ || interrupted_) return unacknowledged();
      if (SteadyClock::now() >= deadline) {
        const std::string old = channel_;
        channel_ = new_channel();  // the old channel may be wedged: resend on a fresh one
        return fail(SendStatus::retry,
                    fmt::format("splunk_hec sink '{}': {} ackId(s) not indexed within {} s on channel {}{}; resending on channel {}",
                                s_.name, pending.size(), s_.ack_timeout.count() / 1000, old,
                                last_problem.empty() ? "" : " (" + last_problem + ")", channel_));
      }
      {
        std::unique_lock lock(wait_mu_);
        if (wait_cv_.wait_for(lock, std::min<SteadyClock::duration>(s_.ack_poll_interval, deadline - SteadyClock::now()),
                              [this] { return stopping_.load() || interrupted_.load(); }))
          continue;  // stop() or interrupt(): the loop's first check ends the wait
      }
      json ids = json::array();
      for (const auto& p : pending) ids.push_back(p.id);
      http::Request req;
      req.method = "POST";
      req.url = s_.base_url + "/services/collector/ack?channel=" + channel_;
      req.pin = s_.base_url;
      req.cancel = &interrupted_;
      req.headers = {{"Authorization", auth_header_}, {"X-Splunk-Request-Channel", channel_}, {"Content-Type", "application/json"}};
      req.body = json{{"acks", ids}}.dump();
      http::Response res;
      try {
        res = client_->send(req);
      } catch (const http::Error& e) {
        if (interrupted_) return unacknowledged();
        if (!e.transient()) return fail(SendStatus::fatal, fmt::format("splunk_hec sink '{}': {}", s_.name, e.what()));
        last_problem = e.what();
        continue;
      }
      json j = json::parse(res.body, nullptr, false);
      if (res.status != 200) {
        int code = !j.is_discarded() && j.is_object() && j.contains("code") && j["code"].is_number_integer() ? j["code"].get<int>() : -1;
        std::string text = !j.is_discarded() && j.is_object() && j.contains("text") && j["text"].is_string() ? j["text"].get<std::string>() : "";
        if ((code >= 0 && class_of_code(code) == Class::fatal) || (code < 0 && res.status >= 400 && res.status < 500 && res.status != 429))
          return fail(SendStatus::fatal, describe_code(res.status, code, text));
        last_problem = fmt::format("ack poll: HTTP {}", res.status);
        continue;
      }
      if (j.is_discarded() || !j.is_object() || !j.contains("acks") || !j["acks"].is_object()) {
        last_problem = "ack poll: malformed answer";
        continue;
      }
      const auto& acks = j["acks"];
      std::erase_if(pending, [&](const PendingAck& p) {
        auto key = std::to_string(p.id);
        return acks.contains(key) && acks[key].is_boolean() && acks[key].get<bool>();
      });
    }
  }

  result.status = SendStatus::ok;
  result.completed = n;
  return result;
}

void register_splunk_hec_sink(PluginRegistry& registry) {
  registry.add_sink("splunk_hec", "Splunk HTTP Event Collector (JSON envelopes, gzip, channels, indexer acknowledgement)",
                    [](const ConfigNode& cfg, const PluginContext& ctx) {
                      HecSinkSettings settings = read_hec_sink_settings(cfg, ctx);
                      SinkInstance inst;
                      inst.sink = std::make_unique<SplunkHecSink>(std::move(settings));
                      return inst;
                    }, &splunk_hec_keys());
}

}  // namespace siem
