#include "cluster/local_mysql.hpp"

#include <caf/all.hpp>

#include "actors/client/access.hpp"
#include "actors/mysql/server.hpp"

namespace lg {

namespace {

/// Runs test-cluster statements through the cluster's own execute(), which
/// blocks: a detached actor of its own.
caf::behavior test_cluster_runner(caf::event_based_actor*,
                                  local_cluster* cluster) {
  return {
    [cluster](console_atom, const std::string& text) {
      std::string bytes;
      cluster->execute(text).SerializeToString(&bytes);
      return bytes;
    },
  };
}

} // namespace

result<std::unique_ptr<local_mysql>> local_mysql::start(local_cluster& cluster,
                                                        uint16_t port) {
  std::unique_ptr<local_mysql> out{new local_mysql};
  auto& sys = cluster.system();
  out->runner_ = sys.spawn<caf::detached>(test_cluster_runner, &cluster);
  access_config ac;
  ac.fab = cluster.transport_ptr();
  ac.node = local_cluster::session_node();
  ac.session = local_cluster::session_name();
  ac.ma_node = local_cluster::ma_node();
  ac.console_port_loopback = true;
  ac.test_cluster = out->runner_;
  out->access_ = spawn_access(sys, ac);
  mysql_server_config mc;
  mc.access = out->access_;
  mc.port = port;
  auto listening = start_mysql_server(sys, std::move(mc), out->listener_);
  if (!listening.ok())
    return listening.err();
  out->port_ = *listening;
  return out;
}

local_mysql::~local_mysql() {
  for (auto* a : {&listener_, &access_, &runner_})
    if (*a)
      caf::anon_send_exit(*a, caf::exit_reason::user_shutdown);
}

} // namespace lg
