// What each statement needs in privileges, and how GRANT and REVOKE change
// a user's grants. Pure functions: no I/O, no actors.
//
// SingleStore's permission matrix, simplified:
// - CLUSTER (global only): ADD/ATTACH/DETACH/REMOVE LEAF, REBALANCE,
//   RESTORE REDUNDANCY, CLEAR ORPHAN DATABASES, SET GLOBAL, ADD/REMOVE
//   AGGREGATOR and the test-cluster faults (KILL, RESTART, ISOLATE, ...);
// - CREATE / DROP on a database: CREATE / DROP DATABASE;
// - SELECT, INSERT, DELETE on a database: the data statements;
// - superuser (ALL PRIVILEGES ON *.*): CREATE/DROP USER, GRANT, REVOKE,
//   SHOW USERS and SHOW GRANTS FOR another user;
// - nothing: the other SHOW and CHECK statements, every EXPLAIN, SHOW GRANTS
//   of oneself and SLEEP.
// A grant on *.* covers every database; ALL on a database covers every
// privilege on it, but CLUSTER needs CLUSTER or ALL on *.*.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "sql/ast.hpp"

namespace lg::sql {

/// One privilege a user holds on one database, or on every database (*.*)
/// when `database` is empty.
struct grant {
  privilege priv = privilege::select;
  std::string database; ///< "" = *.*

  friend bool operator==(const grant& a, const grant& b) {
    return a.priv == b.priv && a.database == b.database;
  }
  friend bool operator!=(const grant& a, const grant& b) {
    return !(a == b);
  }
  /// Orders by database ("" = *.* first), then by privilege.
  friend bool operator<(const grant& a, const grant& b) {
    return a.database < b.database
           || (a.database == b.database && a.priv < b.priv);
  }
};

/// A user's grants, sorted and without duplicates when apply_grant built it.
using grant_set = std::vector<grant>;

/// What a statement needs: nothing, one privilege (global or on a database),
/// or superuser (ALL on *.*).
struct requirement {
  std::optional<privilege> priv;
  std::string database; ///< "" = *.*; only meaningful with `priv`
  bool superuser = false;
};

/// Returns what `stmt` needs when `current_user` (the session's user name,
/// without host) runs it. EXPLAIN forms of CLUSTER statements need nothing.
requirement required_privilege(const statement& stmt,
                               const std::string& current_user);

/// True when `grants` satisfy `need`.
bool allows(const grant_set& grants, const requirement& need);

/// "" when `grants` allow `stmt`; else the message of error 1227, in MySQL's
/// words: "Access denied; you need (at least one of) the CLUSTER
/// privilege(s) for this operation: 'ADD LEAF ...'" (quoting `text`, cut to
/// its first 100 characters). A superuser statement names "ALL PRIVILEGES ON
/// *.*" as the privilege.
std::string check_privilege(const grant_set& grants, const statement& stmt,
                            const std::string& text,
                            const std::string& current_user);

/// Applies GRANT (revoke=false) or REVOKE to `grants`; ALL on X replaces the
/// single privileges on X; REVOKE ALL on X removes everything on X. Revoking
/// one privilege from a holder of ALL on X leaves the others ALL stood for,
/// as in MySQL. Keeps the set sorted and without duplicates.
void apply_grant(grant_set& grants, const grant_privileges& g);

/// SHOW GRANTS lines, MySQL style: first the global line ("GRANT USAGE ON
/// *.* TO 'u'@'%'" when nothing is granted on *.*), then one line per
/// database, e.g. "GRANT SELECT, INSERT ON `db`.* TO 'u'@'%'" and "GRANT
/// ALL PRIVILEGES ON *.* TO 'root'@'%'".
std::vector<std::string> render_grants(const user_name& user,
                                       const grant_set& grants);

} // namespace lg::sql
