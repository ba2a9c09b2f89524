#include <iostream>

#include <boost/version.hpp>
#include <fmt/format.h>
#include <librdkafka/rdkafka.h>
#include <nlohmann/json.hpp>
#include <openssl/opensslv.h>
#include <simdjson.h>
#include <spdlog/version.h>
#include <yaml-cpp/yaml.h>
#include <zlib.h>

#include "connector/app/commands.h"

#ifndef SIEM_GIT_REVISION
#define SIEM_GIT_REVISION "unknown"
#endif

namespace siem::app {

int version_command() {
  std::cout << fmt::format("siem-connector {} (git {})\n", SIEM_VERSION, SIEM_GIT_REVISION);
  std::cout << fmt::format("  OpenSSL     {}\n", OPENSSL_VERSION_TEXT);
  std::cout << fmt::format("  librdkafka  {}\n", rd_kafka_version_str());
  std::cout << fmt::format("  Boost       {}.{}.{}\n", BOOST_VERSION / 100000, BOOST_VERSION / 100 % 1000, BOOST_VERSION % 100);
  std::cout << fmt::format("  simdjson    {}.{}.{}\n", simdjson::SIMDJSON_VERSION_MAJOR, simdjson::SIMDJSON_VERSION_MINOR, simdjson::SIMDJSON_VERSION_REVISION);
  std::cout << fmt::format("  nlohmann    {}.{}.{}\n", NLOHMANN_JSON_VERSION_MAJOR, NLOHMANN_JSON_VERSION_MINOR,
                           NLOHMANN_JSON_VERSION_PATCH);
  std::cout << fmt::format("  spdlog      {}.{}.{}\n", SPDLOG_VER_MAJOR, SPDLOG_VER_MINOR, SPDLOG_VER_PATCH);
  std::cout << fmt::format("  zlib        {}\n", zlibVersion());
  std::cout << "  yaml-cpp    0.7 (Debian)\n";
  return 0;
}

}  // namespace siem::app
