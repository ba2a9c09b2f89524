// Run-time test PKI on the OpenSSL 3 API: a CA, server certificates (any SAN list, including a
// deliberately wrong name), and a client/app certificate for JWT client assertions. Everything is
// written as PEM files into a directory. Keys are RSA-2048 (JWT RS256 needs RSA for the app cert).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace siem::httpd {

struct CertPaths {
  std::filesystem::path cert;  // PEM certificate (leaf first, then the issuing CA)
  std::filesystem::path key;   // PEM PKCS#8 private key
};

class Pki {
 public:
  // Creates `dir` if needed and generates a CA named `ca_name` into ca.pem / ca.key.
  explicit Pki(std::filesystem::path dir, std::string ca_name = "siem-connector test CA");
  ~Pki();
  Pki(const Pki&) = delete;
  Pki& operator=(const Pki&) = delete;

  const std::filesystem::path& dir() const noexcept { return dir_; }
  std::filesystem::path ca_pem() const { return dir_ / "ca.pem"; }

  // Issues a server certificate with the given SANs ("127.0.0.1" and other IP literals become IP
  // SANs, anything else a DNS SAN) into <stem>.pem / <stem>.key.
  CertPaths issue_server(const std::string& stem, const std::vector<std::string>& sans, int days = 2);
  // Issues a client certificate (clientAuth; subject CN = `common_name`) into <stem>.pem / <stem>.key.
  CertPaths issue_client(const std::string& stem, const std::string& common_name, int days = 2);

  // SHA-1 / SHA-256 thumbprint of a PEM certificate, base64url without padding (JWT x5t / x5t#S256).
  static std::string thumbprint_sha1_b64url(const std::filesystem::path& cert_pem);
  static std::string thumbprint_sha256_b64url(const std::filesystem::path& cert_pem);

 private:
  struct Impl;
  Impl* impl_ = nullptr;
  std::filesystem::path dir_;
};

// base64url without padding (JWT segments).
std::string base64url_encode(std::string_view data);
std::string base64url_decode(std::string_view data);  // throws std::invalid_argument on bad input
std::string base64_encode(std::string_view data);

}  // namespace siem::httpd
