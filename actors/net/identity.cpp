#include "actors/net/identity.hpp"

#include <fstream>
#include <sstream>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "config/variables.hpp"

namespace lg {

namespace {

error fail(const std::string& what) {
  unsigned long code = ERR_get_error();
  std::string why = what;
  if (code != 0) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof(buf));
    why += " (" + std::string{buf} + ")";
  }
  ERR_clear_error();
  return config::make_error(config::errc::bad_value, why);
}

std::string field(X509* cert, int nid) {
  char buf[512] = {0};
  int n = X509_NAME_get_text_by_NID(X509_get_subject_name(cert), nid, buf,
                                    sizeof(buf));
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string{};
}

result<std::string> read_text(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    return fail("cannot read '" + path + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

X509* parse_cert(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (bio == nullptr)
    return nullptr;
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  return cert;
}

} // namespace

struct node_identity::impl {
  X509* cert = nullptr;
  EVP_PKEY* key = nullptr;
  X509_STORE* store = nullptr;
  ~impl() {
    X509_free(cert);
    EVP_PKEY_free(key);
    X509_STORE_free(store);
  }
};

bool role_allows(const std::string& cert_role, const std::string& claimed) {
  if (claimed == "master-aggregator" || claimed == "aggregator")
    return cert_role == "aggregator";
  if (claimed == "client")
    return cert_role == "client" || cert_role == "console";
  return !claimed.empty() && cert_role == claimed;
}

std::string hello_payload(const std::string& node, const std::string& listen,
                          const std::string& role, const std::string& meant_for,
                          int64_t signed_at_ms) {
  std::string out = "leafguard hello\n";
  for (const auto* part : {&node, &listen, &role, &meant_for})
    out += *part + "\n";
  return out + std::to_string(signed_at_ms);
}

node_identity::~node_identity() = default;

result<std::shared_ptr<node_identity>>
node_identity::load(const config::tls_options& tls) {
  auto cert_pem = read_text(tls.cert);
  if (!cert_pem.ok())
    return cert_pem.err();
  auto key_pem = read_text(tls.key);
  if (!key_pem.ok())
    return key_pem.err();
  auto ca_pem = read_text(tls.ca);
  if (!ca_pem.ok())
    return ca_pem.err();
  std::shared_ptr<node_identity> id{new node_identity};
  id->impl_ = std::make_unique<impl>();
  auto& d = *id->impl_;
  d.cert = parse_cert(*cert_pem);
  if (d.cert == nullptr)
    return fail("tls-cert '" + tls.cert + "' holds no PEM certificate");
  BIO* kb = BIO_new_mem_buf(key_pem->data(), static_cast<int>(key_pem->size()));
  d.key = PEM_read_bio_PrivateKey(kb, nullptr, nullptr, nullptr);
  BIO_free(kb);
  if (d.key == nullptr)
    return fail("tls-key '" + tls.key + "' holds no PEM private key");
  if (X509_check_private_key(d.cert, d.key) != 1)
    return fail("tls-key '" + tls.key + "' is not the key of tls-cert '"
                + tls.cert + "'");
  d.store = X509_STORE_new();
  BIO* cb = BIO_new_mem_buf(ca_pem->data(), static_cast<int>(ca_pem->size()));
  int added = 0;
  while (X509* ca = PEM_read_bio_X509(cb, nullptr, nullptr, nullptr)) {
    X509_STORE_add_cert(d.store, ca);
    X509_free(ca);
    ++added;
  }
  BIO_free(cb);
  ERR_clear_error(); // the end of the file reads as an error
  if (added == 0)
    return fail("tls-ca '" + tls.ca + "' holds no PEM certificate");
  id->self_.name = field(d.cert, NID_commonName);
  id->self_.role = field(d.cert, NID_organizationalUnitName);
  id->cert_pem_ = *cert_pem;
  return id;
}

std::string node_identity::sign(const std::string& payload) const {
  std::string out;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  size_t len = 0;
  if (EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, impl_->key) == 1
      && EVP_DigestSign(ctx, nullptr, &len,
                        reinterpret_cast<const unsigned char*>(payload.data()),
                        payload.size())
           == 1) {
    out.resize(len);
    if (EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(&out[0]), &len,
                       reinterpret_cast<const unsigned char*>(payload.data()),
                       payload.size())
        == 1)
      out.resize(len);
    else
      out.clear();
  }
  EVP_MD_CTX_free(ctx);
  ERR_clear_error();
  return out;
}

result<peer_identity>
node_identity::verify(const std::string& cert_pem, const std::string& payload,
                      const std::string& signature) const {
  X509* cert = parse_cert(cert_pem);
  if (cert == nullptr)
    return fail("the peer sent no certificate");
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, impl_->store, cert, nullptr);
  bool chained = X509_verify_cert(ctx) == 1;
  auto chain_error = X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx));
  X509_STORE_CTX_free(ctx);
  if (!chained) {
    X509_free(cert);
    return fail(std::string{"the peer's certificate is not the cluster CA's: "}
                + chain_error);
  }
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  bool signed_ok
    = EVP_DigestVerifyInit(md, nullptr, EVP_sha256(), nullptr,
                           X509_get0_pubkey(cert))
        == 1
      && EVP_DigestVerify(
           md, reinterpret_cast<const unsigned char*>(signature.data()),
           signature.size(),
           reinterpret_cast<const unsigned char*>(payload.data()),
           payload.size())
           == 1;
  EVP_MD_CTX_free(md);
  peer_identity out{field(cert, NID_commonName),
                    field(cert, NID_organizationalUnitName)};
  X509_free(cert);
  ERR_clear_error();
  if (!signed_ok)
    return fail("the hello of '" + out.name
                + "' is not signed by its certificate's key");
  return out;
}

} // namespace lg
