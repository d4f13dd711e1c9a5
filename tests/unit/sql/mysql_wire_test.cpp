#include <boost/test/unit_test.hpp>

#include <string>

#include "sql/mysql_wire.hpp"

namespace mw = lg::mysql;

namespace {

/// A HandshakeResponse41 as `mariadb` sends it.
std::string response41(uint32_t caps, const std::string& user,
                       const std::string& token, const std::string& db,
                       const std::string& plugin) {
  std::string p;
  for (int i = 0; i < 4; ++i)
    p.push_back(static_cast<char>((caps >> (8 * i)) & 0xff));
  p += std::string("\x00\x00\x00\x01", 4); // max packet
  p.push_back(33);
  p.append(23, '\0');
  p += user;
  p.push_back('\0');
  p.push_back(static_cast<char>(token.size()));
  p += token;
  if (caps & mw::client_connect_with_db) {
    p += db;
    p.push_back('\0');
  }
  if (caps & mw::client_plugin_auth) {
    p += plugin;
    p.push_back('\0');
  }
  return p;
}

const std::string scramble = "abcdefghij0123456789";

} // namespace

BOOST_AUTO_TEST_SUITE(sql_mysql_wire)

BOOST_AUTO_TEST_CASE(packets_are_framed_and_split) {
  uint8_t seq = 3;
  auto bytes = mw::frame(seq, "hello");
  bytes += mw::frame(seq, "");
  BOOST_TEST(seq == 5);
  mw::packet_reader r{1024};
  // Fed a byte at a time, a packet appears only once whole.
  for (size_t i = 0; i + 1 < 9; ++i) {
    r.feed(&bytes[i], 1);
    auto p = r.next();
    BOOST_REQUIRE(p.ok());
    BOOST_TEST(!p->has_value());
  }
  r.feed(&bytes[8], bytes.size() - 8);
  auto first = r.next();
  BOOST_REQUIRE(first.ok() && first->has_value());
  BOOST_TEST((*first)->payload == "hello");
  BOOST_TEST((*first)->seq == 3);
  auto second = r.next();
  BOOST_REQUIRE(second.ok() && second->has_value());
  BOOST_TEST((*second)->payload.empty());
  BOOST_TEST(r.buffered() == 0u);
}

BOOST_AUTO_TEST_CASE(a_payload_of_whole_frames_spans_two_and_joins) {
  std::string big(mw::max_frame, 'x');
  uint8_t seq = 0;
  auto bytes = mw::frame(seq, big);
  BOOST_TEST(seq == 2); // a full frame, then an empty one
  mw::packet_reader r{32u << 20};
  r.feed(bytes.data(), bytes.size());
  auto p = r.next();
  BOOST_REQUIRE(p.ok() && p->has_value());
  BOOST_TEST((*p)->payload.size() == big.size());
  BOOST_TEST((*p)->seq == 1);
}

BOOST_AUTO_TEST_CASE(a_packet_over_the_cap_is_an_error) {
  mw::packet_reader r{100};
  std::string header("\xff\xff\x00\x00", 4); // 65535 bytes announced
  r.feed(header.data(), header.size());
  auto p = r.next();
  BOOST_REQUIRE(!p.ok());
  BOOST_TEST(p.err().detail().find("over the limit of 100")
             != std::string::npos);
}

std::string hex(const std::string& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

// Figures computed apart from this code: MySQL's PASSWORD('password') is
// *2470C0C0...; the token for "pw" is what PyMySQL's
// scramble_native_password computes (SHA1 in Python's hashlib).
BOOST_AUTO_TEST_CASE(native_password_matches_mysql_figures) {
  BOOST_TEST(hex(mw::native_password_hash("password"))
             == "2470c0c06dee42fd1618bb99005adca2ec9d1e19");
  BOOST_TEST(hex(mw::native_password_token("pw", scramble))
             == "721f0cd240507731cc82ff6833b8e8834b878bc8");
}

BOOST_AUTO_TEST_CASE(native_password_round_trip) {
  auto stored = mw::native_password_hash("s3cret");
  BOOST_TEST(stored.size() == 20u);
  auto token = mw::native_password_token("s3cret", scramble);
  BOOST_TEST(mw::native_password_matches(stored, scramble, token));
  BOOST_TEST(!mw::native_password_matches(
    stored, scramble, mw::native_password_token("wrong", scramble)));
  BOOST_TEST(!mw::native_password_matches(
    stored, "another scramble....", token));
  // No password: an empty token only.
  BOOST_TEST(mw::native_password_matches("", scramble, ""));
  BOOST_TEST(!mw::native_password_matches("", scramble, token));
  BOOST_TEST(!mw::native_password_matches(stored, scramble, ""));
}

BOOST_AUTO_TEST_CASE(handshake_response_is_parsed) {
  uint32_t caps = mw::client_protocol_41 | mw::client_secure_connection
                  | mw::client_connect_with_db | mw::client_plugin_auth;
  auto token = mw::native_password_token("pw", scramble);
  auto r = mw::parse_handshake_response(
    response41(caps, "root", token, "db1", "caching_sha2_password"));
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(r->user == "root");
  BOOST_TEST(r->auth == token);
  BOOST_TEST(r->database == "db1");
  BOOST_TEST(r->plugin == "caching_sha2_password");
  BOOST_TEST(r->charset == 33);
}

BOOST_AUTO_TEST_CASE(bad_handshake_responses_are_named) {
  BOOST_TEST(mw::parse_handshake_response("short").err().detail().find(
               "only 5 bytes")
             != std::string::npos);
  std::string no41(32, '\0');
  BOOST_TEST(mw::parse_handshake_response(no41).err().detail().find(
               "protocol 4.1")
             != std::string::npos);
  uint32_t caps = mw::client_protocol_41 | mw::client_secure_connection;
  auto cut = response41(caps, "root", std::string(20, 'x'), "", "");
  cut.resize(cut.size() - 5); // the token runs past the end
  BOOST_TEST(mw::parse_handshake_response(cut).err().detail().find(
               "runs past the end")
             != std::string::npos);
  auto no_user = std::string(32, '\0');
  no_user[1] = 0x02; // protocol 4.1
  no_user += "root";   // no NUL after the name
  BOOST_TEST(mw::parse_handshake_response(no_user).err().detail().find(
               "no user name")
             != std::string::npos);
}

BOOST_AUTO_TEST_CASE(handshake_names_the_native_plugin) {
  auto h = mw::handshake_v10(7, scramble, "5.7.32-leafguard",
                             mw::client_protocol_41 | mw::client_plugin_auth);
  BOOST_TEST(h[0] == 10);
  BOOST_TEST(h.find("5.7.32-leafguard") == 1u);
  BOOST_TEST(h.find("mysql_native_password") != std::string::npos);
  BOOST_TEST(h.find(scramble.substr(0, 8)) != std::string::npos);
  BOOST_TEST(h.find(scramble.substr(8)) != std::string::npos);
  auto ssl = std::string(32, '\0');
  ssl[1] = 0x08; // CLIENT_SSL
  BOOST_TEST(mw::is_ssl_request(ssl));
  BOOST_TEST(!mw::is_ssl_request(std::string(32, '\0')));
}

BOOST_AUTO_TEST_CASE(ok_err_and_result_sets) {
  auto ok = mw::ok_packet(3, mw::status_autocommit);
  BOOST_TEST(ok == std::string("\x00\x03\x00\x02\x00\x00\x00", 7));
  auto err = mw::err_packet(1064, mw::sqlstate_of(1064), "bad");
  BOOST_TEST(err == std::string("\xff\x28\x04#42000bad", 12));
  BOOST_TEST(std::string{mw::sqlstate_of(1045)} == "28000");
  BOOST_TEST(std::string{mw::sqlstate_of(9999)} == "HY000");
  BOOST_TEST(mw::lenenc_int(250) == std::string(1, '\xfa'));
  BOOST_TEST(mw::lenenc_int(251) == std::string("\xfc\xfb\x00", 3));
  BOOST_TEST(mw::lenenc_int(1u << 20) == std::string("\xfd\x00\x00\x10", 4));
  auto rs = mw::text_result_set({"k", "v"}, {{"a", std::nullopt}}, false,
                                mw::status_autocommit);
  BOOST_REQUIRE(rs.size() == 6u); // count, 2 columns, EOF, 1 row, EOF
  BOOST_TEST(rs[0] == std::string(1, '\x02'));
  BOOST_TEST(rs[4] == std::string("\x01" "a" "\xfb", 3));
  BOOST_TEST(static_cast<unsigned char>(rs[5][0]) == 0xfe);
  auto modern = mw::text_result_set({"k"}, {}, true, 0);
  BOOST_TEST(modern.size() == 3u); // count, column, OK (no EOF)
}

BOOST_AUTO_TEST_SUITE_END()
