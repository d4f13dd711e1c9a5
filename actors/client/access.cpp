#include "actors/client/access.hpp"

#include <chrono>

#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/client/logins.hpp"
#include "actors/names.hpp"
#include "actors/net/endpoint.hpp"
#include "admin.pb.h"
#include "base/log.hpp"
#include "sql/parser.hpp"
#include "sql/result_proto.hpp"

namespace lg {

namespace {

struct access_state {
  std::string name = "access";
  endpoint ep;
  access_config cfg;
  login_table logins;

  std::string ctx() const {
    return "[node=" + cfg.node + "]";
  }
};

using self_ptr = caf::stateful_actor<access_state>*;

login_table::clock::time_point now() {
  return login_table::clock::now();
}

std::string bytes_of(const pb::ResultSet& rs) {
  std::string out;
  rs.SerializeToString(&out);
  return out;
}

/// Step 2, for users other than root: the master aggregator checks.
void login_at_aggregator(self_ptr self, caf::response_promise rp,
                         const std::string& user, const std::string& host,
                         const std::string& scramble,
                         const std::string& token) {
  auto& st = self->state;
  auto env = make_envelope();
  auto* req = env->mutable_auth_request();
  req->set_user(user);
  req->set_scramble(scramble);
  req->set_token(token);
  st.ep.request(
    self, st.cfg.ma_node, aggregator_actor_name, std::move(env),
    std::chrono::milliseconds{st.cfg.auth_timeout_ms},
    [self, rp, user, host, with_password = !token.empty()](
      const envelope* rep) mutable {
      auto& st = self->state;
      if (rep == nullptr || !rep->has_auth_reply()) {
        rp.deliver(bytes_of(make_failure(
          sql::errc::timeout, "the master aggregator did not answer the "
                              "login of '" + user + "' in time; try again")));
        return;
      }
      const auto& body = rep->auth_reply();
      if (body.error_code() != 0) {
        logger("access")->warn("LoginRefused {} user={} host={}", st.ctx(),
                               user, host);
        rp.deliver(bytes_of(make_failure(
          sql::errc::access_denied,
          body.error().empty() ? access_denied(user, host, with_password)
                               : body.error())));
        return;
      }
      principal who{user, host, {}};
      for (auto& g : body.user().grants())
        if (auto p = sql::privilege_named(g.privilege()))
          who.grants.push_back(sql::grant{*p, g.database()});
      logger("access")->info("LoggedIn {} user={} host={}", st.ctx(), user,
                             host);
      rp.deliver(bytes_of(make_message(st.logins.add(std::move(who), now()))));
    });
}

caf::result<std::string> on_login(self_ptr self, const std::string& user,
                                  const std::string& scramble,
                                  const std::string& token,
                                  bool from_loopback, bool check_scramble,
                                  const std::string& host) {
  auto& st = self->state;
  if (check_scramble && !st.logins.take_scramble(scramble, now()))
    return bytes_of(make_failure(sql::errc::access_denied,
                                 "the login's scramble is unknown or expired: "
                                 "log in again"));
  if (user.empty())
    return bytes_of(make_failure(sql::errc::access_denied,
                                 access_denied(user, host, !token.empty())
                                   + ": no user name was given"));
  if (user == "root") {
    auto why = check_root_login(st.cfg.root_password_hash, scramble, token,
                                from_loopback, host);
    if (!why.empty()) {
      logger("access")->warn("LoginRefused {} user=root host={}: {}",
                             st.ctx(), host, why);
      return bytes_of(make_failure(sql::errc::access_denied, why));
    }
    return bytes_of(make_message(
      st.logins.add(principal{"root", host, root_grants()}, now())));
  }
  auto rp = self->make_response_promise<std::string>();
  login_at_aggregator(self, rp, user, host, scramble, token);
  return rp;
}

/// Step 3: runs `text` for `who`.
void run(self_ptr self, caf::response_promise rp, const std::string& text,
         const principal& who) {
  auto& st = self->state;
  auto parsed = sql::parse(text);
  if (parsed.ok()) {
    auto why = sql::check_privilege(who.grants, *parsed, text, who.user);
    if (!why.empty()) {
      logger("access")->warn("AccessDenied {} user={} statement='{}'",
                             st.ctx(), who.user, text.substr(0, 200));
      rp.deliver(bytes_of(make_failure(sql::errc::missing_privilege, why)));
      return;
    }
    if (auto* g = std::get_if<sql::show_grants>(&*parsed);
        g != nullptr && (!g->user || g->user->user == who.user)) {
      std::vector<std::vector<std::string>> rows;
      for (auto& line : sql::render_grants(sql::user_name{who.user, "%"},
                                           who.grants))
        rows.push_back({line});
      rp.deliver(bytes_of(
        make_table({"Grants for " + who.user + "@%"}, rows)));
      return;
    }
    bool test_cluster = std::holds_alternative<sql::leaf_fault_stmt>(*parsed)
                        || std::holds_alternative<sql::sleep_stmt>(*parsed);
    if (test_cluster && st.cfg.test_cluster) {
      self->request(st.cfg.test_cluster, caf::infinite, console_atom::value,
                    text)
        .then([rp](std::string& bytes) mutable { rp.deliver(bytes); },
              [rp, text](caf::error& err) mutable {
                rp.deliver(bytes_of(make_failure(
                  sql::errc::internal, "'" + text + "': " + to_string(err))));
              });
      return;
    }
  }
  auto env = make_envelope();
  env->mutable_statement_request()->set_text(text);
  st.ep.request(self, st.cfg.node, st.cfg.session, std::move(env),
                std::chrono::milliseconds{st.cfg.statement_timeout_ms},
                [rp, text](const envelope* rep) mutable {
                  rp.deliver(bytes_of(statement_result(rep, text)));
                });
}

caf::behavior access_impl(caf::stateful_actor<access_state>* self,
                          access_config cfg) {
  auto& st = self->state;
  st.name = cfg.name;
  st.ep = endpoint{cfg.fab, cfg.node, cfg.name};
  st.cfg = std::move(cfg);
  st.ep.attach(self, caf::actor_cast<caf::actor>(self));
  return {
    [self](login_atom) -> std::string {
      return self->state.logins.issue_scramble(now());
    },
    [self](login_atom, const std::string& user, const std::string& scramble,
           const std::string& token, bool from_loopback, bool check_scramble,
           const std::string& host) {
      return on_login(self, user, scramble, token, from_loopback,
                      check_scramble, host);
    },
    [self](logout_atom, const std::string& token) {
      self->state.logins.remove(token);
    },
    [self](console_atom, const std::string& text,
           const std::string& token) -> caf::result<std::string> {
      auto& st = self->state;
      const principal* who = nullptr;
      principal anonymous_root;
      if (token.empty()) {
        // A console that did not log in: root without a password.
        auto why = check_root_login(st.cfg.root_password_hash, "", "",
                                    st.cfg.console_port_loopback, "console");
        if (!why.empty())
          return bytes_of(make_failure(
            sql::errc::access_denied,
            why + "; log in with leafguard sql --user U --password P"));
        anonymous_root = principal{"root", "localhost", root_grants()};
        who = &anonymous_root;
      } else {
        who = st.logins.find(token, now());
        if (who == nullptr)
          return bytes_of(make_failure(
            sql::errc::access_denied,
            "this login is unknown or expired here: log in again"));
      }
      auto rp = self->make_response_promise<std::string>();
      run(self, rp, text, *who);
      return rp;
    },
    [self](console_atom, const std::string& text) {
      // From inside this process: trusted, as root.
      auto rp = self->make_response_promise<std::string>();
      run(self, rp, text, principal{"root", "localhost", root_grants()});
      return rp;
    },
    [self](wire& msg) { self->state.ep.receive(self, msg); },
    [self](tick_atom) { self->state.ep.on_tick(self); },
  };
}

} // namespace

caf::actor spawn_access(caf::actor_system& sys, access_config cfg) {
  auto fab = cfg.fab;
  auto node = cfg.node;
  auto name = cfg.name;
  auto handle = sys.spawn(access_impl, std::move(cfg));
  fab->add_endpoint(node, name, handle);
  return handle;
}

} // namespace lg
