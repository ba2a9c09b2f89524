#include "tools/emulator/emulator_impl.h"

#include <openssl/rand.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>

#include "tools/emulator/alert_collections.h"
#include "tools/emulator/alerts.h"

namespace siem::emulator {

using nlohmann::json;
using httpd::Request;
using httpd::Response;
using namespace detail;

namespace detail {

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch()).count();
}

std::string random_hex(std::size_t bytes) {
  std::vector<unsigned char> buf(bytes);
  RAND_bytes(buf.data(), static_cast<int>(buf.size()));
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : buf) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

std::string guid() {
  std::string h = random_hex(16);
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-" + h.substr(20);
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

// Splits on " and " (case-insensitive) outside quotes and parentheses.
std::vector<std::string> split_and(const std::string& filter) {
  std::vector<std::string> out;
  std::string cur;
  int depth = 0;
  bool quoted = false;
  for (std::size_t i = 0; i < filter.size(); ++i) {
    char c = filter[i];
    if (c == '\'') quoted = !quoted;
    if (!quoted && c == '(') ++depth;
    if (!quoted && c == ')') --depth;
    if (!quoted && depth == 0 && c == ' ' && i + 5 <= filter.size() && lower(filter.substr(i, 5)) == " and ") {
      out.push_back(trim(cur));
      cur.clear();
      i += 4;
      continue;
    }
    cur.push_back(c);
  }
  if (!trim(cur).empty() || !out.empty()) out.push_back(trim(cur));
  return out;
}

std::string timestamp_text() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%SZ", &tm);
  return buf;
}

std::string iso_now_seconds() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return buf;
}

Response graph_error(int status, const std::string& code, const std::string& message) {
  json body = {{"error",
                {{"code", code},
                 {"message", message},
                 {"innerError", {{"date", iso_now_seconds()}, {"request-id", guid()}, {"client-request-id", guid()}}}}}};
  return Response::json(status, body.dump());
}

Response arm_error(int status, const std::string& code, const std::string& message) {
  return Response::json(status, json{{"error", {{"code", code}, {"message", message}}}}.dump());
}

// Entra token endpoint error: 400 (401 for invalid_client) with the documented fields.
Response aad_error(int status, const std::string& error, int code, const std::string& text) {
  std::string trace = guid(), corr = guid(), ts = timestamp_text();
  json body = {{"error", error},
               {"error_description", "AADSTS" + std::to_string(code) + ": " + text + "\r\nTrace ID: " + trace +
                                         "\r\nCorrelation ID: " + corr + "\r\nTimestamp: " + ts},
               {"error_codes", {code}},
               {"timestamp", ts},
               {"trace_id", trace},
               {"correlation_id", corr}};
  if (error == "invalid_client" || error == "unauthorized_client") body["error_uri"] = "https://login.microsoftonline.com/error?code=" + std::to_string(code);
  return Response::json(status, body.dump());
}

std::map<std::string, std::string> parse_form(const std::string& body) {
  Request fake;
  fake.query = body;
  return fake.query_params();
}

// Time field that orders a collection and that `$filter` time terms apply to.
std::string time_field(const std::string& collection) {
  if (auto alert = security_alert_time_field(collection); !alert.empty()) return alert;
  if (collection == "directoryAudits") return "activityDateTime";
  if (collection == "activity") return "eventTimestamp";
  if (collection == "armRoleAssignmentScheduleRequests") return "properties/createdOn";
  if (collection == "riskDetections" || collection == "servicePrincipalRiskDetections") return "detectedDateTime";
  if (collection == "roleManagementAlerts") return "";
  if (collection.find("Instances") != std::string::npos || collection == "roleAssignments") return "";
  return "createdDateTime";
}

std::int64_t record_time(const json& rec, const std::string& field) {
  if (field.empty()) return 0;
  const json* p = &rec;
  std::string_view f = field;
  while (true) {
    auto slash = f.find('/');
    std::string part(f.substr(0, slash));
    if (!p->is_object() || !p->contains(part)) return 0;
    p = &(*p)[part];
    if (slash == std::string_view::npos) break;
    f.remove_prefix(slash + 1);
  }
  if (!p->is_string()) return 0;
  return parse_time_us(p->get<std::string>()).value_or(0);
}

bool time_ok(std::int64_t v, const std::vector<TimeTerm>& terms) {
  for (const auto& term : terms) {
    if (term.op == "ge" && !(v >= term.t)) return false;
    if (term.op == "gt" && !(v > term.t)) return false;
    if (term.op == "le" && !(v <= term.t)) return false;
    if (term.op == "lt" && !(v < term.t)) return false;
    if (term.op == "eq" && !(v == term.t)) return false;
  }
  return true;
}

// Merges `set` into every record whose id is `id`; how many there were.
std::size_t patch_records(std::vector<json>& records, const std::string& id, const json& set) {
  std::size_t changed = 0;
  for (auto& rec : records)
    if (rec.is_object() && rec.value("id", "") == id) {
      rec.merge_patch(set);
      ++changed;
    }
  return changed;
}

std::string endpoint_name(const std::string& path) {
  static const std::vector<std::pair<std::string, std::string>> names = {
      {"/oauth2/v2.0/token", "token"},
      {"/metadata/identity", "imds"},
      {"/auditLogs/directoryAudits", "graph.directoryAudits"},
      {"/auditLogs/signIns", "graph.signIns"},
      {"/roleManagement/directory/roleAssignmentScheduleRequests", "graph.roleAssignmentScheduleRequests"},
      {"/roleManagement/directory/roleEligibilityScheduleRequests", "graph.roleEligibilityScheduleRequests"},
      {"/roleManagement/directory/roleAssignmentScheduleInstances", "graph.roleAssignmentScheduleInstances"},
      {"/roleManagement/directory/roleEligibilityScheduleInstances", "graph.roleEligibilityScheduleInstances"},
      {"/roleManagement/directory/roleAssignments", "graph.roleAssignments"},
      {"/identityProtection/riskDetections", "graph.riskDetections"},
      {"/identityProtection/servicePrincipalRiskDetections", "graph.servicePrincipalRiskDetections"},
      {"/roleManagementAlerts/alerts", "graph.roleManagementAlerts"},
      {"/transitiveMembers", "graph.transitiveMembers"},
      {"/eventtypes/management/values", "arm.activity"},
      {"/Microsoft.Authorization/roleAssignmentScheduleRequests", "arm.roleAssignmentScheduleRequests"},
      {"/security/alerts_v2", "graph.securityAlerts"},
      {"/Microsoft.Security/alerts", "arm.defenderAlerts"},
      {"/_emulator", "admin"},
  };
  for (const auto& [needle, name] : names)
    if (path.find(needle) != std::string::npos) return name;
  return "other";
}

}  // namespace detail

std::optional<std::int64_t> parse_time_us(std::string_view s) {
  // YYYY-MM-DDTHH:MM:SS[.fffffff](Z|+00:00). Independent of the connector on purpose (emulator.h).
  if (s.size() < 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' || s[16] != ':')
    return std::nullopt;
  auto num = [&](std::size_t pos, std::size_t len) -> int {
    int v = 0;
    for (std::size_t i = pos; i < pos + len; ++i) {
      if (!std::isdigit(static_cast<unsigned char>(s[i]))) return -1;
      v = v * 10 + (s[i] - '0');
    }
    return v;
  };
  int Y = num(0, 4), M = num(5, 2), D = num(8, 2), h = num(11, 2), m = num(14, 2), sec = num(17, 2);
  if (Y < 0 || M < 1 || M > 12 || D < 1 || D > 31 || h < 0 || h > 23 || m < 0 || m > 59 || sec < 0 || sec > 60)
    return std::nullopt;
  std::size_t i = 19;
  std::int64_t frac_us = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    int digits = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
      if (digits < 6) frac_us = frac_us * 10 + (s[i] - '0');
      ++digits;
      ++i;
    }
    if (digits == 0) return std::nullopt;
    for (int d = std::min(digits, 6); d < 6; ++d) frac_us *= 10;
  }
  std::string_view tz = s.substr(i);
  if (!(tz == "Z" || tz == "z" || tz == "+00:00" || tz.empty())) return std::nullopt;
  // days from civil (Howard Hinnant)
  int y = M <= 2 ? Y - 1 : Y;
  int era = (y >= 0 ? y : y - 399) / 400;
  unsigned yoe = static_cast<unsigned>(y - era * 400);
  unsigned doy = static_cast<unsigned>((153 * (M + (M > 2 ? -3 : 9)) + 2) / 5 + D - 1);
  unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  std::int64_t days = static_cast<std::int64_t>(era) * 146097 + static_cast<std::int64_t>(doe) - 719468;
  return ((days * 24 + h) * 60 + m) * 60'000'000LL + sec * 1'000'000LL + frac_us;
}

std::string format_time(std::int64_t us) {
  std::int64_t secs = us >= 0 ? us / 1'000'000 : (us - 999'999) / 1'000'000;
  std::int64_t frac = us - secs * 1'000'000;
  std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[48];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[64];
  std::snprintf(out, sizeof out, "%s.%06lld0Z", buf, static_cast<long long>(frac));
  return out;
}

}  // namespace siem::emulator
