#include "cluster/tls_files.hpp"

#include <cstdio>
#include <fstream>
#include <string>

#include <boost/test/unit_test.hpp>

#include "support/temp_dir.hpp"

namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

} // namespace

BOOST_AUTO_TEST_SUITE(cluster_tls_files)

BOOST_AUTO_TEST_CASE(a_missing_file_is_named_with_its_option) {
  lg::config::tls_options tls;
  tls.cert = "c";
  tls.key = "k";
  tls.ca = "ca";
  auto err = lg::check_tls_files(tls);
  BOOST_REQUIRE(err);
  BOOST_TEST(contains(err.detail(), "tls-cert: file 'c' cannot be read"));
}

BOOST_AUTO_TEST_CASE(a_file_without_a_certificate_is_refused) {
  lg::test::temp_dir dir;
  auto path = [&](const char* name) { return dir.path + "/" + name; };
  for (auto name : {"cert.pem", "key.pem", "ca.pem"})
    std::ofstream{path(name)} << "not PEM\n";
  lg::config::tls_options tls;
  tls.cert = path("cert.pem");
  tls.key = path("key.pem");
  tls.ca = path("ca.pem");
  auto err = lg::check_tls_files(tls);
  BOOST_REQUIRE(err);
  BOOST_TEST(contains(err.detail(), "tls-cert: no PEM certificate in"));
  BOOST_TEST(contains(err.detail(), path("cert.pem")));
}

BOOST_AUTO_TEST_SUITE_END()
