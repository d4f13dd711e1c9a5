// Users and their grants, kept by the master aggregator in the cluster's
// metadata (committed by the voting aggregators with every other change).
// Privileges are checked where statements enter a process (the access
// actor); here they are only kept.
//
//   1. CREATE USER stores SHA1(SHA1(password)), never the password; DROP
//      USER, GRANT and REVOKE change the user's entry. Each change is
//      written (and committed) before it is answered.
//   2. SHOW GRANTS FOR and SHOW USERS read them; root, whose password is
//      each aggregator's root-password-file, is listed with every
//      privilege.
//   3. AuthRequest: a login's token is checked against the stored hash;
//      the answer carries the user's grants, never its hash.
//
// SingleStore keeps users on every aggregator the same way (its
// `CREATE USER` runs on the master aggregator and is replicated).
#include <algorithm>

#include "actors/aggregator/state.hpp"
#include "base/log.hpp"
#include "sql/mysql_wire.hpp"
#include "sql/privileges.hpp"

namespace lg {

namespace {

std::string account(const sql::user_name& u) {
  return "'" + u.user + "'@'" + u.host + "'";
}

pb::UserMeta* find_user(cluster_metadata& meta, const std::string& name) {
  for (auto& u : *meta.mutable_users())
    if (u.name() == name)
      return &u;
  return nullptr;
}

sql::grant_set grants_of(const pb::UserMeta& u) {
  sql::grant_set out;
  for (auto& g : u.grants())
    if (auto p = sql::privilege_named(g.privilege()))
      out.push_back(sql::grant{*p, g.database()});
  return out;
}

void set_grants(pb::UserMeta& u, const sql::grant_set& grants) {
  u.clear_grants();
  for (auto& g : grants) {
    auto* m = u.add_grants();
    m->set_privilege(sql::to_string(g.priv));
    m->set_database(g.database);
  }
}

pb::ResultSet user_failure(const std::string& operation,
                           const sql::user_name& u, const std::string& why) {
  return make_failure(sql::errc::user_operation_failed,
                      "Operation " + operation + " failed for " + account(u)
                        + ": " + why);
}

} // namespace

void exec_create_user(ma_self self, envelope_ptr req,
                      const sql::create_user& s) {
  auto& st = self->state;
  if (s.user.user == "root") {
    reply_result(self, *req, user_failure("CREATE USER", s.user,
                                          "root is every aggregator's own "
                                          "(root-password-file)"));
    return;
  }
  if (find_user(st.meta, s.user.user) != nullptr) {
    if (s.if_not_exists)
      reply_result(self, *req, make_message("Query OK, 0 rows affected"));
    else
      reply_result(self, *req, user_failure("CREATE USER", s.user,
                                            "the user already exists"));
    return;
  }
  auto before = st.meta;
  auto* u = st.meta.mutable_users()->Add();
  u->set_name(s.user.user);
  u->set_host(s.user.host);
  u->set_password_hash(mysql::native_password_hash(s.password));
  if (persist_statement(self, *req, before))
    return;
  logger("ma")->info("UserCreated {} {}", st.ctx(), account(s.user));
  reply_result(self, *req, make_message("Query OK, 0 rows affected"));
}

void exec_drop_user(ma_self self, envelope_ptr req, const sql::drop_user& s) {
  auto& st = self->state;
  auto* users = st.meta.mutable_users();
  auto it = std::find_if(users->begin(), users->end(), [&](auto& u) {
    return u.name() == s.user.user;
  });
  if (it == users->end()) {
    if (s.if_exists)
      reply_result(self, *req, make_message("Query OK, 0 rows affected"));
    else
      reply_result(self, *req,
                   user_failure("DROP USER", s.user, "no such user"));
    return;
  }
  auto before = st.meta;
  users->erase(it);
  if (persist_statement(self, *req, before))
    return;
  logger("ma")->info("UserDropped {} {}", st.ctx(), account(s.user));
  reply_result(self, *req, make_message("Query OK, 0 rows affected"));
}

void exec_grant(ma_self self, envelope_ptr req,
                const sql::grant_privileges& s) {
  auto& st = self->state;
  const char* verb = s.revoke ? "REVOKE" : "GRANT";
  if (s.user.user == "root") {
    reply_result(self, *req, user_failure(verb, s.user,
                                          "root always has every "
                                          "privilege"));
    return;
  }
  if (!s.database.empty() && st.meta.find_database(s.database) == nullptr
      && !s.revoke) {
    // MySQL allows grants on databases to come; so does leafguard, but
    // says so in the log.
    logger("ma")->info("GrantOnMissingDatabase {} {}", st.ctx(), s.database);
  }
  auto* u = find_user(st.meta, s.user.user);
  if (u == nullptr) {
    reply_result(self, *req, user_failure(verb, s.user,
                                          "no such user (CREATE USER "
                                          "first)"));
    return;
  }
  auto before = st.meta;
  u = find_user(st.meta, s.user.user);
  auto grants = grants_of(*u);
  sql::apply_grant(grants, s);
  set_grants(*u, grants);
  if (persist_statement(self, *req, before))
    return;
  logger("ma")->info("{} {} {} on {}", s.revoke ? "PrivilegesRevoked"
                                                : "PrivilegesGranted",
                     st.ctx(), account(s.user),
                     s.database.empty() ? std::string{"*.*"}
                                        : s.database + ".*");
  reply_result(self, *req, make_message("Query OK, 0 rows affected"));
}

void exec_show_grants(ma_self self, envelope_ptr req,
                      const sql::show_grants& s) {
  auto& st = self->state;
  if (!s.user) {
    // The access actor answers for oneself; reaching here means no login.
    reply_result(self, *req, make_failure(sql::errc::not_supported,
                                          "SHOW GRANTS without FOR needs "
                                          "a logged-in user"));
    return;
  }
  sql::grant_set grants;
  if (s.user->user == "root") {
    grants.push_back(sql::grant{sql::privilege::all, ""});
  } else {
    auto* u = find_user(st.meta, s.user->user);
    if (u == nullptr) {
      reply_result(self, *req, make_failure(sql::errc::user_operation_failed,
                                            "There is no such grant "
                                            "defined for user '"
                                              + s.user->user + "'"));
      return;
    }
    grants = grants_of(*u);
  }
  std::vector<std::vector<std::string>> rows;
  for (auto& line : sql::render_grants(*s.user, grants))
    rows.push_back({line});
  reply_result(self, *req, make_table({"Grants for " + s.user->user + "@"
                                         + s.user->host},
                                      rows));
}

void exec_show_users(ma_self self, envelope_ptr req) {
  auto& st = self->state;
  std::vector<std::vector<std::string>> rows{{"root", "%"}};
  for (auto& u : st.meta.users())
    rows.push_back({u.name(), u.host()});
  std::sort(rows.begin() + 1, rows.end());
  reply_result(self, *req, make_table({"User", "Host"}, rows));
}

void on_auth_request(ma_self self, const envelope_ptr& req) {
  auto& st = self->state;
  const auto& body = req->auth_request();
  auto rep = make_envelope();
  auto* out = rep->mutable_auth_reply();
  auto* u = find_user(st.meta, body.user());
  if (u == nullptr
      || !mysql::native_password_matches(u->password_hash(), body.scramble(),
                                         body.token())) {
    out->set_error_code(1045);
    logger("ma")->warn("LoginRefused {} user={}{}", st.ctx(), body.user(),
                       u == nullptr ? " (no such user)" : "");
  } else {
    *out->mutable_user() = *u;
    out->mutable_user()->clear_password_hash();
  }
  st.ep.reply(self, *req, std::move(rep));
}

} // namespace lg
