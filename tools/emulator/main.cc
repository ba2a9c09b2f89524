// siem-emulator: serves the Entra ID token endpoint, Microsoft Graph activity/PIM APIs and Azure
// Resource Manager Activity Log / PIM APIs over HTTPS on loopback, seeded with a privileged-access
// scenario. See emulator.h for the routes and docs/sources.md for the admin API.
#include <CLI/CLI.hpp>

#include <iostream>
#include <optional>

#include "tools/emulator/emulator.h"
#include "tools/emulator/server/emulator_cli.h"

int main(int argc, char** argv) {
  CLI::App app{"siem-emulator: Entra ID / Microsoft Graph / Azure Resource Manager emulator (loopback HTTPS)"};
  siem::httpd::ListenOptions listen;
  siem::emulator::AppRegistration reg;
  reg.tenant_id = "00000000-0000-0000-0000-00000000e1d0";
  reg.client_id = "00000000-0000-0000-0000-0000000000a1";
  reg.client_secret = "emulator-client-secret";
  std::string client_cert, federation_cert;
  std::vector<std::string> subscriptions;
  long token_lifetime = 3599;
  int reports_limit = 0;
  bool no_seed = false;
  std::vector<std::string> faults;
  std::vector<std::string> seed_files;
  siem::httpd::add_listen_options(app, listen);
  app.add_option("--tenant", reg.tenant_id, "tenant id of the registered app")->capture_default_str();
  app.add_option("--client-id", reg.client_id, "client id of the registered app")->capture_default_str();
  app.add_option("--client-secret", reg.client_secret, "client secret of the registered app (empty: none)");
  app.add_flag("--secret-expired", reg.secret_expired, "answer AADSTS7000222 (expired secret) for the right secret");
  app.add_option("--client-cert", client_cert, "PEM certificate that verifies private_key_jwt assertions");
  app.add_option("--federated-issuer", reg.federated_issuer, "accepted federated assertion issuer");
  app.add_option("--federated-subject", reg.federated_subject, "accepted federated assertion subject");
  app.add_option("--federation-cert", federation_cert, "PEM certificate that verifies federated assertions");
  app.add_option("--subscription", subscriptions, "Azure subscription id served by the Activity Log (repeatable)");
  app.add_option("--token-lifetime", token_lifetime, "access token lifetime in seconds")->capture_default_str();
  app.add_option("--reports-limit", reports_limit, "directoryAudits/signIns requests allowed per 10 s per tenant (0 = unlimited)");
  app.add_flag("--no-seed", no_seed, "start without the built-in privileged-access scenario");
  app.add_option("--seed-file", seed_files,
                 "also serve the records of this file (NDJSON or {\"value\":[...]}), re-timed to end 2 min ago (repeatable)");
  app.add_option("--fault", faults, "PATH_PREFIX:STATUS:COUNT[:RETRY_AFTER] or PATH_PREFIX:drop:COUNT or PATH_PREFIX:delay-MS:COUNT");
  CLI11_PARSE(app, argc, argv);

  try {
    std::optional<siem::httpd::Pki> pki;
    const auto so = siem::httpd::server_options(listen, "siem-emulator CA", pki);
    if (subscriptions.empty()) subscriptions.push_back("00000000-0000-0000-0000-0000000005b1");
    reg.certificate = client_cert;
    reg.federation_cert = federation_cert;
    siem::emulator::Options eo;
    eo.apps.push_back(reg);
    eo.subscriptions = subscriptions;
    eo.token_lifetime = std::chrono::seconds(token_lifetime);
    eo.seed = !no_seed;
    eo.reports_limit_per_10s = reports_limit;

    siem::httpd::HttpServer server(so);
    siem::emulator::Emulator emulator(eo, server);
    std::size_t seeded = 0;
    for (const auto& file : seed_files) {
      for (auto& [collection, rec] : siem::emulator::load_seed_file(file, eo.now, subscriptions)) {
        emulator.add_record(collection, std::move(rec));
        ++seeded;
      }
    }
    for (const auto& spec : faults) {
      // PATH_PREFIX:STATUS:COUNT[:RETRY_AFTER]
      std::vector<std::string> parts;
      std::size_t start = 0;
      for (std::size_t p; (p = spec.find(':', start)) != std::string::npos; start = p + 1) parts.push_back(spec.substr(start, p - start));
      parts.push_back(spec.substr(start));
      if (parts.size() < 3) throw std::runtime_error("--fault '" + spec + "': expected PATH_PREFIX:STATUS:COUNT[:RETRY_AFTER]");
      siem::httpd::Fault f;
      f.path_prefix = parts[0];
      f.count = std::stoi(parts[2]);
      if (parts[1] == "drop") f.drop_connection = true;
      else if (parts[1].rfind("delay-", 0) == 0) f.delay = std::chrono::milliseconds(std::stoi(parts[1].substr(6)));
      else f.status = std::stoi(parts[1]);
      if (parts.size() > 3) f.headers.emplace_back("Retry-After", parts[3]);
      if (f.status == 429) f.body = R"({"error":{"code":"TooManyRequests","message":"Please retry again later."}})";
      server.add_fault(std::move(f));
    }
    server.start();
    std::cout << "siem-emulator listening on " << server.base_url() << " (tenant " << reg.tenant_id << ", client "
              << reg.client_id << ")" << (seeded ? ", " + std::to_string(seeded) + " record(s) from seed files" : std::string())
              << (pki ? ", trust " + pki->ca_pem().string() : std::string()) << std::endl;
    siem::httpd::serve_until_signalled(server, listen.port_file);
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "siem-emulator: " << e.what() << std::endl;
    return 2;
  }
}
