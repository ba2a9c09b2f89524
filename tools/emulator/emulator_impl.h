// Internal to the emulator library: the state behind Emulator (emulator.h) and the helpers its
// parts share. emulator.cc: construction, routes, the public API; emulator_auth.cc: the token
// endpoint, IMDS and bearer checks; emulator_lists.cc: the Graph/ARM list endpoints ($filter,
// $top, $skiptoken); emulator_admin.cc: the /_emulator admin API; emulator_util.cc: the helpers.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tools/emulator/emulator.h"
#include "tools/emulator/server/http_server.h"
#include "tools/emulator/server/pki.h"

namespace siem::emulator {
namespace detail {

std::int64_t now_us();
std::string random_hex(std::size_t bytes);
std::string guid();
std::string lower(std::string s);
std::string trim(std::string_view s);
// Splits on " and " (case-insensitive) outside quotes and parentheses.
std::vector<std::string> split_and(const std::string& filter);
std::string timestamp_text();
std::string iso_now_seconds();
httpd::Response graph_error(int status, const std::string& code, const std::string& message);
httpd::Response arm_error(int status, const std::string& code, const std::string& message);
// Entra token endpoint error: 400 (401 for invalid_client) with the documented fields.
httpd::Response aad_error(int status, const std::string& error, int code, const std::string& text);
std::map<std::string, std::string> parse_form(const std::string& body);
// Time field that orders a collection and that `$filter` time terms apply to.
std::string time_field(const std::string& collection);
std::int64_t record_time(const nlohmann::json& rec, const std::string& field);
struct TimeTerm {
  std::string op;
  std::int64_t t;
};
bool time_ok(std::int64_t v, const std::vector<TimeTerm>& terms);
// Merges `set` into every record whose id is `id`; how many there were.
std::size_t patch_records(std::vector<nlohmann::json>& records, const std::string& id, const nlohmann::json& set);
std::string endpoint_name(const std::string& path);

}  // namespace detail

struct Emulator::Impl {
  using json = nlohmann::json;
  using Request = httpd::Request;
  using Response = httpd::Response;

  Options options;
  httpd::HttpServer* server = nullptr;
  mutable std::mutex mu;
  std::map<std::string, std::vector<json>> collections;
  struct Token {
    std::string tenant, client, resource;
    std::int64_t expires_us;
  };
  std::map<std::string, Token> tokens;
  std::int64_t tokens_issued = 0;
  struct Hit {
    std::int64_t at_ms;        // response written
    int status;
    std::int64_t received_ms;  // request read (what a rate limit counts)
    std::string target;        // path?query
  };
  std::map<std::string, std::vector<Hit>> hits;
  std::map<std::string, std::deque<std::int64_t>> report_windows;  // tenant -> request times (us)

  const AppRegistration* find_app(const std::string& tenant, const std::string& client) const;
  bool tenant_known(const std::string& tenant) const;
  static std::string self_url(const Request& req);
  // Which API family a token's resource may call.
  static bool resource_allows(const std::string& resource, bool arm, const std::string& self);
  json issue_token(const std::string& tenant, const std::string& client, const std::string& resource);
  Response token_endpoint(const Request& req);
  Response imds(const Request& req);
  // nullopt: authorised; otherwise the 401 to send. `tenant_out` receives the token's tenant.
  std::optional<Response> check_auth(const Request& req, bool arm, std::string& tenant_out);
  std::optional<Response> reports_budget(const std::string& tenant);
  // Evaluates `$filter`, `$top`, `$skiptoken` over one collection and renders a page.
  Response list(const Request& req, const std::string& collection, bool arm, bool graph_beta,
                const std::function<bool(const json&)>& scope_pred);
  Response graph(const Request& req);
  Response arm(const Request& req);

  Response admin(const Request& req);
};

}  // namespace siem::emulator
