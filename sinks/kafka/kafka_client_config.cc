#include "sinks/kafka/kafka_client_config.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <memory>

#include <fmt/format.h>

namespace siem::kafka {

namespace {

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r')) s.remove_suffix(1);
  return std::string(s);
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += sep;
    out += p;
  }
  return out;
}

bool is_false(std::string_view v) {
  const std::string t = trim(v);
  return iequals(t, "false") || iequals(t, "0") || iequals(t, "no") || iequals(t, "off");
}

// Settings that expose credentials or events on the network are allowed (test brokers, private
// networks) but never silent: each is a warning `validate` prints and `run` logs at start-up, at
// the key that asks for it. `sasl_node`: the config has a `sasl:` block (plain Kafka);
// `hostname_unchecked`: tls.verify_hostname is false.
void warn_insecure(const ConfigNode& cfg, const ClientConfig& out, bool sasl_node, const ConfigNode& tls,
                   bool hostname_unchecked) {
  auto& diags = cfg.diagnostics();
  auto path_of = [&](std::string_view key) {
    return cfg.path().empty() ? std::string(key) : cfg.path() + "." + std::string(key);
  };
  const ConfigNode props = out.user_keys.empty() ? ConfigNode() : cfg.child("properties");
  auto warn_property = [&](const std::string& key, std::string message) {
    diags.warning(props.location_of(key), path_of("properties." + key), std::move(message));
  };
  const YAML::Node written = props.yaml();  // const: looking a key up never adds it
  for (const auto& key : out.user_keys) {
    if (!is_secret_property(key)) continue;
    const YAML::Node raw = written[key];
    if (raw.IsScalar()) props.warn_if_readable_literal_secret(key, raw.Scalar());
  }
  const std::string* protocol = out.properties.get("security.protocol");
  if (protocol && iequals(trim(*protocol), "SASL_PLAINTEXT")) {
    std::string message =
        "SASL without TLS (security.protocol=SASL_PLAINTEXT): the SASL credentials and every event travel "
        "unencrypted; add 'tls: {enabled: true}'";
    if (out.user_keys.count("security.protocol") || !sasl_node)
      warn_property("security.protocol", std::move(message));
    else
      diags.warning(cfg.location_of("sasl"), path_of("sasl"), std::move(message));
  }
  if (hostname_unchecked)
    diags.warning(tls.location_of("verify_hostname"), path_of("tls.verify_hostname"),
                  "verify_hostname: false: the broker's certificate is not checked against the broker's name, so "
                  "any certificate the trusted CAs issued (for any host) is accepted as the broker");
  if (const auto* v = out.properties.get("enable.ssl.certificate.verification");
      v && out.user_keys.count("enable.ssl.certificate.verification") && is_false(*v))
    warn_property("enable.ssl.certificate.verification",
                  "enable.ssl.certificate.verification=false: the broker's certificate is not verified at all; "
                  "anyone on the network path can pose as the broker and receive the credentials and events");
  if (const auto* v = out.properties.get("ssl.endpoint.identification.algorithm");
      v && out.user_keys.count("ssl.endpoint.identification.algorithm") && iequals(trim(*v), "none"))
    warn_property("ssl.endpoint.identification.algorithm",
                  "ssl.endpoint.identification.algorithm=none: the broker's certificate is not checked against "
                  "the broker's name, so any certificate the trusted CAs issued (for any host) is accepted");
}

}  // namespace

void ClientProperties::set(std::string key, std::string value) {
  for (auto& kv : items_) {
    if (kv.first == key) {
      kv.second = std::move(value);
      return;
    }
  }
  items_.emplace_back(std::move(key), std::move(value));
}

void ClientProperties::set_default(std::string key, std::string value) {
  if (!has(key)) items_.emplace_back(std::move(key), std::move(value));
}

const std::string* ClientProperties::get(std::string_view key) const {
  for (const auto& kv : items_)
    if (kv.first == key) return &kv.second;
  return nullptr;
}

std::string ClientProperties::dump() const {
  std::string out;
  for (const auto& [k, v] : items_) {
    if (!out.empty()) out += ", ";
    out += k;
    out += '=';
    out += is_secret_property(k) ? std::string(Secret::redacted()) : v;
  }
  return out;
}

bool is_secret_property(std::string_view key) {
  static constexpr std::array<std::string_view, 9> kSecrets = {
      "sasl.password", "ssl.key.password", "ssl.key.pem", "ssl_key", "ssl.keystore.password",
      "sasl.oauthbearer.client.secret", "sasl.oauthbearer.config", "ssl.certificate.pem", "sasl.jaas.config"};
  if (std::find(kSecrets.begin(), kSecrets.end(), key) != kSecrets.end()) return true;
  // Anything that looks like a password or secret is treated as one: redacting too much is harmless.
  return key.find("password") != std::string_view::npos || key.find("secret") != std::string_view::npos;
}

bool parse_eventhubs_connection_string(std::string_view text, EventHubsConnection& out, std::string& why) {
  out = {};
  bool has_key_name = false, has_key = false, has_sas = false;
  while (!text.empty()) {
    const auto semi = text.find(';');
    const std::string_view part = text.substr(0, semi);
    text = semi == std::string_view::npos ? std::string_view{} : text.substr(semi + 1);
    if (trim(part).empty()) continue;
    const auto eq = part.find('=');
    if (eq == std::string_view::npos) {
      why = "expected Key=Value parts separated by ';'";
      return false;
    }
    const std::string key = trim(part.substr(0, eq));
    const std::string value = trim(part.substr(eq + 1));
    if (iequals(key, "Endpoint")) {
      std::string_view v = value;
      const auto scheme = v.find("://");
      if (scheme != std::string_view::npos) v.remove_prefix(scheme + 3);
      const auto slash = v.find('/');
      if (slash != std::string_view::npos) v = v.substr(0, slash);
      const auto colon = v.find(':');
      if (colon != std::string_view::npos) v = v.substr(0, colon);
      out.host = std::string(v);
    } else if (iequals(key, "SharedAccessKeyName")) {
      has_key_name = !value.empty();
    } else if (iequals(key, "SharedAccessKey")) {
      has_key = !value.empty();
    } else if (iequals(key, "SharedAccessSignature")) {
      has_sas = true;
    } else if (iequals(key, "EntityPath")) {
      out.entity_path = value;
    }
  }
  if (out.host.empty()) {
    why = "no 'Endpoint=sb://<namespace>.servicebus.windows.net/' part";
    return false;
  }
  if (has_sas && !has_key) {
    why = "a SharedAccessSignature is not accepted by the Event Hubs Kafka endpoint; use a connection string "
          "with SharedAccessKeyName and SharedAccessKey";
    return false;
  }
  if (!has_key_name || !has_key) {
    why = "SharedAccessKeyName and SharedAccessKey are required";
    return false;
  }
  return true;
}

namespace {

using config::Type;

const config::Section& eventhubs_keys() {
  static const config::Section s{"kafka.eventhubs", "eventhubs of a kafka sink or eventhub_kafka source", {}, {
      {"connection_string", Type::secret, "required", "a namespace or hub connection string. Sets brokers, SASL_SSL/PLAIN and the Event Hubs client settings"},
  }};
  return s;
}

const config::Section& sasl_keys() {
  static const config::Section s{"kafka.sasl", "sasl of a kafka sink or eventhub_kafka source", {}, {
      {"mechanism", Type::choice, "PLAIN", "SASL mechanism", {"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"}},
      {"username", Type::string, "required", "SASL user (not with OAUTHBEARER); `$$ConnectionString` for Event Hubs"},
      {"password", Type::secret, "required", "SASL password (not with OAUTHBEARER)"},
  }};
  return s;
}

const config::Section& kafka_tls_keys() {
  static const config::Section s{"kafka.tls", "tls of a kafka sink or eventhub_kafka source", {}, {
      {"enabled", Type::boolean, "true", "TLS to the brokers (the default when `tls` is given)"},
      {"ca_file", Type::path, "", "trust anchors (PEM) for the brokers' certificates"},
      {"cert_file", Type::path, "", "client certificate (PEM); goes with `key_file`"},
      {"key_file", Type::path, "", "client private key (PEM); goes with `cert_file`"},
      {"key_password", Type::secret, "", "password of `key_file`"},
      {"verify_hostname", Type::boolean, "true", "check the broker's name in its certificate; `false` is a warning"},
  }};
  return s;
}

}  // namespace

const config::Section& client_keys() {
  static const config::Section s{"kafka_client", "a kafka sink or eventhub_kafka source", {}, {
      {"brokers", Type::list, "required (or from the connection string)", "*pinned.* `host:port` of the bootstrap brokers"},
      {"eventhubs", Type::section, "", "the Event Hubs Kafka endpoint (cannot be combined with `sasl`)", {}, &eventhubs_keys()},
      {"sasl", Type::section, "", "*pinned.* SASL for plain Kafka; `sasl` without `tls` (SASL_PLAINTEXT) is a warning", {}, &sasl_keys()},
      {"tls", Type::section, "", "TLS to the brokers", {}, &kafka_tls_keys()},
      {"properties", Type::map, "", "*pinned.* librdkafka properties, passed as is; your values win"},
  }};
  return s;
}

ClientConfig read_client_config(const ConfigNode& cfg, const ClientProperties& defaults) {
  ClientConfig out;
  out.properties = defaults;
  auto& p = out.properties;

  std::vector<std::string> brokers = cfg.string_list("brokers");

  // ---- Event Hubs Kafka endpoint (formats.md §5.4, sources.md §6.3)
  const ConfigNode eh = cfg.child("eventhubs");
  if (eh.valid()) {
    out.eventhubs = true;
    const Secret conn = eh.secret("connection_string", /*required=*/true);
    if (!conn.empty()) {
      EventHubsConnection parsed;
      std::string why;
      if (!parse_eventhubs_connection_string(conn.reveal(), parsed, why)) {
        eh.error_at("connection_string", "not an Event Hubs connection string: " + why);
      } else {
        out.entity_path = parsed.entity_path;
        if (brokers.empty()) brokers.push_back(parsed.host + ":9093");
      }
      p.set("security.protocol", "SASL_SSL");
      p.set("sasl.mechanism", "PLAIN");
      p.set("sasl.username", "$ConnectionString");
      p.set("sasl.password", conn.reveal());
    }
    p.set("request.timeout.ms", "60000");
    p.set("metadata.max.age.ms", "180000");
    p.set("socket.keepalive.enable", "true");
    if (cfg.has("sasl")) cfg.error_at("sasl", "'sasl' and 'eventhubs' are exclusive: the connection string is the credential");
  }

  if (brokers.empty()) {
    if (!eh.valid()) cfg.error("missing required key 'brokers' (host:port, or a list of them)");
  } else {
    for (const auto& b : brokers) {
      if (b.find(':') == std::string::npos)
        cfg.error_at("brokers", fmt::format("broker '{}' has no port (expected host:port)", b));
    }
    p.set("bootstrap.servers", join(brokers, ","));
  }

  // ---- SASL for plain Kafka
  bool sasl = false;
  const ConfigNode s = cfg.child("sasl");
  if (s.valid() && !eh.valid()) {
    sasl = true;
    const std::string mech =
        s.choice("mechanism", {"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"}, "PLAIN");
    p.set("sasl.mechanism", mech);
    if (mech != "OAUTHBEARER") {
      p.set("sasl.username", s.required_string("username"));
      const Secret pw = s.secret("password", /*required=*/true);
      p.set("sasl.password", pw.reveal());
    }
  }

  // ---- TLS
  bool tls = false;
  bool hostname_unchecked = false;
  const ConfigNode t = cfg.child("tls");
  if (t.valid()) {
    tls = t.boolean("enabled", true);
    if (auto ca = t.existing_file("ca_file")) p.set("ssl.ca.location", ca->string());
    auto cert = t.existing_file("cert_file");
    auto key = t.existing_file("key_file");
    if (cert.has_value() != key.has_value())
      t.error("cert_file and key_file go together (client certificate authentication)");
    if (cert) p.set("ssl.certificate.location", cert->string());
    if (key) p.set("ssl.key.location", key->string());
    if (t.has("key_password")) p.set("ssl.key.password", t.secret("key_password").reveal());
    // Verification stays on; turning hostname checks off is explicit and a warning (warn_insecure).
    hostname_unchecked = !t.boolean("verify_hostname", true);
    if (hostname_unchecked) p.set("ssl.endpoint.identification.algorithm", "none");
  }
  if (!eh.valid()) {
    if (sasl && tls) p.set("security.protocol", "SASL_SSL");
    else if (sasl) p.set("security.protocol", "SASL_PLAINTEXT");
    else if (tls) p.set("security.protocol", "SSL");
  }

  // ---- verbatim passthrough: the user's values win
  for (auto& [k, v] : cfg.string_map("properties")) {
    out.user_keys.insert(k);
    p.set(k, v);
  }
  warn_insecure(cfg, out, s.valid() && !eh.valid(), t, hostname_unchecked);
  return out;
}

std::optional<std::string> set_property(rd_kafka_conf_t* conf, const std::string& key, const std::string& value) {
  char err[512];
  if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), err, sizeof err) == RD_KAFKA_CONF_OK) return std::nullopt;
  // Never echo a secret value: librdkafka's message may contain it.
  return is_secret_property(key) ? fmt::format("invalid value for librdkafka property '{}'", key)
                                 : fmt::format("librdkafka property '{}': {}", key, err);
}

RdKafkaConf make_conf(const ClientProperties& properties, std::string& error) {
  RdKafkaConf conf(rd_kafka_conf_new(), rd_kafka_conf_destroy);
  for (const auto& [k, v] : properties.items()) {
    if (auto why = set_property(conf.get(), k, v)) {
      error = std::move(*why);
      return RdKafkaConf(nullptr, rd_kafka_conf_destroy);
    }
  }
  return conf;
}

void check_properties_offline(const ConfigNode& cfg, const ClientConfig& client) {
  RdKafkaConf conf(rd_kafka_conf_new(), rd_kafka_conf_destroy);
  for (const auto& [k, v] : client.properties.items()) {
    if (k == "bootstrap.servers" && v.empty()) continue;
    if (auto msg = set_property(conf.get(), k, v)) {
      if (client.user_keys.count(k)) cfg.error_at("properties", *msg);
      else cfg.error(*msg);
    }
  }
}

}  // namespace siem::kafka
