// TLS for the MySQL server without a socket of its own. A CAF broker owns
// the socket (new_data_msg in, wr_buf + flush out); the TLS engine is
// OpenSSL over two memory BIOs, so ciphertext goes in and out as bytes.
//
// MySQL upgrades to TLS in the middle of the stream (MySQL: "Protocol::
// SSLRequest"; the client asks with CLIENT_SSL in its capabilities):
//
//   1. The server sends its handshake v10 in clear text.
//   2. The client answers with the 32-byte SSLRequest packet (a
//      HandshakeResponse41 cut after its filler), in clear text.
//   3. Every byte after that packet is TLS: the broker feeds them here and
//      sends what take_ciphertext() returns, until the handshake is done.
//   4. The client then sends its full HandshakeResponse41 over TLS, and the
//      session goes on as before, every packet through feed() / write().
//   5. Either side ends with a close_notify; the other answers with its own.
//
//   client                               server (broker + tls_channel)
//     |<----- handshake v10 (clear) --------|
//     |------ SSLRequest (clear) ---------->|
//     |------ ClientHello ----------------->| feed()
//     |<----- ServerHello ... Finished -----| take_ciphertext()
//     |------ Finished -------------------->| feed(): handshake_done()
//     |------ HandshakeResponse41 (TLS) --->| feed(), take_plaintext()
//     |<----- OK (TLS) ---------------------| write(), take_ciphertext()
//
// The server asks for no client certificate: MySQL clients usually hold
// none, and they authenticate by password inside the TLS session.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include <openssl/types.h>

#include "base/error.hpp"

namespace lg {

enum class tls_errc {
  bad_file,       ///< a certificate, key or CA file is missing or unusable
  protocol_error, ///< the peer broke TLS (the detail gives OpenSSL's reason)
  closed,         ///< the channel was closed, or failed before
  openssl_failed, ///< OpenSSL could not make a context or a connection
};

const char* to_string(tls_errc code);

LG_MODULE_ERRORS("tls", tls_errc)

/// A server-side TLS context: the node's certificate, key and (optional) CA
/// file. No client certificate is asked for (MySQL clients usually have
/// none).
class tls_server_context {
public:
  /// Loads a PEM certificate (the node's first, then any intermediates) and
  /// its PEM key; with `ca_file`, checks that the certificate chains to that
  /// CA and sends the chain's intermediates too. Errors name the file.
  static result<std::shared_ptr<tls_server_context>>
  load(const std::string& cert_file, const std::string& key_file,
       const std::string& ca_file = {});

  ~tls_server_context();
  tls_server_context(const tls_server_context&) = delete;
  tls_server_context& operator=(const tls_server_context&) = delete;

  /// The OpenSSL context every channel of this server is made from.
  SSL_CTX* native() const {
    return ctx_;
  }

private:
  explicit tls_server_context(SSL_CTX* ctx) : ctx_(ctx) {
  }
  SSL_CTX* ctx_;
};

/// One TLS connection with no socket: ciphertext in and out through memory.
/// Not thread-safe: one broker drives it. After any call, send what
/// take_ciphertext() returns (it may hold handshake records, data, a
/// close_notify, or the alert of a failure).
class tls_channel {
public:
  /// Starts the server side of a handshake under `ctx`.
  explicit tls_channel(std::shared_ptr<tls_server_context> ctx);

  ~tls_channel();
  tls_channel(const tls_channel&) = delete;
  tls_channel& operator=(const tls_channel&) = delete;

  /// Takes ciphertext that arrived from the peer; returns an error (naming
  /// OpenSSL's reason) when the peer broke TLS. Records may arrive cut
  /// anywhere. After an error the channel is dead: every later call fails
  /// the same way, and take_ciphertext() holds the alert for the peer.
  error feed(const char* data, size_t size);

  /// Decrypted bytes available so far (moved out).
  std::string take_plaintext();

  /// Encrypts `plain` for the peer (buffered until the handshake
  /// completes). Fails once the channel is closed or dead.
  error write(const std::string& plain);

  /// Ciphertext to send to the peer (handshake records and encrypted
  /// data), moved out.
  std::string take_ciphertext();

  /// True once the handshake completed.
  bool handshake_done() const;

  /// True once the peer sent its close_notify: no more plaintext comes, and
  /// the answering close_notify is in take_ciphertext().
  bool peer_closed() const {
    return peer_closed_;
  }

  /// Ends the session: queues our close_notify (once the handshake is done;
  /// before that, plaintext not yet written is dropped). Later writes fail.
  void close();

private:
  /// Drives the handshake, reads every whole record, writes what waits.
  error advance();

  /// Encrypts the plaintext held back by write().
  error flush_pending();

  /// Makes the channel dead with OpenSSL's reason for `what` failing.
  error fail(const char* what, int ssl_error);

  std::shared_ptr<tls_server_context> ctx_;
  SSL* ssl_ = nullptr;
  BIO* in_ = nullptr;  ///< ciphertext from the peer; owned by ssl_
  BIO* out_ = nullptr; ///< ciphertext for the peer; owned by ssl_
  std::string plaintext_;
  std::string pending_; ///< written before the handshake completed
  bool peer_closed_ = false;
  bool closed_ = false;
  error failed_;
};

} // namespace lg
