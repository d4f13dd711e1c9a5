#include "sql/table.hpp"

#include <boost/test/unit_test.hpp>

#include <string>

using namespace lg::sql;

BOOST_AUTO_TEST_SUITE(sql_table)

BOOST_AUTO_TEST_CASE(one_row) {
  result_set rs;
  rs.columns = {"Key", "Value"};
  rs.rows = {{"a", "1"}};
  BOOST_TEST(render(rs)
             == "+-----+-------+\n"
                "| Key | Value |\n"
                "+-----+-------+\n"
                "| a   | 1     |\n"
                "+-----+-------+\n"
                "1 row in set\n");
}

BOOST_AUTO_TEST_CASE(several_rows_widen_columns) {
  result_set rs;
  rs.columns = {"Key", "Value"};
  rs.rows = {{"alpha", ""}, {"b", "a longer value"}, {"c", "3"}};
  BOOST_TEST(render(rs)
             == "+-------+----------------+\n"
                "| Key   | Value          |\n"
                "+-------+----------------+\n"
                "| alpha |                |\n"
                "| b     | a longer value |\n"
                "| c     | 3              |\n"
                "+-------+----------------+\n"
                "3 rows in set\n");
}

BOOST_AUTO_TEST_CASE(width_counts_code_points) {
  result_set rs;
  rs.columns = {"Key"};
  rs.rows = {{"ключ"}, {"値"}};
  BOOST_TEST(render(rs)
             == "+------+\n"
                "| Key  |\n"
                "+------+\n"
                "| ключ |\n"
                "| 値    |\n"
                "+------+\n"
                "2 rows in set\n");
}

BOOST_AUTO_TEST_CASE(empty_table) {
  result_set rs;
  rs.columns = {"Key", "Value"};
  BOOST_TEST(render(rs) == "Empty set\n");
}

BOOST_AUTO_TEST_CASE(message_only) {
  result_set rs;
  BOOST_TEST(render(rs) == "Query OK\n");
  rs.message = "Query OK, 3 rows affected";
  BOOST_TEST(render(rs) == "Query OK, 3 rows affected\n");
}

BOOST_AUTO_TEST_CASE(table_then_message) {
  result_set rs;
  rs.columns = {"Leaf"};
  rs.rows = {{"h:1"}};
  rs.message = "1 warning";
  BOOST_TEST(render(rs)
             == "+------+\n"
                "| Leaf |\n"
                "+------+\n"
                "| h:1  |\n"
                "+------+\n"
                "1 row in set\n"
                "1 warning\n");
  rs.rows.clear();
  BOOST_TEST(render(rs) == "Empty set\n1 warning\n");
}

BOOST_AUTO_TEST_CASE(ragged_rows_keep_every_cell) {
  result_set rs;
  rs.columns = {"A", "B"};
  rs.rows = {{"x"}, {"y", "z", "extra"}};
  BOOST_TEST(render(rs)
             == "+---+---+-------+\n"
                "| A | B |       |\n"
                "+---+---+-------+\n"
                "| x |   |       |\n"
                "| y | z | extra |\n"
                "+---+---+-------+\n"
                "2 rows in set\n");
}

BOOST_AUTO_TEST_CASE(error_line) {
  BOOST_TEST(render_error(1064, "near 'x' at position 1: expected FROM")
             == "ERROR 1064: near 'x' at position 1: expected FROM\n");
  BOOST_TEST(render_error(1049, "unknown database 'd'")
             == "ERROR 1049: unknown database 'd'\n");
}

BOOST_AUTO_TEST_SUITE_END()
