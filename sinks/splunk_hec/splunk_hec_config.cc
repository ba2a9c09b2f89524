// The Splunk HEC sink's keys and settings, and the default sourcetypes; the sink is
// splunk_hec_sink.cc.
#include "sinks/splunk_hec/splunk_hec_sink.h"

#include <cctype>
#include <string_view>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "connector/auth/auth_config.h"

namespace siem {
namespace {

const std::vector<std::pair<std::string_view, SourceKind>>& kind_names() {
  static const std::vector<std::pair<std::string_view, SourceKind>> names = [] {
    std::vector<std::pair<std::string_view, SourceKind>> v;
    for (SourceKind k : all_source_kinds()) v.emplace_back(to_string(k), k);
    v.emplace_back(to_string(SourceKind::unknown), SourceKind::unknown);
    return v;
  }();
  return names;
}

bool is_guid(std::string_view v) {
  if (v.size() != 36) return false;
  for (std::size_t i = 0; i < v.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? v[i] != '-' : !std::isxdigit(static_cast<unsigned char>(v[i]))) return false;
  }
  return true;
}

}  // namespace

std::string default_hec_sourcetype(OutputFormat format, SourceKind kind) {
  if (format == OutputFormat::ecs) return "siem:ecs";
  if (format == OutputFormat::cef) return "cef";
  if (format == OutputFormat::ocsf) return "siem:ocsf";
  switch (kind) {
    case SourceKind::graph_directory_audit: return "azure:aad:audit";
    case SourceKind::graph_sign_in: return "azure:aad:signin";
    case SourceKind::graph_pim_request:
    case SourceKind::graph_pim_instance: return "azure:aad:pim";
    case SourceKind::azure_activity: return "mscs:azure:audit";
    case SourceKind::arm_pim_request: return "azure:arm:pim";
    case SourceKind::eventhub_audit:
    case SourceKind::eventhub_sign_in: return "azure:monitor:aad";
    case SourceKind::eventhub_activity: return "azure:monitor:activity";
    case SourceKind::graph_risk_detection: return "azure:aad:identity_protection:risk_detection";
    case SourceKind::graph_pim_alert: return "azure:aad:pim:alert";
    case SourceKind::graph_security_alert: return "GraphSecurityAlert";  // Microsoft Graph Security add-on
    case SourceKind::azure_defender_alert: return "mscs:azure:security:alert";  // Microsoft Cloud Services add-on
    case SourceKind::privileged_inventory: return "siem:pa:inventory";
    case SourceKind::unknown: break;
  }
  return "siem:raw";
}

const config::Section& splunk_hec_keys() {
  using config::Type;
  static const config::Section s{"splunk_hec", "sinks[] with type: splunk_hec", {}, {
      {"url", Type::string, "required", "*pinned.* the HEC base `https://host:8088` (or its `/services/collector/event` endpoint)"},
      {"token", Type::secret, "required", "*pinned.* the HEC token"},
      {"index", Type::string, "the token's default", "*pinned.* target index"},
      {"sourcetype", Type::string, "depends on `format` and kind", "*pinned.* sourcetype of every event (see `sourcetypes` and docs/sinks.md)"},
      {"sourcetypes", Type::map, "", "sourcetype per record kind, e.g. `{graph_sign_in: azure:aad:signin}`"},
      {"host", Type::string, "this machine's name", "`host` of the events"},
      {"source", Type::string, "", "`source` of the events"},
      {"fields", Type::map, "", "indexed fields added to every event"},
      {"gzip", Type::boolean, "true", "compress request bodies"},
      {"gzip_level", Type::integer, "4", "gzip level 1-9"},
      {"ack", Type::boolean, "false", "*pinned.* waits for indexer acknowledgement before acknowledging events"},
      {"channel", Type::string, "a random GUID", "HEC channel (a GUID)"},
      {"ack_timeout", Type::duration, "10m", "`ack: true`: a batch not acknowledged by then is sent again on a new channel"},
      {"ack_poll_interval", Type::duration, "1s", "`ack: true`: how often acknowledgements are polled"},
      {"max_batch_bytes", Type::size, "900000", "bytes per request before compression (Splunk Cloud: 1 MB); at least 1KiB"},
      {"tls", Type::section, "", "TLS to the HEC server", {}, &auth::http_tls_keys()},
      {"proxy", Type::string, "HTTPS_PROXY", "`http://host:port` of an HTTP proxy"},
      {"connect_timeout", Type::duration, "10s", "bound on establishing a connection"},
      {"request_timeout", Type::duration, "30s", "bound on one request and its response"},
  }};
  return s;
}

HecSinkSettings read_hec_sink_settings(const ConfigNode& cfg, const PluginContext& ctx) {
  HecSinkSettings s;
  s.name = ctx.name;
  s.format = ctx.format;
  std::string url = cfg.required_string("url");
  if (!url.empty()) {
    try {
      http::Url u = http::parse_url(url);
      std::string path = u.target.substr(0, u.target.find('?'));
      while (path.size() > 1 && path.back() == '/') path.pop_back();
      std::string origin = fmt::format("{}://{}", u.scheme, u.authority());
      auto at = path.find("/services/collector");
      if (at == std::string::npos) {
        std::string prefix = path == "/" ? "" : path;
        s.base_url = origin + prefix;
        s.url = s.base_url + "/services/collector/event";
      } else {
        s.base_url = origin + path.substr(0, at);
        std::string rest = path.substr(at);
        if (rest == "/services/collector" || rest == "/services/collector/event" || rest == "/services/collector/event/1.0")
          s.url = origin + path;
        else
          cfg.error_at("url", "url must be the HEC base (https://host:8088) or its /services/collector/event endpoint");
      }
      if (u.scheme == "http")
        spdlog::warn("sink {}: HEC url uses plain http: the token travels unencrypted", ctx.name);
    } catch (const http::Error& e) {
      cfg.error_at("url", e.what());
    }
  }
  s.token = cfg.secret("token", true);
  s.index = cfg.string("index");
  s.sourcetype = cfg.string("sourcetype");
  s.host = cfg.string("host", ctx.host_name);
  s.source = cfg.string("source");
  s.fields = cfg.string_map("fields");
  if (ConfigNode st = cfg.child("sourcetypes"); st.valid()) {
    for (const auto& [k, v] : cfg.string_map("sourcetypes")) {
      auto kind = source_kind_from_string(k);
      if (!kind && k != "unknown") {
        std::vector<std::string> names;
        for (const auto& [n, _] : kind_names()) names.emplace_back(n);
        auto hint = did_you_mean(k, names);
        st.error_at(k, fmt::format("unknown record kind '{}'{}", k, hint ? " (did you mean '" + *hint + "'?)" : ""));
        continue;
      }
      s.sourcetypes[kind.value_or(SourceKind::unknown)] = v;
    }
  }
  s.gzip = cfg.boolean("gzip", true);
  s.gzip_level = static_cast<int>(cfg.integer("gzip_level", 4, 1, 9));
  s.ack = cfg.boolean("ack", false);
  s.channel = cfg.string("channel");
  // formats.md §3.3: a malformed channel is HEC code 11, a fatal error at the first request; the
  // value is also sent as a header, so only the GUID's own characters are let through.
  if (!s.channel.empty() && !is_guid(s.channel))
    cfg.error_at("channel", "channel must be a GUID (8-4-4-4-12 hexadecimal digits, e.g. 0f8e4c5a-1b2c-4d3e-9f40-123456789abc)");
  s.ack_timeout = cfg.duration("ack_timeout", s.ack_timeout);
  s.ack_poll_interval = cfg.duration("ack_poll_interval", s.ack_poll_interval);
  if (s.ack_poll_interval.count() <= 0) cfg.error_at("ack_poll_interval", "must be positive");
  s.max_batch_bytes = static_cast<std::size_t>(cfg.bytes("max_batch_bytes", s.max_batch_bytes));
  if (s.max_batch_bytes < 1024) cfg.error_at("max_batch_bytes", "must be at least 1KiB");
  auth::read_tls_options(cfg.child("tls"), s.http);
  if (auto proxy = cfg.optional_string("proxy")) s.http.proxy = *proxy;
  s.http.connect_timeout = cfg.duration("connect_timeout", std::chrono::seconds(10));
  s.http.request_timeout = cfg.duration("request_timeout", std::chrono::seconds(30));
  return s;
}

}  // namespace siem
