// TestPki: a throw-away PKI for one test, in its own temp directory (removed on destruction).
//   ca.pem                      the test CA (pass as `tls.ca_file`)
//   server.pem / server.key     SANs localhost + 127.0.0.1
//   wrong-name.pem / .key       SAN wrong-name.invalid only (name-mismatch tests)
//   client.pem / client.key     app certificate for JWT client assertions / mutual TLS
//   other-ca.pem                a second, unrelated CA (untrusted-CA tests)
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "tools/emulator/server/pki.h"

namespace siem::test {

class TestPki {
 public:
  TestPki();
  ~TestPki();
  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;

  const std::filesystem::path& dir() const noexcept { return dir_; }
  std::string ca_pem() const { return (dir_ / "ca.pem").string(); }
  std::string server_cert() const { return (dir_ / "server.pem").string(); }
  std::string server_key() const { return (dir_ / "server.key").string(); }
  std::string wrong_name_cert() const { return (dir_ / "wrong-name.pem").string(); }
  std::string wrong_name_key() const { return (dir_ / "wrong-name.key").string(); }
  std::string client_cert() const { return (dir_ / "client.pem").string(); }
  std::string client_key() const { return (dir_ / "client.key").string(); }
  // A CA that signed nothing we serve: trusting it instead of ca.pem must fail verification.
  std::string other_ca_pem() const { return (dir_ / "other" / "ca.pem").string(); }
  // JWT x5t of client.pem.
  std::string client_thumbprint() const { return httpd::Pki::thumbprint_sha1_b64url(client_cert()); }

  httpd::Pki& pki() { return *pki_; }

 private:
  std::filesystem::path dir_;
  std::unique_ptr<httpd::Pki> pki_;
};

// A fresh, empty temp directory removed (recursively) on destruction.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "siem-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const noexcept { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

}  // namespace siem::test
