#include "sql/privileges.hpp"

#include <algorithm>
#include <cstddef>
#include <variant>

namespace lg::sql {

namespace {

// Keeps the statement quoted in error 1227 short.
constexpr size_t max_quoted_chars = 100;

requirement nothing() {
  return {};
}

requirement global(privilege p) {
  return requirement{p, {}, false};
}

requirement on_database(privilege p, const std::string& database) {
  return requirement{p, database, false};
}

requirement superuser() {
  return requirement{std::nullopt, {}, true};
}

/// Classifies each statement. One overload per alternative, with no
/// catch-all, so that a new statement does not compile until it is
/// classified here.
struct requirement_of {
  const std::string& current_user;

  requirement operator()(const create_database& s) const {
    return on_database(privilege::create, s.name);
  }
  requirement operator()(const drop_database& s) const {
    return on_database(privilege::drop, s.name);
  }
  requirement operator()(const show_databases&) const {
    return nothing();
  }
  requirement operator()(const add_leaf&) const {
    return global(privilege::cluster);
  }
  requirement operator()(const show_leaves&) const {
    return nothing();
  }
  requirement operator()(const show_partitions&) const {
    return nothing();
  }
  requirement operator()(const show_cluster_status&) const {
    return nothing();
  }
  requirement operator()(const set_global&) const {
    return global(privilege::cluster);
  }
  requirement operator()(const show_variables&) const {
    return nothing();
  }
  requirement operator()(const attach_leaf&) const {
    return global(privilege::cluster);
  }
  requirement operator()(const detach_leaf&) const {
    return global(privilege::cluster);
  }
  requirement operator()(const remove_leaf&) const {
    return global(privilege::cluster);
  }
  // EXPLAIN only shows a plan: it changes nothing, like SHOW.
  requirement operator()(const clear_orphan_databases& s) const {
    return s.explain ? nothing() : global(privilege::cluster);
  }
  requirement operator()(const check_partitions&) const {
    return nothing();
  }
  requirement operator()(const show_rebalance_status&) const {
    return nothing();
  }
  requirement operator()(const rebalance_partitions& s) const {
    return s.explain ? nothing() : global(privilege::cluster);
  }
  requirement operator()(const restore_redundancy& s) const {
    return s.explain ? nothing() : global(privilege::cluster);
  }
  requirement operator()(const insert_rows& s) const {
    return on_database(privilege::insert, s.database);
  }
  requirement operator()(const select_rows& s) const {
    return on_database(privilege::select, s.database);
  }
  requirement operator()(const select_count& s) const {
    return on_database(privilege::select, s.database);
  }
  requirement operator()(const delete_row& s) const {
    return on_database(privilege::delete_, s.database);
  }
  requirement operator()(const leaf_fault_stmt&) const {
    return global(privilege::cluster);
  }
  requirement operator()(const sleep_stmt&) const {
    return nothing();
  }
  requirement operator()(const show_aggregators&) const {
    return nothing();
  }
  requirement operator()(const change_aggregator&) const {
    return global(privilege::cluster);
  }
  requirement operator()(const create_user&) const {
    return superuser();
  }
  requirement operator()(const drop_user&) const {
    return superuser();
  }
  requirement operator()(const grant_privileges&) const {
    return superuser();
  }
  requirement operator()(const show_grants& s) const {
    if (!s.user || s.user->user == current_user)
      return nothing();
    return superuser();
  }
  requirement operator()(const show_failovers&) const {
    return nothing();
  }
  requirement operator()(const show_users&) const {
    return superuser();
  }
};

bool is_continuation(char c) {
  return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

/// Returns the first `n` characters (code points) of `text`.
std::string first_chars(const std::string& text, size_t n) {
  size_t chars = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (!is_continuation(text[i]) && chars++ == n)
      return text.substr(0, i);
  }
  return text;
}

/// Returns `s` between `quote`s, with each `quote` inside doubled.
std::string quoted(const std::string& s, char quote) {
  std::string out(1, quote);
  for (char c : s) {
    if (c == quote)
      out += quote;
    out += c;
  }
  out += quote;
  return out;
}

/// Returns the single privileges that ALL stands for on `database`.
std::vector<privilege> expand_all(const std::string& database) {
  std::vector<privilege> out{privilege::select, privilege::insert,
                             privilege::delete_, privilege::create,
                             privilege::drop};
  if (database.empty())
    out.push_back(privilege::cluster);
  return out;
}

void normalize(grant_set& grants) {
  std::sort(grants.begin(), grants.end());
  grants.erase(std::unique(grants.begin(), grants.end()), grants.end());
}

} // namespace

requirement required_privilege(const statement& stmt,
                               const std::string& current_user) {
  return std::visit(requirement_of{current_user}, stmt);
}

bool allows(const grant_set& grants, const requirement& need) {
  if (need.superuser)
    return std::find(grants.begin(), grants.end(), grant{privilege::all, {}})
           != grants.end();
  if (!need.priv)
    return true;
  auto wanted = *need.priv;
  return std::any_of(grants.begin(), grants.end(), [&](const grant& g) {
    if (wanted == privilege::cluster)
      return g.database.empty()
             && (g.priv == privilege::cluster || g.priv == privilege::all);
    if (!g.database.empty() && g.database != need.database)
      return false;
    return g.priv == wanted || g.priv == privilege::all;
  });
}

std::string check_privilege(const grant_set& grants, const statement& stmt,
                            const std::string& text,
                            const std::string& current_user) {
  auto need = required_privilege(stmt, current_user);
  if (allows(grants, need))
    return {};
  std::string what = need.superuser ? "ALL PRIVILEGES ON *.*"
                                    : to_string(*need.priv);
  return "Access denied; you need (at least one of) the " + what
         + " privilege(s) for this operation: '"
         + first_chars(text, max_quoted_chars) + "'";
}

void apply_grant(grant_set& grants, const grant_privileges& g) {
  const auto& db = g.database;
  auto holds = [&](privilege p) {
    return std::find(grants.begin(), grants.end(), grant{p, db})
           != grants.end();
  };
  auto remove = [&](auto&& pred) {
    grants.erase(std::remove_if(grants.begin(), grants.end(), pred),
                 grants.end());
  };
  auto remove_database = [&] {
    remove([&](const grant& x) { return x.database == db; });
  };
  for (auto p : g.privileges) {
    // CLUSTER on a database means nothing (the parser refuses it).
    if (p == privilege::cluster && !db.empty())
      continue;
    if (!g.revoke) {
      if (p == privilege::all) {
        remove_database();
        grants.push_back(grant{privilege::all, db});
      } else if (!holds(privilege::all)) {
        grants.push_back(grant{p, db});
      }
      continue;
    }
    if (p == privilege::all) {
      remove_database();
      continue;
    }
    if (holds(privilege::all)) {
      // As MySQL does: ALL becomes the single privileges, less `p`.
      remove([&](const grant& x) {
        return x.database == db && x.priv == privilege::all;
      });
      for (auto single : expand_all(db))
        grants.push_back(grant{single, db});
    }
    remove([&](const grant& x) { return x.database == db && x.priv == p; });
  }
  normalize(grants);
}

std::vector<std::string> render_grants(const user_name& user,
                                       const grant_set& grants) {
  auto sorted = grants;
  normalize(sorted);
  auto account = quoted(user.user, '\'') + "@" + quoted(user.host, '\'');
  auto line = [&](const std::string& privs, const std::string& database) {
    auto target = database.empty() ? std::string{"*.*"}
                                   : quoted(database, '`') + ".*";
    return "GRANT " + privs + " ON " + target + " TO " + account;
  };
  std::vector<std::string> out;
  if (sorted.empty() || !sorted.front().database.empty())
    out.push_back(line("USAGE", {}));
  size_t i = 0;
  while (i < sorted.size()) {
    const auto& database = sorted[i].database;
    std::string privs;
    bool all = false;
    for (; i < sorted.size() && sorted[i].database == database; ++i) {
      all = all || sorted[i].priv == privilege::all;
      if (!privs.empty())
        privs += ", ";
      privs += to_string(sorted[i].priv);
    }
    out.push_back(line(all ? to_string(privilege::all) : privs, database));
  }
  return out;
}

} // namespace lg::sql
