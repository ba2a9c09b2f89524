// `siem-connector probe`: GET one path of the observability endpoint and exit 0 on HTTP 200 —
// the container HEALTHCHECK (the image has no curl). Prints the reply body on failure.
#include <iostream>

#include "connector/app/commands.h"
#include "connector/http/http_client.h"

namespace siem::app {

int probe_command(const ProbeOptions& options) {
  http::ClientOptions co;
  co.use_env_proxy = false;
  co.connect_timeout = std::chrono::milliseconds(3'000);
  co.request_timeout = std::chrono::milliseconds(5'000);
  co.max_response_bytes = 16u * 1024 * 1024;
  try {
    http::Client client(co);
    http::Request req;
    req.url = "http://" + options.address + options.path;
    req.pin = "http://" + options.address;
    const auto res = client.send(req);
    if (res.status == 200) return 0;
    std::cerr << "siem-connector probe: HTTP " << res.status << " from " << req.url << "\n"
              << res.body.substr(0, 4096);
  } catch (const std::exception& e) {
    std::cerr << "siem-connector probe: " << e.what() << "\n";
  }
  return 1;
}

}  // namespace siem::app
