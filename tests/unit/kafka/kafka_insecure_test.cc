// Kafka settings that expose credentials or events on the network are warnings with exact text at
// the line that asks for them (the same diagnostics `validate` prints and `run` logs at start-up),
// for the kafka sink and the eventhub_kafka source alike (both read kafka::read_client_config).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "connector/config/config_node.h"
#include "sinks/kafka/kafka_client_config.h"

namespace siem {
namespace {

// The formatted diagnostics of reading `yaml` as a Kafka client configuration.
std::string diagnostics_of(const std::string& yaml) {
  Diagnostics diags;
  auto doc = ConfigDocument::load_string(yaml, "kafka.yaml", diags);
  (void)kafka::read_client_config(doc->root(), {});
  EXPECT_FALSE(diags.has_errors()) << diags.format();
  return diags.format();
}

TEST(KafkaInsecureSettings, SecureSettingsGiveNoWarning) {
  EXPECT_EQ(diagnostics_of("brokers: k:9093\n"
                           "sasl: {mechanism: SCRAM-SHA-512, username: u, password: p}\n"
                           "tls: {enabled: true}\n"
                           "properties:\n  ssl.endpoint.identification.algorithm: https\n"
                           "  enable.ssl.certificate.verification: 'true'\n"),
            "");
  EXPECT_EQ(diagnostics_of("eventhubs:\n  connection_string: Endpoint=sb://n.servicebus.windows.net/;"
                           "SharedAccessKeyName=k;SharedAccessKey=s\n"),
            "");
}

TEST(KafkaInsecureSettings, SaslWithoutTls) {
  EXPECT_EQ(diagnostics_of("brokers: k:9092\n"
                           "sasl: {mechanism: PLAIN, username: u, password: p}\n"),
            "kafka.yaml:2:7: warning: sasl: SASL without TLS (security.protocol=SASL_PLAINTEXT): the SASL "
            "credentials and every event travel unencrypted; add 'tls: {enabled: true}'\n");
  EXPECT_EQ(diagnostics_of("brokers: k:9092\n"
                           "sasl: {mechanism: PLAIN, username: u, password: p}\n"
                           "tls: {enabled: false}\n"),
            "kafka.yaml:2:7: warning: sasl: SASL without TLS (security.protocol=SASL_PLAINTEXT): the SASL "
            "credentials and every event travel unencrypted; add 'tls: {enabled: true}'\n");
  // Asked for through the passthrough: the warning is at that property.
  EXPECT_EQ(
      diagnostics_of("brokers: k:9092\n"
                     "properties:\n"
                     "  sasl.mechanism: PLAIN\n"
                     "  security.protocol: sasl_plaintext\n"),
      "kafka.yaml:4:22: warning: properties.security.protocol: SASL without TLS "
      "(security.protocol=SASL_PLAINTEXT): the SASL credentials and every event travel unencrypted; add "
      "'tls: {enabled: true}'\n");
}

TEST(KafkaInsecureSettings, VerifyHostnameFalse) {
  EXPECT_EQ(
      diagnostics_of("brokers: k:9093\n"
                     "tls:\n"
                     "  enabled: true\n"
                     "  verify_hostname: false\n"),
      "kafka.yaml:4:20: warning: tls.verify_hostname: verify_hostname: false: the broker's certificate is "
      "not checked against the broker's name, so any certificate the trusted CAs issued (for any host) is "
      "accepted as the broker\n");
}

TEST(KafkaInsecureSettings, CertificateVerificationOffInThePassthrough) {
  EXPECT_EQ(
      diagnostics_of("brokers: k:9093\n"
                     "tls: {enabled: true}\n"
                     "properties:\n"
                     "  enable.ssl.certificate.verification: 'false'\n"),
      "kafka.yaml:4:40: warning: properties.enable.ssl.certificate.verification: "
      "enable.ssl.certificate.verification=false: the broker's certificate is not verified at all; anyone "
      "on the network path can pose as the broker and receive the credentials and events\n");
}

TEST(KafkaInsecureSettings, EndpointIdentificationNoneInThePassthrough) {
  EXPECT_EQ(diagnostics_of("brokers: k:9093\n"
                           "tls: {enabled: true}\n"
                           "properties:\n"
                           "  ssl.endpoint.identification.algorithm: None\n"),
            "kafka.yaml:4:42: warning: properties.ssl.endpoint.identification.algorithm: "
            "ssl.endpoint.identification.algorithm=none: the broker's certificate is not checked against the "
            "broker's name, so any certificate the trusted CAs issued (for any host) is accepted\n");
}

// A literal librdkafka secret property (sasl.password, ssl.key.password...) in a config file others
// can read is the same warning as a literal secret anywhere else.
TEST(KafkaInsecureSettings, LiteralSecretPropertyInAReadableConfig) {
  const auto file =
      std::filesystem::temp_directory_path() / ("siem-kafka-" + std::to_string(::getpid()) + ".yaml");
  std::ofstream(file) << "brokers: k:9093\ntls: {enabled: true}\nproperties:\n  sasl.mechanism: PLAIN\n"
                         "  sasl.username: u\n  sasl.password: hunter2\n  security.protocol: SASL_SSL\n"
                         "  linger.ms: 5\n";
  for (mode_t mode : {0644u, 0600u}) {
    ::chmod(file.c_str(), mode);
    Diagnostics diags;
    auto doc = ConfigDocument::load_file(file, diags);
    (void)kafka::read_client_config(doc->root(), {});
    if (mode == 0600) {
      EXPECT_EQ(diags.format(), "");
    } else {
      EXPECT_EQ(diags.format(), file.string() +
                                    ":6:18: warning: properties.sasl.password: a literal secret in " +
                                    file.string() +
                                    ", which group or others can read (mode 0644): use ${ENV_VAR} or "
                                    "file:/path for it, or chmod 600 " +
                                    file.string() + "\n");
    }
  }
  std::filesystem::remove(file);
}

}  // namespace
}  // namespace siem
