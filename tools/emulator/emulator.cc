#include "tools/emulator/emulator.h"
#include "tools/emulator/directory.h"

#include "tools/emulator/alert_collections.h"
#include "tools/emulator/alerts.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <deque>
#include <map>
#include <mutex>
#include <regex>

#include "tools/emulator/server/pki.h"

namespace siem::emulator {

using nlohmann::json;
using httpd::Request;
using httpd::Response;

namespace {

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

struct Pkey {
  EVP_PKEY* p = nullptr;
  ~Pkey() { EVP_PKEY_free(p); }
};

bool load_cert_key(const std::filesystem::path& pem, Pkey& out) {
  std::FILE* f = std::fopen(pem.c_str(), "rb");
  if (!f) return false;
  X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  if (!cert) return false;
  out.p = X509_get_pubkey(cert);
  X509_free(cert);
  return out.p != nullptr;
}

bool verify_rs(const std::filesystem::path& cert, const std::string& alg, const std::string& signed_part,
               const std::string& sig) {
  Pkey key;
  if (!load_cert_key(cert, key)) return false;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  bool ok = EVP_DigestVerifyInit(ctx, &pctx, EVP_sha256(), nullptr, key.p) == 1;
  if (ok && alg == "PS256") {
    ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_AUTO) == 1;
  }
  ok = ok && EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                              reinterpret_cast<const unsigned char*>(signed_part.data()), signed_part.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

struct Jwt {
  json header, claims;
  std::string signed_part, signature;
};

std::optional<Jwt> decode_jwt(const std::string& token) {
  auto d1 = token.find('.');
  auto d2 = token.find('.', d1 == std::string::npos ? d1 : d1 + 1);
  if (d1 == std::string::npos || d2 == std::string::npos) return std::nullopt;
  try {
    Jwt j;
    j.header = json::parse(httpd::base64url_decode(token.substr(0, d1)));
    j.claims = json::parse(httpd::base64url_decode(token.substr(d1 + 1, d2 - d1 - 1)));
    j.signed_part = token.substr(0, d2);
    j.signature = httpd::base64url_decode(token.substr(d2 + 1));
    return j;
  } catch (const std::exception&) {
    return std::nullopt;
  }
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

struct TimeTerm {
  std::string op;
  std::int64_t t;
};

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

}  // namespace

std::optional<std::int64_t> parse_time_us(std::string_view s) {
  // YYYY-MM-DDTHH:MM:SS[.fffffff](Z|+00:00)
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

struct Emulator::Impl {
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

  const AppRegistration* find_app(const std::string& tenant, const std::string& client) const {
    for (const auto& a : options.apps)
      if (a.tenant_id == tenant && a.client_id == client) return &a;
    return nullptr;
  }
  bool tenant_known(const std::string& tenant) const {
    return std::any_of(options.apps.begin(), options.apps.end(), [&](const auto& a) { return a.tenant_id == tenant; });
  }

  static std::string self_url(const Request& req) {
    return "https://" + req.header("Host").value_or("127.0.0.1");
  }

  // Which API family a token's resource may call.
  static bool resource_allows(const std::string& resource, bool arm, const std::string& self) {
    std::string r = lower(resource);
    while (!r.empty() && r.back() == '/') r.pop_back();
    if (r == lower(self) || r.rfind("https://127.0.0.1", 0) == 0 || r.rfind("https://localhost", 0) == 0) return true;
    if (arm) return r.find("management.") != std::string::npos;
    return r.find("graph.") != std::string::npos || r.find("microsoftgraph.") != std::string::npos;
  }

  json issue_token(const std::string& tenant, const std::string& client, const std::string& resource) {
    std::string token = "emu." + random_hex(24);
    std::lock_guard lock(mu);
    tokens[token] = Token{tenant, client, resource, now_us() + options.token_lifetime.count() * 1'000'000LL};
    ++tokens_issued;
    return json{{"token_type", "Bearer"},
                {"expires_in", options.token_lifetime.count()},
                {"ext_expires_in", options.token_lifetime.count()},
                {"access_token", token}};
  }

  Response token_endpoint(const Request& req) {
    // /{tenant}/oauth2/v2.0/token
    std::string tenant = req.path.substr(1, req.path.find('/', 1) - 1);
    auto form = parse_form(req.body);
    if (!tenant_known(tenant))
      return aad_error(400, "invalid_request", 90002,
                       "Tenant '" + tenant + "' not found. Check to make sure you have the correct tenant ID and are "
                       "signing into the correct cloud.");
    if (form["grant_type"] != "client_credentials")
      return aad_error(400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type '" + form["grant_type"] + "'.");
    std::string client = form["client_id"];
    std::string scope = form["scope"];
    std::string resource;
    if (scope.size() > 9 && scope.compare(scope.size() - 9, 9, "/.default") == 0 && scope.find(' ') == std::string::npos) {
      resource = scope.substr(0, scope.size() - 9);
    } else {
      return aad_error(400, "invalid_scope", 70011,
                       "The provided value for the input parameter 'scope' is not valid. The scope " + scope + " is not valid.");
    }
    if (!resource_allows(resource, false, self_url(req)) && !resource_allows(resource, true, self_url(req)))
      return aad_error(400, "invalid_scope", 70011,
                       "The provided value for the input parameter 'scope' is not valid. The scope " + scope + " is not valid.");

    std::string assertion_type = form["client_assertion_type"];
    if (!assertion_type.empty()) {
      const std::string& assertion = form["client_assertion"];
      auto jwt = decode_jwt(assertion);
      if (!jwt) return aad_error(400, "invalid_client", 50027, "JWT token is invalid or malformed.");
      std::string iss = jwt->claims.value("iss", ""), sub = jwt->claims.value("sub", "");
      // Federated credential: the assertion's issuer is the external IdP.
      const AppRegistration* fed = nullptr;
      for (const auto& a : options.apps)
        if (a.tenant_id == tenant && a.client_id == client && !a.federated_issuer.empty() && a.federated_issuer == iss) fed = &a;
      const AppRegistration* app = fed ? fed : find_app(tenant, client);
      if (!app)
        return aad_error(400, "unauthorized_client", 700016,
                         "Application with identifier '" + client + "' was not found in the directory '" + tenant +
                             "'. This can happen if the application has not been installed by the administrator of the "
                             "tenant or consented to by any user in the tenant.");
      std::string alg = jwt->header.value("alg", "");
      if (alg != "RS256" && alg != "PS256")
        return aad_error(401, "invalid_client", 5002738, "Invalid JWT token. '" + alg + "' is not a supported signature algorithm.");
      std::int64_t now_s = now_us() / 1'000'000;
      std::int64_t exp = jwt->claims.value("exp", std::int64_t{0}), nbf = jwt->claims.value("nbf", std::int64_t{0});
      if (fed) {
        if (sub != app->federated_subject)
          return aad_error(400, "invalid_client", 70021,
                           "No matching federated identity record found for presented assertion. Assertion Issuer: '" +
                               iss + "'. Assertion Subject: '" + sub + "'.");
        if (!verify_rs(app->federation_cert, alg, jwt->signed_part, jwt->signature))
          return aad_error(401, "invalid_client", 700027, "Client assertion failed signature validation.");
      } else {
        if (app->certificate.empty() || !verify_rs(app->certificate, alg, jwt->signed_part, jwt->signature))
          return aad_error(401, "invalid_client", 700027,
                           "The certificate with identifier used to sign the client assertion is not registered on "
                           "application. [Reason - The key was not found., Thumbprint of key used by client: '" +
                               jwt->header.value("x5t", jwt->header.value("x5t#S256", "")) + "']");
        std::string aud = jwt->claims.value("aud", "");
        std::string want_suffix = "/" + tenant + "/oauth2/v2.0/token";
        if (aud.size() < want_suffix.size() || aud.compare(aud.size() - want_suffix.size(), want_suffix.size(), want_suffix) != 0)
          return aad_error(401, "invalid_client", 700212, "No matching federated identity record found for presented assertion audience '" + aud + "'.");
        if (iss != client || sub != client)
          return aad_error(401, "invalid_client", 700023,
                           "Client assertion audience claim does not match Realm issuer or the iss/sub claims are not the client id.");
      }
      if (exp <= now_s) return aad_error(401, "invalid_client", 700024, "Client assertion is not within its valid time range.");
      if (nbf > now_s + 300) return aad_error(401, "invalid_client", 700024, "Client assertion is not within its valid time range.");
      return Response::json(200, issue_token(tenant, client, resource).dump());
    }

    // Client secret: form field or HTTP Basic.
    std::string secret = form["client_secret"];
    if (auto auth = req.header("Authorization"); auth && auth->rfind("Basic ", 0) == 0) {
      std::string decoded = httpd::base64url_decode(auth->substr(6));
      auto colon = decoded.find(':');
      if (colon != std::string::npos) {
        client = httpd::percent_decode(decoded.substr(0, colon), true);
        secret = httpd::percent_decode(decoded.substr(colon + 1), true);
      }
    }
    const AppRegistration* app = find_app(tenant, client);
    if (!app)
      return aad_error(400, "unauthorized_client", 700016,
                       "Application with identifier '" + client + "' was not found in the directory '" + tenant +
                           "'. This can happen if the application has not been installed by the administrator of the "
                           "tenant or consented to by any user in the tenant.");
    if (secret.empty())
      return aad_error(401, "invalid_client", 7000218,
                       "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.");
    if (app->client_secret.empty() || secret != app->client_secret)
      return aad_error(401, "invalid_client", 7000215,
                       "Invalid client secret provided. Ensure the secret being sent in the request is the client secret "
                       "value, not the client secret ID, for a secret added to app '" + client + "'.");
    if (app->secret_expired)
      return aad_error(401, "invalid_client", 7000222,
                       "The provided client secret keys for app '" + client + "' are expired. Visit the Azure portal to "
                       "create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate "
                       "credentials for added security: https://aka.ms/certCreds.");
    return Response::json(200, issue_token(tenant, client, resource).dump());
  }

  Response imds(const Request& req) {
    if (req.header("Metadata").value_or("") != "true")
      return Response::json(400, R"({"error":"invalid_request","error_description":"Required metadata header not specified"})");
    auto q = req.query_params();
    if (q["resource"].empty())
      return Response::json(400, R"({"error":"invalid_request","error_description":"Required audience parameter not specified"})");
    std::string tenant = options.apps.empty() ? std::string("00000000-0000-0000-0000-000000000000") : options.apps.front().tenant_id;
    json tok = issue_token(tenant, q.count("client_id") ? q["client_id"] : "managed-identity", q["resource"]);
    std::int64_t now_s = now_us() / 1'000'000;
    json body = {{"access_token", tok["access_token"]},
                 {"client_id", q.count("client_id") ? q["client_id"] : guid()},
                 {"expires_in", std::to_string(options.token_lifetime.count())},
                 {"expires_on", std::to_string(now_s + options.token_lifetime.count())},
                 {"ext_expires_in", std::to_string(options.token_lifetime.count())},
                 {"not_before", std::to_string(now_s)},
                 {"resource", q["resource"]},
                 {"token_type", "Bearer"}};
    return Response::json(200, body.dump());
  }

  // nullopt: authorised; otherwise the 401 to send. `tenant_out` receives the token's tenant.
  std::optional<Response> check_auth(const Request& req, bool arm, std::string& tenant_out) {
    auto auth = req.header("Authorization");
    auto fail = [&](const std::string& code, const std::string& msg) {
      Response r = arm ? arm_error(401, code, msg) : graph_error(401, code, msg);
      r.with_header("WWW-Authenticate", "Bearer realm=\"\", error=\"invalid_token\"");
      return r;
    };
    if (!auth || auth->rfind("Bearer ", 0) != 0) return fail(arm ? "AuthenticationFailed" : "InvalidAuthenticationToken", "Access token is empty.");
    std::lock_guard lock(mu);
    auto it = tokens.find(auth->substr(7));
    if (it == tokens.end()) return fail("InvalidAuthenticationToken", "Access token validation failure. Invalid audience.");
    if (it->second.expires_us <= now_us())
      return fail(arm ? "ExpiredAuthenticationToken" : "InvalidAuthenticationToken",
                  arm ? "The access token expiry UTC time is earlier than current UTC time."
                      : "Lifetime validation failed, the token is expired.");
    if (!resource_allows(it->second.resource, arm, self_url(req)))
      return fail("InvalidAuthenticationToken", "Access token validation failure. Invalid audience.");
    tenant_out = it->second.tenant;
    return std::nullopt;
  }

  std::optional<Response> reports_budget(const std::string& tenant) {
    if (options.reports_limit_per_10s <= 0) return std::nullopt;
    std::lock_guard lock(mu);
    auto& w = report_windows[tenant];
    std::int64_t now = now_us();
    while (!w.empty() && w.front() <= now - 10'000'000) w.pop_front();
    if (static_cast<int>(w.size()) >= options.reports_limit_per_10s) {
      double wait = static_cast<double>(w.front() + 10'000'000 - now) / 1e6;
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.3f", std::max(wait, 0.001));
      w.push_back(now);  // requests during throttling still count
      Response r = graph_error(429, "TooManyRequests", "Please retry again later.");
      r.with_header("Retry-After", buf);
      return r;
    }
    w.push_back(now);
    return std::nullopt;
  }

  // Evaluates `$filter`, `$top`, `$skiptoken` over one collection and renders a page.
  Response list(const Request& req, const std::string& collection, bool arm, bool graph_beta,
                const std::function<bool(const json&)>& scope_pred) {
    auto q = req.query_params();
    for (const auto& [k, v] : q) {
      if (!k.empty() && k[0] != '$' && k != "api-version") {
        if (arm) return arm_error(400, "BadRequest", "Query parameter '" + k + "' is not supported.");
        // Graph ignores unknown non-$ parameters (that is how `top=` silently does nothing).
      }
    }
    if (arm && q["api-version"].empty())
      return arm_error(400, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests.");
    std::string tfield = time_field(collection);
    std::string tname = tfield.substr(tfield.rfind('/') == std::string::npos ? 0 : tfield.rfind('/') + 1);
    std::vector<TimeTerm> terms;
    std::optional<std::string> event_type;
    std::vector<std::pair<std::string, std::string>> eq_terms;
    bool has_lower = false, has_upper = false;
    if (q.count("$filter")) {
      for (const auto& term : split_and(q["$filter"])) {
        static const std::regex time_re(R"(^(\w+)\s+(ge|gt|le|lt|eq)\s+'?([0-9T:.\-+Zz]+)'?$)");
        static const std::regex any_re(R"(^signInEventTypes/any\(\s*(\w+)\s*:\s*(\w+)\s+eq\s+'(\w+)'\s*\)$)");
        static const std::regex eq_re(R"(^(\w+)\s+eq\s+'([^']*)'$)");
        std::smatch m;
        if (std::regex_match(term, m, time_re) && !tname.empty() && m[1] == tname) {
          auto t = parse_time_us(m[3].str());
          if (!t) {
            return arm ? arm_error(400, "BadRequest", "The $filter '" + q["$filter"] + "' has an invalid timestamp.")
                       : graph_error(400, "BadRequest", "Invalid filter clause: invalid DateTimeOffset '" + m[3].str() + "'.");
          }
          bool quoted = term.find('\'') != std::string::npos;
          if (arm != quoted) {
            return arm ? arm_error(400, "BadRequest", "The $filter '" + q["$filter"] + "' is invalid: timestamps must be quoted.")
                       : graph_error(400, "BadRequest", "Invalid filter clause: A binary operator with incompatible types was detected. Found operand types 'Edm.DateTimeOffset' and 'Edm.String' for operator kind 'GreaterThanOrEqual'.");
          }
          terms.push_back({m[2].str(), *t});
          if (m[2] == "ge" || m[2] == "gt") has_lower = true;
          if (m[2] == "le" || m[2] == "lt") has_upper = true;
        } else if (collection == "signIns" && graph_beta && std::regex_match(term, m, any_re) && m[1] == m[2]) {
          event_type = m[3].str();
        } else if (collection == "roleManagementAlerts" && std::regex_match(term, m, eq_re)) {
          eq_terms.emplace_back(m[1].str(), m[2].str());
        } else if (arm && std::regex_match(term, m, eq_re) &&
                   (m[1] == "resourceGroupName" || m[1] == "resourceUri" || m[1] == "resourceProvider" ||
                    m[1] == "correlationId" || m[1] == "status" || m[1] == "levels")) {
          eq_terms.emplace_back(m[1].str(), m[2].str());
        } else {
          return arm ? arm_error(400, "BadRequest", "The $filter '" + q["$filter"] + "' is not supported: term '" + term + "'.")
                     : graph_error(400, "BadRequest", "Invalid filter clause: Could not find a property named '" +
                                                          term.substr(0, term.find(' ')) + "' or the filter term '" + term +
                                                          "' is not supported.");
        }
      }
    }
    if (collection == "roleManagementAlerts")
      if (auto bad = check_alert_scope(eq_terms)) return graph_error(400, "BadRequest", *bad);
    if (collection == "activity" && (!has_lower || !has_upper))
      return arm_error(400, "BadRequest", "The $filter must contain an eventTimestamp range (ge and le).");
    const PageSizes sizes = page_sizes(collection);
    int top = arm ? std::clamp(options.arm_page_size, 1, sizes.max_top) : sizes.default_top;
    if (q.count("$top")) {
      try {
        top = std::stoi(q["$top"]);
      } catch (const std::exception&) {
        top = -1;
      }
      if (top < 1 || top > sizes.max_top)
        return arm ? arm_error(400, "BadRequest", "$top must be between 1 and 1000.")
                   : graph_error(400, "BadRequest", "Invalid page size specified: '" + q["$top"] + "'. Must be between 1 and " +
                                                        std::to_string(sizes.max_top) + " inclusive.");
    }
    std::size_t offset = 0;
    if (q.count("$skiptoken")) {
      std::string decoded;
      try {
        decoded = httpd::base64url_decode(q["$skiptoken"]);
      } catch (const std::exception&) {
      }
      if (decoded.rfind("emu1:", 0) != 0)
        return arm ? arm_error(400, "BadRequest", "Invalid skiptoken.") : graph_error(400, "BadRequest", "Invalid skip token.");
      offset = static_cast<std::size_t>(std::stoull(decoded.substr(5)));
    }

    // $expand=principal: the schedule instances' principal (user, service principal or group).
    const bool expand_principal = q.count("$expand") && collection.find("Instances") != std::string::npos;
    // (PIM alerts expand alertDefinition / alertIncidents: alert_collections.h.)
    if (q.count("$expand") && collection != "roleManagementAlerts" && (!expand_principal || q["$expand"] != "principal"))
      return graph_error(400, "BadRequest", "Could not find a property named '" + q["$expand"] + "' on type 'microsoft.graph.entity'.");
    std::vector<json> matched;
    {
      std::lock_guard lock(mu);
      for (const auto& rec : collections[collection]) {
        if (!time_ok(record_time(rec, tfield), terms)) continue;
        if (scope_pred && !scope_pred(rec)) continue;
        if (collection == "signIns") {
          std::string types = rec.contains("signInEventTypes") && rec["signInEventTypes"].is_array() && !rec["signInEventTypes"].empty()
                                  ? rec["signInEventTypes"][0].get<std::string>()
                                  : "interactiveUser";
          std::string want = graph_beta ? event_type.value_or("interactiveUser") : "interactiveUser";
          if (types != want) continue;
        }
        bool eq_ok = true;
        for (const auto& [field, value] : eq_terms) {
          if (field == "resourceGroupName" && lower(rec.value("resourceGroupName", "")) != lower(value)) eq_ok = false;
          if (field == "correlationId" && rec.value("correlationId", "") != value) eq_ok = false;
        }
        if (!eq_ok) continue;
        json out = rec;
        if (collection == "signIns" && !graph_beta) out.erase("signInEventTypes");
        apply_expand(collection, q.count("$expand") ? q["$expand"] : std::string(), out);
        if (expand_principal) out["principal"] = directory_object(collections["directoryObjects"], rec.value("principalId", ""))
                                                     .value_or(json(nullptr));
        matched.push_back(std::move(out));
      }
    }
    // Default ordering: newest first for the reports, as Graph does for sign-ins.
    if (!tfield.empty()) {
      std::stable_sort(matched.begin(), matched.end(), [&](const json& a, const json& b) {
        return record_time(a, tfield) > record_time(b, tfield);
      });
    }
    json page = json::array();
    for (std::size_t i = offset; i < matched.size() && page.size() < static_cast<std::size_t>(top); ++i) page.push_back(matched[i]);
    json body;
    if (!arm) body["@odata.context"] = self_url(req) + "/" + (graph_beta ? "beta" : "v1.0") + "/$metadata#" + collection;
    body["value"] = std::move(page);
    std::size_t next = offset + static_cast<std::size_t>(top);
    if (next < matched.size()) {
      // nextLink: every original query option plus an opaque skiptoken.
      std::string link = self_url(req) + req.path + "?";
      bool first = true;
      for (const auto& [k, v] : q) {
        if (k == "$skiptoken") continue;
        link += (first ? "" : "&") + httpd::percent_encode(k) + "=" + httpd::percent_encode(v);
        first = false;
      }
      link += (first ? "" : "&") + std::string("$skiptoken=") + httpd::base64url_encode("emu1:" + std::to_string(next));
      body[arm ? "nextLink" : "@odata.nextLink"] = link;
    }
    return Response::json(200, body.dump());
  }

  Response graph(const Request& req) {
    bool beta = req.path.rfind("/beta/", 0) == 0;
    std::string rest = req.path.substr(beta ? 5 : 5);  // "/v1.0" and "/beta" are both 5 chars
    std::string tenant;
    if (auto deny = check_auth(req, false, tenant)) return *deny;
    static const std::vector<std::pair<std::string, std::string>> routes = {
        {"/auditLogs/directoryAudits", "directoryAudits"},
        {"/auditLogs/signIns", "signIns"},
        {"/roleManagement/directory/roleAssignmentScheduleRequests", "roleAssignmentScheduleRequests"},
        {"/roleManagement/directory/roleEligibilityScheduleRequests", "roleEligibilityScheduleRequests"},
        {"/roleManagement/directory/roleAssignmentScheduleInstances", "roleAssignmentScheduleInstances"},
        {"/roleManagement/directory/roleEligibilityScheduleInstances", "roleEligibilityScheduleInstances"},
        {"/roleManagement/directory/roleAssignments", "roleAssignments"},
        {"/identityProtection/riskDetections", "riskDetections"},
        {"/identityProtection/servicePrincipalRiskDetections", "servicePrincipalRiskDetections"},
        {"/identityGovernance/roleManagementAlerts/alerts", "roleManagementAlerts"},
        {"/security/alerts_v2", kSecurityAlerts},
    };
    // /groups/{id}/transitiveMembers: the group's members, nested groups' included, paged.
    static const std::regex members_re(R"(^/groups/([0-9a-fA-F-]{36})/transitiveMembers$)");
    if (std::smatch m; std::regex_match(rest, m, members_re)) {
      const std::string id = m[1].str();
      {
        std::lock_guard lock(mu);
        auto members = transitive_members(collections["directoryObjects"], id);
        if (!members)
          return graph_error(404, "Request_ResourceNotFound", "Resource '" + id + "' does not exist or one of its queried reference-property objects are not present.");
        collections["_transitiveMembers." + id] = std::move(*members);
      }
      return list(req, "_transitiveMembers." + id, false, beta, nullptr);
    }
    for (const auto& [path, collection] : routes) {
      if (rest != path) continue;
      if (collection == "roleManagementAlerts" && !beta)  // beta only
        return graph_error(400, "BadRequest", "Resource not found for the segment 'roleManagementAlerts'.");
      if (collection == "directoryAudits" || collection == "signIns")
        if (auto throttled = reports_budget(tenant)) return *throttled;
      return list(req, collection, false, beta, nullptr);
    }
    return graph_error(400, "BadRequest", "Resource not found for the segment '" + rest.substr(rest.rfind('/') + 1) + "'.");
  }

  Response arm(const Request& req) {
    std::string tenant;
    if (auto deny = check_auth(req, true, tenant)) return *deny;
    static const std::string activity_suffix = "/providers/Microsoft.Insights/eventtypes/management/values";
    static const std::string pim_suffix = "/providers/Microsoft.Authorization/roleAssignmentScheduleRequests";
    auto ends_with = [&](const std::string& s) {
      return req.path.size() >= s.size() && lower(req.path.substr(req.path.size() - s.size())) == lower(s);
    };
    if (ends_with(activity_suffix)) {
      std::string scope = req.path.substr(0, req.path.size() - activity_suffix.size());  // /subscriptions/{id}
      std::string sub = scope.substr(scope.rfind('/') + 1);
      if (std::find(options.subscriptions.begin(), options.subscriptions.end(), sub) == options.subscriptions.end())
        return arm_error(404, "SubscriptionNotFound", "The subscription '" + sub + "' could not be found.");
      return list(req, "activity", true, false, [sub](const json& r) { return r.value("subscriptionId", "") == sub; });
    }
    static const std::string defender_suffix = "/providers/Microsoft.Security/alerts";
    if (ends_with(defender_suffix)) {
      std::string scope = req.path.substr(0, req.path.size() - defender_suffix.size());  // /subscriptions/{id}
      std::string sub = scope.substr(scope.rfind('/') + 1);
      if (std::find(options.subscriptions.begin(), options.subscriptions.end(), sub) == options.subscriptions.end())
        return arm_error(404, "SubscriptionNotFound", "The subscription '" + sub + "' could not be found.");
      const std::string prefix = lower(scope) + "/";
      return list(req, kDefenderAlerts, true, false, [prefix](const json& r) { return lower(r.value("id", "")).rfind(prefix, 0) == 0; });
    }
    if (ends_with(pim_suffix)) {
      std::string scope = lower(req.path.substr(0, req.path.size() - pim_suffix.size()));
      return list(req, "armRoleAssignmentScheduleRequests", true, false, [scope](const json& r) {
        std::string s = lower(r["properties"].value("scope", ""));
        return scope.empty() || s.rfind(scope, 0) == 0;
      });
    }
    return arm_error(404, "InvalidResourceType", "The resource type could not be found for path '" + req.path + "'.");
  }

  Response admin(const Request& req);
};

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
