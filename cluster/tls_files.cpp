#include "cluster/tls_files.hpp"

#include <fstream>
#include <memory>
#include <string>
#include <utility>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

namespace lg {

error check_tls_files(const config::tls_options& tls) {
  auto fail = [](const std::string& what, const std::string& file) {
    std::string why;
    if (auto code = ERR_get_error()) {
      char buf[256];
      ERR_error_string_n(code, buf, sizeof(buf));
      why = std::string{": "} + buf;
    }
    ERR_clear_error();
    return make_error(config::errc::bad_value, what + " '" + file + "'" + why);
  };
  for (auto& [key, file] : {std::pair{"tls-cert", tls.cert},
                             std::pair{"tls-key", tls.key},
                             std::pair{"tls-ca", tls.ca}})
    if (!std::ifstream{file})
      return make_error(config::errc::bad_value, std::string{key} + ": file '" + file
                                           + "' cannot be read");
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx{
    SSL_CTX_new(TLS_method()), SSL_CTX_free};
  if (!ctx)
    return make_error(config::errc::bad_value, "OpenSSL could not start");
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), tls.cert.c_str()) != 1)
    return fail("tls-cert: no PEM certificate in", tls.cert);
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), tls.key.c_str(),
                                  SSL_FILETYPE_PEM)
      != 1) {
    if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
      ERR_clear_error();
      return make_error(config::errc::bad_value,
                        "tls-key: the key in '" + tls.key
                          + "' does not match the certificate in '"
                          + tls.cert + "'");
    }
    return fail("tls-key: no PEM private key in", tls.key);
  }
  if (SSL_CTX_check_private_key(ctx.get()) != 1)
    return fail("tls-key: does not match the certificate in", tls.cert);
  if (SSL_CTX_load_verify_locations(ctx.get(), tls.ca.c_str(), nullptr) != 1)
    return fail("tls-ca: no PEM CA certificate in", tls.ca);
  return {};
}

} // namespace lg
