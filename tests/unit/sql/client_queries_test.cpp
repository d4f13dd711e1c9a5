#include "sql/client_queries.hpp"

#include <boost/test/unit_test.hpp>

using namespace lg::sql;

namespace {

client_context context() {
  client_context ctx;
  ctx.user = "bob";
  ctx.host = "127.0.0.1";
  ctx.connection_id = 7;
  ctx.max_packet = 64 << 20;
  return ctx;
}

} // namespace

BOOST_AUTO_TEST_SUITE(sql_client_queries)

BOOST_AUTO_TEST_CASE(what_the_mariadb_console_asks_on_connect) {
  auto a = answer_client_query("select @@version_comment limit 1", context());
  BOOST_REQUIRE(a);
  BOOST_TEST(a->columns == std::vector<std::string>{"@@version_comment"});
  BOOST_REQUIRE(a->rows.size() == 1u);
  BOOST_TEST(*a->rows[0][0] == "leafguard");
}

BOOST_AUTO_TEST_CASE(database_is_null_until_use) {
  auto ctx = context();
  auto a = answer_client_query("SELECT DATABASE()", ctx);
  BOOST_REQUIRE(a);
  BOOST_TEST(!a->rows[0][0].has_value());
  ctx.database = "db";
  a = answer_client_query("SELECT DATABASE();", ctx);
  BOOST_TEST(*a->rows[0][0] == "db");
}

BOOST_AUTO_TEST_CASE(several_items_with_aliases) {
  auto a = answer_client_query(
    "SELECT @@session.autocommit AS ac, USER(), CONNECTION_ID(), 1",
    context());
  BOOST_REQUIRE(a);
  BOOST_TEST(a->columns
             == (std::vector<std::string>{"ac", "USER()", "CONNECTION_ID()",
                                          "1"}));
  BOOST_TEST(*a->rows[0][0] == "1");
  BOOST_TEST(*a->rows[0][1] == "bob@127.0.0.1");
  BOOST_TEST(*a->rows[0][2] == "7");
  BOOST_TEST(*a->rows[0][3] == "1");
  a = answer_client_query("SELECT @@max_allowed_packet", context());
  BOOST_TEST(*a->rows[0][0] == std::to_string(64 << 20));
}

BOOST_AUTO_TEST_CASE(the_cluster_runs_the_rest) {
  BOOST_TEST(!answer_client_query("SELECT * FROM db", context()));
  BOOST_TEST(!answer_client_query("SELECT @@no_such_variable", context()));
  BOOST_TEST(!answer_client_query("SET GLOBAL redundancy_level = 2",
                                  context()));
  BOOST_TEST(!answer_client_query("SHOW LEAVES", context()));
}

BOOST_AUTO_TEST_CASE(session_settings_are_accepted) {
  for (auto text : {"SET NAMES utf8mb4", "set autocommit=1",
                    "SET AUTOCOMMIT = 0", "SET character set utf8",
                    "COMMIT", "BEGIN"}) {
    auto a = answer_client_query(text, context());
    BOOST_REQUIRE(a);
    BOOST_TEST(a->error_code == 0);
    BOOST_TEST(a->columns.empty());
  }
}

BOOST_AUTO_TEST_CASE(rollback_says_nothing_was_rolled_back) {
  auto a = answer_client_query("ROLLBACK", context());
  BOOST_REQUIRE(a);
  BOOST_TEST(a->error_code == 1235);
  BOOST_TEST(a->error.find("nothing was rolled back") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(show_warnings_is_empty_and_use_names_the_database) {
  auto a = answer_client_query("SHOW WARNINGS", context());
  BOOST_REQUIRE(a);
  BOOST_TEST(a->columns.size() == 3u);
  BOOST_TEST(a->rows.empty());
  a = answer_client_query("use `orders`", context());
  BOOST_REQUIRE(a);
  BOOST_TEST(a->use_database == "orders");
}

BOOST_AUTO_TEST_CASE(sleep_waits_at_the_connection) {
  auto a = answer_client_query("SLEEP 250", context());
  BOOST_REQUIRE(a);
  BOOST_TEST(a->sleep_ms == 250u);
  BOOST_TEST(a->columns.empty());
  // What the console refuses goes to the cluster, which says why.
  BOOST_TEST(!answer_client_query("SLEEP forever", context()));
}

BOOST_AUTO_TEST_SUITE_END()
