#include "tests/support/test_jwt.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "tools/emulator/server/pki.h"

namespace siem::test {

std::string make_client_assertion(const AssertionSpec& spec) {
  using nlohmann::json;
  auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  json header = {{"alg", spec.alg}, {"typ", "JWT"},
                 {"x5t", httpd::Pki::thumbprint_sha1_b64url(spec.cert_file)},
                 {"x5t#S256", httpd::Pki::thumbprint_sha256_b64url(spec.cert_file)}};
  json claims = {{"aud", spec.audience},
                 {"iss", spec.issuer_override.empty() ? spec.client_id : spec.issuer_override},
                 {"sub", spec.subject_override.empty() ? spec.client_id : spec.subject_override},
                 {"jti", std::to_string(now) + "-test"},
                 {"iat", now},
                 {"nbf", now + spec.nbf_offset},
                 {"exp", now + spec.exp_offset}};
  std::string signing_input = httpd::base64url_encode(header.dump()) + "." + httpd::base64url_encode(claims.dump());
  std::FILE* f = std::fopen(spec.key_file.c_str(), "rb");
  if (!f) throw std::runtime_error("cannot read " + spec.key_file);
  EVP_PKEY* key = PEM_read_PrivateKey(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  if (!key) throw std::runtime_error("no private key in " + spec.key_file);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  bool ok = EVP_DigestSignInit(ctx, &pctx, EVP_sha256(), nullptr, key) == 1;
  if (ok && spec.alg == "PS256")
    ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1;
  std::size_t len = 0;
  ok = ok && EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size()) == 1;
  std::string sig(len, '\0');
  ok = ok && EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                            reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size()) == 1;
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(key);
  if (!ok) throw std::runtime_error("JWT signing failed");
  sig.resize(len);
  return signing_input + "." + httpd::base64url_encode(sig);
}

}  // namespace siem::test
