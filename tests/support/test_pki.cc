#include "tests/support/test_pki.h"

#include <cstdlib>
#include <stdexcept>
#include <system_error>

namespace siem::test {

TempDir::TempDir(const std::string& prefix) {
  std::string tmpl = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("cannot create temp dir " + tmpl);
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

TestPki::TestPki() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "siem-pki-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("cannot create temp dir " + tmpl);
  dir_ = tmpl;
  pki_ = std::make_unique<httpd::Pki>(dir_);
  pki_->issue_server("server", {"localhost", "127.0.0.1"});
  pki_->issue_server("wrong-name", {"wrong-name.invalid"});
  pki_->issue_client("client", "siem-connector test app");
  httpd::Pki other(dir_ / "other", "unrelated test CA");
}

TestPki::~TestPki() {
  pki_.reset();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

}  // namespace siem::test
