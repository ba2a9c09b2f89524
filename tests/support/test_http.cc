#include "tests/support/test_http.h"

#include <openssl/ssl.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <stdexcept>

namespace siem::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

std::string TestResponse::header(const std::string& name) const {
  for (const auto& [k, v] : headers) {
    if (k.size() == name.size() &&
        std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) { return std::tolower(a) == std::tolower(b); }))
      return v;
  }
  return {};
}

namespace {

template <class Stream>
TestResponse exchange(Stream& stream, const std::string& method, const std::string& host, const std::string& target,
                      const std::string& body, const httpd::Headers& headers) {
  bhttp::request<bhttp::string_body> req;
  req.method_string(method);
  req.target(target);
  req.version(11);
  req.set(bhttp::field::host, host);
  req.set(bhttp::field::connection, "close");
  for (const auto& [k, v] : headers) req.set(k, v);
  req.body() = body;
  req.prepare_payload();
  bhttp::write(stream, req);
  beast::flat_buffer buffer;
  bhttp::response<bhttp::string_body> res;
  bhttp::read(stream, buffer, res);
  TestResponse out;
  out.status = static_cast<int>(res.result_int());
  for (const auto& f : res) out.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
  out.body = std::move(res.body());
  return out;
}

}  // namespace

TestResponse http_fetch(const std::string& method, const std::string& url, const std::string& body,
                        const httpd::Headers& headers, const std::string& ca_file) {
  bool tls;
  std::string rest;
  if (url.rfind("https://", 0) == 0) {
    tls = true;
    rest = url.substr(8);
  } else if (url.rfind("http://", 0) == 0) {
    tls = false;
    rest = url.substr(7);
  } else {
    throw std::runtime_error("http_fetch: unsupported URL " + url);
  }
  auto slash = rest.find('/');
  std::string hostport = rest.substr(0, slash);
  std::string target = slash == std::string::npos ? "/" : rest.substr(slash);
  auto colon = hostport.rfind(':');
  std::string host = hostport.substr(0, colon);
  std::string port = colon == std::string::npos ? (tls ? "443" : "80") : hostport.substr(colon + 1);

  asio::io_context io;
  tcp::resolver resolver(io);
  tcp::socket socket(io);
  asio::connect(socket, resolver.resolve(host, port));
  if (!tls) return exchange(socket, method, hostport, target, body, headers);

  asio::ssl::context ctx(asio::ssl::context::tls_client);
  if (!ca_file.empty()) ctx.load_verify_file(ca_file);
  ctx.set_verify_mode(asio::ssl::verify_peer);
  asio::ssl::stream<tcp::socket&> stream(socket, ctx);
  SSL_ctrl(stream.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, const_cast<char*>(host.c_str()));
  X509_VERIFY_PARAM* param = SSL_get0_param(stream.native_handle());
  X509_VERIFY_PARAM_set1_host(param, nullptr, 0);
  if (X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) != 1) X509_VERIFY_PARAM_set1_host(param, host.c_str(), 0);
  beast::error_code ec;
  stream.handshake(asio::ssl::stream_base::client, ec);
  if (ec) throw std::runtime_error("TLS handshake with " + hostport + " failed: " + ec.message());
  auto res = exchange(stream, method, hostport, target, body, headers);
  stream.shutdown(ec);
  return res;
}

}  // namespace siem::test
