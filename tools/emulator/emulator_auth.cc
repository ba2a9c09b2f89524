#include "tools/emulator/emulator_impl.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>

namespace siem::emulator {

using nlohmann::json;
using httpd::Request;
using httpd::Response;
using namespace detail;

namespace {

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

}  // namespace

const AppRegistration* Emulator::Impl::find_app(const std::string& tenant, const std::string& client) const {
  for (const auto& a : options.apps)
    if (a.tenant_id == tenant && a.client_id == client) return &a;
  return nullptr;
}

bool Emulator::Impl::tenant_known(const std::string& tenant) const {
  return std::any_of(options.apps.begin(), options.apps.end(), [&](const auto& a) { return a.tenant_id == tenant; });
}

std::string Emulator::Impl::self_url(const Request& req) {
  return "https://" + req.header("Host").value_or("127.0.0.1");
}

// Which API family a token's resource may call.
bool Emulator::Impl::resource_allows(const std::string& resource, bool arm, const std::string& self) {
  std::string r = lower(resource);
  while (!r.empty() && r.back() == '/') r.pop_back();
  if (r == lower(self) || r.rfind("https://127.0.0.1", 0) == 0 || r.rfind("https://localhost", 0) == 0) return true;
  if (arm) return r.find("management.") != std::string::npos;
  return r.find("graph.") != std::string::npos || r.find("microsoftgraph.") != std::string::npos;
}

json Emulator::Impl::issue_token(const std::string& tenant, const std::string& client, const std::string& resource) {
  std::string token = "emu." + random_hex(24);
  std::lock_guard lock(mu);
  tokens[token] = Token{tenant, client, resource, now_us() + options.token_lifetime.count() * 1'000'000LL};
  ++tokens_issued;
  return json{{"token_type", "Bearer"},
              {"expires_in", options.token_lifetime.count()},
              {"ext_expires_in", options.token_lifetime.count()},
              {"access_token", token}};
}

Response Emulator::Impl::token_endpoint(const Request& req) {
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

Response Emulator::Impl::imds(const Request& req) {
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
std::optional<Response> Emulator::Impl::check_auth(const Request& req, bool arm, std::string& tenant_out) {
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


}  // namespace siem::emulator
