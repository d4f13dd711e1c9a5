#include "actors/mysql/tls_channel.hpp"

#include <utility>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509err.h>

namespace lg {

const char* to_string(tls_errc code) {
  switch (code) {
    case tls_errc::bad_file:
      return "bad_file";
    case tls_errc::protocol_error:
      return "protocol_error";
    case tls_errc::closed:
      return "closed";
    case tls_errc::openssl_failed:
      return "openssl_failed";
  }
  return "unknown";
}

namespace {

/// Empties the thread's OpenSSL error queue on entry and on exit. Entry:
/// SSL_get_error misreads a call if older errors wait in the queue. Exit:
/// CAF's openssl module runs on the same threads and would misread ours.
struct error_queue_scope {
  error_queue_scope() {
    ERR_clear_error();
  }
  ~error_queue_scope() {
    ERR_clear_error();
  }
};

/// OpenSSL's reasons in the queue, the root cause first (e.g. a provider's
/// "cipher operation failed", then TLS's "bad record mac"), each with its
/// detail text; "" when the queue is empty. Empties the queue.
std::string drain_reason() {
  std::string out;
  const char* data = nullptr;
  int flags = 0;
  for (int i = 0; i < 4; ++i) {
    unsigned long code = ERR_get_error_all(nullptr, nullptr, nullptr, &data,
                                           &flags);
    if (code == 0)
      break;
    // "system lib" only repeats, one layer up, the system error before it.
    if (!out.empty() && ERR_GET_REASON(code) == ERR_R_SYS_LIB)
      continue;
    char buf[256];
    ERR_error_string_n(code, buf, sizeof(buf));
    out += (out.empty() ? "" : "; ") + std::string{buf};
    if (data != nullptr && (flags & ERR_TXT_STRING) != 0 && *data != '\0')
      out += std::string{" ("} + data + ")";
  }
  ERR_clear_error();
  return out;
}

error file_error(const std::string& what, const std::string& path) {
  auto why = drain_reason();
  return make_error(tls_errc::bad_file, what + " '" + path + "'"
                                          + (why.empty() ? "" : ": " + why));
}

// A key file that asks for a passphrase fails to load instead of prompting
// on the server's terminal.
int no_passphrase(char*, int, int, void*) {
  return 0;
}

} // namespace

// -- tls_server_context -------------------------------------------------------

result<std::shared_ptr<tls_server_context>>
tls_server_context::load(const std::string& cert_file,
                         const std::string& key_file,
                         const std::string& ca_file) {
  error_queue_scope scope;
  SSL_CTX* raw = SSL_CTX_new(TLS_server_method());
  if (raw == nullptr)
    return make_error(tls_errc::openssl_failed,
                      "SSL_CTX_new: " + drain_reason());
  std::shared_ptr<tls_server_context> ctx{new tls_server_context(raw)};
  // Every client the MySQL server must serve speaks TLS 1.2 or 1.3, and
  // Debian's OpenSSL refuses older versions at its default security level.
  SSL_CTX_set_min_proto_version(raw, TLS1_2_VERSION);
  SSL_CTX_set_verify(raw, SSL_VERIFY_NONE, nullptr);
  // A client-initiated renegotiation would make write() wait for reads.
  SSL_CTX_set_options(raw, SSL_OP_NO_RENEGOTIATION);
  // write() retries from a buffer that may have been reallocated.
  SSL_CTX_set_mode(raw, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_default_passwd_cb(raw, no_passphrase);
  if (SSL_CTX_use_certificate_chain_file(raw, cert_file.c_str()) != 1)
    return file_error("cannot load the TLS certificate", cert_file);
  if (SSL_CTX_use_PrivateKey_file(raw, key_file.c_str(), SSL_FILETYPE_PEM)
        != 1
      || SSL_CTX_check_private_key(raw) != 1) {
    auto code = ERR_peek_error();
    if (ERR_GET_LIB(code) == ERR_LIB_X509
        && ERR_GET_REASON(code) == X509_R_KEY_VALUES_MISMATCH)
      return file_error("the TLS key '" + key_file
                          + "' is not the key of the certificate",
                        cert_file);
    return file_error("cannot load the TLS key", key_file);
  }
  if (!ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(raw, ca_file.c_str(), nullptr) != 1)
      return file_error("cannot load the TLS CA", ca_file);
    // The chain sent is the certificate's intermediates up to that CA; the
    // root itself the client holds already.
    if (SSL_CTX_build_cert_chain(raw, SSL_BUILD_CHAIN_FLAG_UNTRUSTED
                                        | SSL_BUILD_CHAIN_FLAG_NO_ROOT)
        != 1)
      return file_error("the TLS certificate '" + cert_file
                          + "' does not chain to the CA",
                        ca_file);
  }
  return ctx;
}

tls_server_context::~tls_server_context() {
  SSL_CTX_free(ctx_);
}

// -- tls_channel --------------------------------------------------------------

tls_channel::tls_channel(std::shared_ptr<tls_server_context> ctx)
  : ctx_(std::move(ctx)) {
  error_queue_scope scope;
  ssl_ = SSL_new(ctx_->native());
  in_ = BIO_new(BIO_s_mem());
  out_ = BIO_new(BIO_s_mem());
  if (ssl_ == nullptr || in_ == nullptr || out_ == nullptr) {
    failed_ = make_error(tls_errc::openssl_failed,
                         "cannot make a TLS connection: " + drain_reason());
    BIO_free(in_);
    BIO_free(out_);
    SSL_free(ssl_);
    ssl_ = nullptr;
    in_ = out_ = nullptr;
    return;
  }
  // An empty memory BIO reads as "retry", which SSL_get_error reports as
  // SSL_ERROR_WANT_READ: wait for the next feed().
  SSL_set_bio(ssl_, in_, out_);
  SSL_set_accept_state(ssl_);
}

tls_channel::~tls_channel() {
  SSL_free(ssl_); // frees in_ and out_ too
}

error tls_channel::feed(const char* data, size_t size) {
  error_queue_scope scope;
  if (failed_)
    return failed_;
  if (peer_closed_)
    return {}; // nothing the peer sends after its close_notify counts
  while (size > 0) {
    size_t written = 0;
    if (BIO_write_ex(in_, data, size, &written) != 1)
      return failed_ = make_error(tls_errc::openssl_failed,
                                  "cannot buffer ciphertext: "
                                    + drain_reason());
    data += written;
    size -= written;
  }
  return advance();
}

error tls_channel::advance() {
  if (!SSL_is_init_finished(ssl_)) {
    ERR_clear_error();
    int rc = SSL_do_handshake(ssl_);
    if (rc != 1) {
      int code = SSL_get_error(ssl_, rc);
      // Part of a record, or of a flight: the rest comes with a later feed.
      // (WANT_WRITE cannot happen: the output BIO grows as needed.)
      if (code == SSL_ERROR_WANT_READ || code == SSL_ERROR_WANT_WRITE)
        return {};
      return fail("the TLS handshake", code);
    }
  }
  char buf[16384];
  for (;;) {
    size_t n = 0;
    ERR_clear_error();
    if (SSL_read_ex(ssl_, buf, sizeof(buf), &n) == 1) {
      plaintext_.append(buf, n);
      continue;
    }
    int code = SSL_get_error(ssl_, 0);
    if (code == SSL_ERROR_WANT_READ || code == SSL_ERROR_WANT_WRITE)
      break; // no whole record left
    if (code == SSL_ERROR_ZERO_RETURN) {
      // The peer's close_notify: answer with ours, as TLS asks.
      peer_closed_ = true;
      close();
      return {};
    }
    return fail("reading a TLS record", code);
  }
  return flush_pending();
}

error tls_channel::flush_pending() {
  if (closed_ || failed_ || !SSL_is_init_finished(ssl_))
    return failed_;
  while (!pending_.empty()) {
    size_t n = 0;
    ERR_clear_error();
    if (SSL_write_ex(ssl_, pending_.data(), pending_.size(), &n) == 1) {
      pending_.erase(0, n);
      continue;
    }
    int code = SSL_get_error(ssl_, 0);
    // Retried with the same bytes (and maybe more) after the next feed().
    if (code == SSL_ERROR_WANT_READ || code == SSL_ERROR_WANT_WRITE)
      return {};
    return fail("writing a TLS record", code);
  }
  return {};
}

error tls_channel::fail(const char* what, int ssl_error) {
  auto why = drain_reason();
  if (why.empty())
    why = ssl_error == SSL_ERROR_SYSCALL
            ? "the transport failed"
            : "SSL_get_error " + std::to_string(ssl_error);
  failed_ = make_error(tls_errc::protocol_error,
                       std::string{what} + " failed: " + why);
  pending_.clear();
  return failed_;
}

error tls_channel::write(const std::string& plain) {
  error_queue_scope scope;
  if (failed_)
    return failed_;
  if (closed_)
    return make_error(tls_errc::closed,
                      "cannot write to a TLS channel after its close_notify");
  pending_ += plain;
  return flush_pending();
}

std::string tls_channel::take_plaintext() {
  std::string out;
  out.swap(plaintext_);
  return out;
}

std::string tls_channel::take_ciphertext() {
  std::string out;
  if (out_ == nullptr)
    return out;
  while (size_t n = BIO_ctrl_pending(out_)) {
    auto old = out.size();
    out.resize(old + n);
    size_t got = 0;
    if (BIO_read_ex(out_, &out[old], n, &got) != 1)
      got = 0;
    out.resize(old + got);
    if (got == 0)
      break;
  }
  ERR_clear_error();
  return out;
}

bool tls_channel::handshake_done() const {
  return ssl_ != nullptr && SSL_is_init_finished(ssl_);
}

void tls_channel::close() {
  error_queue_scope scope;
  if (closed_)
    return;
  if (!failed_ && SSL_is_init_finished(ssl_)) {
    flush_pending();
    if (!failed_)
      SSL_shutdown(ssl_); // returns 0: sent ours, the peer's may follow
  }
  closed_ = true;
  pending_.clear();
}

} // namespace lg
