#include "sql/parser.hpp"

#include <boost/test/unit_test.hpp>

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <random>
#include <string>
#include <string_view>
#include <vector>

using namespace lg::sql;

namespace {

/// Parses `text` and returns the statement as a `T`, failing the test if not.
template <class T>
T parse_as(std::string_view text) {
  auto r = parse(text);
  BOOST_REQUIRE_MESSAGE(r.ok(), "'" << text << "' failed: "
                                    << (r.ok() ? "" : r.err().to_string()));
  BOOST_REQUIRE_MESSAGE(std::holds_alternative<T>(*r),
                        "'" << text << "' parsed as alternative "
                            << r->index());
  return std::get<T>(*r);
}

/// Parses `text`, requires an error of kind `name`, and returns its detail.
std::string parse_error(std::string_view text, const std::string& name) {
  auto r = parse(text);
  BOOST_REQUIRE_MESSAGE(!r.ok(), "'" << text << "' parsed unexpectedly");
  BOOST_TEST(r.err().module() == "sql");
  BOOST_TEST(r.err().name() == name, "'" << text << "': " << r.err().name());
  return r.err().detail();
}

bool contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

} // namespace

BOOST_AUTO_TEST_SUITE(sql_parser)

// -- names and codes ----------------------------------------------------------

BOOST_AUTO_TEST_CASE(error_names_and_codes) {
  BOOST_TEST(std::string{to_string(errc::syntax_error)} == "syntax_error");
  BOOST_TEST(std::string{to_string(errc::partition_offline)}
             == "partition_offline");
  BOOST_TEST(std::string{to_string(errc::internal)} == "internal");
  BOOST_TEST(code_of(errc::syntax_error) == 1064);
  BOOST_TEST(code_of(errc::bad_value) == 1231);
  BOOST_TEST(code_of(errc::unknown_database) == 1049);
  BOOST_TEST(code_of(errc::database_exists) == 1007);
  BOOST_TEST(code_of(errc::unknown_leaf) == 1911);
  BOOST_TEST(code_of(errc::leaf_exists) == 1912);
  BOOST_TEST(code_of(errc::unknown_variable) == 1193);
  BOOST_TEST(code_of(errc::partition_offline) == 1913);
  BOOST_TEST(code_of(errc::not_supported) == 1235);
  BOOST_TEST(code_of(errc::timeout) == 2013);
  BOOST_TEST(code_of(errc::conflict) == 1914);
  BOOST_TEST(code_of(errc::internal) == 1815);
  BOOST_TEST(code_of(errc::io_error) == 1026);
  BOOST_TEST(code_of(errc::access_denied) == 1045);
  BOOST_TEST(code_of(errc::missing_privilege) == 1227);
  BOOST_TEST(code_of(errc::user_operation_failed) == 1396);
  BOOST_TEST(std::string{to_string(errc::access_denied)} == "access_denied");
  BOOST_TEST(std::string{to_string(errc::missing_privilege)}
             == "missing_privilege");
  BOOST_TEST(std::string{to_string(errc::user_operation_failed)}
             == "user_operation_failed");
  auto err = make_error(errc::unknown_database, "nope");
  BOOST_TEST(err.to_string() == "sql.unknown_database: nope");
}

BOOST_AUTO_TEST_CASE(leaf_fault_names) {
  BOOST_TEST(std::string{to_string(leaf_fault::start)} == "START");
  BOOST_TEST(std::string{to_string(leaf_fault::kill)} == "KILL");
  BOOST_TEST(std::string{to_string(leaf_fault::restart)} == "RESTART");
  BOOST_TEST(std::string{to_string(leaf_fault::destroy)} == "DESTROY");
  BOOST_TEST(std::string{to_string(leaf_fault::isolate)} == "ISOLATE");
  BOOST_TEST(std::string{to_string(leaf_fault::heal)} == "HEAL");
}

BOOST_AUTO_TEST_CASE(privilege_names) {
  BOOST_TEST(std::string{to_string(privilege::select)} == "SELECT");
  BOOST_TEST(std::string{to_string(privilege::insert)} == "INSERT");
  BOOST_TEST(std::string{to_string(privilege::delete_)} == "DELETE");
  BOOST_TEST(std::string{to_string(privilege::create)} == "CREATE");
  BOOST_TEST(std::string{to_string(privilege::drop)} == "DROP");
  BOOST_TEST(std::string{to_string(privilege::cluster)} == "CLUSTER");
  BOOST_TEST(std::string{to_string(privilege::all)} == "ALL PRIVILEGES");
}

BOOST_AUTO_TEST_CASE(statement_indexes_stay) {
  // Messages and logs may record the index: new statements go at the end.
  BOOST_TEST(statement{create_database{}}.index() == 0u);
  BOOST_TEST(statement{delete_row{}}.index() == 20u);
  BOOST_TEST(statement{change_aggregator{}}.index() == 24u);
  BOOST_TEST(statement{create_user{}}.index() == 25u);
  BOOST_TEST(statement{drop_user{}}.index() == 26u);
  BOOST_TEST(statement{grant_privileges{}}.index() == 27u);
  BOOST_TEST(statement{show_grants{}}.index() == 28u);
  BOOST_TEST(statement{show_users{}}.index() == 29u);
  BOOST_TEST(statement{show_failovers{}}.index() == 30u);
  BOOST_TEST(std::variant_size_v<statement> == 31u);
}

// -- databases ----------------------------------------------------------------

BOOST_AUTO_TEST_CASE(create_database_forms) {
  auto plain = parse_as<create_database>("CREATE DATABASE db");
  BOOST_TEST(plain.name == "db");
  BOOST_TEST(!plain.partitions);
  BOOST_TEST(!plain.sync_durability);

  auto full = parse_as<create_database>(
    "CREATE DATABASE x_1 PARTITIONS 16 WITH SYNC DURABILITY;");
  BOOST_TEST(full.name == "x_1");
  BOOST_REQUIRE(full.partitions);
  BOOST_TEST(*full.partitions == 16u);
  BOOST_REQUIRE(full.sync_durability);
  BOOST_TEST(*full.sync_durability);

  auto async = parse_as<create_database>(
    "create database d with async durability");
  BOOST_REQUIRE(async.sync_durability);
  BOOST_TEST(!*async.sync_durability);
  BOOST_TEST(!async.partitions);

  auto swapped = parse_as<create_database>(
    "CREATE DATABASE d WITH SYNC DURABILITY PARTITIONS 65536");
  BOOST_TEST(*swapped.partitions == 65536u);
  BOOST_TEST(*swapped.sync_durability);

  auto quoted = parse_as<create_database>("CREATE DATABASE `my db``s`");
  BOOST_TEST(quoted.name == "my db`s");
}

BOOST_AUTO_TEST_CASE(drop_and_show_databases) {
  BOOST_TEST(parse_as<drop_database>("DROP DATABASE db").name == "db");
  parse_as<show_databases>("SHOW DATABASES");
  parse_as<show_databases>("show databases ;");
}

// -- cluster ------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(add_leaf_forms) {
  auto a = parse_as<add_leaf>("ADD LEAF '127.0.0.1':3307");
  BOOST_TEST(a.leaf.host == "127.0.0.1");
  BOOST_TEST(a.leaf.port == 3307);
  BOOST_TEST(!a.group);
  BOOST_TEST(a.leaf.to_string() == "127.0.0.1:3307");

  auto b = parse_as<add_leaf>("add leaf 'leaf-2.local' : 65535 into group 2");
  BOOST_TEST(b.leaf.host == "leaf-2.local");
  BOOST_TEST(b.leaf.port == 65535);
  BOOST_REQUIRE(b.group);
  BOOST_TEST(*b.group == 2);

  auto c = parse_as<add_leaf>("ADD LEAF 'h':1 INTO GROUP 1");
  BOOST_TEST(c.leaf.port == 1);
  BOOST_TEST(*c.group == 1);
}

BOOST_AUTO_TEST_CASE(show_statements) {
  parse_as<show_leaves>("SHOW LEAVES");
  parse_as<show_cluster_status>("SHOW CLUSTER STATUS");
  BOOST_TEST(parse_as<show_partitions>("SHOW PARTITIONS ON db").database
             == "db");
  BOOST_TEST(
    parse_as<show_rebalance_status>("SHOW REBALANCE STATUS ON db").database
    == "db");
  BOOST_TEST(!parse_as<show_variables>("SHOW VARIABLES").like);
  auto like = parse_as<show_variables>("SHOW VARIABLES LIKE 'leaf_%'");
  BOOST_REQUIRE(like.like);
  BOOST_TEST(*like.like == "leaf_%");
  BOOST_TEST(!parse_as<show_variables>("SHOW GLOBAL VARIABLES").like);
}

BOOST_AUTO_TEST_CASE(set_global_values) {
  auto num = parse_as<set_global>("SET GLOBAL leaf_failure_detection = 10");
  BOOST_TEST(num.name == "leaf_failure_detection");
  BOOST_TEST(num.value == "10");
  BOOST_TEST(parse_as<set_global>("set global x = on").value == "ON");
  BOOST_TEST(parse_as<set_global>("SET GLOBAL x=Off").value == "OFF");
  BOOST_TEST(parse_as<set_global>("SET GLOBAL x = Sync").value == "Sync");
  BOOST_TEST(parse_as<set_global>("SET GLOBAL x = 'it''s'").value == "it's");
  BOOST_TEST(parse_as<set_global>("SET GLOBAL x = 0.25").value == "0.25");
  BOOST_TEST(parse_as<set_global>("SET GLOBAL x = -3").value == "-3");
  BOOST_TEST(parse_as<set_global>("SET GLOBAL x = 007").value == "007");
}

BOOST_AUTO_TEST_CASE(attach_leaf_forms) {
  auto all = parse_as<attach_leaf>("ATTACH LEAF ALL");
  BOOST_TEST(!all.leaf);
  BOOST_TEST(!all.force);
  BOOST_TEST(!all.no_rebalance);

  auto one = parse_as<attach_leaf>("ATTACH LEAF 'h':3307");
  BOOST_REQUIRE(one.leaf);
  BOOST_TEST(one.leaf->port == 3307);
  BOOST_TEST(!one.force);
  BOOST_TEST(!one.no_rebalance);

  auto both = parse_as<attach_leaf>("attach leaf 'h':3307 force no rebalance");
  BOOST_TEST(both.force);
  BOOST_TEST(both.no_rebalance);

  auto nr = parse_as<attach_leaf>("ATTACH LEAF 'h':3307 NO REBALANCE");
  BOOST_TEST(!nr.force);
  BOOST_TEST(nr.no_rebalance);
}

BOOST_AUTO_TEST_CASE(detach_and_remove_leaf) {
  auto d = parse_as<detach_leaf>("DETACH LEAF 'h':10");
  BOOST_TEST(d.leaf.host == "h");
  BOOST_TEST(d.leaf.port == 10);
  auto r = parse_as<remove_leaf>("REMOVE LEAF 'h':11");
  BOOST_TEST(r.leaf.port == 11);
  BOOST_TEST(!r.force);
  BOOST_TEST(parse_as<remove_leaf>("REMOVE LEAF 'h':11 FORCE").force);
}

BOOST_AUTO_TEST_CASE(add_and_remove_aggregator) {
  auto a = parse_as<change_aggregator>("ADD AGGREGATOR 'h':3307");
  BOOST_TEST(a.aggregator.to_string() == "h:3307");
  BOOST_TEST(a.add);
  auto r = parse_as<change_aggregator>("remove aggregator 'h':3308;");
  BOOST_TEST(r.aggregator.port == 3308);
  BOOST_TEST(!r.add);
  BOOST_TEST(contains(parse_error("ADD AGGREGATOR 'h':1 FORCE",
                                  "syntax_error"),
                      "near 'FORCE'"));
  BOOST_TEST(contains(parse_error("REMOVE AGGREGATORS 'h':1", "syntax_error"),
                      "expected LEAF or AGGREGATOR"));
  BOOST_TEST(contains(parse_error("ADD AGGREGATOR 'h':0", "bad_value"),
                      "port"));
}

BOOST_AUTO_TEST_CASE(maintenance_statements) {
  BOOST_TEST(!parse_as<clear_orphan_databases>("CLEAR ORPHAN DATABASES")
                .explain);
  BOOST_TEST(parse_as<clear_orphan_databases>(
               "EXPLAIN CLEAR ORPHAN DATABASES")
               .explain);
  BOOST_TEST(parse_as<check_partitions>("CHECK PARTITIONS ON db").database
             == "db");

  auto rb = parse_as<rebalance_partitions>("REBALANCE PARTITIONS ON db");
  BOOST_REQUIRE(rb.database);
  BOOST_TEST(*rb.database == "db");
  BOOST_TEST(!rb.force);
  BOOST_TEST(!rb.explain);

  auto rbf = parse_as<rebalance_partitions>(
    "explain rebalance partitions on db force");
  BOOST_TEST(*rbf.database == "db");
  BOOST_TEST(rbf.force);
  BOOST_TEST(rbf.explain);

  auto all = parse_as<rebalance_partitions>("REBALANCE ALL DATABASES");
  BOOST_TEST(!all.database);
  BOOST_TEST(!all.explain);

  auto rr = parse_as<restore_redundancy>("RESTORE REDUNDANCY ON db");
  BOOST_TEST(rr.database == "db");
  BOOST_TEST(!rr.explain);
  BOOST_TEST(
    parse_as<restore_redundancy>("EXPLAIN RESTORE REDUNDANCY ON db").explain);
}

// -- data ---------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(insert_rows_forms) {
  auto one = parse_as<insert_rows>("INSERT INTO db VALUES ('k', 'v')");
  BOOST_TEST(one.database == "db");
  BOOST_REQUIRE(one.rows.size() == 1u);
  BOOST_TEST(one.rows[0].first == "k");
  BOOST_TEST(one.rows[0].second == "v");

  auto many = parse_as<insert_rows>(
    "insert into db values ('a','1'),('b', 2) , ('c', -3), ('d', '');");
  BOOST_REQUIRE(many.rows.size() == 4u);
  BOOST_TEST(many.rows[0].first == "a");
  BOOST_TEST(many.rows[0].second == "1");
  BOOST_TEST(many.rows[1].first == "b");
  BOOST_TEST(many.rows[1].second == "2");
  BOOST_TEST(many.rows[2].second == "-3");
  BOOST_TEST(many.rows[3].first == "d");
  BOOST_TEST(many.rows[3].second == "");
}

BOOST_AUTO_TEST_CASE(string_escapes) {
  auto r = parse_as<insert_rows>(
    R"(INSERT INTO d VALUES ('it''s', 'a\'b'), ('x\ny', 'tab\there'),)"
    R"( ('back\\slash', 'q\"q'), ("dq", "say ""hi"""), ('\%\_', '\z'))");
  BOOST_REQUIRE(r.rows.size() == 5u);
  BOOST_TEST(r.rows[0].first == "it's");
  BOOST_TEST(r.rows[0].second == "a'b");
  BOOST_TEST(r.rows[1].first == "x\ny");
  BOOST_TEST(r.rows[1].second == "tab\there");
  BOOST_TEST(r.rows[2].first == "back\\slash");
  BOOST_TEST(r.rows[2].second == "q\"q");
  BOOST_TEST(r.rows[3].first == "dq");
  BOOST_TEST(r.rows[3].second == "say \"hi\"");
  BOOST_TEST(r.rows[4].first == "\\%\\_");
  BOOST_TEST(r.rows[4].second == "z");

  auto nul = parse_as<select_rows>(R"(SELECT * FROM d WHERE key = 'a\0b')");
  BOOST_TEST(*nul.key == std::string("a\0b", 3));

  auto utf8 = parse_as<insert_rows>("INSERT INTO d VALUES ('ключ', '值')");
  BOOST_TEST(utf8.rows[0].first == "ключ");
  BOOST_TEST(utf8.rows[0].second == "值");
}

BOOST_AUTO_TEST_CASE(select_and_delete) {
  auto all = parse_as<select_rows>("SELECT * FROM db");
  BOOST_TEST(all.database == "db");
  BOOST_TEST(!all.key);

  auto one = parse_as<select_rows>("select * from db where KEY = 'k1'");
  BOOST_REQUIRE(one.key);
  BOOST_TEST(*one.key == "k1");

  auto bq = parse_as<select_rows>("SELECT * FROM db WHERE `key`='k2';");
  BOOST_TEST(*bq.key == "k2");

  BOOST_TEST(parse_as<select_count>("SELECT COUNT(*) FROM db").database
             == "db");
  BOOST_TEST(parse_as<select_count>("select count ( * ) from `d`").database
             == "d");

  auto del = parse_as<delete_row>("DELETE FROM db WHERE key = 'gone'");
  BOOST_TEST(del.database == "db");
  BOOST_TEST(del.key == "gone");
}

// -- test-cluster statements -------------------------------------------------

BOOST_AUTO_TEST_CASE(leaf_fault_statements) {
  struct {
    const char* text;
    leaf_fault action;
  } cases[] = {
    {"START LEAF 'h':1", leaf_fault::start},
    {"kill leaf 'h':2", leaf_fault::kill},
    {"Restart Leaf 'h':3", leaf_fault::restart},
    {"DESTROY LEAF 'h':4", leaf_fault::destroy},
    {"ISOLATE LEAF 'h':5", leaf_fault::isolate},
    {"HEAL LEAF 'h':6;", leaf_fault::heal},
  };
  uint16_t port = 1;
  for (const auto& c : cases) {
    auto s = parse_as<leaf_fault_stmt>(c.text);
    BOOST_TEST((s.action == c.action), c.text);
    BOOST_TEST(s.leaf.host == "h");
    BOOST_TEST(s.leaf.port == port++);
  }
}

BOOST_AUTO_TEST_CASE(sleep_statement) {
  BOOST_TEST(parse_as<sleep_stmt>("SLEEP 0").ms == 0u);
  BOOST_TEST(parse_as<sleep_stmt>("sleep 250;").ms == 250u);
  BOOST_TEST(parse_as<sleep_stmt>("SLEEP 86400000").ms == 86400000u);
}

BOOST_AUTO_TEST_CASE(keywords_are_case_insensitive) {
  parse_as<show_cluster_status>("sHoW cLuStEr StAtUs");
  auto c = parse_as<create_database>("CrEaTe DaTaBaSe Db PaRtItIoNs 3");
  // Identifiers keep their case.
  BOOST_TEST(c.name == "Db");
  BOOST_TEST(*c.partitions == 3u);
}

BOOST_AUTO_TEST_CASE(comments_and_whitespace_inside_statement) {
  auto s = parse_as<select_rows>(
    "SELECT * -- all columns\n FROM\tdb # the table\r\n WHERE key = 'k'");
  BOOST_TEST(s.database == "db");
  BOOST_TEST(*s.key == "k");
}

// -- users and privileges -----------------------------------------------------

BOOST_AUTO_TEST_CASE(create_user_forms) {
  auto a = parse_as<create_user>(
    "CREATE USER 'alice'@'localhost' IDENTIFIED BY 'secret'");
  BOOST_TEST(a.user.user == "alice");
  BOOST_TEST(a.user.host == "localhost");
  BOOST_TEST(a.password == "secret");
  BOOST_TEST(!a.if_not_exists);

  auto b = parse_as<create_user>("create user if not exists bob identified "
                                 "by '';");
  BOOST_TEST(b.user.user == "bob");
  BOOST_TEST(b.user.host == "%");
  BOOST_TEST(b.password == "");
  BOOST_TEST(b.if_not_exists);

  auto c = parse_as<create_user>(
    "CREATE USER `we``ird` @ \"10.0.0.%\" IDENTIFIED BY 'p''w\\n'");
  BOOST_TEST(c.user.user == "we`ird");
  BOOST_TEST(c.user.host == "10.0.0.%");
  BOOST_TEST(c.password == "p'w\n");

  auto d = parse_as<create_user>("CREATE USER u@localhost IDENTIFIED BY 'x'");
  BOOST_TEST(d.user.user == "u");
  BOOST_TEST(d.user.host == "localhost");
}

BOOST_AUTO_TEST_CASE(drop_user_forms) {
  auto a = parse_as<drop_user>("DROP USER 'alice'@'localhost'");
  BOOST_TEST(a.user.user == "alice");
  BOOST_TEST(a.user.host == "localhost");
  BOOST_TEST(!a.if_exists);

  auto b = parse_as<drop_user>("drop user if exists bob");
  BOOST_TEST(b.user.user == "bob");
  BOOST_TEST(b.user.host == "%");
  BOOST_TEST(b.if_exists);

  BOOST_TEST(parse_as<drop_user>("DROP USER `a b`").user.user == "a b");
  // DROP DATABASE still parses as before.
  BOOST_TEST(parse_as<drop_database>("DROP DATABASE user").name == "user");
  BOOST_TEST(parse_as<create_database>("CREATE DATABASE user").name == "user");
}

BOOST_AUTO_TEST_CASE(grant_forms) {
  auto a = parse_as<grant_privileges>("GRANT SELECT, INSERT ON db.* TO "
                                      "'u'@'%'");
  BOOST_TEST((a.privileges
              == std::vector<privilege>{privilege::select, privilege::insert}));
  BOOST_TEST(a.database == "db");
  BOOST_TEST(a.user.user == "u");
  BOOST_TEST(a.user.host == "%");
  BOOST_TEST(!a.revoke);

  auto b = parse_as<grant_privileges>("GRANT ALL PRIVILEGES ON *.* TO root");
  BOOST_TEST((b.privileges == std::vector<privilege>{privilege::all}));
  BOOST_TEST(b.database == "");
  BOOST_TEST(b.user.user == "root");
  BOOST_TEST(b.user.host == "%");

  auto c = parse_as<grant_privileges>("grant all on `my db`.* to 'u'");
  BOOST_TEST((c.privileges == std::vector<privilege>{privilege::all}));
  BOOST_TEST(c.database == "my db");

  auto d = parse_as<grant_privileges>("GRANT CLUSTER ON *.* TO 'ops'@'10.%'");
  BOOST_TEST((d.privileges == std::vector<privilege>{privilege::cluster}));
  BOOST_TEST(d.database == "");
  BOOST_TEST(d.user.host == "10.%");

  auto e = parse_as<grant_privileges>(
    "GRANT DELETE,CREATE , DROP, delete ON d1 . * TO u;");
  BOOST_TEST((e.privileges
              == std::vector<privilege>{privilege::delete_, privilege::create,
                                        privilege::drop, privilege::delete_}));
  BOOST_TEST(e.database == "d1");
}

BOOST_AUTO_TEST_CASE(revoke_forms) {
  auto a = parse_as<grant_privileges>("REVOKE SELECT ON db.* FROM 'u'@'h'");
  BOOST_TEST((a.privileges == std::vector<privilege>{privilege::select}));
  BOOST_TEST(a.database == "db");
  BOOST_TEST(a.user.user == "u");
  BOOST_TEST(a.user.host == "h");
  BOOST_TEST(a.revoke);

  auto b = parse_as<grant_privileges>("revoke all on *.* from u");
  BOOST_TEST((b.privileges == std::vector<privilege>{privilege::all}));
  BOOST_TEST(b.database == "");
  BOOST_TEST(b.revoke);

  auto c = parse_as<grant_privileges>("REVOKE CLUSTER ON *.* FROM ops");
  BOOST_TEST((c.privileges == std::vector<privilege>{privilege::cluster}));
}

BOOST_AUTO_TEST_CASE(show_grants_and_users) {
  BOOST_TEST(!parse_as<show_grants>("SHOW GRANTS").user);
  BOOST_TEST(!parse_as<show_grants>("show grants for current_user").user);
  BOOST_TEST(!parse_as<show_grants>("SHOW GRANTS FOR CURRENT_USER()").user);

  auto a = parse_as<show_grants>("SHOW GRANTS FOR 'u'@'h'");
  BOOST_REQUIRE(a.user);
  BOOST_TEST(a.user->user == "u");
  BOOST_TEST(a.user->host == "h");

  auto b = parse_as<show_grants>("SHOW GRANTS FOR u");
  BOOST_REQUIRE(b.user);
  BOOST_TEST(b.user->user == "u");
  BOOST_TEST(b.user->host == "%");

  // Quoted, CURRENT_USER is a user's name.
  auto c = parse_as<show_grants>("SHOW GRANTS FOR 'CURRENT_USER'");
  BOOST_REQUIRE(c.user);
  BOOST_TEST(c.user->user == "CURRENT_USER");

  parse_as<show_users>("SHOW USERS");
  parse_as<show_failovers>("SHOW FAILOVERS");
  BOOST_TEST(parse_as<show_rebalance_status>("SHOW REBALANCE STATUS")
               .database.empty());
  BOOST_TEST(parse_as<show_rebalance_status>("SHOW REBALANCE STATUS ON d")
               .database
             == "d");
  parse_as<show_users>("show users;");
}

BOOST_AUTO_TEST_CASE(user_statement_syntax_errors) {
  auto d = parse_error("CREATE TABLE t", "syntax_error");
  BOOST_TEST(d == "near 'TABLE' at position 8: expected DATABASE or USER");

  d = parse_error("DROP TABLE t", "syntax_error");
  BOOST_TEST(d == "near 'TABLE' at position 6: expected DATABASE or USER");

  d = parse_error("CREATE USER 'u'", "syntax_error");
  BOOST_TEST(d == "at end of statement: expected IDENTIFIED");

  d = parse_error("CREATE USER 'u' IDENTIFIED 'x'", "syntax_error");
  BOOST_TEST(d == "near ''x'' at position 28: expected BY");

  d = parse_error("CREATE USER 'u' IDENTIFIED BY pw", "syntax_error");
  BOOST_TEST(d == "near 'pw' at position 31: expected a quoted password");

  d = parse_error("CREATE USER IF EXISTS u IDENTIFIED BY 'x'", "syntax_error");
  BOOST_TEST(d == "near 'EXISTS' at position 16: expected NOT");

  d = parse_error("DROP USER IF 'u'", "syntax_error");
  BOOST_TEST(d == "near ''u'' at position 14: expected EXISTS");

  d = parse_error("DROP USER 42", "syntax_error");
  BOOST_TEST(d == "near '42' at position 11: expected a user name "
                  "('user'@'host')");

  d = parse_error("GRANT UPDATE ON *.* TO u", "syntax_error");
  BOOST_TEST(d == "near 'UPDATE' at position 7: expected SELECT, INSERT, "
                  "DELETE, CREATE, DROP, CLUSTER or ALL");

  d = parse_error("GRANT SELECT, ALL ON *.* TO u", "syntax_error");
  BOOST_TEST(d == "near 'ALL' at position 15: expected SELECT, INSERT, "
                  "DELETE, CREATE, DROP or CLUSTER");

  d = parse_error("GRANT ALL, SELECT ON *.* TO u", "syntax_error");
  BOOST_TEST(d == "near ',' at position 10: expected PRIVILEGES or ON");

  d = parse_error("GRANT SELECT TO u", "syntax_error");
  BOOST_TEST(d == "near 'TO' at position 14: expected ON");

  d = parse_error("GRANT SELECT ON db TO u", "syntax_error");
  BOOST_TEST(d == "near 'TO' at position 20: expected '.*' after the "
                  "database name");

  d = parse_error("GRANT SELECT ON db.t TO u", "syntax_error");
  BOOST_TEST(d == "near 't' at position 20: expected '*': privileges apply "
                  "to whole databases (db.*)");

  d = parse_error("GRANT SELECT ON * TO u", "syntax_error");
  BOOST_TEST(d == "near 'TO' at position 19: expected '.*' after '*' (*.* "
                  "is every database)");

  d = parse_error("GRANT SELECT ON 'db'.* TO u", "syntax_error");
  BOOST_TEST(d == "near ''db'' at position 17: expected *.* or a database "
                  "(db.*)");

  d = parse_error("GRANT SELECT ON *.* FROM u", "syntax_error");
  BOOST_TEST(d == "near 'FROM' at position 21: expected TO");

  d = parse_error("REVOKE SELECT ON *.* TO u", "syntax_error");
  BOOST_TEST(d == "near 'TO' at position 22: expected FROM");

  d = parse_error("GRANT SELECT ON *.* TO", "syntax_error");
  BOOST_TEST(d == "at end of statement: expected a user name ('user'@'host')");

  d = parse_error("GRANT SELECT ON *.* TO u@", "syntax_error");
  BOOST_TEST(d == "at end of statement: expected a host name after '@'");

  d = parse_error("GRANT SELECT ON *.* TO u WITH GRANT OPTION",
                  "syntax_error");
  BOOST_TEST(d == "near 'WITH' at position 26: expected end of statement");

  d = parse_error("SHOW GRANTS FOR", "syntax_error");
  BOOST_TEST(d == "at end of statement: expected a user name ('user'@'host')");

  d = parse_error("SHOW GRANTS u", "syntax_error");
  BOOST_TEST(d == "near 'u' at position 13: expected FOR or end of statement");

  d = parse_error("SHOW GRANTS FOR CURRENT_USER(", "syntax_error");
  BOOST_TEST(d == "at end of statement: expected ')'");

  d = parse_error("SHOW USERS LIKE 'x'", "syntax_error");
  BOOST_TEST(d == "near 'LIKE' at position 12: expected end of statement");
}

BOOST_AUTO_TEST_CASE(user_statement_bad_values) {
  auto d = parse_error("GRANT CLUSTER ON db.* TO u", "bad_value");
  BOOST_TEST(d == "CLUSTER is a global privilege: grant it ON *.*");

  d = parse_error("REVOKE SELECT, CLUSTER ON `db`.* FROM u", "bad_value");
  BOOST_TEST(d == "CLUSTER is a global privilege: grant it ON *.*");

  d = parse_error("CREATE USER '' IDENTIFIED BY 'x'", "bad_value");
  BOOST_TEST(d == "empty user name at position 13");

  d = parse_error("DROP USER ``", "bad_value");
  BOOST_TEST(d == "empty user name at position 11");

  d = parse_error("SHOW GRANTS FOR ''@'h'", "bad_value");
  BOOST_TEST(d == "empty user name at position 17");

  d = parse_error("CREATE USER 'u'@'' IDENTIFIED BY 'x'", "bad_value");
  BOOST_TEST(d == "empty host name at position 17");

  std::string ok(32, 'a');
  BOOST_TEST(parse_as<drop_user>("DROP USER '" + ok + "'").user.user == ok);
  std::string too_long(33, 'a');
  d = parse_error("DROP USER '" + too_long + "'", "bad_value");
  BOOST_TEST(d == "user name '" + too_long
                    + "' is too long: at most 32 characters");

  d = parse_error("DROP USER 'a\x01" "b'", "bad_value");
  BOOST_TEST(d == "user name 'a\\x01b' contains a control character");

  d = parse_error("GRANT SELECT ON `` .* TO u", "bad_value");
  BOOST_TEST(d == "empty database name at position 17");
}

// -- split_statements ---------------------------------------------------------

BOOST_AUTO_TEST_CASE(split_basic) {
  auto parts = split_statements("SHOW LEAVES; SHOW DATABASES;;  \n ;SLEEP 1");
  BOOST_REQUIRE(parts.size() == 3u);
  BOOST_TEST(parts[0] == "SHOW LEAVES");
  BOOST_TEST(parts[1] == "SHOW DATABASES");
  BOOST_TEST(parts[2] == "SLEEP 1");
  BOOST_TEST(split_statements("").empty());
  BOOST_TEST(split_statements(" ;\n; ").empty());
}

BOOST_AUTO_TEST_CASE(split_respects_quotes_and_comments) {
  auto parts = split_statements(
    "-- setup script\n"
    "INSERT INTO d VALUES ('a;b', 'it''s;'); # trailing ; comment\n"
    "INSERT INTO d VALUES ('c\\';', \"x;y\");\n"
    "SELECT * FROM `we;ird`; -- done; really\n"
    "SELECT 1--2;\n");
  BOOST_REQUIRE(parts.size() == 4u);
  BOOST_TEST(parts[0] == "INSERT INTO d VALUES ('a;b', 'it''s;')");
  BOOST_TEST(parts[1] == "INSERT INTO d VALUES ('c\\';', \"x;y\")");
  BOOST_TEST(parts[2] == "SELECT * FROM `we;ird`");
  // "--" without a following space is not a comment, as in MySQL.
  BOOST_TEST(parts[3] == "SELECT 1--2");

  auto ins = parse_as<insert_rows>(parts[1]);
  BOOST_TEST(ins.rows[0].first == "c';");
  BOOST_TEST(ins.rows[0].second == "x;y");
  BOOST_TEST(parse_as<select_rows>(parts[2]).database == "we;ird");

  // Quotes inside comments do not open strings.
  auto c = split_statements("SHOW LEAVES # it's\n; SHOW DATABASES");
  BOOST_REQUIRE(c.size() == 2u);
  BOOST_TEST(c[0] == "SHOW LEAVES");
  BOOST_TEST(c[1] == "SHOW DATABASES");
}

BOOST_AUTO_TEST_CASE(split_keeps_unterminated_quote_as_one_piece) {
  auto parts = split_statements("SHOW LEAVES; INSERT INTO d VALUES ('a; b);"
                                " SHOW DATABASES;");
  BOOST_REQUIRE(parts.size() == 2u);
  BOOST_TEST(parts[0] == "SHOW LEAVES");
  BOOST_TEST(parts[1] == "INSERT INTO d VALUES ('a; b); SHOW DATABASES;");
  auto detail = parse_error(parts[1], "syntax_error");
  BOOST_TEST(detail == "unterminated string starting at position 23");
}

// -- errors -------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(syntax_errors_name_the_token) {
  auto d = parse_error("SELEC * FROM d", "syntax_error");
  BOOST_TEST(contains(d, "near 'SELEC' at position 1: expected a statement"),
             d);

  d = parse_error("SELECT * FORM d", "syntax_error");
  BOOST_TEST(d == "near 'FORM' at position 10: expected FROM");

  d = parse_error("CREATE DATABASE", "syntax_error");
  BOOST_TEST(d == "at end of statement: expected a database name");

  d = parse_error("", "syntax_error");
  BOOST_TEST(contains(d, "at end of statement: expected a statement"), d);

  d = parse_error("SHOW LEAVES extra", "syntax_error");
  BOOST_TEST(d == "near 'extra' at position 13: expected end of statement");

  d = parse_error("SHOW LEAVES;;", "syntax_error");
  BOOST_TEST(d == "near ';' at position 13: expected end of statement");

  d = parse_error("SHOW TABLES", "syntax_error");
  BOOST_TEST(contains(d, "near 'TABLES' at position 6: expected DATABASES"),
             d);

  d = parse_error("ADD LEAF 127.0.0.1:3306", "syntax_error");
  BOOST_TEST(contains(d, "near '127.0' at position 10"), d);

  d = parse_error("ADD LEAF 'h' 3306", "syntax_error");
  BOOST_TEST(d == "near '3306' at position 14: expected ':' and a port after "
                  "the host");

  d = parse_error("ADD LEAF 'h':3306 INTO 2", "syntax_error");
  BOOST_TEST(d == "near '2' at position 24: expected GROUP");

  d = parse_error("SELECT * FROM d WHERE value = 'x'", "syntax_error");
  BOOST_TEST(d == "near 'value' at position 23: expected key");

  d = parse_error("SELECT * FROM d LIMIT 1", "syntax_error");
  BOOST_TEST(d == "near 'LIMIT' at position 17: expected WHERE or end of "
                  "statement");

  d = parse_error("EXPLAIN SHOW LEAVES", "syntax_error");
  BOOST_TEST(contains(d, "near 'SHOW' at position 9: expected CLEAR"), d);

  d = parse_error("EXPLAIN REBALANCE ALL DATABASES", "syntax_error");
  BOOST_TEST(d == "near 'ALL' at position 19: expected PARTITIONS");

  d = parse_error("CREATE DATABASE d PARTITIONS 2 PARTITIONS 3",
                  "syntax_error");
  BOOST_TEST(contains(d, "near 'PARTITIONS' at position 32"), d);

  d = parse_error("DELETE FROM d", "syntax_error");
  BOOST_TEST(d == "at end of statement: expected WHERE");

  d = parse_error("SELECT * FROM 'd'", "syntax_error");
  BOOST_TEST(d == "near ''d'' at position 15: expected a database name");
}

BOOST_AUTO_TEST_CASE(positions_count_characters_not_bytes) {
  auto d = parse_error("INSERT INTO d VALUES ('é', 'ü') oops",
                       "syntax_error");
  BOOST_TEST(d == "near 'oops' at position 33: expected end of statement");
}

BOOST_AUTO_TEST_CASE(insert_errors) {
  auto d = parse_error("INSERT INTO d VALUES ('a')", "syntax_error");
  BOOST_TEST(contains(d, "near ')' at position 26"), d);
  BOOST_TEST(contains(d, "value"), d);

  d = parse_error("INSERT INTO d VALUES ('a', 'b', 'c')", "syntax_error");
  BOOST_TEST(contains(d, "near ',' at position 31: expected ')'"), d);

  d = parse_error("INSERT INTO d VALUES (1, 'b')", "syntax_error");
  BOOST_TEST(contains(d, "near '1' at position 23: expected a quoted key"), d);

  d = parse_error("INSERT INTO d VALUES ('a', 'b'),", "syntax_error");
  BOOST_TEST(contains(d, "at end of statement: expected '('"), d);

  d = parse_error("INSERT INTO d VALUES ('ok', '1'), ('', 'v')", "bad_value");
  BOOST_TEST(d == "empty key in row 2: keys must not be empty");
}

BOOST_AUTO_TEST_CASE(unterminated_literals) {
  auto d = parse_error("SELECT * FROM d WHERE key = 'abc", "syntax_error");
  BOOST_TEST(d == "unterminated string starting at position 29");
  d = parse_error("SELECT * FROM d WHERE key = 'abc\\'", "syntax_error");
  BOOST_TEST(d == "unterminated string starting at position 29");
  d = parse_error("SELECT * FROM d WHERE key = 'abc\\", "syntax_error");
  BOOST_TEST(d == "unterminated string starting at position 29");
  d = parse_error("DROP DATABASE `abc", "syntax_error");
  BOOST_TEST(d == "unterminated identifier starting at position 15");
  // The first problem from the left wins.
  d = parse_error("SELEC 'abc", "syntax_error");
  BOOST_TEST(contains(d, "near 'SELEC'"), d);
}

BOOST_AUTO_TEST_CASE(bad_values_name_the_value) {
  auto d = parse_error("ADD LEAF '127.0.0.1':99999", "bad_value");
  BOOST_TEST(d == "port 99999 is out of range: expected 1 to 65535");

  d = parse_error("ADD LEAF '127.0.0.1':0", "bad_value");
  BOOST_TEST(contains(d, "port 0 is out of range"), d);

  d = parse_error("ADD LEAF 'h':3306 INTO GROUP 3", "bad_value");
  BOOST_TEST(d == "group 3 is out of range: expected 1 or 2");

  d = parse_error("CREATE DATABASE d PARTITIONS 0", "bad_value");
  BOOST_TEST(d == "partition count 0 is out of range: expected 1 to 65536");

  d = parse_error("CREATE DATABASE d PARTITIONS 65537", "bad_value");
  BOOST_TEST(contains(d, "65537"), d);

  d = parse_error("SLEEP -1", "bad_value");
  BOOST_TEST(d == "sleep time -1 is out of range: expected 0 to 86400000 ms");

  d = parse_error("SLEEP 86400001", "bad_value");
  BOOST_TEST(contains(d, "86400001"), d);

  d = parse_error("SLEEP 1.5", "bad_value");
  BOOST_TEST(contains(d, "1.5 is not an integer"), d);

  d = parse_error("SLEEP 99999999999999999999999999", "bad_value");
  BOOST_TEST(contains(d, "99999999999999999999999999 is out of range"), d);

  d = parse_error("SLEEP", "syntax_error");
  BOOST_TEST(d == "at end of statement: expected a number (sleep time)");

  d = parse_error("ADD LEAF '':3306", "bad_value");
  BOOST_TEST(contains(d, "empty host"), d);

  d = parse_error("DROP DATABASE ``", "bad_value");
  BOOST_TEST(contains(d, "empty database name"), d);
}

BOOST_AUTO_TEST_CASE(identifier_length_limit) {
  std::string ok(64, 'a');
  BOOST_TEST(parse_as<drop_database>("DROP DATABASE " + ok).name == ok);
  std::string too_long(65, 'a');
  auto d = parse_error("DROP DATABASE " + too_long, "bad_value");
  BOOST_TEST(contains(d, "too long"), d);
  // Non-ASCII names are measured in characters.
  std::string wide;
  for (int i = 0; i < 64; ++i)
    wide += "é";
  BOOST_TEST(parse_as<drop_database>("DROP DATABASE `" + wide + "`").name
             == wide);
}

BOOST_AUTO_TEST_CASE(odd_bytes_are_reported_readably) {
  auto d = parse_error(std::string_view{"SHOW\0LEAVES", 11}, "syntax_error");
  BOOST_TEST(d == "near '\\x00' at position 5: expected DATABASES, LEAVES, "
                  "PARTITIONS, CLUSTER, VARIABLES, GLOBAL, REBALANCE, "
                  "AGGREGATORS, GRANTS, USERS or FAILOVERS");
  d = parse_error("SHOW \xff", "syntax_error");
  BOOST_TEST(contains(d, "near '\\xff' at position 6"), d);
  d = parse_error("SHOW ЛИСТЬЯ", "syntax_error");
  BOOST_TEST(contains(d, "near 'Л' at position 6"), d);
  std::string huge = "SELECT * FROM d WHERE key = " + std::string(500, '9');
  d = parse_error(huge, "syntax_error");
  BOOST_TEST(d.size() < 200u, d);
  BOOST_TEST(contains(d, "..."), d);
}

// -- robustness ---------------------------------------------------------------

namespace {

const char* const valid_statements[] = {
  "CREATE DATABASE db PARTITIONS 8 WITH SYNC DURABILITY",
  "DROP DATABASE db",
  "SHOW DATABASES",
  "ADD LEAF '127.0.0.1':3307 INTO GROUP 2",
  "SHOW LEAVES",
  "SHOW PARTITIONS ON db",
  "SHOW CLUSTER STATUS",
  "SET GLOBAL x = 'v'",
  "SHOW VARIABLES LIKE 'a%'",
  "ATTACH LEAF 'h':1 FORCE NO REBALANCE",
  "ATTACH LEAF ALL",
  "DETACH LEAF 'h':2",
  "REMOVE LEAF 'h':3 FORCE",
  "ADD AGGREGATOR 'h':5",
  "REMOVE AGGREGATOR 'h':6",
  "EXPLAIN CLEAR ORPHAN DATABASES",
  "CHECK PARTITIONS ON db",
  "SHOW REBALANCE STATUS ON db",
  "EXPLAIN REBALANCE PARTITIONS ON db FORCE",
  "REBALANCE ALL DATABASES",
  "EXPLAIN RESTORE REDUNDANCY ON db",
  "INSERT INTO db VALUES ('k','v'), ('k2', 'it''s\\n')",
  "SELECT * FROM db WHERE `key` = 'k'",
  "SELECT COUNT(*) FROM db",
  "DELETE FROM db WHERE key = 'k'",
  "KILL LEAF 'h':4",
  "SLEEP 10;",
  "CREATE USER IF NOT EXISTS 'u'@'%' IDENTIFIED BY 'pw'",
  "DROP USER IF EXISTS `u`@'h'",
  "GRANT SELECT, INSERT, DELETE ON `db`.* TO 'u'@'%'",
  "REVOKE ALL PRIVILEGES ON *.* FROM u",
  "SHOW GRANTS FOR 'u'@'%'",
  "SHOW USERS",
};

/// Returns a random edit of `s`: bytes inserted, removed, replaced or cut.
std::string mutate(std::string s, std::mt19937& rng) {
  static const char interesting[] = "'\"`\\;:(),*=-#\n\0 9aZ\xc3\xff";
  std::uniform_int_distribution<int> op_dist(0, 5);
  std::uniform_int_distribution<int> count_dist(1, 4);
  auto pick = [&](size_t n) {
    return std::uniform_int_distribution<size_t>(0, n)(rng);
  };
  auto random_byte = [&] {
    if (rng() % 2 == 0)
      return interesting[pick(sizeof(interesting) - 2)];
    return static_cast<char>(rng() & 0xff);
  };
  for (int i = count_dist(rng); i > 0; --i) {
    switch (op_dist(rng)) {
      case 0:
        s.insert(s.begin() + static_cast<std::ptrdiff_t>(pick(s.size())),
                 random_byte());
        break;
      case 1:
        if (!s.empty())
          s.erase(pick(s.size() - 1), 1);
        break;
      case 2:
        if (!s.empty())
          s[pick(s.size() - 1)] = random_byte();
        break;
      case 3:
        s.resize(pick(s.size()));
        break;
      case 4: {
        // Duplicate a slice, which repeats tokens.
        auto from = pick(s.size());
        auto len = pick(s.size() - from);
        s.insert(pick(s.size()), s.substr(from, len));
        break;
      }
      default:
        if (!s.empty()) {
          auto& c = s[pick(s.size() - 1)];
          if (c >= 'a' && c <= 'z')
            c = static_cast<char>(c - 'a' + 'A');
          else if (c >= '0' && c <= '9')
            c = static_cast<char>('0' + rng() % 10);
        }
    }
  }
  return s;
}

} // namespace

BOOST_AUTO_TEST_CASE(every_sample_statement_parses) {
  for (auto text : valid_statements) {
    auto r = parse(text);
    BOOST_TEST(r.ok(), text << ": " << (r.ok() ? "" : r.err().to_string()));
  }
}

BOOST_AUTO_TEST_CASE(random_input_never_crashes) {
  std::mt19937 rng{20240611};
  std::vector<std::string> inputs;
  for (int i = 0; i < 3000; ++i) {
    std::string s(rng() % 80, '\0');
    for (auto& c : s)
      c = static_cast<char>(rng() & 0xff);
    inputs.push_back(std::move(s));
  }
  constexpr size_t n_valid = std::size(valid_statements);
  for (int i = 0; i < 5000; ++i)
    inputs.push_back(mutate(valid_statements[rng() % n_valid], rng));
  size_t ok = 0;
  size_t bad = 0;
  for (const auto& in : inputs) {
    auto r = parse(in);
    if (r.ok()) {
      ++ok;
      continue;
    }
    const auto& err = r.err();
    bool well_formed = err.module() == "sql" && !err.detail().empty()
                       && (err.name() == "syntax_error"
                           || err.name() == "bad_value");
    if (!well_formed && ++bad <= 5)
      BOOST_ERROR("bad error for input of " << in.size()
                                            << " bytes: " << err.to_string());
    for (const auto& piece : split_statements(in)) {
      if (piece.empty() || piece.front() == ' ' || piece.back() == ' ')
        BOOST_ERROR("split_statements returned an untrimmed piece");
    }
  }
  BOOST_TEST(bad == 0u);
  // Some mutations survive; if none did, the mutator is broken.
  BOOST_TEST(ok > 0u);
  BOOST_TEST(ok < inputs.size());
}

BOOST_AUTO_TEST_SUITE_END()
