#include "tools/emulator/server/pki.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>

namespace siem::httpd {

namespace {

struct Free {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
  void operator()(GENERAL_NAMES* p) const { GENERAL_NAMES_free(p); }
};
template <class T>
using Ptr = std::unique_ptr<T, Free>;

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error("test PKI: " + what); }

Ptr<EVP_PKEY> new_key() {
  Ptr<EVP_PKEY> key(EVP_RSA_gen(2048));
  if (!key) fail("RSA key generation failed");
  return key;
}

void set_name(X509_NAME* name, const std::string& cn) {
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>("siem-connector tests"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
}

void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  Ptr<X509_EXTENSION> ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) fail(std::string("cannot add extension ") + value);
}

Ptr<X509> make_cert(EVP_PKEY* key, const std::string& cn, X509* issuer, int days) {
  Ptr<X509> cert(X509_new());
  if (!cert) fail("X509_new failed");
  X509_set_version(cert.get(), 2);
  unsigned char serial[16];
  RAND_bytes(serial, sizeof serial);
  serial[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(days) * 86400);
  X509_set_pubkey(cert.get(), key);
  set_name(X509_get_subject_name(cert.get()), cn);
  X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : X509_get_subject_name(cert.get()));
  return cert;
}

void sign(X509* cert, EVP_PKEY* key) {
  if (X509_sign(cert, key, EVP_sha256()) <= 0) fail("certificate signing failed");
}

void write_file(const std::filesystem::path& path, const std::string& data, bool secret) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) fail("cannot write " + path.string());
  out << data;
  out.close();
  if (!out) fail("cannot write " + path.string());
  if (secret)
    std::filesystem::permissions(path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write,
                                 std::filesystem::perm_options::replace);
}

std::string cert_pem(X509* cert) {
  Ptr<BIO> bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

std::string key_pem(EVP_PKEY* key) {
  Ptr<BIO> bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

bool is_ip(const std::string& s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

std::string digest_of_cert(const std::filesystem::path& pem, const EVP_MD* md) {
  std::FILE* f = std::fopen(pem.c_str(), "rb");
  if (!f) fail("cannot read " + pem.string());
  X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  if (!cert) fail("no certificate in " + pem.string());
  Ptr<X509> owned(cert);
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  X509_digest(cert, md, out, &len);
  return base64url_encode(std::string_view(reinterpret_cast<const char*>(out), len));
}

}  // namespace

struct Pki::Impl {
  Ptr<EVP_PKEY> ca_key;
  Ptr<X509> ca;
  std::string ca_pem;
};

Pki::Pki(std::filesystem::path dir, std::string ca_name) : impl_(new Impl), dir_(std::move(dir)) {
  std::filesystem::create_directories(dir_);
  impl_->ca_key = new_key();
  impl_->ca = make_cert(impl_->ca_key.get(), ca_name, nullptr, 30);
  add_ext(impl_->ca.get(), impl_->ca.get(), NID_basic_constraints, "critical,CA:TRUE");
  add_ext(impl_->ca.get(), impl_->ca.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
  add_ext(impl_->ca.get(), impl_->ca.get(), NID_subject_key_identifier, "hash");
  sign(impl_->ca.get(), impl_->ca_key.get());
  impl_->ca_pem = cert_pem(impl_->ca.get());
  write_file(ca_pem(), impl_->ca_pem, false);
  write_file(dir_ / "ca.key", key_pem(impl_->ca_key.get()), true);
}

Pki::~Pki() { delete impl_; }

CertPaths Pki::issue_server(const std::string& stem, const std::vector<std::string>& sans, int days) {
  auto key = new_key();
  auto cert = make_cert(key.get(), sans.empty() ? stem : sans.front(), impl_->ca.get(), days);
  add_ext(cert.get(), impl_->ca.get(), NID_basic_constraints, "critical,CA:FALSE");
  add_ext(cert.get(), impl_->ca.get(), NID_key_usage, "critical,digitalSignature,keyEncipherment");
  add_ext(cert.get(), impl_->ca.get(), NID_ext_key_usage, "serverAuth");
  add_ext(cert.get(), impl_->ca.get(), NID_authority_key_identifier, "keyid");
  if (!sans.empty()) {
    std::string list;
    for (const auto& s : sans) {
      if (!list.empty()) list += ",";
      list += (is_ip(s) ? "IP:" : "DNS:") + s;
    }
    add_ext(cert.get(), impl_->ca.get(), NID_subject_alt_name, list.c_str());
  }
  sign(cert.get(), impl_->ca_key.get());
  CertPaths paths{dir_ / (stem + ".pem"), dir_ / (stem + ".key")};
  write_file(paths.cert, cert_pem(cert.get()) + impl_->ca_pem, false);
  write_file(paths.key, key_pem(key.get()), true);
  return paths;
}

CertPaths Pki::issue_client(const std::string& stem, const std::string& common_name, int days) {
  auto key = new_key();
  auto cert = make_cert(key.get(), common_name, impl_->ca.get(), days);
  add_ext(cert.get(), impl_->ca.get(), NID_basic_constraints, "critical,CA:FALSE");
  add_ext(cert.get(), impl_->ca.get(), NID_key_usage, "critical,digitalSignature");
  add_ext(cert.get(), impl_->ca.get(), NID_ext_key_usage, "clientAuth");
  sign(cert.get(), impl_->ca_key.get());
  CertPaths paths{dir_ / (stem + ".pem"), dir_ / (stem + ".key")};
  write_file(paths.cert, cert_pem(cert.get()), false);
  write_file(paths.key, key_pem(key.get()), true);
  return paths;
}

std::string Pki::thumbprint_sha1_b64url(const std::filesystem::path& cert_pem) {
  return digest_of_cert(cert_pem, EVP_sha1());
}
std::string Pki::thumbprint_sha256_b64url(const std::filesystem::path& cert_pem) {
  return digest_of_cert(cert_pem, EVP_sha256());
}

std::string base64_encode(std::string_view data) {
  static constexpr char kAlpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    auto n = (static_cast<unsigned>(static_cast<unsigned char>(data[i])) << 16) |
             (static_cast<unsigned>(static_cast<unsigned char>(data[i + 1])) << 8) |
             static_cast<unsigned>(static_cast<unsigned char>(data[i + 2]));
    out += kAlpha[(n >> 18) & 63];
    out += kAlpha[(n >> 12) & 63];
    out += kAlpha[(n >> 6) & 63];
    out += kAlpha[n & 63];
  }
  if (i < data.size()) {
    unsigned n = static_cast<unsigned>(static_cast<unsigned char>(data[i])) << 16;
    if (i + 1 < data.size()) n |= static_cast<unsigned>(static_cast<unsigned char>(data[i + 1])) << 8;
    out += kAlpha[(n >> 18) & 63];
    out += kAlpha[(n >> 12) & 63];
    out += i + 1 < data.size() ? kAlpha[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string base64url_encode(std::string_view data) {
  std::string s = base64_encode(data);
  while (!s.empty() && s.back() == '=') s.pop_back();
  for (char& c : s) {
    if (c == '+') c = '-';
    else if (c == '/') c = '_';
  }
  return s;
}

std::string base64url_decode(std::string_view data) {
  std::string out;
  unsigned acc = 0;
  int bits = 0;
  for (char c : data) {
    int v;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    else if (c >= '0' && c <= '9') v = c - '0' + 52;
    else if (c == '-' || c == '+') v = 62;
    else if (c == '_' || c == '/') v = 63;
    else if (c == '=') break;
    else throw std::invalid_argument("invalid base64url character");
    acc = (acc << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

}  // namespace siem::httpd
