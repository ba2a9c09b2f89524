// Offline parts of the Kafka sink: settings, passthrough, idempotence checks, Event Hubs and SASL
// mapping, secret redaction, topic templates, key/headers, delivery-error classes.
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "connector/config/config_node.h"
#include "sinks/kafka/kafka_client_config.h"
#include "sinks/kafka/kafka_sink.h"

namespace siem {
namespace {

struct Loaded {
  Diagnostics diags;
  std::shared_ptr<ConfigDocument> doc;
  KafkaSinkSettings settings;
};

std::unique_ptr<Loaded> load(const std::string& yaml) {
  auto l = std::make_unique<Loaded>();
  l->doc = ConfigDocument::load_string(yaml, "sink.yaml", l->diags);
  l->settings = read_kafka_sink_settings(l->doc->root(), "to-kafka", read_sink_format(l->doc->root()));
  return l;
}

std::string prop(const Loaded& l, const char* key) {
  const auto* v = l.settings.client.properties.get(key);
  return v ? *v : std::string("<unset>");
}

TEST(KafkaSinkConfig, DesignDefaults) {
  auto l = load("brokers: [k1:9092, k2:9092]\ntopic: siem\n");
  ASSERT_FALSE(l->diags.has_errors()) << l->diags.format();
  EXPECT_EQ(prop(*l, "bootstrap.servers"), "k1:9092,k2:9092");
  EXPECT_EQ(prop(*l, "enable.idempotence"), "true");
  EXPECT_EQ(prop(*l, "acks"), "all");
  EXPECT_EQ(prop(*l, "max.in.flight.requests.per.connection"), "5");
  EXPECT_EQ(prop(*l, "linger.ms"), "50");
  EXPECT_EQ(prop(*l, "message.timeout.ms"), "600000");
  EXPECT_EQ(prop(*l, "compression.codec"), "zstd");
  EXPECT_EQ(prop(*l, "allow.auto.create.topics"), "false");
  EXPECT_EQ(prop(*l, "security.protocol"), "<unset>");
  EXPECT_EQ(l->settings.message_timeout, std::chrono::milliseconds(600000));
  EXPECT_EQ(l->settings.format, OutputFormat::ecs);
  EXPECT_TRUE(l->settings.topic.is_static());
}

TEST(KafkaSinkConfig, UserPropertiesWinVerbatim) {
  auto l = load(
      "brokers: k1:9092\ntopic: siem\ncompression: lz4\ndelivery_timeout: 2m\nproperties:\n  linger.ms: 5\n"
      "  compression.codec: snappy\n  message.timeout.ms: 90000\n  statistics.interval.ms: 60000\n");
  ASSERT_FALSE(l->diags.has_errors()) << l->diags.format();
  EXPECT_EQ(prop(*l, "linger.ms"), "5");
  EXPECT_EQ(prop(*l, "compression.codec"), "snappy");
  EXPECT_EQ(prop(*l, "statistics.interval.ms"), "60000");
  EXPECT_EQ(l->settings.message_timeout, std::chrono::milliseconds(90000));  // bounds send()
}

TEST(KafkaSinkConfig, ConflictingIdempotenceSettingsAreConfigErrors) {
  for (const char* bad : {"enable.idempotence: false", "acks: 1", "max.in.flight.requests.per.connection: 10",
                          "retries: 0", "queuing.strategy: lifo", "transactional.id: x"}) {
    auto l = load(std::string("brokers: k1:9092\ntopic: siem\nproperties:\n  ") + bad + "\n");
    ASSERT_TRUE(l->diags.has_errors()) << bad;
    const std::string text = l->diags.format();
    EXPECT_NE(text.find("sink.yaml:"), std::string::npos) << text;
    EXPECT_NE(text.find("properties"), std::string::npos) << text;
  }
  auto ok = load("brokers: k1:9092\ntopic: siem\nproperties:\n  acks: -1\n  max.in.flight: 3\n");
  EXPECT_FALSE(ok->diags.has_errors()) << ok->diags.format();
}

TEST(KafkaSinkConfig, UnknownOrInvalidLibrdkafkaPropertyIsReportedOffline) {
  auto l = load("brokers: k1:9092\ntopic: siem\nproperties:\n  linger.msec: 5\n");
  ASSERT_TRUE(l->diags.has_errors());
  EXPECT_NE(l->diags.format().find("linger.msec"), std::string::npos) << l->diags.format();
  auto v = load("brokers: k1:9092\ntopic: siem\nproperties:\n  linger.ms: soon\n");
  EXPECT_TRUE(v->diags.has_errors());
}

// The one place the sink and the eventhub_kafka source build their librdkafka configuration:
// a refused property is named, its value shown only when it is not a secret.
TEST(KafkaSinkConfig, MakeConfNamesTheRefusedPropertyAndNeverShowsASecret) {
  kafka::ClientProperties good;
  good.set("linger.ms", "5");
  good.set("sasl.password", "hunter2");
  std::string why;
  EXPECT_TRUE(kafka::make_conf(good, why)) << why;
  kafka::ClientProperties bad = good;
  bad.set("linger.ms", "soon");
  auto conf = kafka::make_conf(bad, why);
  EXPECT_FALSE(conf);
  EXPECT_EQ(why.rfind("librdkafka property 'linger.ms': ", 0), 0u) << why;
  kafka::RdKafkaConf raw(rd_kafka_conf_new(), rd_kafka_conf_destroy);
  const auto secret = kafka::set_property(raw.get(), "custom.secret.token", "hunter2");
  ASSERT_TRUE(secret);
  EXPECT_EQ(*secret, "invalid value for librdkafka property 'custom.secret.token'");
  EXPECT_FALSE(kafka::set_property(raw.get(), "linger.ms", "7"));
}

TEST(KafkaSinkConfig, MissingBrokersAndTopicAreNamed) {
  auto l = load("format: cef\n");
  const std::string text = l->diags.format();
  EXPECT_NE(text.find("brokers"), std::string::npos) << text;
  EXPECT_NE(text.find("topic"), std::string::npos) << text;
  auto noport = load("brokers: kafka.example\ntopic: t\n");
  EXPECT_NE(noport->diags.format().find("no port"), std::string::npos) << noport->diags.format();
}

TEST(KafkaSinkConfig, SaslAndTlsMapToLibrdkafkaAndPasswordIsRedacted) {
  ::setenv("KAFKA_TEST_PW", "s3cr3t-value", 1);
  const auto ca = std::filesystem::temp_directory_path() / "kafka-unit-ca.pem";
  std::ofstream(ca) << "-----BEGIN CERTIFICATE-----\n";
  auto l = load("brokers: k1:9093\ntopic: siem\nsasl: {mechanism: SCRAM-SHA-512, username: svc, password: "
                "\"${KAFKA_TEST_PW}\"}\ntls: {ca_file: " + ca.string() + "}\n");
  ASSERT_FALSE(l->diags.has_errors()) << l->diags.format();
  EXPECT_EQ(prop(*l, "security.protocol"), "SASL_SSL");
  EXPECT_EQ(prop(*l, "sasl.mechanism"), "SCRAM-SHA-512");
  EXPECT_EQ(prop(*l, "sasl.username"), "svc");
  EXPECT_EQ(prop(*l, "sasl.password"), "s3cr3t-value");
  EXPECT_EQ(prop(*l, "ssl.ca.location"), ca.string());
  const std::string dump = l->settings.client.properties.dump();
  EXPECT_EQ(dump.find("s3cr3t-value"), std::string::npos) << dump;
  EXPECT_NE(dump.find("sasl.password=***"), std::string::npos) << dump;

  auto plain = load("brokers: k1:9092\ntopic: siem\nsasl: {username: svc, password: pw}\n");
  EXPECT_EQ(prop(*plain, "security.protocol"), "SASL_PLAINTEXT");
  EXPECT_EQ(prop(*plain, "sasl.mechanism"), "PLAIN");
  auto nopw = load("brokers: k1:9092\ntopic: siem\nsasl: {username: svc}\n");
  EXPECT_TRUE(nopw->diags.has_errors());
  // A password passed through `properties:` is redacted as well.
  auto passthrough = load("brokers: k1:9092\ntopic: siem\nproperties:\n  sasl.password: other-secret\n");
  EXPECT_EQ(passthrough->settings.client.properties.dump().find("other-secret"), std::string::npos);
}

TEST(KafkaSinkConfig, EventHubsConnectionStringSetsEndpointSettings) {
  ::setenv("EH_TEST_CONN",
           "Endpoint=sb://contoso-siem.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=abc+def/ghi=;"
           "EntityPath=entra-logs",
           1);
  auto l = load("eventhubs: {connection_string: \"${EH_TEST_CONN}\"}\nformat: ecs\n");
  ASSERT_FALSE(l->diags.has_errors()) << l->diags.format();
  EXPECT_EQ(prop(*l, "bootstrap.servers"), "contoso-siem.servicebus.windows.net:9093");
  EXPECT_EQ(prop(*l, "security.protocol"), "SASL_SSL");
  EXPECT_EQ(prop(*l, "sasl.mechanism"), "PLAIN");
  EXPECT_EQ(prop(*l, "sasl.username"), "$ConnectionString");
  EXPECT_EQ(prop(*l, "compression.codec"), "gzip");
  EXPECT_EQ(prop(*l, "message.max.bytes"), "1000000");
  EXPECT_EQ(prop(*l, "request.timeout.ms"), "60000");
  EXPECT_EQ(prop(*l, "metadata.max.age.ms"), "180000");
  EXPECT_EQ(prop(*l, "socket.keepalive.enable"), "true");
  EXPECT_EQ(prop(*l, "enable.idempotence"), "true");
  EXPECT_EQ(l->settings.topic.text(), "entra-logs");  // from EntityPath
  EXPECT_EQ(l->settings.client.properties.dump().find("SharedAccessKey=abc"), std::string::npos);

  auto zstd = load("eventhubs: {connection_string: \"${EH_TEST_CONN}\"}\ncompression: zstd\n");
  EXPECT_NE(zstd->diags.format().find("only gzip"), std::string::npos) << zstd->diags.format();
  ::setenv("EH_TEST_SAS", "Endpoint=sb://x.servicebus.windows.net/;SharedAccessSignature=SharedAccessSignature sr=x", 1);
  auto sas = load("eventhubs: {connection_string: \"${EH_TEST_SAS}\"}\ntopic: t\n");
  EXPECT_NE(sas->diags.format().find("SharedAccessSignature is not accepted"), std::string::npos) << sas->diags.format();
  EXPECT_EQ(sas->diags.format().find("sr=x"), std::string::npos);  // never the value
}

TEST(TopicTemplate, ParsesAndResolves) {
  TopicTemplate t;
  std::string why;
  ASSERT_TRUE(t.parse("entra.{kind}.{source}", why)) << why;
  EXPECT_FALSE(t.is_static());
  MappedEvent ev;
  ev.kind = SourceKind::graph_sign_in;
  ev.source_name = "tenant a/sign-ins";
  EXPECT_EQ(t.resolve(ev), "entra.graph_sign_in.tenant_a_sign-ins");
  ASSERT_TRUE(t.parse("siem-events", why));
  EXPECT_TRUE(t.is_static());
  EXPECT_EQ(t.resolve(ev), "siem-events");
  EXPECT_FALSE(t.parse("entra.{tenant}", why));
  EXPECT_NE(why.find("{tenant}"), std::string::npos);
  EXPECT_FALSE(t.parse("bad topic", why));
  EXPECT_FALSE(t.parse("entra.{kind", why));
  EXPECT_FALSE(t.parse("", why));
}

TEST(KafkaMessage, KeyAndHeaders) {
  MappedEvent ev;
  ev.kind = SourceKind::graph_directory_audit;
  ev.source_name = "entra-audit";
  ev.set_tenant_id("tid");
  ev.set_id("Directory_123");
  ev.tier = 0;
  EXPECT_EQ(kafka_message_key(ev), "tid:Directory_123");
  const auto h = kafka_message_headers(ev, OutputFormat::cef);
  std::map<std::string, std::string> m(h.begin(), h.end());
  EXPECT_EQ(m.at("schema"), "cef/0");
  EXPECT_EQ(m.at("format"), "cef");
  EXPECT_EQ(m.at("source"), "entra-audit");
  EXPECT_EQ(m.at("source-kind"), "graph_directory_audit");
  EXPECT_EQ(m.at("tenant"), "tid");
  EXPECT_EQ(m.at("pa-tier"), "0");
  EXPECT_EQ(m.at("connector-version"), SIEM_VERSION);
  EXPECT_EQ(m.at("content-type").rfind("text/plain", 0), 0u);
  ev.tier = -1;
  ev.set_tenant_id("");
  const auto h2 = kafka_message_headers(ev, OutputFormat::ecs);
  std::map<std::string, std::string> m2(h2.begin(), h2.end());
  EXPECT_EQ(m2.count("pa-tier"), 0u);
  EXPECT_EQ(m2.count("tenant"), 0u);
  EXPECT_EQ(m2.at("schema"), "ecs/8.11");
  ev.set_id("");
  EXPECT_EQ(kafka_message_key(ev), "");
}

TEST(KafkaMessage, DeliveryErrorClasses) {
  EXPECT_EQ(classify_delivery_error(RD_KAFKA_RESP_ERR_NO_ERROR), DeliveryClass::persisted);
  EXPECT_EQ(classify_delivery_error(RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE), DeliveryClass::rejected);
  EXPECT_EQ(classify_delivery_error(RD_KAFKA_RESP_ERR_INVALID_RECORD), DeliveryClass::rejected);
  EXPECT_EQ(classify_delivery_error(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART), DeliveryClass::config);
  EXPECT_EQ(classify_delivery_error(RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED), DeliveryClass::config);
  EXPECT_EQ(classify_delivery_error(RD_KAFKA_RESP_ERR__FATAL), DeliveryClass::fatal);
  EXPECT_EQ(classify_delivery_error(RD_KAFKA_RESP_ERR__MSG_TIMED_OUT), DeliveryClass::retriable);
  EXPECT_EQ(classify_delivery_error(RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS), DeliveryClass::retriable);
  EXPECT_EQ(classify_delivery_error(RD_KAFKA_RESP_ERR__TRANSPORT), DeliveryClass::retriable);
}

}  // namespace
}  // namespace siem
