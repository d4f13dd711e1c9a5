// An in-process cluster's MySQL port (`leafguard local --mysql-port P`):
// the access actor and the MySQL listener of a node process, on the
// cluster's session, with root without a password on loopback, and the
// test-cluster statements (KILL LEAF ...) run by the cluster itself.
#pragma once

#include <cstdint>
#include <memory>

#include "base/error.hpp"
#include "cluster/local_cluster.hpp"

namespace lg {

/// A running MySQL port; stops when destroyed.
class local_mysql {
public:
  /// Listens on 127.0.0.1:`port` (0: any free port). The cluster must have
  /// been started with `network` and must outlive the port.
  static result<std::unique_ptr<local_mysql>> start(local_cluster& cluster,
                                                    uint16_t port);

  ~local_mysql();

  uint16_t port() const {
    return port_;
  }

private:
  local_mysql() = default;

  caf::actor listener_;
  caf::actor access_;
  caf::actor runner_;
  uint16_t port_ = 0;
};

} // namespace lg
