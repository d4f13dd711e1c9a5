// The MySQL server's TLS channel of actors/mysql/tls_channel.hpp, driven by a
// client-side SSL object over memory BIOs, with a self-signed certificate
// made in a temporary directory.
#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "actors/mysql/tls_channel.hpp"

namespace {

/// Writes a self-signed P-256 certificate `<dir>/<name>.pem` and its key
/// `<dir>/<name>.key`.
void make_self_signed(const std::string& dir, const std::string& name) {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  X509* cert = X509_new();
  if (key == nullptr || cert == nullptr)
    throw std::runtime_error("cannot make a key or a certificate");
  X509_set_version(cert, X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert), 24 * 3600);
  X509_NAME* subject = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(
    subject, "CN", MBSTRING_ASC,
    reinterpret_cast<const unsigned char*>(name.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert, subject);
  X509_set_pubkey(cert, key);
  if (X509_sign(cert, key, EVP_sha256()) == 0)
    throw std::runtime_error("cannot sign the certificate");
  BIO* cert_out = BIO_new_file((dir + "/" + name + ".pem").c_str(), "w");
  BIO* key_out = BIO_new_file((dir + "/" + name + ".key").c_str(), "w");
  bool ok = cert_out != nullptr && key_out != nullptr
            && PEM_write_bio_X509(cert_out, cert) == 1
            && PEM_write_bio_PrivateKey(key_out, key, nullptr, nullptr, 0,
                                        nullptr, nullptr)
                 == 1;
  BIO_free(cert_out);
  BIO_free(key_out);
  X509_free(cert);
  EVP_PKEY_free(key);
  if (!ok)
    throw std::runtime_error("cannot write the certificate of " + name);
}

/// A MySQL client's side of TLS: an SSL object in connect state over its
/// own memory BIOs, trusting only the server's self-signed certificate.
struct test_client {
  SSL_CTX* ctx = nullptr;
  SSL* ssl = nullptr;
  BIO* in = nullptr;
  BIO* out = nullptr;

  test_client(const std::string& trusted_pem, int max_version) {
    ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    SSL_CTX_load_verify_locations(ctx, trusted_pem.c_str(), nullptr);
    SSL_CTX_set_max_proto_version(ctx, max_version);
    ssl = SSL_new(ctx);
    in = BIO_new(BIO_s_mem());
    out = BIO_new(BIO_s_mem());
    SSL_set_bio(ssl, in, out);
    SSL_set_connect_state(ssl);
  }

  ~test_client() {
    SSL_free(ssl);
    SSL_CTX_free(ctx);
  }

  /// Moves the handshake on; false when the client failed it.
  bool step() {
    if (SSL_is_init_finished(ssl))
      return true;
    int rc = SSL_do_handshake(ssl);
    return rc == 1 || SSL_get_error(ssl, rc) == SSL_ERROR_WANT_READ;
  }

  std::string take() {
    std::string bytes(BIO_ctrl_pending(out), '\0');
    if (!bytes.empty())
      BIO_read(out, &bytes[0], static_cast<int>(bytes.size()));
    return bytes;
  }

  /// Hands ciphertext from the server in chunks cycling through `sizes`.
  void give(const std::string& bytes, const std::vector<size_t>& sizes) {
    size_t at = 0;
    for (size_t i = 0; at < bytes.size(); ++i) {
      auto n = std::min(sizes[i % sizes.size()], bytes.size() - at);
      BIO_write(in, bytes.data() + at, static_cast<int>(n));
      at += n;
    }
  }

  void write(const std::string& plain) {
    size_t n = 0;
    BOOST_REQUIRE(SSL_write_ex(ssl, plain.data(), plain.size(), &n) == 1);
    BOOST_REQUIRE(n == plain.size());
  }

  /// Every whole record's plaintext; the last SSL_get_error in `code`.
  std::string read(int* code = nullptr) {
    std::string plain;
    char buf[4096];
    size_t n = 0;
    int rc;
    while ((rc = SSL_read_ex(ssl, buf, sizeof(buf), &n)) == 1)
      plain.append(buf, n);
    if (code != nullptr)
      *code = SSL_get_error(ssl, rc);
    return plain;
  }
};

/// Feeds `bytes` to the server in chunks cycling through `sizes`, taking
/// the plaintext as it comes.
std::string feed_in_chunks(lg::tls_channel& server, const std::string& bytes,
                           const std::vector<size_t>& sizes) {
  std::string plain;
  size_t at = 0;
  for (size_t i = 0; at < bytes.size(); ++i) {
    auto n = std::min(sizes[i % sizes.size()], bytes.size() - at);
    auto err = server.feed(bytes.data() + at, n);
    BOOST_REQUIRE_MESSAGE(!err, err.to_string());
    plain += server.take_plaintext();
    at += n;
  }
  return plain;
}

/// Moves bytes both ways until neither side has any to send.
void pump(lg::tls_channel& server, test_client& client,
          const std::vector<size_t>& sizes = {16384}) {
  for (int round = 0; round < 20; ++round) {
    BOOST_REQUIRE(client.step());
    auto to_server = client.take();
    feed_in_chunks(server, to_server, sizes);
    auto to_client = server.take_ciphertext();
    client.give(to_client, sizes);
    if (to_server.empty() && to_client.empty())
      return;
  }
  BOOST_FAIL("the handshake did not settle");
}

std::string pattern(size_t size) {
  std::string out(size, '\0');
  for (size_t i = 0; i < size; ++i)
    out[i] = static_cast<char>((i * 31 + 7) % 251);
  return out;
}

struct fixture {
  std::string dir;
  std::shared_ptr<lg::tls_server_context> ctx;

  fixture() {
    dir = std::filesystem::temp_directory_path() / "lg-tls-channel-XXXXXX";
    if (mkdtemp(dir.data()) == nullptr)
      throw std::runtime_error("mkdtemp failed");
    make_self_signed(dir, "node");
    make_self_signed(dir, "other");
    auto loaded = lg::tls_server_context::load(pem("node"), key("node"));
    BOOST_REQUIRE_MESSAGE(loaded.ok(),
                          (loaded.ok() ? "" : loaded.err().to_string()));
    ctx = *loaded;
  }
  ~fixture() {
    std::filesystem::remove_all(dir);
  }
  std::string pem(const std::string& name) const {
    return dir + "/" + name + ".pem";
  }
  std::string key(const std::string& name) const {
    return dir + "/" + name + ".key";
  }
};

const std::vector<int> versions = {TLS1_2_VERSION, TLS1_3_VERSION};

} // namespace

BOOST_FIXTURE_TEST_SUITE(mysql_tls_channel, fixture)

BOOST_AUTO_TEST_CASE(the_handshake_completes_over_cut_records) {
  for (int version : versions) {
    BOOST_TEST_CONTEXT("max version " << std::hex << version) {
      lg::tls_channel server{ctx};
      test_client client{pem("node"), version};
      BOOST_TEST(!server.handshake_done());
      // One byte, then three, then seven: every record arrives in pieces.
      pump(server, client, {1, 3, 7});
      BOOST_TEST(server.handshake_done());
      BOOST_TEST(SSL_is_init_finished(client.ssl) == 1);
      BOOST_TEST(SSL_version(client.ssl) == version);
      // The client checked the server's certificate against the one it
      // trusts.
      BOOST_TEST(SSL_get_verify_result(client.ssl) == X509_V_OK);
      BOOST_TEST(ERR_peek_error() == 0u);
    }
  }
}

BOOST_AUTO_TEST_CASE(data_flows_both_ways) {
  for (int version : versions) {
    BOOST_TEST_CONTEXT("max version " << std::hex << version) {
      lg::tls_channel server{ctx};
      test_client client{pem("node"), version};
      pump(server, client);
      client.write("SELECT 1");
      BOOST_TEST(feed_in_chunks(server, client.take(), {5}) == "SELECT 1");
      // An OK packet: NUL bytes go through like any other.
      std::string ok_packet("\x07\x00\x00\x02\x00\x00\x00", 7);
      BOOST_TEST(!server.write(ok_packet));
      BOOST_TEST(!server.write("second"));
      client.give(server.take_ciphertext(), {2});
      BOOST_TEST(client.read() == ok_packet + "second");
      BOOST_TEST(server.take_plaintext().empty());
      BOOST_TEST(server.take_ciphertext().empty());
    }
  }
}

BOOST_AUTO_TEST_CASE(a_100_kb_message_survives_odd_chunks) {
  auto message = pattern(100 * 1024);
  for (int version : versions) {
    BOOST_TEST_CONTEXT("max version " << std::hex << version) {
      lg::tls_channel server{ctx};
      test_client client{pem("node"), version};
      pump(server, client);
      // Client to server: cuts that fall inside headers and bodies alike.
      client.write(message);
      auto got = feed_in_chunks(server, client.take(), {7, 13, 1021, 4099, 1});
      BOOST_TEST(got.size() == message.size());
      BOOST_TEST((got == message));
      // Server to client.
      BOOST_TEST(!server.write(message));
      auto cipher = server.take_ciphertext();
      BOOST_TEST(cipher.size() > message.size());
      std::string back;
      for (size_t at = 0, i = 0; at < cipher.size(); ++i) {
        size_t n = std::min<size_t>(i % 2 == 0 ? 333 : 4097,
                                    cipher.size() - at);
        client.give(cipher.substr(at, n), {n});
        back += client.read();
        at += n;
      }
      BOOST_TEST(back.size() == message.size());
      BOOST_TEST((back == message));
    }
  }
}

BOOST_AUTO_TEST_CASE(a_write_before_the_handshake_waits_for_it) {
  lg::tls_channel server{ctx};
  test_client client{pem("node"), TLS1_3_VERSION};
  BOOST_TEST(!server.write("early"));
  BOOST_TEST(server.take_ciphertext().empty());
  // Halfway: the ClientHello is in, the client's Finished is not.
  BOOST_REQUIRE(client.step());
  feed_in_chunks(server, client.take(), {16384});
  BOOST_TEST(!server.handshake_done());
  BOOST_TEST(!server.write(" and later"));
  client.give(server.take_ciphertext(), {16384});
  BOOST_REQUIRE(client.step());
  pump(server, client);
  BOOST_TEST(server.handshake_done());
  BOOST_TEST(client.read() == "early and later");
}

BOOST_AUTO_TEST_CASE(garbage_is_an_error_not_a_crash) {
  // Clear text where the ClientHello should be.
  {
    lg::tls_channel server{ctx};
    std::string http = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    auto err = server.feed(http.data(), http.size());
    BOOST_REQUIRE(err);
    BOOST_TEST(err.module() == "tls");
    BOOST_TEST(err.name() == "protocol_error");
    BOOST_TEST_MESSAGE(err.to_string());
    BOOST_TEST(err.detail().find("handshake failed: error:")
               != std::string::npos);
    BOOST_TEST(ERR_peek_error() == 0u);
    // The channel stays dead, and says why.
    BOOST_TEST(server.feed("\x16", 1).detail() == err.detail());
    BOOST_TEST(server.write("x").detail() == err.detail());
    BOOST_TEST(ERR_peek_error() == 0u);
  }
  // A record that does not decrypt, after the handshake.
  for (int version : versions) {
    BOOST_TEST_CONTEXT("max version " << std::hex << version) {
      lg::tls_channel server{ctx};
      test_client client{pem("node"), version};
      pump(server, client);
      std::string record = "\x17\x03\x03";
      record += '\x00';
      record += '\x40';
      record += pattern(64);
      auto err = server.feed(record.data(), record.size());
      BOOST_REQUIRE(err);
      BOOST_TEST_MESSAGE(err.to_string());
      BOOST_TEST(err.detail().find("reading a TLS record failed: error:")
                 != std::string::npos);
      BOOST_TEST(ERR_peek_error() == 0u);
      // The alert for the peer.
      client.give(server.take_ciphertext(), {16384});
      int code = 0;
      client.read(&code);
      BOOST_TEST(code == SSL_ERROR_SSL);
      ERR_clear_error();
    }
  }
  // Random bytes, fed one at a time.
  {
    lg::tls_channel server{ctx};
    auto noise = pattern(512);
    lg::error err;
    for (size_t i = 0; i < noise.size() && !err; ++i)
      err = server.feed(&noise[i], 1);
    BOOST_TEST(static_cast<bool>(err));
    BOOST_TEST(ERR_peek_error() == 0u);
  }
}

BOOST_AUTO_TEST_CASE(errors_left_by_others_do_not_confuse_it) {
  lg::tls_channel server{ctx};
  test_client client{pem("node"), TLS1_3_VERSION};
  // A stale error in this thread's queue, as another OpenSSL user may leave.
  ERR_raise(ERR_LIB_SSL, SSL_R_BAD_LENGTH);
  pump(server, client, {9});
  BOOST_TEST(server.handshake_done());
  BOOST_TEST(ERR_peek_error() == 0u);
}

BOOST_AUTO_TEST_CASE(close_notify_is_answered) {
  for (int version : versions) {
    BOOST_TEST_CONTEXT("max version " << std::hex << version) {
      lg::tls_channel server{ctx};
      test_client client{pem("node"), version};
      pump(server, client);
      client.write("bye");
      BOOST_TEST(SSL_shutdown(client.ssl) == 0);
      BOOST_TEST(feed_in_chunks(server, client.take(), {3}) == "bye");
      BOOST_TEST(server.peer_closed());
      BOOST_TEST(server.write("late").name() == "closed");
      client.give(server.take_ciphertext(), {16384});
      BOOST_TEST(SSL_shutdown(client.ssl) == 1);
      BOOST_TEST(ERR_peek_error() == 0u);
    }
  }
  // The server ends the session.
  lg::tls_channel server{ctx};
  test_client client{pem("node"), TLS1_3_VERSION};
  pump(server, client);
  BOOST_TEST(!server.write("last"));
  server.close();
  BOOST_TEST(!server.peer_closed());
  client.give(server.take_ciphertext(), {16384});
  int code = 0;
  BOOST_TEST(client.read(&code) == "last");
  BOOST_TEST(code == SSL_ERROR_ZERO_RETURN);
  BOOST_TEST(server.write("more").name() == "closed");
}

BOOST_AUTO_TEST_CASE(bad_files_are_named) {
  auto missing = lg::tls_server_context::load(dir + "/nobody.pem", key("node"));
  BOOST_REQUIRE(!missing.ok());
  BOOST_TEST_MESSAGE(missing.err().to_string());
  BOOST_TEST(missing.err().name() == "bad_file");
  BOOST_TEST(missing.err().detail().find("nobody.pem") != std::string::npos);
  auto no_key = lg::tls_server_context::load(pem("node"), dir + "/nobody.key");
  BOOST_REQUIRE(!no_key.ok());
  BOOST_TEST(no_key.err().detail().find("nobody.key") != std::string::npos);
  // A key file that holds a certificate.
  auto not_key = lg::tls_server_context::load(pem("node"), pem("other"));
  BOOST_REQUIRE(!not_key.ok());
  BOOST_TEST(not_key.err().detail().find("other.pem") != std::string::npos);
  auto mixed = lg::tls_server_context::load(pem("node"), key("other"));
  BOOST_REQUIRE(!mixed.ok());
  BOOST_TEST_MESSAGE(mixed.err().to_string());
  BOOST_TEST(mixed.err().detail().find("is not the key of")
             != std::string::npos);
  // With a CA: the certificate must chain to it.
  BOOST_TEST(lg::tls_server_context::load(pem("node"), key("node"), pem("node"))
               .ok());
  auto stranger = lg::tls_server_context::load(pem("node"), key("node"),
                                               pem("other"));
  BOOST_REQUIRE(!stranger.ok());
  BOOST_TEST_MESSAGE(stranger.err().to_string());
  BOOST_TEST(stranger.err().detail().find("does not chain")
             != std::string::npos);
  BOOST_TEST(ERR_peek_error() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
