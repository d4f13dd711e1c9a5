// Node identities bound to certificates. With TLS on, every certificate of
// the cluster is signed by its CA (scripts/make-certs.sh) and names one
// identity: the subject's CN is the node's name (a node's "host:port", a
// console's or client's name) and its OU the role: "aggregator", "leaf",
// "console" or "client".
//
// caf_openssl checks that a peer holds some certificate of the CA, but does
// not tell which. So the gateways prove it in their hello:
//
//   1. The hello (and its reply) carries the sender's certificate and a
//      signature, by the certificate's key, over the sender's name, address
//      and role, the address it is meant for, and the time.
//   2. The receiver checks the certificate against the CA, the signature,
//      that the name and role claimed are the certificate's, that the hello
//      was meant for it, and that it was signed within the last minutes.
//   3. The link then carries that identity: a message on it whose sender is
//      not that name is dropped (only an aggregator may send as the master
//      aggregator "ma", or pass on what it forwards).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "base/error.hpp"
#include "config/node_options.hpp"

namespace lg {

/// Who a certificate names.
struct peer_identity {
  std::string name; ///< the subject's CN
  std::string role; ///< the subject's OU
};

/// Whether a certificate of role `cert_role` may claim hello role
/// `claimed` ("master-aggregator" and "aggregator" need "aggregator"; a
/// client may hold a console's certificate).
bool role_allows(const std::string& cert_role, const std::string& claimed);

/// What a hello's signature covers.
std::string hello_payload(const std::string& node, const std::string& listen,
                          const std::string& role, const std::string& meant_for,
                          int64_t signed_at_ms);

class node_identity {
public:
  /// Loads this node's certificate, key and the CA. Errors name the file.
  static result<std::shared_ptr<node_identity>>
  load(const config::tls_options& tls);

  ~node_identity();
  node_identity(const node_identity&) = delete;
  node_identity& operator=(const node_identity&) = delete;

  /// This node's own identity, from its certificate.
  const peer_identity& self() const {
    return self_;
  }
  const std::string& certificate_pem() const {
    return cert_pem_;
  }

  /// A signature of `payload` by this node's key.
  std::string sign(const std::string& payload) const;

  /// The identity a peer's certificate names, once the certificate is
  /// checked against the CA and `signature` against `payload`.
  result<peer_identity> verify(const std::string& cert_pem,
                               const std::string& payload,
                               const std::string& signature) const;

private:
  node_identity() = default;
  struct impl;
  std::unique_ptr<impl> impl_;
  peer_identity self_;
  std::string cert_pem_;
};

} // namespace lg
