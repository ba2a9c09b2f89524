// Proxy selection for the HTTP client (http_client.h): NO_PROXY matching, HTTPS_PROXY and the
// configured proxy, never a proxy for loopback or link-local destinations.
#include <algorithm>
#include <cstdlib>

#include "connector/http/http_client.h"
#include "connector/http/http_text.h"

namespace siem::http {
namespace {

using text::lower;
using text::trim;

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

}  // namespace

bool no_proxy_matches(std::string_view host_in, std::uint16_t port, std::string_view no_proxy) {
  std::string host = lower(host_in);
  if (!host.empty() && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  std::size_t pos = 0;
  while (pos <= no_proxy.size()) {
    auto end = no_proxy.find_first_of(", ", pos);
    if (end == std::string_view::npos) end = no_proxy.size();
    std::string entry = lower(trim(no_proxy.substr(pos, end - pos)));
    pos = end + 1;
    if (entry.empty()) continue;
    if (entry == "*") return true;
    // Optional ":port" (not for bare IPv6 literals).
    std::optional<unsigned long> entry_port;
    if (entry.front() == '[') {
      auto close = entry.find(']');
      if (close != std::string::npos) {
        if (close + 1 < entry.size() && entry[close + 1] == ':') entry_port = std::strtoul(entry.c_str() + close + 2, nullptr, 10);
        entry = entry.substr(1, close - 1);
      }
    } else if (std::count(entry.begin(), entry.end(), ':') == 1) {
      auto colon = entry.find(':');
      entry_port = std::strtoul(entry.c_str() + colon + 1, nullptr, 10);
      entry = entry.substr(0, colon);
    }
    if (entry_port && *entry_port != port) continue;
    if (entry.starts_with("*.")) entry = entry.substr(1);
    if (entry.starts_with(".")) {
      std::string bare = entry.substr(1);
      if (host == bare || host.ends_with(entry)) return true;
      continue;
    }
    if (host == entry || (host.size() > entry.size() && host.ends_with(entry) && host[host.size() - entry.size() - 1] == '.'))
      return true;
  }
  return false;
}

namespace {
// A proxy URL without "user:password@": proxy authentication is not supported, and credentials
// in HTTPS_PROXY must appear neither on the wire nor in an error message.
std::string without_userinfo(std::string_view proxy) {
  const auto scheme_end = proxy.find("://");
  if (scheme_end == std::string_view::npos) return std::string(proxy);
  const auto start = scheme_end + 3;
  const auto end = proxy.find_first_of("/?#", start);
  const auto at = proxy.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start).rfind('@');
  if (at == std::string_view::npos) return std::string(proxy);
  return std::string(proxy.substr(0, start)) + std::string(proxy.substr(start + at + 1));
}
}  // namespace

std::string select_proxy(const Url& url, const ClientOptions& options) {
  // Loopback and link-local (IMDS) destinations never leave the machine / link through a proxy.
  if (is_loopback_host(url.host) || is_link_local_host(url.host)) return {};
  if (!options.no_proxy.empty() && no_proxy_matches(url.host, url.port, options.no_proxy)) return {};
  if (!options.proxy.empty()) return without_userinfo(options.proxy);
  if (!options.use_env_proxy) return {};
  std::string proxy = url.scheme == "https" ? env("HTTPS_PROXY") : env("HTTP_PROXY");
  if (proxy.empty()) proxy = url.scheme == "https" ? env("https_proxy") : env("http_proxy");
  if (proxy.empty()) return {};
  std::string np = env("NO_PROXY");
  if (np.empty()) np = env("no_proxy");
  if (no_proxy_matches(url.host, url.port, np)) return {};
  return without_userinfo(proxy);
}

}  // namespace siem::http
