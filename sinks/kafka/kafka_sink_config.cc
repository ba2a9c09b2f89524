// The Kafka sink's offline parts: its keys and settings (idempotence checks), topic templates,
// message key and headers, and the classes of delivery errors. The producer is kafka_sink.cc.
#include "sinks/kafka/kafka_sink.h"

#include <algorithm>
#include <charconv>
#include <memory>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace siem {

namespace {

bool topic_char_ok(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == '-';
}

void append_sanitised(std::string& out, std::string_view value) {
  for (char c : value) out += topic_char_ok(c) ? c : '_';
}

std::string_view schema_of(OutputFormat f) {
  switch (f) {
    case OutputFormat::ecs: return "ecs/8.11";
    case OutputFormat::cef: return "cef/0";
    case OutputFormat::ocsf: return "ocsf/1.3.0";
    case OutputFormat::raw: break;
  }
  return "raw";
}

std::string_view content_type_of(OutputFormat f) {
  return f == OutputFormat::cef ? "text/plain; charset=utf-8" : "application/json";
}

std::optional<std::int64_t> to_int(const std::string* s) {
  if (s == nullptr) return std::nullopt;
  std::int64_t v = 0;
  const auto* end = s->data() + s->size();
  auto [p, ec] = std::from_chars(s->data(), end, v);
  if (ec != std::errc() || p != end) return std::nullopt;
  return v;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Idempotence is what makes retries duplicate-free; settings that break it are configuration errors.
void check_idempotence(const ConfigNode& cfg, const kafka::ClientConfig& client) {
  const auto& p = client.properties;
  auto user = [&](std::string_view k) { return client.user_keys.count(std::string(k)) > 0; };
  auto bad = [&](std::string_view key, const std::string& why) {
    cfg.error_at("properties", fmt::format("'{}' {}: the kafka sink needs the idempotent producer "
                                           "(enable.idempotence=true, acks=all) for at-least-once delivery "
                                           "without producer duplicates",
                                           key, why));
  };
  if (const auto* v = p.get("enable.idempotence"); v && lower(*v) != "true") bad("enable.idempotence", "is " + *v);
  for (const char* k : {"acks", "request.required.acks"})
    if (const auto* v = p.get(k); v && user(k) && !(lower(*v) == "all" || *v == "-1")) bad(k, "is " + *v + ", not all");
  for (const char* k : {"max.in.flight.requests.per.connection", "max.in.flight"})
    if (auto n = to_int(p.get(k)); n && user(k) && *n > 5) bad(k, fmt::format("is {}, more than 5", *n));
  for (const char* k : {"retries", "message.send.max.retries"})
    if (auto n = to_int(p.get(k)); n && user(k) && *n == 0) bad(k, "is 0");
  if (const auto* v = p.get("queuing.strategy"); v && user("queuing.strategy") && lower(*v) != "fifo")
    bad("queuing.strategy", "is " + *v + ", not fifo");
  if (p.has("transactional.id"))
    cfg.error_at("properties", "'transactional.id': transactions are not used by the kafka sink (and not "
                               "supported by Event Hubs); remove it");
  if (const auto* v = p.get("enable.gapless.guarantee"); v && lower(*v) == "true")
    cfg.diagnostics().warning(cfg.location_of("properties"), cfg.path() + ".properties",
                              "'enable.gapless.guarantee' is experimental in librdkafka; leave it off");
}

}  // namespace

// ------------------------------------------------------------------------------------------ topic

bool TopicTemplate::parse(std::string_view text, std::string& why) {
  parts_.clear();
  has_placeholders_ = false;
  text_ = std::string(text);
  if (text.empty()) {
    why = "the topic is empty";
    return false;
  }
  std::string literal;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '{') {
      const auto close = text.find('}', i);
      if (close == std::string_view::npos) {
        why = fmt::format("unterminated placeholder at position {}", i + 1);
        return false;
      }
      const std::string_view name = text.substr(i + 1, close - i - 1);
      Part part;
      if (name == "kind") part = Part::kind;
      else if (name == "source") part = Part::source;
      else {
        why = fmt::format("unknown placeholder '{{{}}}' (use {{kind}} or {{source}})", name);
        return false;
      }
      if (!literal.empty()) parts_.emplace_back(Part::literal, std::move(literal));
      literal.clear();
      parts_.emplace_back(part, std::string());
      has_placeholders_ = true;
      i = close;
    } else if (topic_char_ok(c)) {
      literal += c;
    } else {
      why = fmt::format("character '{}' is not allowed in a Kafka topic name (allowed: A-Z a-z 0-9 . _ -)", c);
      return false;
    }
  }
  if (!literal.empty()) parts_.emplace_back(Part::literal, std::move(literal));
  if (!has_placeholders_ && (text == "." || text == "..")) {
    why = "'.' and '..' are not valid topic names";
    return false;
  }
  if (!has_placeholders_ && text.size() > 249) {
    why = "a topic name has at most 249 characters";
    return false;
  }
  return true;
}

std::string TopicTemplate::resolve(const MappedEvent& ev) const {
  if (!has_placeholders_) return text_;
  std::string out;
  for (const auto& [part, lit] : parts_) {
    switch (part) {
      case Part::literal: out += lit; break;
      case Part::kind: append_sanitised(out, to_string(ev.kind)); break;
      case Part::source: append_sanitised(out, ev.source_name.empty() ? "unknown" : ev.source_name); break;
    }
  }
  return out;
}

// ------------------------------------------------------------------------------------- messages

DeliveryClass classify_delivery_error(rd_kafka_resp_err_t err) noexcept {
  switch (err) {
    case RD_KAFKA_RESP_ERR_NO_ERROR: return DeliveryClass::persisted;
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
    case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
      return DeliveryClass::rejected;
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
      return DeliveryClass::config;
    case RD_KAFKA_RESP_ERR__FATAL:
    case RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER:
    case RD_KAFKA_RESP_ERR_UNKNOWN_PRODUCER_ID:
    case RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH:
    case RD_KAFKA_RESP_ERR_PRODUCER_FENCED:
      return DeliveryClass::fatal;
    default: return DeliveryClass::retriable;
  }
}

std::string kafka_message_key(const MappedEvent& ev) {
  if (ev.id().empty()) return {};
  std::string key;
  key.reserve(ev.tenant_id().size() + 1 + ev.id().size());
  key += ev.tenant_id();
  key += ':';
  key += ev.id();
  return key;
}

std::vector<std::pair<std::string, std::string>> kafka_message_headers(const MappedEvent& ev, OutputFormat format) {
  std::vector<std::pair<std::string, std::string>> h;
  h.reserve(8);
  h.emplace_back("content-type", std::string(content_type_of(format)));
  h.emplace_back("schema", std::string(schema_of(format)));
  h.emplace_back("source", ev.source_name);
  h.emplace_back("source-kind", std::string(to_string(ev.kind)));
  h.emplace_back("format", std::string(to_string(format)));
  if (!ev.tenant_id().empty()) h.emplace_back("tenant", ev.tenant_id());
  h.emplace_back("connector-version", SIEM_VERSION);
  if (ev.tier >= 0) h.emplace_back("pa-tier", std::to_string(ev.tier));
  return h;
}

// ------------------------------------------------------------------------------------- settings

const config::Section& kafka_sink_keys() {
  using config::Type;
  static const config::Section s{"kafka", "sinks[] with type: kafka", {&kafka::client_keys()}, {
      {"topic", Type::string, "required", "*pinned.* a name, or a template with `{kind}` and `{source}`, e.g. `entra.{kind}`"},
      {"compression", Type::choice, "zstd (gzip with Event Hubs)", "message compression", {"none", "gzip", "snappy", "lz4", "zstd"}},
      {"delivery_timeout", Type::duration, "600s", "`message.timeout.ms`"},
      {"metadata_timeout", Type::duration, "10s", "bound on the metadata request at start-up"},
  }};
  return s;
}

KafkaSinkSettings read_kafka_sink_settings(const ConfigNode& cfg, const std::string& name, OutputFormat format) {
  KafkaSinkSettings s;
  s.name = name;
  s.format = format;

  const bool eventhubs = cfg.has("eventhubs");
  const std::string compression =
      cfg.choice("compression", {"none", "gzip", "snappy", "lz4", "zstd"}, eventhubs ? "gzip" : "zstd");
  if (eventhubs && compression != "gzip" && compression != "none")
    cfg.error_at("compression", fmt::format("Event Hubs supports only gzip compression, not {}", compression));
  const auto delivery_timeout = cfg.duration("delivery_timeout", std::chrono::milliseconds(600'000));
  s.metadata_timeout = cfg.duration("metadata_timeout", std::chrono::milliseconds(10'000));

  // Design values (formats.md §5.1); connection settings and the user's properties come after.
  kafka::ClientProperties defaults;
  defaults.set("client.id", "siem-connector");
  defaults.set("enable.idempotence", "true");
  defaults.set("acks", "all");
  defaults.set("max.in.flight.requests.per.connection", "5");
  defaults.set("message.timeout.ms", std::to_string(delivery_timeout.count()));
  defaults.set("linger.ms", "50");
  defaults.set("batch.size", "1000000");
  defaults.set("compression.codec", compression);
  // A SIEM topic is provisioned on purpose: a typo must not create a new topic silently.
  defaults.set("allow.auto.create.topics", "false");
  if (eventhubs) defaults.set("message.max.bytes", "1000000");
  s.client = kafka::read_client_config(cfg, defaults);

  std::string topic = cfg.string("topic");
  if (topic.empty() && !s.client.entity_path.empty()) topic = s.client.entity_path;  // hub-scoped string
  std::string why;
  if (topic.empty()) cfg.error("missing required key 'topic' (a name, or a template such as \"entra.{kind}\")");
  else if (!s.topic.parse(topic, why)) cfg.error_at("topic", why);

  if (eventhubs) {
    if (const auto* c = s.client.properties.get("compression.codec"); c && *c != "gzip" && *c != "none")
      cfg.error_at("properties", fmt::format("compression.codec={}: Event Hubs supports only gzip", *c));
  }
  check_idempotence(cfg, s.client);
  kafka::check_properties_offline(cfg, s.client);

  // The effective delivery timeout bounds how long send() waits for delivery reports.
  std::optional<std::int64_t> mt;
  for (const auto& [k, v] : s.client.properties.items())
    if (k == "message.timeout.ms" || k == "delivery.timeout.ms") mt = to_int(&v);
  if (mt && *mt > 0) s.message_timeout = std::chrono::milliseconds(*mt);
  else if (mt && *mt == 0) cfg.error_at("properties", "message.timeout.ms=0 (infinite) would let send() wait forever");
  return s;
}

}  // namespace siem
