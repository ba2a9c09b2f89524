// LoopbackServer: the project's HTTP/1.1 test server (tools/emulator/server/http_server.h) bound to
// 127.0.0.1. Usage:
//   siem::test::TestPki pki;
//   auto srv = siem::test::LoopbackServer::tls(pki);          // or LoopbackServer::plain()
//   srv->route("POST", "/services/collector", [](const Request& r) { return Response::json(200, "{}"); });
//   srv->add_fault({.path_prefix = "/x", .count = 1, .status = 503});
//   srv->start();  ... srv->base_url() ... (destructor stops and joins)
#pragma once

#include <memory>

#include "tests/support/test_pki.h"
#include "tools/emulator/server/http_server.h"

namespace siem::test {

using httpd::Fault;
using httpd::Request;
using httpd::Response;
using LoopbackServer = httpd::HttpServer;

inline std::unique_ptr<LoopbackServer> make_plain_server() {
  return std::make_unique<LoopbackServer>(httpd::ServerOptions{});
}

// TLS with the PKI's localhost/127.0.0.1 certificate (or the wrong-name one).
inline std::unique_ptr<LoopbackServer> make_tls_server(const TestPki& pki, bool wrong_name = false) {
  httpd::ServerOptions o;
  o.tls = true;
  o.cert_file = wrong_name ? pki.wrong_name_cert() : pki.server_cert();
  o.key_file = wrong_name ? pki.wrong_name_key() : pki.server_key();
  return std::make_unique<LoopbackServer>(o);
}

}  // namespace siem::test
