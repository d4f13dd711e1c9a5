// A node's HTTP endpoint (`--http-port`), on cpp-httplib (Debian's
// libcpp-httplib-dev): what an operator scrapes and looks at.
//
//   GET /metrics      the process's metrics, Prometheus text format 0.0.4
//   GET /api/cluster  the cluster as JSON (http/cluster_json.hpp), from the
//                     master aggregator's SHOW statements
//   GET /             the live cluster page (aggregators only)
//
// The same rules as the node's other ports: without TLS it listens on
// loopback unless the node runs with --insecure; with TLS it serves HTTPS
// with the node's certificate. A bad request gets a 4xx with a line saying
// why; the server runs on threads of its own and never touches an actor's
// state: statements go through the node's console path, metrics are read
// from the fabric's registry.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "base/error.hpp"
#include "base/metrics.hpp"
#include "common.pb.h"

namespace lg::http {

enum class errc {
  bad_file,      ///< the certificate or key could not be loaded
  cannot_listen, ///< the address is in use or not this machine's
};

const char* to_string(errc code);

LG_MODULE_ERRORS("http", errc)

struct server_config {
  std::string bind = "127.0.0.1";
  uint16_t port = 0; ///< 0: any free port
  std::string node;  ///< the node's name, shown by the page
  std::string tls_cert; ///< PEM; empty: plain HTTP
  std::string tls_key;
  bool serve_page = true; ///< `/` (aggregators and in-process clusters)
  std::shared_ptr<metrics::registry> metrics;
  /// Runs one statement as the node's trusted console (root) and returns
  /// its result; called from the server's threads.
  std::function<pb::ResultSet(const std::string&)> run;
};

/// A listening HTTP endpoint; stops when destroyed.
class server {
public:
  /// Binds and starts serving; an error names the address or the files.
  static result<std::unique_ptr<server>> start(server_config cfg);

  ~server();

  uint16_t port() const;

  /// "http" or "https".
  const char* scheme() const;

  struct impl;

private:
  server() = default;
  std::unique_ptr<impl> impl_;
};

/// The cluster page (http/cluster_page.html, built in).
const std::string& cluster_page();

} // namespace lg::http
