#include "actors/client/logins.hpp"

#include <stdexcept>

#include <openssl/rand.h>

#include "sql/mysql_wire.hpp"

namespace lg {

sql::grant_set root_grants() {
  return {sql::grant{sql::privilege::all, ""}};
}

std::string access_denied(const std::string& user, const std::string& host,
                          bool with_password) {
  return "Access denied for user '" + user + "'@'" + host + "' (using "
         + "password: " + (with_password ? "YES" : "NO") + ")";
}

std::string check_root_login(const std::string& stored,
                             const std::string& scramble,
                             const std::string& token, bool from_loopback,
                             const std::string& host) {
  if (stored.empty()) {
    if (!token.empty())
      return access_denied("root", host, true)
             + ": root has no password here";
    if (!from_loopback)
      return access_denied("root", host, false)
             + ": root has no password, so it may only log in from "
               "loopback (give the node a root-password-file)";
    return {};
  }
  if (!mysql::native_password_matches(stored, scramble, token))
    return access_denied("root", host, !token.empty());
  return {};
}

std::string random_scramble(size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()),
                 static_cast<int>(n))
      != 1)
    throw std::runtime_error("RAND_bytes failed"); // no entropy: give up
  for (auto& c : out) {
    // Printable-range bytes without NUL, as MySQL servers make them.
    c = static_cast<char>(1 + static_cast<unsigned char>(c) % 126);
  }
  return out;
}

std::string login_table::issue_scramble(clock::time_point now) {
  expire(now);
  auto s = random_scramble();
  scrambles_[s] = now + scramble_life;
  return s;
}

bool login_table::take_scramble(const std::string& scramble,
                                clock::time_point now) {
  auto i = scrambles_.find(scramble);
  if (i == scrambles_.end())
    return false;
  bool fresh = now <= i->second;
  scrambles_.erase(i);
  return fresh;
}

std::string login_table::add(principal who, clock::time_point now) {
  expire(now);
  std::string token;
  for (char c : random_scramble(24))
    token += "0123456789abcdef"[static_cast<unsigned char>(c) % 16];
  logins_[token] = login{std::move(who), now};
  return token;
}

const principal* login_table::find(const std::string& token,
                                   clock::time_point now) {
  auto i = logins_.find(token);
  if (i == logins_.end())
    return nullptr;
  if (now - i->second.last_used > idle_life) {
    logins_.erase(i);
    return nullptr;
  }
  i->second.last_used = now;
  return &i->second.who;
}

void login_table::remove(const std::string& token) {
  logins_.erase(token);
}

void login_table::expire(clock::time_point now) {
  if (now - last_expiry_ < std::chrono::seconds{10})
    return;
  last_expiry_ = now;
  for (auto i = scrambles_.begin(); i != scrambles_.end();)
    i = now > i->second ? scrambles_.erase(i) : std::next(i);
  for (auto i = logins_.begin(); i != logins_.end();)
    i = now - i->second.last_used > idle_life ? logins_.erase(i)
                                               : std::next(i);
}

} // namespace lg
