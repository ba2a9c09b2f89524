// librdkafka client settings shared by the Kafka sink and the Event Hubs (Kafka endpoint) source:
// brokers, SASL, TLS, the Event Hubs connection-string convenience and the verbatim `properties:`
// passthrough. Everything here is offline (no network), so `validate` can run it.
#pragma once

#include <librdkafka/rdkafka.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "connector/config/config_node.h"

namespace siem::kafka {

// An ordered list of librdkafka properties. Later entries win (user `properties:` come last).
class ClientProperties {
 public:
  void set(std::string key, std::string value);           // replaces an earlier value
  void set_default(std::string key, std::string value);   // only when not set yet
  const std::string* get(std::string_view key) const;
  bool has(std::string_view key) const { return get(key) != nullptr; }
  const std::vector<std::pair<std::string, std::string>>& items() const noexcept { return items_; }
  // "key=value, ..." with every secret property shown as ***: safe for logs.
  std::string dump() const;

 private:
  std::vector<std::pair<std::string, std::string>> items_;
};

// True for librdkafka properties that carry a secret (sasl.password, ssl.key.password, ...).
bool is_secret_property(std::string_view key);

// Parsed `Endpoint=sb://<ns>.servicebus.windows.net/;SharedAccessKeyName=..;SharedAccessKey=..[;EntityPath=..]`.
struct EventHubsConnection {
  std::string host;         // <ns>.servicebus.windows.net
  std::string entity_path;  // the hub, when the string is scoped to one
};
// nullopt-like: returns false and sets `why` when the string is not an Event Hubs connection string.
bool parse_eventhubs_connection_string(std::string_view text, EventHubsConnection& out, std::string& why);

struct ClientConfig {
  ClientProperties properties;   // complete: defaults, connection settings, then user properties
  std::set<std::string> user_keys;  // keys the user set under `properties:` (they win)
  bool eventhubs = false;        // the Event Hubs Kafka endpoint (gzip only, §5.4 settings)
  std::string entity_path;       // EntityPath of the Event Hubs connection string, if any
};

// Reads `brokers`, `sasl: {mechanism, username, password}`, `tls: {enabled, ca_file, cert_file,
// key_file, key_password, verify_hostname}`, `eventhubs: {connection_string}` and `properties:`.
// Errors go to the node's diagnostics with their location. `defaults` are applied first (the
// caller's design values), then connection settings, then the user's properties verbatim.
ClientConfig read_client_config(const ConfigNode& cfg, const ClientProperties& defaults);
// The table of the keys read_client_config() reads (the Kafka sink and the eventhub_kafka source
// include it).
const config::Section& client_keys();

// A librdkafka configuration object (owned until rd_kafka_new takes it: release() then).
using RdKafkaConf = std::unique_ptr<rd_kafka_conf_t, decltype(&rd_kafka_conf_destroy)>;

// Sets one property on `conf`; nullopt when librdkafka took it, else the error to report, which
// never shows a secret property's value (librdkafka's own message may echo it).
std::optional<std::string> set_property(rd_kafka_conf_t* conf, const std::string& key, const std::string& value);

// A configuration with every property set, in order; null (and `error` set) at the first one
// librdkafka refuses.
RdKafkaConf make_conf(const ClientProperties& properties, std::string& error);

// Checks every property against librdkafka (unknown names, bad values) without creating a client;
// problems are reported at `properties` (user keys) or at the node. `type` is producer|consumer.
void check_properties_offline(const ConfigNode& cfg, const ClientConfig& client);

}  // namespace siem::kafka
