// Who is logged in, and the checks of a login that need no cluster: the
// pure part of actors/client/access.cpp.
//
//   1. A console asks for a scramble (20 random bytes); one scramble serves
//      one login, within a minute. A MySQL connection makes its own.
//   2. The login's token answers the scramble (mysql_native_password). root
//      is checked here, against the root-password-file's hash; every other
//      user at the master aggregator, which holds the users.
//   3. A good login gets a random token: each statement names it, and runs
//      with its user's grants, as they were at login (MySQL too applies
//      changed global privileges to new connections only).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "sql/privileges.hpp"

namespace lg {

/// A logged-in user and the grants it holds.
struct principal {
  std::string user;
  std::string host; ///< the client's host, as MySQL's errors name it
  sql::grant_set grants;
};

/// root's grants: every privilege on *.*.
sql::grant_set root_grants();

/// Error 1045's text, in MySQL's words.
std::string access_denied(const std::string& user, const std::string& host,
                          bool with_password);

/// Checks a root login (step 2): "" when it is good, else why not.
/// `stored` is SHA1(SHA1(root's password)), or empty when root has none;
/// root without a password may only log in from loopback.
std::string check_root_login(const std::string& stored,
                             const std::string& scramble,
                             const std::string& token, bool from_loopback,
                             const std::string& host);

/// The scrambles handed out and the logins made (steps 1 and 3).
class login_table {
public:
  using clock = std::chrono::steady_clock;

  /// A fresh scramble, good for one login within `scramble_life`.
  std::string issue_scramble(clock::time_point now);

  /// True (once) when `scramble` was issued and has not expired.
  bool take_scramble(const std::string& scramble, clock::time_point now);

  /// Records a login; returns its token.
  std::string add(principal who, clock::time_point now);

  /// The login of `token`, or null (unknown, logged out or idle too long).
  const principal* find(const std::string& token, clock::time_point now);

  void remove(const std::string& token);

  size_t size() const {
    return logins_.size();
  }

  static constexpr auto scramble_life = std::chrono::seconds{60};
  /// A login unused this long is dropped (a console that went away).
  static constexpr auto idle_life = std::chrono::hours{8};

private:
  struct login {
    principal who;
    clock::time_point last_used;
  };

  void expire(clock::time_point now);

  std::map<std::string, clock::time_point> scrambles_;
  std::map<std::string, login> logins_;
  clock::time_point last_expiry_{};
};

/// `n` random bytes, none of them zero (MySQL clients read a scramble up
/// to its first NUL).
std::string random_scramble(size_t n = 20);

} // namespace lg
