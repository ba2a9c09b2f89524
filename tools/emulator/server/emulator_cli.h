#pragma once
// The command-line surface every emulator binary shares: where to listen, how to serve TLS (a
// generated test PKI or given PEM files), the port file that tells a test or script the bound port,
// and running until SIGINT/SIGTERM.
#include <CLI/CLI.hpp>

#include <optional>
#include <string>
#include <string_view>

#include "tools/emulator/server/http_server.h"
#include "tools/emulator/server/pki.h"

namespace siem::httpd {

struct ListenOptions {
  std::string listen = "127.0.0.1:0";
  std::string port_file;
  std::string pki_dir;
  std::string cert;
  std::string key;
  bool plain = false;
};

// Adds --listen, --port-file, --pki-dir, --cert, --key and --plain-http.
void add_listen_options(CLI::App& app, ListenOptions& opts);

// Server options for `opts`. With --pki-dir it generates a CA named `ca_name` and a certificate for
// localhost / 127.0.0.1 into `pki` (its ca.pem is what clients trust). Throws std::runtime_error
// naming the option on a bad --listen or when no certificate source was given.
ServerOptions server_options(const ListenOptions& opts, std::string_view ca_name, std::optional<Pki>& pki);

// Writes the bound port to `port_file` (atomically: a reader never sees a partial file), then
// blocks until SIGINT or SIGTERM and stops the server.
void serve_until_signalled(HttpServer& server, const std::string& port_file);

}  // namespace siem::httpd
