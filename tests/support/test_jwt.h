// Builds signed JWT client assertions for token-endpoint tests (RS256 or PS256, x5t / x5t#S256
// from the certificate). `exp_offset` / `nbf_offset` are seconds relative to now.
#pragma once

#include <string>

namespace siem::test {

struct AssertionSpec {
  std::string key_file;    // PEM private key
  std::string cert_file;   // PEM certificate (for the thumbprints)
  std::string client_id;   // iss and sub
  std::string audience;    // aud
  std::string alg = "PS256";
  long exp_offset = 600;
  long nbf_offset = 0;
  std::string issuer_override;   // federated: external issuer
  std::string subject_override;  // federated: external subject
};

std::string make_client_assertion(const AssertionSpec& spec);

}  // namespace siem::test
