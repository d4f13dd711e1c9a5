#include "config/node_options.hpp"

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

using lg::config::parse_check_history;
using lg::config::parse_history;
using lg::config::parse_node;
using lg::config::parse_sql;

namespace {

using args = std::vector<std::string>;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

/// Writes `text` to a fresh config file and returns its path.
std::string config_file(const std::string& name, const std::string& text) {
  auto path = "/tmp/leafguard-node-options-" + name + ".conf";
  std::ofstream out{path, std::ios::trunc};
  out << text;
  return path;
}

std::string error_of(const args& xs) {
  auto r = parse_node("leaf", xs);
  BOOST_REQUIRE_MESSAGE(!r.ok(), "expected an error");
  return r.err().detail();
}

} // namespace

BOOST_AUTO_TEST_SUITE(config_node_options)

BOOST_AUTO_TEST_CASE(command_line_options) {
  auto r = parse_node("leaf", {"--port", "9001", "--data-dir=/tmp/l1",
                               "--log-level", "debug", "--trace", "/tmp/t"});
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(r->port == 9001);
  BOOST_TEST(r->data_dir == "/tmp/l1");
  BOOST_TEST(r->bind == "127.0.0.1");
  BOOST_TEST(r->address() == "127.0.0.1:9001");
  BOOST_TEST(r->log_level == "debug");
  BOOST_TEST(!r->tls.enabled());
  auto h = parse_node("leaf", {"--port", "9001", "--data-dir", "/d", "--host",
                               "node7"});
  BOOST_REQUIRE(h.ok());
  BOOST_TEST(h->address() == "node7:9001");
  BOOST_TEST(h->max_message_mb == 64);
  auto m = parse_node("aggregator", {"--port", "1", "--data-dir", "/d",
                                     "--max-message-mb", "8"});
  BOOST_REQUIRE(m.ok());
  BOOST_TEST(m->max_message_mb == 8);
}

BOOST_AUTO_TEST_CASE(bad_values_name_the_option) {
  BOOST_TEST(contains(error_of({"--port", "0", "--data-dir", "/d"}),
                      "--port: '0' is not a port number"));
  BOOST_TEST(contains(error_of({"--port", "70000", "--data-dir", "/d"}),
                      "'70000' is not a port number"));
  BOOST_TEST(contains(error_of({"--port", "12x", "--data-dir", "/d"}),
                      "'12x'"));
  BOOST_TEST(contains(error_of({"--port", "1", "--data-dir", "/d",
                                "--log-level", "loud"}),
                      "--log-level: 'loud'"));
  BOOST_TEST(contains(error_of({"--port", "1", "--data-dir", "/d", "--bogus"}),
                      "unknown option '--bogus'"));
  BOOST_TEST(contains(error_of({"--port"}), "--port: missing value"));
  BOOST_TEST(contains(error_of({"--port", "1", "--data-dir", "/d",
                                "--max-message-mb", "0"}),
                      "--max-message-mb: '0' is out of range (1 to 4095)"));
  BOOST_TEST(contains(error_of({"--data-dir", "/d"}),
                      "missing required key 'port'"));
  BOOST_TEST(contains(error_of({"--port", "1"}),
                      "missing required key 'data-dir'"));
  BOOST_TEST(contains(error_of({"--port", "1", "--data-dir", "/d",
                                "--insecure=yes"}),
                      "--insecure: takes no value"));
}

BOOST_AUTO_TEST_CASE(without_tls_only_loopback_unless_insecure) {
  BOOST_TEST(contains(error_of({"--port", "1", "--data-dir", "/d", "--bind",
                                "0.0.0.0"}),
                      "loopback only"));
  auto r = parse_node("leaf", {"--port", "1", "--data-dir", "/d", "--bind",
                               "0.0.0.0", "--insecure"});
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(r->insecure);
  BOOST_TEST(lg::config::is_loopback("127.0.0.1"));
  BOOST_TEST(lg::config::is_loopback("localhost"));
  BOOST_TEST(!lg::config::is_loopback("10.0.0.1"));
}

BOOST_AUTO_TEST_CASE(tls_needs_all_three_files) {
  BOOST_TEST(contains(error_of({"--port", "1", "--data-dir", "/d",
                                "--tls-cert", "c.pem", "--tls-ca", "ca.pem"}),
                      "missing required key 'tls-key'"));
  auto r = parse_node("leaf", {"--port", "1", "--data-dir", "/d", "--tls-cert",
                               "c", "--tls-key", "k", "--tls-ca", "ca",
                               "--bind", "0.0.0.0"});
  BOOST_REQUIRE(r.ok()); // with TLS any address may be bound
  BOOST_TEST(r->tls.enabled());
}

BOOST_AUTO_TEST_CASE(config_file_keys_are_checked_and_named) {
  auto good = config_file("good", "# a leaf\nport = 9002\n"
                                  "data-dir = \"/tmp/l2\"\ninsecure = false\n");
  auto r = parse_node("leaf", {"--config", good});
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(r->port == 9002);
  BOOST_TEST(r->data_dir == "/tmp/l2");
  // The command line wins over the file.
  auto over = parse_node("leaf", {"--config", good, "--port", "9003"});
  BOOST_REQUIRE(over.ok());
  BOOST_TEST(over->port == 9003);
  auto unknown = config_file("unknown", "port = 1\ndata-dir = /d\nbogus = 1\n");
  BOOST_TEST(contains(error_of({"--config", unknown}),
                      unknown + " line 3: unknown key 'bogus'"));
  auto bad = config_file("bad", "port = many\ndata-dir = /d\n");
  BOOST_TEST(contains(error_of({"--config", bad}),
                      bad + " line 1: key 'port': 'many'"));
  auto junk = config_file("junk", "port 1\n");
  BOOST_TEST(contains(error_of({"--config", junk}),
                      "expected 'key = value'"));
  auto missing = config_file("missing", "port = 1\n");
  BOOST_TEST(contains(error_of({"--config", missing}),
                      "missing required key 'data-dir' (on the command line "
                      "or in " + missing + ")"));
  BOOST_TEST(contains(error_of({"--config", "/nonexistent/x.conf"}),
                      "/nonexistent/x.conf: cannot be read"));
  for (auto& p : {good, unknown, bad, junk, missing})
    std::remove(p.c_str());
}

BOOST_AUTO_TEST_CASE(console_options) {
  auto r = parse_sql({"--port", "9000", "-e", "SHOW LEAVES", "a.sql"});
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(r->host == "127.0.0.1");
  BOOST_TEST(r->port == 9000);
  BOOST_TEST(r->exec == "SHOW LEAVES");
  BOOST_TEST(r->files == std::vector<std::string>{"a.sql"});
  auto no_port = parse_sql({"-e", "x"});
  BOOST_REQUIRE(!no_port.ok());
  BOOST_TEST(contains(no_port.err().detail(), "--port"));
  BOOST_TEST(!parse_sql({"--port", "1", "--config", "f"}).ok());
}

BOOST_AUTO_TEST_CASE(history_client_options) {
  auto r = parse_history({"--port", "9000", "--database", "db", "--out",
                          "/tmp/h", "--seconds=30", "--clients", "6",
                          "--seed", "42"});
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(r->host == "127.0.0.1");
  BOOST_TEST(r->port == 9000);
  BOOST_TEST(r->database == "db");
  BOOST_TEST(r->out == "/tmp/h");
  BOOST_TEST(r->seconds == 30);
  BOOST_TEST(r->clients == 6);
  BOOST_TEST(r->sessions == 2);
  BOOST_TEST(r->keys == 8);
  BOOST_TEST(r->seed == 42);
  auto error_of = [](const std::vector<std::string>& xs) {
    auto e = parse_history(xs);
    BOOST_REQUIRE_MESSAGE(!e.ok(), "expected an error");
    return e.err().detail();
  };
  const std::vector<std::string> base{"--port", "9000", "--database", "db",
                                      "--out", "/tmp/h"};
  auto with = [&](std::vector<std::string> more) {
    auto xs = base;
    xs.insert(xs.end(), more.begin(), more.end());
    return xs;
  };
  BOOST_TEST(contains(error_of({"--port", "9000", "--out", "/tmp/h"}),
                      "missing required option '--database'"));
  BOOST_TEST(contains(error_of({"--database", "db", "--out", "/tmp/h"}),
                      "'--port'"));
  BOOST_TEST(contains(error_of({"--port", "9000", "--database", "db"}),
                      "'--out'"));
  BOOST_TEST(contains(error_of(with({"--database", "db; DROP"})),
                      "--database: 'db; DROP' is not a database name"));
  BOOST_TEST(contains(error_of(with({"--clients", "0"})),
                      "--clients: '0' is out of range (1 to 64)"));
  BOOST_TEST(contains(error_of(with({"--seconds", "-1"})),
                      "--seconds: '-1' is not an integer"));
  BOOST_TEST(contains(error_of(with({"--frobnicate", "1"})),
                      "unknown option '--frobnicate'"));
  BOOST_TEST(contains(error_of(with({"extra"})), "unexpected argument 'extra'"));
  BOOST_TEST(contains(error_of(with({"--tls-cert", "c.pem"})),
                      "missing required key 'tls-key'"));
  auto also = parse_history(with({"--also-aggregators", "h:1,h:2"}));
  BOOST_REQUIRE(also.ok());
  BOOST_TEST(also->also_aggregators == "h:1,h:2");
  BOOST_TEST(contains(error_of(with({"--also-aggregators", "h:1,nope"})),
                      "--also-aggregators: 'nope' is not host:port"));
  BOOST_TEST(contains(error_of(with({"--also-aggregators", "h:0"})),
                      "'h:0' is not host:port"));
}

BOOST_AUTO_TEST_CASE(check_history_options) {
  auto r = parse_check_history({"h.txt", "--budget-seconds", "5"});
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(r->file == "h.txt");
  BOOST_TEST(r->budget_seconds == 5);
  auto none = parse_check_history({});
  BOOST_REQUIRE(!none.ok());
  BOOST_TEST(contains(none.err().detail(), "missing the history FILE"));
  auto two = parse_check_history({"a", "b"});
  BOOST_REQUIRE(!two.ok());
  BOOST_TEST(contains(two.err().detail(), "one history FILE only, got 2"));
  BOOST_TEST(!parse_check_history({"a", "--budget-seconds", "0"}).ok());
}

BOOST_AUTO_TEST_SUITE_END()
