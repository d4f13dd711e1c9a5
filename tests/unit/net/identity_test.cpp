// Certificate identities: the hello proofs of actors/net/identity.hpp, with
// certificates made by scripts/make-certs.sh in a temporary directory.
#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "actors/net/identity.hpp"
#include "envelope.pb.h"
#include "messages/message_types.hpp"

namespace {

struct certs {
  std::string dir;
  certs() {
    dir = std::filesystem::temp_directory_path() / "lg-identity-test-XXXXXX";
    if (mkdtemp(dir.data()) == nullptr)
      throw std::runtime_error("mkdtemp failed");
    make(dir, "--role aggregator 127.0.0.1:9000 --role leaf 127.0.0.1:9001 "
              "--role console ops");
    make(dir + "/other", "--role leaf 127.0.0.1:9001");
  }
  ~certs() {
    std::filesystem::remove_all(dir);
  }
  static void make(const std::string& d, const std::string& args) {
    auto cmd = std::string{"bash "} + LG_SOURCE_DIR + "/scripts/make-certs.sh '"
               + d + "' " + args + " > /dev/null";
    if (std::system(cmd.c_str()) != 0)
      throw std::runtime_error("make-certs.sh failed: " + cmd);
  }
  lg::config::tls_options of(const std::string& name,
                             const std::string& in = {}) const {
    auto d = in.empty() ? dir : in;
    return {d + "/" + name + ".pem", d + "/" + name + ".key", dir + "/ca.pem"};
  }
  std::shared_ptr<lg::node_identity> load(const std::string& name,
                                          const std::string& in = {}) const {
    auto id = lg::node_identity::load(of(name, in));
    BOOST_REQUIRE_MESSAGE(id.ok(), name << ": "
                                        << (id.ok() ? "" : id.err().detail()));
    return *id;
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(net_identity, certs)

BOOST_AUTO_TEST_CASE(a_certificate_names_its_node_and_role) {
  auto agg = load("127.0.0.1:9000");
  BOOST_TEST(agg->self().name == "127.0.0.1:9000");
  BOOST_TEST(agg->self().role == "aggregator");
  BOOST_TEST(load("ops")->self().role == "console");
}

BOOST_AUTO_TEST_CASE(a_signed_hello_proves_the_identity) {
  auto agg = load("127.0.0.1:9000");
  auto leaf = load("127.0.0.1:9001");
  auto payload = lg::hello_payload("127.0.0.1:9001", "127.0.0.1:9001", "leaf",
                                   "127.0.0.1:9000", 12345);
  auto id = agg->verify(leaf->certificate_pem(), payload, leaf->sign(payload));
  BOOST_REQUIRE(id.ok());
  BOOST_TEST(id->name == "127.0.0.1:9001");
  BOOST_TEST(id->role == "leaf");
}

BOOST_AUTO_TEST_CASE(a_changed_hello_or_another_key_proves_nothing) {
  auto agg = load("127.0.0.1:9000");
  auto leaf = load("127.0.0.1:9001");
  auto payload = lg::hello_payload("127.0.0.1:9001", "127.0.0.1:9001", "leaf",
                                   "127.0.0.1:9000", 12345);
  auto sig = leaf->sign(payload);
  // The same signature over a hello that claims to be an aggregator.
  auto forged = lg::hello_payload("127.0.0.1:9001", "127.0.0.1:9001",
                                  "aggregator", "127.0.0.1:9000", 12345);
  auto bad = agg->verify(leaf->certificate_pem(), forged, sig);
  BOOST_REQUIRE(!bad.ok());
  BOOST_TEST(bad.err().detail().find("not signed") != std::string::npos);
  // The leaf's certificate with the console's signature.
  auto ops = load("ops");
  BOOST_TEST(!agg->verify(leaf->certificate_pem(), payload, ops->sign(payload))
                .ok());
}

BOOST_AUTO_TEST_CASE(a_certificate_of_another_ca_is_refused) {
  auto agg = load("127.0.0.1:9000");
  auto stranger = load("127.0.0.1:9001", dir + "/other");
  auto payload = lg::hello_payload("127.0.0.1:9001", "127.0.0.1:9001", "leaf",
                                   "127.0.0.1:9000", 1);
  auto id = agg->verify(stranger->certificate_pem(), payload,
                        stranger->sign(payload));
  BOOST_REQUIRE(!id.ok());
  BOOST_TEST(id.err().detail().find("not the cluster CA's")
             != std::string::npos);
}

BOOST_AUTO_TEST_CASE(roles_allow_only_their_own_claims) {
  BOOST_TEST(lg::role_allows("aggregator", "master-aggregator"));
  BOOST_TEST(lg::role_allows("aggregator", "aggregator"));
  BOOST_TEST(!lg::role_allows("leaf", "aggregator"));
  BOOST_TEST(!lg::role_allows("console", "leaf"));
  BOOST_TEST(!lg::role_allows("", "leaf"));
  BOOST_TEST(lg::role_allows("console", "client"));
  BOOST_TEST(!lg::role_allows("leaf", "client"));
}

BOOST_AUTO_TEST_CASE(bad_files_are_named) {
  auto missing = lg::node_identity::load(of("nobody"));
  BOOST_REQUIRE(!missing.ok());
  BOOST_TEST(missing.err().detail().find("nobody.pem") != std::string::npos);
  // A key that is not the certificate's.
  lg::config::tls_options mixed{dir + "/ops.pem", dir + "/127.0.0.1:9001.key",
                                dir + "/ca.pem"};
  auto wrong = lg::node_identity::load(mixed);
  BOOST_REQUIRE(!wrong.ok());
  BOOST_TEST(wrong.err().detail().find("is not the key of") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

// The inbound message cap (max-message-mb): a message over it is refused
// before it is parsed, one under it is decoded.
BOOST_AUTO_TEST_SUITE(net_message_cap)

BOOST_AUTO_TEST_CASE(a_message_over_the_cap_is_refused_unparsed) {
  lg::pb::Envelope env;
  env.mutable_statement_request()->set_text(std::string(3000, 'x'));
  std::string bytes;
  env.SerializeToString(&bytes);
  std::string why;
  lg::set_max_inbound_message_bytes(2048);
  auto before = lg::inbound_messages_too_large();
  BOOST_TEST(!lg::decode_envelope(bytes, why));
  BOOST_TEST(why.find("over max-message-mb") != std::string::npos);
  BOOST_TEST(lg::inbound_messages_too_large() == before + 1);
  lg::set_max_inbound_message_bytes(4096);
  BOOST_TEST(lg::decode_envelope(bytes, why) != nullptr);
  lg::set_max_inbound_message_bytes(size_t{64} << 20);
}

BOOST_AUTO_TEST_SUITE_END()
