// siem-hec-emulator: a Splunk HTTP Event Collector on loopback (HTTPS by default) for tests and the
// quickstart. See hec_emulator.h for the contract and docs/sinks.md for the admin endpoint.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <iostream>
#include <optional>

#include "tools/emulator/server/emulator_cli.h"
#include "tools/hec_emulator/hec_emulator.h"

int main(int argc, char** argv) {
  CLI::App app{"siem-hec-emulator: Splunk HTTP Event Collector emulator (loopback HTTPS)"};
  siem::httpd::ListenOptions listen;
  siem::hec::HecOptions opts;
  opts.admin_api = true;
  std::vector<std::string> tokens;
  siem::httpd::add_listen_options(app, listen);
  app.add_option("--token", tokens, "accepted HEC token (repeatable; default 00000000-0000-0000-0000-00000000cafe)");
  app.add_option("--disabled-token", opts.disabled_tokens, "known but disabled token (code 1)");
  app.add_flag("--ack", opts.ack_enabled, "enable indexer acknowledgment (channels required)");
  app.add_option("--max-content-length", opts.max_content_length, "largest request body in bytes (413 above)")
      ->capture_default_str();
  app.add_option("--allowed-index", opts.allowed_indexes, "index allowed for the token (repeatable; default any)");
  CLI11_PARSE(app, argc, argv);
  if (!tokens.empty()) opts.tokens = tokens;

  try {
    std::optional<siem::httpd::Pki> pki;
    auto so = siem::httpd::server_options(listen, "siem-hec-emulator CA", pki);
    so.max_body_bytes = std::max<std::size_t>(so.max_body_bytes, opts.max_content_length + 1);
    siem::httpd::HttpServer server(so);
    siem::hec::HecEmulator hec(opts, server);
    server.start();
    std::cout << "siem-hec-emulator listening on " << server.base_url() << (opts.ack_enabled ? " (acks on)" : "")
              << (pki ? ", trust " + pki->ca_pem().string() : std::string()) << std::endl;
    siem::httpd::serve_until_signalled(server, listen.port_file);
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "siem-hec-emulator: " << e.what() << std::endl;
    return 2;
  }
}
