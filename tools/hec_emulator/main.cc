// siem-hec-emulator: a Splunk HTTP Event Collector on loopback (HTTPS by default) for tests and the
// quickstart. See hec_emulator.h for the contract and docs/sinks.md for the admin endpoint.
#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>
#include <thread>

#include "tools/emulator/server/pki.h"
#include "tools/hec_emulator/hec_emulator.h"

namespace {

volatile std::sig_atomic_t g_stop = 0;
extern "C" void on_signal(int) { g_stop = 1; }

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"siem-hec-emulator: Splunk HTTP Event Collector emulator (loopback HTTPS)"};
  std::string listen = "127.0.0.1:0";
  std::string port_file, pki_dir, cert, key;
  bool plain = false;
  siem::hec::HecOptions opts;
  opts.admin_api = true;
  std::vector<std::string> tokens;
  app.add_option("--listen", listen, "address:port to listen on (port 0 = ephemeral)")->capture_default_str();
  app.add_option("--port-file", port_file, "write the bound port to this file once listening");
  app.add_option("--pki-dir", pki_dir, "generate a CA + localhost certificate here (ca.pem is what clients trust)");
  app.add_option("--cert", cert, "server certificate chain (PEM) instead of --pki-dir");
  app.add_option("--key", key, "server private key (PEM) for --cert");
  app.add_flag("--plain-http", plain, "serve plain HTTP (tests only)");
  app.add_option("--token", tokens, "accepted HEC token (repeatable; default 00000000-0000-0000-0000-00000000cafe)");
  app.add_option("--disabled-token", opts.disabled_tokens, "known but disabled token (code 1)");
  app.add_flag("--ack", opts.ack_enabled, "enable indexer acknowledgment (channels required)");
  app.add_option("--max-content-length", opts.max_content_length, "largest request body in bytes (413 above)")
      ->capture_default_str();
  app.add_option("--allowed-index", opts.allowed_indexes, "index allowed for the token (repeatable; default any)");
  CLI11_PARSE(app, argc, argv);
  if (!tokens.empty()) opts.tokens = tokens;

  try {
    auto colon = listen.rfind(':');
    if (colon == std::string::npos) throw std::runtime_error("--listen must be address:port, got '" + listen + "'");
    siem::httpd::ServerOptions so;
    so.address = listen.substr(0, colon);
    so.port = static_cast<std::uint16_t>(std::stoi(listen.substr(colon + 1)));
    so.max_body_bytes = std::max<std::size_t>(so.max_body_bytes, opts.max_content_length + 1);
    std::optional<siem::httpd::Pki> pki;
    if (!plain) {
      so.tls = true;
      if (!cert.empty()) {
        so.cert_file = cert;
        so.key_file = key.empty() ? cert : key;
      } else {
        if (pki_dir.empty()) throw std::runtime_error("give --pki-dir (generated certificate) or --cert/--key, or --plain-http");
        pki.emplace(pki_dir, "siem-hec-emulator CA");
        auto paths = pki->issue_server("server", {"localhost", "127.0.0.1"}, 30);
        so.cert_file = paths.cert.string();
        so.key_file = paths.key.string();
      }
    }
    siem::httpd::HttpServer server(so);
    siem::hec::HecEmulator hec(opts, server);
    server.start();
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    std::cout << "siem-hec-emulator listening on " << server.base_url() << (opts.ack_enabled ? " (acks on)" : "")
              << (pki ? ", trust " + pki->ca_pem().string() : std::string()) << std::endl;
    if (!port_file.empty()) {
      std::string tmp = port_file + ".tmp";
      {
        std::ofstream out(tmp, std::ios::trunc);
        out << server.port() << "\n";
      }
      std::rename(tmp.c_str(), port_file.c_str());
    }
    while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    server.stop();
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "siem-hec-emulator: " << e.what() << std::endl;
    return 2;
  }
}
