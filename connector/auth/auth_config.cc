#include "connector/auth/auth_config.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <utility>

#include <fmt/format.h>

namespace siem::auth {
namespace {

std::string env_or(const char* name, std::string fallback = {}) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : fallback;
}

std::string strip_slash(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

// The authority aliases of multi-tenant and personal-account sign-in: the identity platform refuses
// app-only tokens for them (sources.md: the tenant GUID or a verified domain, never `common`).
bool multi_tenant_alias(std::string_view t) {
  for (std::string_view alias : {"common", "organizations", "consumers"}) {
    if (t.size() == alias.size() && std::equal(t.begin(), t.end(), alias.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == b;
        }))
      return true;
  }
  return false;
}

// A directory (tenant) id as Entra accepts it: a GUID or a domain name. It becomes a path segment
// of the token URL, so nothing else may pass.
bool valid_tenant_id(std::string_view t) {
  auto hex = [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; };
  if (t.size() == 36) {
    bool guid = true;
    for (std::size_t i = 0; i < t.size(); ++i)
      guid = guid && ((i == 8 || i == 13 || i == 18 || i == 23) ? t[i] == '-' : hex(t[i]));
    if (guid) return true;
  }
  if (t.empty() || t.size() > 253) return false;
  std::size_t start = 0;
  while (start <= t.size()) {
    auto dot = t.find('.', start);
    if (dot == std::string_view::npos) dot = t.size();
    const auto label = t.substr(start, dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
    if (!std::all_of(label.begin(), label.end(), [](unsigned char c) { return std::isalnum(c) || c == '-'; })) return false;
    start = dot + 1;
  }
  return true;
}

// Credentials and tokens travel to these endpoints: plain http is allowed only to this machine
// (tests, emulators, sidecars), to the link-local IMDS for managed identity, or when the operator
// says so with allow_insecure_http (then a warning).
struct PlainHttpPolicy {
  bool allowed = false;  // allow_insecure_http: true

  // Empty when `url` may be used; otherwise why not.
  std::string problem(std::string_view url, bool link_local_ok) const {
    http::Url u;
    try {
      u = http::parse_url(url);
    } catch (const http::Error& e) {
      return e.what();
    }
    if (u.scheme == "https" || allowed || http::is_loopback_host(u.host)) return {};
    if (link_local_ok && http::is_link_local_host(u.host)) return {};
    return "plain http to " + u.origin() + " would send credentials or tokens unencrypted: use https, or set "
           "allow_insecure_http: true on the source (a test setup only)";
  }
};

}  // namespace

using config::Type;

const config::Section& http_tls_keys() {
  static const config::Section s{"tls.https", "tls of an HTTPS source or sink", {}, {
      {"ca_file", Type::path, "", "*pinned.* extra trust anchors (PEM) in addition to the system store. Verification is always on"},
      {"client_cert_file", Type::path, "", "client certificate (PEM) for mutual TLS"},
      {"client_key_file", Type::path, "", "its private key (PEM); needs `client_cert_file`"},
      {"verify", Type::boolean, "true", "accepted only as `true`: verification cannot be turned off (add the CA with `ca_file`)"},
  }};
  return s;
}

namespace {

const config::Section& endpoints_keys() {
  static const config::Section s{"endpoints", "sources[].endpoints", {}, {
      {"login", Type::string, "", "login (token) endpoint root, e.g. `https://login.microsoftonline.com`"},
      {"graph", Type::string, "", "Microsoft Graph root, e.g. `https://graph.microsoft.com`"},
      {"arm", Type::string, "", "Azure Resource Manager root, e.g. `https://management.azure.com`"},
  }};
  return s;
}

const config::Section& auth_keys() {
  static const config::Section s{"auth", "sources[].auth", {}, {
      {"method", Type::choice, "client_secret", "*pinned.* how the source gets its tokens", {"client_secret", "certificate", "workload_identity", "managed_identity"}},
      {"client_id", Type::string, "", "*pinned.* application (client) id; `workload_identity`: default `AZURE_CLIENT_ID`; `managed_identity`: selects a user-assigned identity"},
      {"client_secret", Type::secret, "", "*pinned.* `client_secret`: the application's secret"},
      {"certificate_file", Type::path, "", "*pinned.* `certificate`: PEM certificate (and key, unless `private_key_file`); the assertion is signed with the key"},
      {"private_key_file", Type::path, "", "*pinned.* `certificate`: PEM private key when not in `certificate_file`"},
      {"jwt_algorithm", Type::choice, "PS256", "`certificate`: signature algorithm of the client assertion", {"PS256", "RS256"}},
      {"send_x5t", Type::boolean, "false", "`certificate`: also send the legacy SHA-1 `x5t` thumbprint header"},
      {"token_file", Type::path, "AZURE_FEDERATED_TOKEN_FILE", "*pinned.* `workload_identity`: the federated token file (Kubernetes `AZURE_FEDERATED_TOKEN_FILE`)"},
      {"endpoint", Type::string, "IMDS / IDENTITY_ENDPOINT", "`managed_identity`: token endpoint override"},
      {"identity_header", Type::secret, "IDENTITY_HEADER", "`managed_identity`: App Service / Container Apps identity header"},
      {"object_id", Type::string, "", "`managed_identity`: user-assigned identity by object id"},
      {"msi_res_id", Type::string, "", "`managed_identity`: user-assigned identity by resource id"},
  }};
  return s;
}

}  // namespace

const config::Section& source_connection_keys() {
  static const config::Section s{"graph_connection", "sources[] of the Graph and ARM types", {}, {
      {"tenant_id", Type::string, "required", "*pinned.* directory (tenant) id: a GUID or a domain name; `workload_identity`: default `AZURE_TENANT_ID`; `managed_identity` does not need it"},
      {"cloud", Type::choice, "public", "*pinned.* selects the login, Graph and ARM endpoints", {"public", "usgov", "dod", "china", "custom"}},
      {"endpoints", Type::section, "", "*pinned.* `{login, graph, arm}` URLs: required with `cloud: custom` (also used to point at the bundled emulator)", {}, &endpoints_keys()},
      {"auth", Type::section, "required", "*pinned.* credentials", {}, &auth_keys()},
      {"tls", Type::section, "", "*pinned.* TLS to Entra ID, Graph and ARM", {}, &http_tls_keys()},
      {"proxy", Type::string, "HTTPS_PROXY", "`http://host:port` of an HTTP proxy"},
      {"no_proxy", Type::string, "NO_PROXY", "comma-separated hosts reached without the proxy"},
      {"connect_timeout", Type::duration, "10s", "bound on establishing a connection"},
      {"request_timeout", Type::duration, "60s", "bound on one request and its response"},
      {"max_page_bytes", Type::size, "32MiB", "largest response body (on the wire and after gzip/deflate); a larger `Content-Length` is refused before the body is read. Fails the window"},
      {"allow_insecure_http", Type::boolean, "false", "allows `http://` endpoints (`endpoints.login/graph/arm`, `auth.endpoint`, `AZURE_AUTHORITY_HOST`) on hosts other than loopback; secrets and tokens then travel in clear. Draws a warning from `validate` and at start-up"},
  }};
  return s;
}

void read_tls_options(const ConfigNode& tls, http::ClientOptions& options) {
  if (!tls.valid()) return;
  if (auto ca = tls.existing_file("ca_file")) options.ca_file = ca->string();
  if (auto cert = tls.existing_file("client_cert_file")) options.client_cert_file = cert->string();
  if (auto key = tls.existing_file("client_key_file")) options.client_key_file = key->string();
  if (!options.client_key_file.empty() && options.client_cert_file.empty())
    tls.error_at("client_key_file", "client_key_file needs client_cert_file");
  if (tls.has("verify") && !tls.boolean("verify", true))
    tls.error_at("verify", "TLS verification cannot be turned off; add the issuing CA with ca_file instead");
}

SourceConnection read_source_connection(const ConfigNode& source) {
  SourceConnection out;
  AuthSettings& a = out.auth;

  PlainHttpPolicy plain_http;
  plain_http.allowed = source.boolean("allow_insecure_http", false);
  if (plain_http.allowed)
    source.diagnostics().warning(source.location_of("allow_insecure_http"), source.path() + ".allow_insecure_http",
                                 "allow_insecure_http is on: client secrets, assertions and access tokens of this source may "
                                 "travel over plain http to any host its endpoints name");

  // Cloud and endpoints.
  const std::string cloud = source.choice("cloud", {"public", "usgov", "dod", "china", "custom"}, "public");
  ConfigNode endpoints = source.child("endpoints");
  if (auto builtin = builtin_cloud(cloud)) {
    a.cloud = *builtin;
  } else {
    a.cloud.name = "custom";
    if (!endpoints.valid()) source.error_at("cloud", "cloud: custom needs endpoints: {login, graph, arm}");
  }
  if (endpoints.valid()) {
    auto read_endpoint = [&](std::string_view key, std::string& target) {
      auto v = endpoints.optional_string(key);
      if (v) {
        if (!(v->starts_with("https://") || v->starts_with("http://")))
          endpoints.error_at(key, "must be an http(s):// URL");
        else if (auto why = plain_http.problem(*v, false); !why.empty())
          endpoints.error_at(key, why);
        target = strip_slash(*v);
      } else if (cloud == "custom") {
        endpoints.error_at(key, std::string("cloud: custom needs endpoints.") + std::string(key));
      }
    };
    read_endpoint("login", a.cloud.login);
    read_endpoint("graph", a.cloud.graph);
    read_endpoint("arm", a.cloud.arm);
  }

  // Identity.
  ConfigNode auth = source.child("auth");
  if (!auth.valid()) {
    source.error_at("auth", "missing auth: {method: client_secret|certificate|workload_identity|managed_identity, ...}");
    return out;
  }
  const std::string method =
      auth.choice("method", {"client_secret", "certificate", "workload_identity", "managed_identity"}, "client_secret");
  a.tenant_id = source.string("tenant_id");
  if (!a.tenant_id.empty() && !valid_tenant_id(a.tenant_id))
    source.error_at("tenant_id", "tenant_id must be a directory id (GUID) or a domain name such as contoso.onmicrosoft.com");
  else if (multi_tenant_alias(a.tenant_id))
    source.error_at("tenant_id", fmt::format("tenant_id '{}' is a multi-tenant alias, which app-only (client credentials) tokens "
                                             "cannot use: give the directory id (GUID) or a verified domain of the tenant",
                                             a.tenant_id));
  a.client_id = auth.string("client_id");
  if (method == "client_secret") {
    a.method = AuthSettings::Method::client_secret;
    if (a.tenant_id.empty()) source.error_at("tenant_id", "client_secret auth needs tenant_id");
    if (a.client_id.empty()) auth.error_at("client_id", "client_secret auth needs client_id");
    a.client_secret = auth.secret("client_secret", true);
  } else if (method == "certificate") {
    a.method = AuthSettings::Method::certificate;
    if (a.tenant_id.empty()) source.error_at("tenant_id", "certificate auth needs tenant_id");
    if (a.client_id.empty()) auth.error_at("client_id", "certificate auth needs client_id");
    if (auto cert = auth.existing_file("certificate_file", true)) a.certificate_file = cert->string();
    if (auto key = auth.existing_file("private_key_file")) a.private_key_file = key->string();
    a.jwt_algorithm = auth.choice("jwt_algorithm", {"PS256", "RS256"}, "PS256");
    a.send_x5t = auth.boolean("send_x5t", false);
  } else if (method == "workload_identity") {
    a.method = AuthSettings::Method::workload_identity;
    if (a.tenant_id.empty()) a.tenant_id = env_or("AZURE_TENANT_ID");
    if (a.client_id.empty()) a.client_id = env_or("AZURE_CLIENT_ID");
    if (auto f = auth.file_path("token_file")) a.token_file = f->string();
    else a.token_file = env_or("AZURE_FEDERATED_TOKEN_FILE");
    if (!endpoints.valid() || !endpoints.has("login")) {
      if (auto host = env_or("AZURE_AUTHORITY_HOST"); !host.empty() && cloud == "public") {
        if (auto why = plain_http.problem(host, false); !why.empty()) auth.error_at("method", "AZURE_AUTHORITY_HOST: " + why);
        a.cloud.login = strip_slash(host);
      }
    }
    if (a.tenant_id.empty()) source.error_at("tenant_id", "workload_identity auth needs tenant_id (or AZURE_TENANT_ID)");
    else if (!source.has("tenant_id") && (!valid_tenant_id(a.tenant_id) || multi_tenant_alias(a.tenant_id)))
      source.error_at("tenant_id", "AZURE_TENANT_ID must be a directory id (GUID) or a domain name");
    if (a.client_id.empty()) auth.error_at("client_id", "workload_identity auth needs client_id (or AZURE_CLIENT_ID)");
    if (a.token_file.empty())
      auth.error_at("token_file", "workload_identity auth needs token_file (or AZURE_FEDERATED_TOKEN_FILE)");
  } else {
    a.method = AuthSettings::Method::managed_identity;
    if (auto ep = auth.optional_string("endpoint")) {
      if (!(ep->starts_with("http://") || ep->starts_with("https://"))) auth.error_at("endpoint", "must be an http(s):// URL");
      else if (auto why = plain_http.problem(*ep, true); !why.empty()) auth.error_at("endpoint", why);
      a.managed_identity_endpoint = *ep;
    }
    a.managed_identity_header = auth.secret("identity_header").reveal();
    a.object_id = auth.string("object_id");
    a.msi_res_id = auth.string("msi_res_id");
  }
  // A key of another method is an error, not silently ignored: a secret next to `method:
  // certificate` is a leftover the operator should remove (and would otherwise keep on disk).
  static constexpr std::pair<const char*, const char*> kMethodOfKey[] = {
      {"client_secret", "client_secret"},   {"certificate_file", "certificate"}, {"private_key_file", "certificate"},
      {"jwt_algorithm", "certificate"},     {"send_x5t", "certificate"},         {"token_file", "workload_identity"},
      {"endpoint", "managed_identity"},     {"identity_header", "managed_identity"},
      {"object_id", "managed_identity"},    {"msi_res_id", "managed_identity"}};
  for (const auto& [key, owner] : kMethodOfKey)
    if (method != owner && auth.has(key))
      auth.error_at(key, fmt::format("'{}' belongs to `method: {}`, not to `method: {}`: remove it", key, owner, method));

  // Transport.
  read_tls_options(source.child("tls"), out.http);
  if (auto proxy = source.optional_string("proxy")) {
    if (!proxy->starts_with("http://")) source.error_at("proxy", "proxy must be an http://host:port URL");
    out.http.proxy = *proxy;
  }
  out.http.no_proxy = source.string("no_proxy");
  out.http.connect_timeout = source.duration("connect_timeout", out.http.connect_timeout);
  out.http.request_timeout = source.duration("request_timeout", out.http.request_timeout);
  // A Graph/ARM page of 1000 rows is a few MiB; the client refuses anything larger on the wire.
  out.http.max_response_bytes = source.bytes("max_page_bytes", 32u * 1024 * 1024);
  if (out.http.max_response_bytes < 64 * 1024) source.error_at("max_page_bytes", "max_page_bytes must be at least 64KiB");
  return out;
}

}  // namespace siem::auth
