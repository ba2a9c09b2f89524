// Reads a pull source's connection settings through ConfigNode, so every Graph/ARM source reads
// the same pinned keys the same way:
//   tenant_id: <guid or domain>
//   cloud: public | usgov | dod | china | custom
//   endpoints: {login, graph, arm}                 # cloud: custom (required), or per-key overrides
//   auth:
//     method: client_secret | certificate | workload_identity | managed_identity
//     client_id: ...                               # ${AZURE_CLIENT_ID} for workload identity
//     client_secret: ${SECRET}                     # client_secret
//     certificate_file: cert.pem                   # certificate
//     private_key_file: key.pem                    # certificate; optional when in certificate_file
//     jwt_algorithm: PS256 | RS256                 # certificate (default PS256)
//     send_x5t: false                              # certificate: add the legacy SHA-1 x5t
//     token_file: /var/run/secrets/...             # workload identity; default AZURE_FEDERATED_TOKEN_FILE
//     endpoint: http://...                         # managed identity: override IMDS / IDENTITY_ENDPOINT
//     object_id / msi_res_id: ...                  # managed identity: user-assigned selectors
//   tls: {ca_file, client_cert_file, client_key_file}
//   proxy: http://proxy:3128                       # default HTTPS_PROXY / NO_PROXY
//   connect_timeout: 10s
//   request_timeout: 60s
// Problems are reported into the node's Diagnostics with file:line:column (validate shows them all).
#pragma once

#include "connector/auth/token_provider.h"
#include "connector/config/config_node.h"
#include "connector/http/http_client.h"

namespace siem::auth {

struct SourceConnection {
  AuthSettings auth;             // includes tenant and cloud endpoints
  http::ClientOptions http;      // TLS trust, proxy, timeouts
};

// Reads the keys above from a source node. Never touches the network; checks that named files exist.
SourceConnection read_source_connection(const ConfigNode& source);

// Reads only the `tls:` child (ca_file, client_cert_file, client_key_file) into `options`.
void read_tls_options(const ConfigNode& tls, http::ClientOptions& options);

// The key tables of what the two functions above read (a pull source includes the first; an
// HTTPS sink gives its `tls` key the second).
const config::Section& source_connection_keys();
const config::Section& http_tls_keys();

}  // namespace siem::auth
