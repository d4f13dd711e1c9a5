// The statements leafguard understands, in SingleStore's syntax where
// SingleStore has the command.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace lg::sql {

/// A leaf address as written in statements: 'host':port.
struct leaf_address {
  std::string host;
  uint16_t port = 0;

  /// Renders as host:port.
  std::string to_string() const {
    return host + ":" + std::to_string(port);
  }

  friend bool operator==(const leaf_address& a, const leaf_address& b) {
    return a.host == b.host && a.port == b.port;
  }
  friend bool operator<(const leaf_address& a, const leaf_address& b) {
    return a.host < b.host || (a.host == b.host && a.port < b.port);
  }
};

// -- databases ----------------------------------------------------------------

struct create_database {
  std::string name;
  std::optional<uint32_t> partitions;
  std::optional<bool> sync_durability; ///< WITH SYNC|ASYNC DURABILITY
};

struct drop_database {
  std::string name;
};

struct show_databases {};

// -- cluster ------------------------------------------------------------------

struct add_leaf {
  leaf_address leaf;
  std::optional<int> group; ///< INTO GROUP {1|2}
};

struct show_leaves {};

struct show_partitions {
  std::string database;
};

struct show_cluster_status {};

/// SHOW AGGREGATORS: the voting aggregators and which one is master.
struct show_aggregators {};

/// SET GLOBAL name = value. The value keeps its literal text (numbers,
/// ON/OFF, quoted strings unquoted).
struct set_global {
  std::string name;
  std::string value;
};

struct show_variables {
  std::optional<std::string> like;
};

struct attach_leaf {
  std::optional<leaf_address> leaf; ///< empty for ATTACH LEAF ALL
  bool force = false;
  bool no_rebalance = false;
};

struct detach_leaf {
  leaf_address leaf;
};

struct remove_leaf {
  leaf_address leaf;
  bool force = false;
};

/// ADD AGGREGATOR 'h':p / REMOVE AGGREGATOR 'h':p: voting membership.
struct change_aggregator {
  leaf_address aggregator;
  bool add = true;
};

struct clear_orphan_databases {
  bool explain = false;
};

struct check_partitions {
  std::string database;
};

struct show_rebalance_status {
  std::string database; ///< empty: every database's jobs
};

/// REBALANCE PARTITIONS ON db [FORCE] / REBALANCE ALL DATABASES.
struct rebalance_partitions {
  std::optional<std::string> database; ///< empty for ALL DATABASES
  bool force = false;
  bool explain = false;
};

struct restore_redundancy {
  std::string database;
  bool explain = false;
};

// -- data ---------------------------------------------------------------------

struct insert_rows {
  std::string database;
  std::vector<std::pair<std::string, std::string>> rows;
};

/// SELECT * FROM db [WHERE key = 'k'].
struct select_rows {
  std::string database;
  std::optional<std::string> key;
};

struct select_count {
  std::string database;
};

struct delete_row {
  std::string database;
  std::string key;
};

// -- test-cluster statements (in-process clusters only) ------------------------

enum class leaf_fault { start, kill, restart, destroy, isolate, heal };

struct leaf_fault_stmt {
  leaf_fault action;
  leaf_address leaf;
  /// KILL/RESTART/ISOLATE/HEAL AGGREGATOR: `leaf` names an aggregator.
  bool aggregator = false;
};

struct sleep_stmt {
  uint64_t ms = 0;
};

// -- users and privileges -----------------------------------------------------

/// A privilege as GRANT and REVOKE name it; `all` is ALL [PRIVILEGES].
enum class privilege : uint8_t {
  select,
  insert,
  delete_,
  create,
  drop,
  cluster,
  all,
};

/// An account as written in statements: 'user'@'host', the host '%' (any
/// host) when left out.
struct user_name {
  std::string user;
  std::string host = "%";

  friend bool operator==(const user_name& a, const user_name& b) {
    return a.user == b.user && a.host == b.host;
  }
  friend bool operator!=(const user_name& a, const user_name& b) {
    return !(a == b);
  }
  friend bool operator<(const user_name& a, const user_name& b) {
    return a.user < b.user || (a.user == b.user && a.host < b.host);
  }
};

/// CREATE USER [IF NOT EXISTS] 'u'@'h' IDENTIFIED BY 'pw'.
struct create_user {
  user_name user;
  std::string password;
  bool if_not_exists = false;
};

/// DROP USER [IF EXISTS] 'u'@'h'.
struct drop_user {
  user_name user;
  bool if_exists = false;
};

/// GRANT ... TO / REVOKE ... FROM. `database` empty means *.*
struct grant_privileges {
  std::vector<privilege> privileges;
  std::string database;
  user_name user;
  bool revoke = false;
};

/// SHOW GRANTS [FOR 'u'@'h']: without FOR, the session's own grants.
struct show_grants {
  std::optional<user_name> user;
};

/// SHOW USERS: every account and where it may connect from.
struct show_users {};

/// SHOW FAILOVERS: the master aggregator's last failovers, with timings.
struct show_failovers {};

// New statements go at the end, so that the index of each alternative stays.
using statement
  = std::variant<create_database, drop_database, show_databases, add_leaf,
                 show_leaves, show_partitions, show_cluster_status, set_global,
                 show_variables, attach_leaf, detach_leaf, remove_leaf,
                 clear_orphan_databases, check_partitions,
                 show_rebalance_status, rebalance_partitions,
                 restore_redundancy, insert_rows, select_rows, select_count,
                 delete_row, leaf_fault_stmt, sleep_stmt, show_aggregators,
                 change_aggregator, create_user, drop_user, grant_privileges,
                 show_grants, show_users, show_failovers>;

/// Returns the canonical keyword name of a fault action (KILL, RESTART, ...).
const char* to_string(leaf_fault x);

/// Returns a privilege as GRANT writes it: SELECT, ..., ALL PRIVILEGES.
const char* to_string(privilege x);

/// The privilege that to_string names `name`, or nullopt (the metadata
/// and messages keep privileges by these names).
std::optional<privilege> privilege_named(const std::string& name);

} // namespace lg::sql
