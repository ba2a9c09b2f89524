#include "tools/emulator/emulator_impl.h"

#include "tools/emulator/alert_collections.h"
#include "tools/emulator/alerts.h"

namespace siem::emulator {

using nlohmann::json;
using httpd::Request;
using httpd::Response;
using namespace detail;

Response Emulator::Impl::admin(const Request& req) {
  std::string what = req.path.substr(std::string("/_emulator/").size());
  json body;
  if (!req.body.empty()) {
    body = json::parse(req.body, nullptr, false);
    if (body.is_discarded()) return Response::json(400, R"({"error":"body is not JSON"})");
  }
  if (req.method == "GET" && what == "stats") {
    json out;
    {
      std::lock_guard lock(mu);
      out["tokens_issued"] = tokens_issued;
      json eps = json::object();
      for (const auto& [name, list] : hits) {
        json times = json::array(), statuses = json::array(), received = json::array(), targets = json::array();
        for (const auto& h : list) {
          times.push_back(h.at_ms);
          statuses.push_back(h.status);
          received.push_back(h.received_ms);
          targets.push_back(h.target);
        }
        eps[name] = {{"count", list.size()}, {"times_ms", times}, {"statuses", statuses}, {"received_ms", received},
                     {"targets", targets}};
      }
      out["endpoints"] = eps;
      json counts = json::object();
      for (const auto& [name, recs] : collections) counts[name] = recs.size();
      out["records"] = counts;
    }
    return Response::json(200, out.dump());
  }
  if (req.method != "POST") return Response::json(405, R"({"error":"admin API: use POST"})");
  if (what == "reset-stats") {
    std::lock_guard lock(mu);
    hits.clear();
    return Response::json(200, "{}");
  }
  if (what == "expire-tokens") {
    std::lock_guard lock(mu);
    for (auto& [t, tok] : tokens) tok.expires_us = 0;
    return Response::json(200, "{}");
  }
  if (what == "throttle") {
    std::lock_guard lock(mu);
    options.reports_limit_per_10s = body.value("reports_per_10s", 0);
    return Response::json(200, "{}");
  }
  if (what == "faults") {
    // {"path_prefix": "/v1.0/auditLogs", "count": 2, "status": 429, "retry_after": "1.5",
    //  "delay_ms": 0, "drop": false}
    httpd::Fault f;
    f.path_prefix = body.value("path_prefix", "");
    f.count = body.value("count", 1);
    f.status = body.value("status", 0);
    f.delay = std::chrono::milliseconds(body.value("delay_ms", 0));
    f.drop_connection = body.value("drop", false);
    if (body.contains("retry_after")) {
      const auto& ra = body["retry_after"];
      f.headers.emplace_back("Retry-After", ra.is_string() ? ra.get<std::string>() : ra.dump());
    }
    if (f.status == 429)
      f.body = json{{"error",
                     {{"code", "TooManyRequests"},
                      {"message", "Please retry again later."},
                      {"innerError", {{"code", "429"}, {"date", iso_now_seconds()}, {"request-id", guid()}, {"status", "429"}}}}}}
                   .dump();
    else if (f.status >= 500)
      f.body = json{{"error", {{"code", "ServiceUnavailable"}, {"message", "Service is temporarily unavailable."}}}}.dump();
    server->add_fault(std::move(f));
    return Response::json(200, "{}");
  }
  if (what == "records") {
    // {"collection": "directoryAudits", "record": {...}} or {"collection": ..., "records": [...]}
    std::string collection = body.value("collection", "");
    if (collection.empty()) return Response::json(400, R"({"error":"collection is required"})");
    std::lock_guard lock(mu);
    if (body.contains("record")) collections[collection].push_back(body["record"]);
    if (body.contains("records"))
      for (const auto& r : body["records"]) collections[collection].push_back(r);
    return Response::json(200, "{}");
  }
  if (what == "update" && body.contains("set")) {
    // A record changed in place (a risk detection remediated, a PIM alert resolved):
    // {"collection": "riskDetections", "id": "...", "set": {"riskState": "remediated", ...}}
    // (Without `set`: a security alert's new version, below.)
    std::string collection = body.value("collection", ""), id = body.value("id", "");
    if (collection.empty() || id.empty() || !body.contains("set") || !body["set"].is_object())
      return Response::json(400, R"({"error":"collection, id and set are required"})");
    std::lock_guard lock(mu);
    if (patch_records(collections[collection], id, body["set"]) == 0) return Response::json(404, R"({"error":"no record with that id"})");
    return Response::json(200, "{}");
  }
  if (what == "late") {
    // A late-arriving record: a copy of the newest record of `collection` with a fresh id and an
    // activity time `age_seconds` in the past (inside the sources' lookback window).
    std::string collection = body.value("collection", "directoryAudits");
    std::int64_t age = body.value("age_seconds", 600);
    std::string tfield = time_field(collection);
    std::lock_guard lock(mu);
    auto& recs = collections[collection];
    if (recs.empty() || tfield.empty()) return Response::json(400, R"({"error":"collection has no time-ordered records"})");
    json rec = recs.back();
    std::string id = "late-" + guid();
    std::string ts = format_time(now_us() - age * 1'000'000);
    if (!security_alert_time_field(collection).empty()) {
      make_late_alert(rec, collection, id, ts);
      recs.push_back(rec);
      return Response::json(200, json{{"id", id}, {"time", ts}}.dump());
    }
    if (collection == "activity") {
      rec["eventDataId"] = id;
      rec["id"] = rec.value("resourceId", std::string("/subscriptions/x")) + "/events/" + id + "/ticks/0";
    } else {
      rec["id"] = id;
    }
    if (tfield.find('/') == std::string::npos)
      rec[tfield] = ts;
    else
      rec["properties"]["createdOn"] = ts;
    recs.push_back(rec);
    return Response::json(200, json{{"id", id}, {"time", ts}}.dump());
  }
  if (what == "update") {
    // A security alert's new version: {"collection": ..., "id": ..., "status": ..., "age_seconds": ...}.
    std::string collection = body.value("collection", kSecurityAlerts);
    std::lock_guard lock(mu);
    const std::string error = update_alert(collections[collection], collection, body, now_us());
    if (!error.empty()) return Response::json(400, json{{"error", error}}.dump());
    return Response::json(200, "{}");
  }
  return Response::json(404, R"({"error":"unknown admin operation"})");
}

}  // namespace siem::emulator
