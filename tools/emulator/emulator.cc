#include "tools/emulator/emulator.h"

#include "tools/emulator/alert_collections.h"
#include "tools/emulator/alerts.h"
#include "tools/emulator/emulator_impl.h"

namespace siem::emulator {

using nlohmann::json;
using httpd::Request;
using httpd::Response;
using namespace detail;

Emulator::Emulator(Options options, httpd::HttpServer& server) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->server = &server;
  if (impl_->options.seed) {
    std::string tenant = impl_->options.apps.empty() ? std::string("00000000-0000-0000-0000-000000000000")
                                                     : impl_->options.apps.front().tenant_id;
    for (auto& [collection, rec] : seed_records(impl_->options.now, tenant, impl_->options.subscriptions))
      impl_->collections[collection].push_back(std::move(rec));
    const auto now_us = std::chrono::duration_cast<std::chrono::microseconds>(impl_->options.now.time_since_epoch()).count();
    for (auto& [collection, rec] : seed_alert_records(now_us, tenant)) impl_->collections[collection].push_back(std::move(rec));
  }
  Impl* im = impl_.get();
  server.route("POST", "/", [im](const Request& r) {
    if (r.path.size() > 18 && r.path.compare(r.path.size() - 18, 18, "/oauth2/v2.0/token") == 0) return im->token_endpoint(r);
    return graph_error(405, "Request_BadRequest", "Unsupported method.");
  });
  server.route("GET", "/metadata/identity/oauth2/token", [im](const Request& r) { return im->imds(r); });
  server.route("GET", "/v1.0/", [im](const Request& r) { return im->graph(r); });
  server.route("GET", "/beta/", [im](const Request& r) { return im->graph(r); });
  server.route("GET", "/subscriptions/", [im](const Request& r) { return im->arm(r); });
  server.route("GET", "/providers/", [im](const Request& r) { return im->arm(r); });
  server.route("*", "/_emulator/", [im](const Request& r) { return im->admin(r); });
  server.on_request([im](const httpd::RequestLogEntry& e) {
    std::string name = endpoint_name(e.path);
    if (name == "admin") return;
    auto ms = [](Clock::time_point t) { return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count(); };
    std::string target = e.path;
    // Token requests carry secrets in the body only; the query of a token request is never logged.
    if (!e.query.empty() && name != "token") target += "?" + e.query;
    std::lock_guard lock(im->mu);
    im->hits[name].push_back({ms(e.at), e.status, ms(e.received), std::move(target)});
  });
}

Emulator::~Emulator() = default;

void Emulator::add_record(const std::string& collection, json record) {
  std::lock_guard lock(impl_->mu);
  impl_->collections[collection].push_back(std::move(record));
}

std::size_t Emulator::remove_records(const std::string& collection, const std::function<bool(const json&)>& remove) {
  std::lock_guard lock(impl_->mu);
  return static_cast<std::size_t>(std::erase_if(impl_->collections[collection], remove));
}

std::size_t Emulator::record_count(const std::string& collection) const {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->collections.find(collection);
  return it == impl_->collections.end() ? 0 : it->second.size();
}

std::vector<json> Emulator::records(const std::string& collection) const {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->collections.find(collection);
  return it == impl_->collections.end() ? std::vector<json>{} : it->second;
}

bool Emulator::update_record(const std::string& collection, const std::string& id, const json& set) {
  std::lock_guard lock(impl_->mu);
  return patch_records(impl_->collections[collection], id, set) > 0;
}

void Emulator::expire_tokens() {
  std::lock_guard lock(impl_->mu);
  for (auto& [t, tok] : impl_->tokens) tok.expires_us = 0;
}

json Emulator::stats() const {
  Request r;
  r.method = "GET";
  r.path = "/_emulator/stats";
  return json::parse(impl_->admin(r).body);
}

void Emulator::add_fault(const json& spec) {
  Request r;
  r.method = "POST";
  r.path = "/_emulator/faults";
  r.body = spec.dump();
  impl_->admin(r);
}

void Emulator::reset_stats() {
  std::lock_guard lock(impl_->mu);
  impl_->hits.clear();
}

}  // namespace siem::emulator
