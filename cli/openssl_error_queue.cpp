// Works around a bug of caf_openssl 0.17.6 that lets any peer cut every
// other TLS link of a node.
//
// OpenSSL keeps one error queue per thread. SSL_get_error() answers
// SSL_ERROR_SSL whenever that queue is not empty, so each SSL I/O call must
// start with an empty queue (OpenSSL's SSL_get_error(3) says so). caf_openssl
// runs every connection of a process on the middleman's one thread, and it
// does not clear the queue after a failed handshake. A single peer with a
// foreign certificate (or no TLS at all) therefore leaves an entry behind,
// and the next read on each healthy link is taken for a fatal error: the
// node drops all its links at once (seen as remote_link_unreachable on both
// sides).
//
// The calls caf_openssl makes are interposed here (the executable exports
// them, so the dynamic linker binds libcaf_openssl's references to these):
// each clears the calling thread's queue, then calls OpenSSL's own.
#include <dlfcn.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

namespace {

template <class F>
F real(const char* name) {
  auto* fn = dlvsym(RTLD_NEXT, name, "OPENSSL_3.0.0");
  if (fn == nullptr)
    fn = dlsym(RTLD_NEXT, name);
  return reinterpret_cast<F>(fn);
}

} // namespace

extern "C" {

int SSL_read(SSL* ssl, void* buf, int num) {
  static auto fn = real<int (*)(SSL*, void*, int)>("SSL_read");
  ERR_clear_error();
  return fn(ssl, buf, num);
}

int SSL_write(SSL* ssl, const void* buf, int num) {
  static auto fn = real<int (*)(SSL*, const void*, int)>("SSL_write");
  ERR_clear_error();
  return fn(ssl, buf, num);
}

int SSL_accept(SSL* ssl) {
  static auto fn = real<int (*)(SSL*)>("SSL_accept");
  ERR_clear_error();
  return fn(ssl);
}

int SSL_connect(SSL* ssl) {
  static auto fn = real<int (*)(SSL*)>("SSL_connect");
  ERR_clear_error();
  return fn(ssl);
}

} // extern "C"
