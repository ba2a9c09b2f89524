// siem-mock-kafka: hosts librdkafka's mock cluster (the MockKafkaCluster of the Kafka component
// tests: real Kafka protocol on 127.0.0.1) for the Event Hubs leg of bench/race. Creates the topic,
// prints one line `bootstraps <host:port,...>`, then serves until its standard input is closed (the
// race keeps a pipe open and closes it when done; an exiting race closes it too). The race produces
// into it with kcat, as the component tests do.
//
//   siem-mock-kafka --topic NAME [--partitions N] [--brokers N]
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include "tests/component/kafka/kafka_test_support.h"

namespace {

[[noreturn]] void usage(const std::string& problem) {
  std::cerr << "siem-mock-kafka: " << problem << "\nusage: siem-mock-kafka --topic NAME [--partitions N] [--brokers N]\n";
  std::exit(2);
}

int number(const std::string& flag, const std::string& v, long max) {
  char* end = nullptr;
  const long n = std::strtol(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || n < 1 || n > max)
    usage(flag + " must be a number from 1 to " + std::to_string(max) + ", not '" + v + "'");
  return static_cast<int>(n);
}

}  // namespace

int main(int argc, char** argv) {
  std::string topic;
  int partitions = 3, brokers = 3;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) usage(a + " needs a value");
    const std::string v = argv[++i];
    if (a == "--topic") topic = v;
    else if (a == "--partitions") partitions = number(a, v, 1024);
    else if (a == "--brokers") brokers = number(a, v, 16);
    else usage("unknown argument '" + a + "'");
  }
  if (topic.empty()) usage("--topic is required");
  try {
    siem::testing::MockKafkaCluster cluster(brokers);
    cluster.create_topic(topic, partitions, std::min(brokers, 3));
    std::cout << "bootstraps " << cluster.bootstraps() << std::endl;
    char buf[256];
    while (::read(STDIN_FILENO, buf, sizeof buf) > 0) {
    }
  } catch (const std::exception& e) {
    std::cerr << "siem-mock-kafka: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
