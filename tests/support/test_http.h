// A minimal blocking HTTP(S) client for tests that need to talk to a LoopbackServer or the
// emulator without the product's client (one request per connection, TLS verified against
// `ca_file` with host name check). Throws std::runtime_error on transport/TLS failure.
#pragma once

#include <string>

#include "tools/emulator/server/http_server.h"

namespace siem::test {

struct TestResponse {
  int status = 0;
  httpd::Headers headers;
  std::string body;
  std::string header(const std::string& name) const;
};

TestResponse http_fetch(const std::string& method, const std::string& url, const std::string& body = {},
                        const httpd::Headers& headers = {}, const std::string& ca_file = {});

}  // namespace siem::test
