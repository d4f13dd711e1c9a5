#include "sql/privileges.hpp"

#include <boost/test/unit_test.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "sql/parser.hpp"

using namespace lg::sql;

namespace {

/// Parses `text`, failing the test if it does not parse.
statement parsed(std::string_view text) {
  auto r = parse(text);
  BOOST_REQUIRE_MESSAGE(r.ok(), "'" << text << "' failed: "
                                    << (r.ok() ? "" : r.err().to_string()));
  return *r;
}

/// Returns what `text` needs when `user` runs it.
requirement need(std::string_view text, const std::string& user = "u") {
  return required_privilege(parsed(text), user);
}

/// Renders a grant set as "PRIV@db" strings ("PRIV@*" for *.*), in order.
std::vector<std::string> listed(const grant_set& grants) {
  std::vector<std::string> out;
  for (const auto& g : grants)
    out.push_back(std::string{to_string(g.priv)} + "@"
                  + (g.database.empty() ? "*" : g.database));
  return out;
}

/// Applies `text` (a GRANT or REVOKE) to `grants`.
void run_grant(grant_set& grants, std::string_view text) {
  auto stmt = parsed(text);
  BOOST_REQUIRE(std::holds_alternative<grant_privileges>(stmt));
  apply_grant(grants, std::get<grant_privileges>(stmt));
}

using strings = std::vector<std::string>;

const std::string denied = "Access denied; you need (at least one of) the ";

} // namespace

BOOST_AUTO_TEST_SUITE(sql_privileges)

// -- required_privilege -------------------------------------------------------

BOOST_AUTO_TEST_CASE(cluster_statements_need_global_cluster) {
  for (auto text : {"ADD LEAF 'h':1", "ADD LEAF 'h':1 INTO GROUP 2",
                    "ATTACH LEAF ALL", "ATTACH LEAF 'h':1 FORCE",
                    "DETACH LEAF 'h':1", "REMOVE LEAF 'h':1 FORCE",
                    "REBALANCE PARTITIONS ON db", "REBALANCE ALL DATABASES",
                    "RESTORE REDUNDANCY ON db", "CLEAR ORPHAN DATABASES",
                    "SET GLOBAL x = 1", "ADD AGGREGATOR 'h':1",
                    "REMOVE AGGREGATOR 'h':1", "START LEAF 'h':1",
                    "KILL LEAF 'h':1", "RESTART AGGREGATOR 'h':1",
                    "DESTROY LEAF 'h':1", "ISOLATE LEAF 'h':1",
                    "HEAL AGGREGATOR 'h':1"}) {
    auto r = need(text);
    BOOST_TEST_CONTEXT(text) {
      BOOST_TEST(r.priv.has_value());
      BOOST_TEST((r.priv == privilege::cluster));
      BOOST_TEST(r.database == "");
      BOOST_TEST(!r.superuser);
    }
  }
}

BOOST_AUTO_TEST_CASE(database_statements_need_a_privilege_on_it) {
  struct row {
    const char* text;
    privilege priv;
    const char* database;
  };
  const row rows[] = {
    {"CREATE DATABASE db1 PARTITIONS 4", privilege::create, "db1"},
    {"DROP DATABASE `my db`", privilege::drop, "my db"},
    {"SELECT * FROM d2", privilege::select, "d2"},
    {"SELECT * FROM d3 WHERE key = 'k'", privilege::select, "d3"},
    {"SELECT COUNT(*) FROM d4", privilege::select, "d4"},
    {"INSERT INTO d5 VALUES ('k', 'v')", privilege::insert, "d5"},
    {"DELETE FROM d6 WHERE key = 'k'", privilege::delete_, "d6"},
  };
  for (const auto& x : rows) {
    auto r = need(x.text);
    BOOST_TEST_CONTEXT(x.text) {
      BOOST_TEST((r.priv == x.priv));
      BOOST_TEST(r.database == x.database);
      BOOST_TEST(!r.superuser);
    }
  }
}

BOOST_AUTO_TEST_CASE(user_management_needs_superuser) {
  for (auto text : {"CREATE USER 'a' IDENTIFIED BY 'p'",
                    "DROP USER IF EXISTS a", "GRANT SELECT ON db.* TO a",
                    "REVOKE ALL ON *.* FROM a",
                    "SHOW USERS", "SHOW GRANTS FOR 'other'",
                    "SHOW GRANTS FOR root@localhost"}) {
    auto r = need(text, "u");
    BOOST_TEST_CONTEXT(text) {
      BOOST_TEST(!r.priv.has_value());
      BOOST_TEST(r.database == "");
      BOOST_TEST(r.superuser);
    }
  }
}

BOOST_AUTO_TEST_CASE(show_check_explain_and_own_grants_need_nothing) {
  for (auto text :
       {"SHOW DATABASES", "SHOW LEAVES", "SHOW PARTITIONS ON db",
        "SHOW CLUSTER STATUS", "SHOW AGGREGATORS", "SHOW VARIABLES LIKE 'a%'",
        "SHOW GLOBAL VARIABLES", "CHECK PARTITIONS ON db",
        "SHOW REBALANCE STATUS ON db", "EXPLAIN REBALANCE PARTITIONS ON db",
        "EXPLAIN RESTORE REDUNDANCY ON db", "EXPLAIN CLEAR ORPHAN DATABASES",
        "SLEEP 5", "SHOW GRANTS", "SHOW GRANTS FOR CURRENT_USER()",
        "SHOW GRANTS FOR 'u'", "SHOW GRANTS FOR u@'10.%'"}) {
    auto r = need(text, "u");
    BOOST_TEST_CONTEXT(text) {
      BOOST_TEST(!r.priv.has_value());
      BOOST_TEST(!r.superuser);
    }
  }
}

// -- allows -------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(no_grants_allow_only_what_needs_nothing) {
  grant_set none;
  BOOST_TEST(allows(none, requirement{}));
  BOOST_TEST(!allows(none, requirement{privilege::select, "db", false}));
  BOOST_TEST(!allows(none, requirement{privilege::cluster, "", false}));
  BOOST_TEST(!allows(none, requirement{std::nullopt, "", true}));
}

BOOST_AUTO_TEST_CASE(a_grant_on_star_covers_every_database) {
  grant_set g{{privilege::select, ""}};
  BOOST_TEST(allows(g, requirement{privilege::select, "db", false}));
  BOOST_TEST(allows(g, requirement{privilege::select, "other", false}));
  BOOST_TEST(!allows(g, requirement{privilege::insert, "db", false}));
  BOOST_TEST(!allows(g, requirement{privilege::cluster, "", false}));
  BOOST_TEST(!allows(g, requirement{std::nullopt, "", true}));
}

BOOST_AUTO_TEST_CASE(a_grant_on_a_database_covers_only_it) {
  grant_set g{{privilege::insert, "db"}};
  BOOST_TEST(allows(g, requirement{privilege::insert, "db", false}));
  BOOST_TEST(!allows(g, requirement{privilege::insert, "other", false}));
  // Database names are case-sensitive, as in MySQL on Linux.
  BOOST_TEST(!allows(g, requirement{privilege::insert, "DB", false}));
  BOOST_TEST(!allows(g, requirement{privilege::select, "db", false}));
}

BOOST_AUTO_TEST_CASE(all_on_a_database_covers_all_but_cluster) {
  grant_set g{{privilege::all, "db"}};
  for (auto p : {privilege::select, privilege::insert, privilege::delete_,
                 privilege::create, privilege::drop, privilege::all})
    BOOST_TEST(allows(g, requirement{p, "db", false}), to_string(p));
  BOOST_TEST(!allows(g, requirement{privilege::select, "other", false}));
  BOOST_TEST(!allows(g, requirement{privilege::cluster, "", false}));
  BOOST_TEST(!allows(g, requirement{privilege::cluster, "db", false}));
  BOOST_TEST(!allows(g, requirement{std::nullopt, "", true}));
}

BOOST_AUTO_TEST_CASE(cluster_needs_cluster_or_all_on_star) {
  BOOST_TEST(allows({{privilege::cluster, ""}},
                    requirement{privilege::cluster, "", false}));
  BOOST_TEST(allows({{privilege::all, ""}},
                    requirement{privilege::cluster, "", false}));
  // A hand-built CLUSTER on a database (the parser refuses one) counts for
  // nothing.
  BOOST_TEST(!allows({{privilege::cluster, "db"}},
                     requirement{privilege::cluster, "", false}));
  BOOST_TEST(!allows({{privilege::cluster, ""}},
                     requirement{privilege::select, "db", false}));
  BOOST_TEST(!allows({{privilege::cluster, ""}},
                     requirement{std::nullopt, "", true}));
}

BOOST_AUTO_TEST_CASE(superuser_is_all_on_star) {
  grant_set root{{privilege::all, ""}};
  BOOST_TEST(allows(root, requirement{std::nullopt, "", true}));
  BOOST_TEST(allows(root, requirement{privilege::drop, "any", false}));
  grant_set every_single{{privilege::select, ""}, {privilege::insert, ""},
                         {privilege::delete_, ""}, {privilege::create, ""},
                         {privilege::drop, ""},    {privilege::cluster, ""}};
  BOOST_TEST(!allows(every_single, requirement{std::nullopt, "", true}));
}

// -- check_privilege ----------------------------------------------------------

BOOST_AUTO_TEST_CASE(check_privilege_words_error_1227) {
  const std::string add = "ADD LEAF '127.0.0.1':3307";
  BOOST_TEST(check_privilege({}, parsed(add), add, "u")
             == denied + "CLUSTER privilege(s) for this operation: '" + add
                  + "'");
  BOOST_TEST(check_privilege({{privilege::cluster, ""}}, parsed(add), add, "u")
             == "");

  const std::string sel = "SELECT * FROM db";
  BOOST_TEST(check_privilege({{privilege::select, "other"}}, parsed(sel), sel,
                             "u")
             == denied + "SELECT privilege(s) for this operation: '" + sel
                  + "'");
  BOOST_TEST(check_privilege({{privilege::all, "db"}}, parsed(sel), sel, "u")
             == "");

  const std::string create = "CREATE USER 'x' IDENTIFIED BY 'y'";
  BOOST_TEST(check_privilege({{privilege::all, "db"}}, parsed(create), create,
                             "u")
             == denied + "ALL PRIVILEGES ON *.* privilege(s) for this "
                         "operation: '"
                  + create + "'");
  BOOST_TEST(check_privilege({}, parsed("SHOW LEAVES"), "SHOW LEAVES", "u")
             == "");
}

BOOST_AUTO_TEST_CASE(check_privilege_cuts_the_text_to_100_characters) {
  std::string text = "INSERT INTO db VALUES ('k', '" + std::string(200, 'v')
                     + "')";
  auto msg = check_privilege({}, parsed(text), text, "u");
  BOOST_TEST(msg
             == denied + "INSERT privilege(s) for this operation: '"
                  + text.substr(0, 100) + "'");
  // Characters, not bytes: a two-byte character is never cut in half.
  std::string wide;
  for (int i = 0; i < 150; ++i)
    wide += "é";
  std::string text2 = "INSERT INTO db VALUES ('" + wide + "', 'v')";
  msg = check_privilege({}, parsed(text2), text2, "u");
  std::string cut = "INSERT INTO db VALUES ('" + wide.substr(0, 2 * 76);
  BOOST_TEST(msg
             == denied + "INSERT privilege(s) for this operation: '" + cut
                  + "'");
}

// -- apply_grant --------------------------------------------------------------

BOOST_AUTO_TEST_CASE(grant_adds_sorted_without_duplicates) {
  grant_set g;
  run_grant(g, "GRANT INSERT, SELECT ON db.* TO u");
  BOOST_TEST(listed(g) == (strings{"SELECT@db", "INSERT@db"}),
             boost::test_tools::per_element());
  run_grant(g, "GRANT SELECT, SELECT, DROP ON db.* TO u");
  run_grant(g, "GRANT SELECT ON a.* TO u");
  run_grant(g, "GRANT CLUSTER ON *.* TO u");
  BOOST_TEST(listed(g)
               == (strings{"CLUSTER@*", "SELECT@a", "SELECT@db", "INSERT@db",
                           "DROP@db"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(grant_all_replaces_single_privileges) {
  grant_set g;
  run_grant(g, "GRANT SELECT, INSERT ON db.* TO u");
  run_grant(g, "GRANT SELECT ON other.* TO u");
  run_grant(g, "GRANT ALL ON db.* TO u");
  BOOST_TEST(listed(g) == (strings{"ALL PRIVILEGES@db", "SELECT@other"}),
             boost::test_tools::per_element());
  // A single privilege under ALL adds nothing.
  run_grant(g, "GRANT DELETE ON db.* TO u");
  BOOST_TEST(listed(g) == (strings{"ALL PRIVILEGES@db", "SELECT@other"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(revoke_all_removes_everything_on_the_database) {
  grant_set g;
  run_grant(g, "GRANT SELECT, DROP ON db.* TO u");
  run_grant(g, "GRANT SELECT ON *.* TO u");
  run_grant(g, "GRANT ALL PRIVILEGES ON keep.* TO u");
  run_grant(g, "REVOKE ALL PRIVILEGES ON db.* FROM u");
  BOOST_TEST(listed(g) == (strings{"SELECT@*", "ALL PRIVILEGES@keep"}),
             boost::test_tools::per_element());
  run_grant(g, "REVOKE ALL ON *.* FROM u");
  BOOST_TEST(listed(g) == (strings{"ALL PRIVILEGES@keep"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(revoke_one_privilege) {
  grant_set g;
  run_grant(g, "GRANT SELECT, INSERT ON db.* TO u");
  run_grant(g, "REVOKE INSERT, CREATE ON db.* FROM u");
  BOOST_TEST(listed(g) == (strings{"SELECT@db"}),
             boost::test_tools::per_element());
  // A grant on *.* is not revoked by a revoke on one database.
  run_grant(g, "GRANT DELETE ON *.* TO u");
  run_grant(g, "REVOKE DELETE ON db.* FROM u");
  BOOST_TEST(listed(g) == (strings{"DELETE@*", "SELECT@db"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(revoke_one_privilege_out_of_all_keeps_the_rest) {
  grant_set g;
  run_grant(g, "GRANT ALL ON db.* TO u");
  run_grant(g, "REVOKE SELECT ON db.* FROM u");
  BOOST_TEST(listed(g)
               == (strings{"INSERT@db", "DELETE@db", "CREATE@db", "DROP@db"}),
             boost::test_tools::per_element());

  grant_set root;
  run_grant(root, "GRANT ALL ON *.* TO root");
  run_grant(root, "REVOKE CLUSTER, DROP ON *.* FROM root");
  BOOST_TEST(listed(root)
               == (strings{"SELECT@*", "INSERT@*", "DELETE@*", "CREATE@*"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(cluster_on_a_database_is_ignored) {
  grant_privileges hand_built;
  hand_built.privileges = {privilege::cluster, privilege::select};
  hand_built.database = "db";
  grant_set g;
  apply_grant(g, hand_built);
  BOOST_TEST(listed(g) == (strings{"SELECT@db"}),
             boost::test_tools::per_element());
}

// -- render_grants ------------------------------------------------------------

BOOST_AUTO_TEST_CASE(render_no_grants_as_usage) {
  BOOST_TEST(render_grants(user_name{"u", "%"}, {})
               == (strings{"GRANT USAGE ON *.* TO 'u'@'%'"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(render_root) {
  BOOST_TEST(render_grants(user_name{"root", "%"}, {{privilege::all, ""}})
               == (strings{"GRANT ALL PRIVILEGES ON *.* TO 'root'@'%'"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(render_one_line_per_database) {
  grant_set g;
  run_grant(g, "GRANT ALL ON zz.* TO u");
  run_grant(g, "GRANT INSERT, SELECT ON db.* TO u");
  run_grant(g, "GRANT CLUSTER, SELECT ON *.* TO u");
  BOOST_TEST(render_grants(user_name{"u", "localhost"}, g)
               == (strings{"GRANT SELECT, CLUSTER ON *.* TO 'u'@'localhost'",
                           "GRANT SELECT, INSERT ON `db`.* TO 'u'@'localhost'",
                           "GRANT ALL PRIVILEGES ON `zz`.* TO "
                           "'u'@'localhost'"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(render_database_grants_after_usage_as_mysql_does) {
  BOOST_TEST(render_grants(user_name{"u", "%"}, {{privilege::select, "db"}})
               == (strings{"GRANT USAGE ON *.* TO 'u'@'%'",
                           "GRANT SELECT ON `db`.* TO 'u'@'%'"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(render_quotes_names_and_sorts_its_input) {
  grant_set unsorted{{privilege::drop, "we`ird"},
                     {privilege::select, "we`ird"},
                     {privilege::drop, "we`ird"}};
  BOOST_TEST(render_grants(user_name{"o'neil", "10.0.%"}, unsorted)
               == (strings{"GRANT USAGE ON *.* TO 'o''neil'@'10.0.%'",
                           "GRANT SELECT, DROP ON `we``ird`.* TO "
                           "'o''neil'@'10.0.%'"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()
