#include "tools/emulator/server/emulator_cli.h"

#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <thread>

namespace siem::httpd {
namespace {

volatile std::sig_atomic_t g_stop = 0;
extern "C" void on_signal(int) { g_stop = 1; }

}  // namespace

void add_listen_options(CLI::App& app, ListenOptions& opts) {
  app.add_option("--listen", opts.listen, "address:port to listen on (port 0 = ephemeral)")->capture_default_str();
  app.add_option("--port-file", opts.port_file, "write the bound port to this file once listening");
  app.add_option("--pki-dir", opts.pki_dir, "generate a CA + localhost certificate here (ca.pem is what clients trust)");
  app.add_option("--cert", opts.cert, "server certificate chain (PEM) instead of --pki-dir");
  app.add_option("--key", opts.key, "server private key (PEM) for --cert");
  app.add_flag("--plain-http", opts.plain, "serve plain HTTP (tests only)");
}

ServerOptions server_options(const ListenOptions& opts, std::string_view ca_name, std::optional<Pki>& pki) {
  const auto colon = opts.listen.rfind(':');
  if (colon == std::string::npos) throw std::runtime_error("--listen must be address:port, got '" + opts.listen + "'");
  ServerOptions so;
  so.address = opts.listen.substr(0, colon);
  so.port = static_cast<std::uint16_t>(std::stoi(opts.listen.substr(colon + 1)));
  if (opts.plain) return so;
  so.tls = true;
  if (!opts.cert.empty()) {
    so.cert_file = opts.cert;
    so.key_file = opts.key.empty() ? opts.cert : opts.key;
    return so;
  }
  if (opts.pki_dir.empty()) throw std::runtime_error("give --pki-dir (generated certificate) or --cert/--key, or --plain-http");
  pki.emplace(opts.pki_dir, std::string(ca_name));
  const auto paths = pki->issue_server("server", {"localhost", "127.0.0.1"}, 30);
  so.cert_file = paths.cert.string();
  so.key_file = paths.key.string();
  return so;
}

void serve_until_signalled(HttpServer& server, const std::string& port_file) {
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  if (!port_file.empty()) {
    const std::string tmp = port_file + ".tmp";
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << server.port() << "\n";
    }
    std::rename(tmp.c_str(), port_file.c_str());
  }
  while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  server.stop();
}

}  // namespace siem::httpd
