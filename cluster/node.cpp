#include "cluster/node.hpp"

#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <thread>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <caf/openssl/all.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include "actors/client/access.hpp"
#include "actors/mysql/server.hpp"
#include "http/server.hpp"
#include "actors/mysql/tls_channel.hpp"
#include "actors/net/gateway.hpp"
#include "sql/mysql_wire.hpp"
#include "actors/net/identity.hpp"
#include "cluster/tls_files.hpp"
#include "actors/leaf/leaf.hpp"
#include "actors/aggregator/master_aggregator.hpp"
#include "actors/aggregator/voting_aggregator.hpp"
#include "sql/result_proto.hpp"
#include "actors/client/session.hpp"
#include "base/log.hpp"
#include "cluster/local_cluster.hpp"
#include "cluster/trace_file.hpp"
#include "sql/parser.hpp"
#include "storage/dir_lock.hpp"
#include "storage/vfs.hpp"

namespace lg {

namespace {

/// SHA1(SHA1(password)) of the password on the first line of `path`.
result<std::string> read_root_password_hash(const std::string& path) {
  std::ifstream in{path};
  if (!in)
    return config::make_error(config::errc::bad_value,
                              "root-password-file '" + path
                                + "': cannot be read");
  std::string password;
  std::getline(in, password);
  while (!password.empty()
         && (password.back() == '\r' || password.back() == '\n'))
    password.pop_back();
  if (password.empty())
    return config::make_error(config::errc::bad_value,
                              "root-password-file '" + path
                                + "': its first line (the password) is "
                                  "empty");
  struct stat info {};
  if (::stat(path.c_str(), &info) == 0 && (info.st_mode & 077) != 0)
    logger("access")->warn("root-password-file '{}' may be read by other "
                           "users (chmod 600 it)", path);
  return mysql::native_password_hash(password);
}

/// A random client id, so that the write ids of sessions in different
/// processes never collide (a partition absorbs a repeated write id).
uint32_t fresh_client_id() {
  std::random_device rd;
  uint32_t id = 0;
  while (id == 0)
    id = rd();
  return id;
}

} // namespace

std::unique_ptr<caf::actor_system_config>
node_system_config(const config::tls_options& tls) {
  auto cfg = std::make_unique<caf::actor_system_config>();
  register_message_types(*cfg);
  cfg->set("logger.file-verbosity", caf::atom("quiet"));
  cfg->set("logger.console-verbosity", caf::atom("quiet"));
  cfg->load<caf::io::middleman>();
  if (tls.enabled()) {
    cfg->load<caf::openssl::manager>();
    cfg->openssl_certificate = tls.cert;
    cfg->openssl_key = tls.key;
    cfg->openssl_cafile = tls.ca;
  }
  configure_threaded_scheduler(*cfg);
  return cfg;
}

caf::io::middleman_actor node_connector(caf::actor_system& sys, bool tls) {
  return tls ? sys.openssl_manager().actor_handle()
             : sys.middleman().actor_handle();
}

struct node_process::impl {
  std::unique_ptr<caf::actor_system_config> cfg;
  std::unique_ptr<caf::actor_system> sys;
  fabric_ptr fab;
  caf::actor gateway;
  caf::actor role;
  caf::actor session;
  caf::actor access;
  caf::actor mysql; ///< the MySQL port's listener, if any
  std::unique_ptr<http::server> http; ///< the HTTP port, if any
  std::shared_ptr<trace_file_sink> trace;
  /// A leaf's checkpoint thread, stopped before the actor system goes.
  std::shared_ptr<storage::background_worker> checkpoints;
  std::shared_ptr<storage::background_worker> snapshot_writes;
  std::string banner;
  std::string node; ///< the node name its endpoints are registered under
  storage::dir_lock lock; ///< held from start to stop
};

node_process::node_process() : impl_(std::make_unique<impl>()) {
}

node_process::~node_process() {
  stop();
}

const std::string& node_process::banner() const {
  return impl_->banner;
}

error node_process::start(const config::node_options& opts) {
  using config::errc;
  auto& d = *impl_;
  if (opts.tls.enabled())
    if (auto err = check_tls_files(opts.tls))
      return err;
  std::error_code ec;
  if (opts.role != "client")
    std::filesystem::create_directories(opts.data_dir, ec);
  if (opts.role != "client"
      && (ec || access(opts.data_dir.c_str(), W_OK) != 0))
    return config::make_error(errc::bad_value,
                              "data-dir '" + opts.data_dir
                                + "': cannot be created or written");
  if (opts.role != "client") {
    auto lock = storage::dir_lock::acquire(opts.data_dir);
    if (!lock.ok())
      return config::make_error(errc::bad_value, lock.err().detail());
    d.lock = std::move(*lock);
  }
  std::shared_ptr<node_identity> identity;
  if (opts.tls.enabled()) {
    auto id = node_identity::load(opts.tls);
    if (!id.ok())
      return id.err();
    identity = *id;
    // The certificate names the node and its role (identity.hpp).
    auto& mine = identity->self();
    auto claimed = opts.role == "client" ? mine.name : opts.address();
    if (!role_allows(mine.role, opts.role))
      return config::make_error(
        errc::bad_value,
        "tls-cert '" + opts.tls.cert + "' is for '" + mine.name + "' as '"
          + (mine.role.empty() ? std::string{"no role"} : mine.role)
          + "', which cannot run as " + opts.role
          + "; make one with scripts/make-certs.sh DIR --role "
          + (opts.role == "master-aggregator" ? std::string{"aggregator"}
                                              : opts.role)
          + " " + claimed);
    if (opts.role != "client" && mine.name != opts.address())
      return config::make_error(
        errc::bad_value, "tls-cert '" + opts.tls.cert + "' names '" + mine.name
                           + "', but this node is " + opts.address()
                           + " (its --host and --port)");
  }
  set_max_inbound_message_bytes(static_cast<size_t>(opts.max_message_mb)
                                << 20);
  bool serves_mysql = opts.role == "master-aggregator"
                      || opts.role == "aggregator";
  if (opts.mysql_port != 0 && !serves_mysql)
    return config::make_error(errc::bad_value,
                              "mysql-port: only aggregators serve MySQL "
                              "clients, not a " + opts.role);
  std::string root_hash;
  if (!opts.root_password_file.empty()) {
    auto hash = read_root_password_hash(opts.root_password_file);
    if (!hash.ok())
      return hash.err();
    root_hash = *hash;
  }
  d.cfg = node_system_config(opts.tls);
  d.sys = std::make_unique<caf::actor_system>(*d.cfg);
  d.fab = std::make_shared<fabric>(*d.sys);
  auto fs = storage::make_disk_vfs();
  fabric::set_process_fabric(d.fab);
  if (!opts.trace.empty()) {
    auto sink = trace_file_sink::open(opts.trace);
    if (!sink.ok())
      return sink.err();
    d.trace = *sink;
    d.fab->set_trace_sink(d.trace);
    d.fab->set_trace_name(opts.trace);
  }
  bool is_ma = opts.role == "master-aggregator";
  bool is_aggregator = is_ma || opts.role == "aggregator";
  bool is_client = opts.role == "client";
  // A master aggregator's data dir from before voting aggregators (its
  // metadata.pb beside no Raft log) goes on as a single master aggregator
  // on node "ma": its leaves hold its term, which a new Raft group would
  // start below.
  bool single_ma = is_ma && fs->exists(opts.data_dir + "/metadata.pb")
                   && !fs->exists(opts.data_dir + "/raft");
  auto node = single_ma   ? std::string{"ma"}
              : is_client && identity ? identity->self().name
              : is_client ? (opts.node_name.empty()
                               ? "client-" + std::to_string(getpid())
                               : opts.node_name)
                          : opts.address();
  d.node = node;
  session_config sc;
  sc.fab = d.fab;
  sc.node = node;
  sc.name = "session/console";
  sc.ma_node = "ma";
  sc.client_id = fresh_client_id();
  if (!is_aggregator && !is_client)
    sc.leaf_data_dir = opts.data_dir;
  d.session = caf::actor_cast<caf::actor>(spawn_session(*d.sys, sc));
  access_config ac;
  ac.fab = d.fab;
  ac.node = node;
  ac.session = sc.name;
  ac.root_password_hash = root_hash;
  // A console counts as local when the port is on loopback, or when TLS
  // proved it holds a certificate of the cluster's CA.
  ac.console_port_loopback = opts.tls.enabled() || config::is_loopback(opts.bind);
  d.access = spawn_access(*d.sys, ac);
  gateway_config gc;
  gc.fab = d.fab;
  gc.node = node;
  gc.listen = opts.address();
  gc.role = opts.role;
  gc.data_dir = is_aggregator || is_client ? std::string{} : opts.data_dir;
  // A client may name several aggregators, "h:p,h:p": it starts with the
  // first and follows the master aggregator through them.
  for (size_t at = 0; !opts.ma_address.empty() && at != std::string::npos;) {
    auto comma = opts.ma_address.find(',', at);
    auto one = opts.ma_address.substr(at, comma == std::string::npos
                                            ? std::string::npos
                                            : comma - at);
    if (!one.empty())
      gc.aggregators.push_back(one);
    at = comma == std::string::npos ? comma : comma + 1;
  }
  if (!gc.aggregators.empty())
    gc.ma_address = gc.aggregators.front();
  if (!is_client)
    gc.aggregators.clear();
  gc.connector = node_connector(*d.sys, opts.tls.enabled());
  gc.session = sc.name;
  gc.access = d.access;
  gc.loopback_only = ac.console_port_loopback;
  gc.identity = identity;
  d.gateway = spawn_gateway(*d.sys, gc);
  d.fab->set_dialer(d.gateway);
  auto port = opts.tls.enabled()
                ? caf::openssl::publish(d.gateway, opts.port,
                                        opts.bind.c_str(), true)
                : d.sys->middleman().publish(d.gateway, opts.port,
                                             opts.bind.c_str(), true);
  if (!port)
    return config::make_error(errc::bad_value,
                              "cannot listen on " + opts.bind + ":"
                                + std::to_string(opts.port) + ": "
                                + d.sys->render(port.error()));
  if (is_client) {
    // No role: the embedding program spawns its own actors on the node.
  } else if (is_aggregator && !single_ma) {
    voting_aggregator_config vc;
    vc.fab = d.fab;
    vc.node = node;
    vc.id = aggregator_raft_id(node);
    // The first aggregator founds the group alone (a no-op once its data
    // dir holds a log); another waits for ADD AGGREGATOR.
    if (is_ma)
      vc.founders.emplace_back(vc.id, node);
    vc.data_dir = opts.data_dir;
    vc.fs = fs;
    vc.master.fab = d.fab;
    vc.master.node = "ma";
    vc.master.data_dir = opts.data_dir + "/ma";
    vc.master.fs = fs;
    vc.master.detached = true;
    vc.seed = std::random_device{}();
    vc.tell_gateway = true;
    vc.ranked_election_timeouts = true;
    d.role = caf::actor_cast<caf::actor>(
      spawn_voting_aggregator(*d.sys, std::move(vc)));
  } else if (is_ma) {
    master_aggregator_config mc;
    mc.fab = d.fab;
    mc.node = node;
    mc.data_dir = opts.data_dir;
    mc.fs = fs;
    mc.detached = true;
    d.role = caf::actor_cast<caf::actor>(
      spawn_master_aggregator(*d.sys, std::move(mc)));
  } else {
    leaf_config lc;
    lc.fab = d.fab;
    lc.address = node;
    lc.data_dir = opts.data_dir;
    lc.fs = fs;
    lc.ma_node = "ma";
    lc.detached = true;
    d.checkpoints = std::make_shared<storage::background_worker>();
    lc.checkpoints = d.checkpoints;
    d.snapshot_writes = std::make_shared<storage::background_worker>();
    lc.snapshot_writes = d.snapshot_writes;
    d.role = caf::actor_cast<caf::actor>(spawn_leaf(*d.sys, std::move(lc)));
  }
  uint16_t mysql_port = 0;
  if (opts.mysql_port != 0) {
    mysql_server_config mc;
    mc.access = d.access;
    mc.bind = opts.bind;
    mc.port = opts.mysql_port;
    mc.max_packet = static_cast<size_t>(opts.max_message_mb) << 20;
    mc.max_connections = static_cast<size_t>(opts.mysql_max_connections);
    if (opts.tls.enabled()) {
      auto ctx = tls_server_context::load(opts.tls.cert, opts.tls.key,
                                          opts.tls.ca);
      if (!ctx.ok())
        return ctx.err();
      mc.tls = *ctx;
    }
    auto listening = start_mysql_server(*d.sys, std::move(mc), d.mysql);
    if (!listening.ok())
      return listening.err();
    mysql_port = *listening;
  }
  if (opts.http_port != 0) {
    http::server_config hc;
    hc.bind = opts.bind;
    hc.port = opts.http_port;
    hc.node = opts.address();
    hc.tls_cert = opts.tls.cert;
    hc.tls_key = opts.tls.key;
    hc.serve_page = serves_mysql; // aggregators
    hc.metrics = d.fab->metrics_ptr();
    hc.run = [this](const std::string& stmt) {
      return execute(stmt, std::chrono::seconds{10});
    };
    auto started = http::server::start(std::move(hc));
    if (!started.ok())
      return started.err();
    d.http = std::move(*started);
  }
  std::ostringstream out;
  out << "leafguard " << opts.role << " " << opts.address() << ": listening on "
      << opts.bind << ":" << *port << ", data in " << opts.data_dir;
  if (mysql_port != 0)
    out << ", MySQL clients on " << opts.bind << ":" << mysql_port
        << (opts.tls.enabled() ? " (TLS required)" : "")
        << (opts.root_password_file.empty()
              ? " (root has no password: loopback only)"
              : "");
  if (d.http)
    out << ", " << d.http->scheme() << "://" << opts.bind << ":"
        << d.http->port() << "/" << (serves_mysql ? "" : "metrics");
  if (opts.tls.enabled())
    out << ", mutual TLS (CA " << opts.tls.ca << ")";
  else if (config::is_loopback(opts.bind))
    out << ", no TLS: listening on loopback only";
  else
    out << ", no TLS and --insecure: any peer that reaches this port can "
           "join the cluster";
  d.banner = out.str();
  return {};
}

pb::ResultSet node_process::execute(const std::string& text,
                                    std::chrono::milliseconds timeout) {
  pb::ResultSet out;
  caf::scoped_actor self{*impl_->sys};
  self->request(impl_->gateway, timeout, console_atom::value, text)
    .receive(
      [&](const std::string& bytes) {
        if (!out.ParseFromString(bytes))
          out = make_failure(sql::errc::internal,
                             "the answer to '" + text
                               + "' could not be decoded");
      },
      [&](caf::error& err) {
        out = make_failure(sql::errc::timeout,
                           "'" + text + "': no answer: "
                             + impl_->sys->render(err));
      });
  return out;
}

caf::actor_system& node_process::system() {
  return *impl_->sys;
}

std::shared_ptr<fabric> node_process::transport() {
  return impl_->fab;
}

void node_process::stop() {
  auto& d = *impl_;
  if (!d.sys)
    return;
  d.http.reset(); // its requests run statements on the actor system
  // The role first (a leaf stops its instances), then the session and the
  // gateway; each takes its endpoints off the fabric as it goes. The fabric
  // holds the actors' handles, so it goes before the actor system, which
  // waits for every detached actor to be destroyed.
  auto wait_until = [](auto done) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{10};
    while (!done() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds{1});
  };
  if (d.role) {
    caf::anon_send_exit(d.role, caf::exit_reason::user_shutdown);
    wait_until([&] {
      return d.fab->endpoints_on(d.node) <= 3; // session, access, gateway
    });
  }
  if (d.mysql)
    caf::anon_send_exit(d.mysql, caf::exit_reason::user_shutdown);
  for (auto* a : {&d.session, &d.access, &d.gateway})
    if (*a)
      caf::anon_send_exit(*a, caf::exit_reason::user_shutdown);
  wait_until([&] { return d.fab->endpoints_on(d.node) == 0; });
  if (d.trace)
    d.trace->flush();
  d.fab->set_dialer({});
  d.role = d.session = d.gateway = caf::actor{};
  d.fab.reset();
  d.trace.reset();
  if (d.checkpoints)
    d.checkpoints->stop();
  if (d.snapshot_writes)
    d.snapshot_writes->stop();
  d.sys.reset();
  d.cfg.reset();
  d.lock.release();
}

int run_node(const std::string& role, const std::vector<std::string>& args) {
  auto opts = config::parse_node(role, args);
  if (!opts.ok()) {
    std::cerr << "leafguard " << role << ": " << opts.err().detail() << "\n";
    return 2;
  }
  if (opts->help_printed) {
    std::cout
      << "usage: leafguard " << role
      << " --port P --data-dir D [--config F] [options]\n\n"
         "Runs the " << role
      << " role as a process of a multi-node cluster.\n\n"
         "  --port P          port to listen on (required)\n"
         "  --data-dir D      where the node keeps its data (required)\n"
         "  --config F        config file of `key = value` lines; the keys\n"
         "                    are these option names without '--'\n"
         "  --bind ADDR       address to listen on (default 127.0.0.1)\n"
         "  --host H          host others dial (default: the bind address)\n"
         "  --tls-cert F      this node's PEM certificate (mutual TLS)\n"
         "  --tls-key F       its PEM private key\n"
         "  --tls-ca F        the cluster CA's PEM certificate\n"
         "  --insecure        allow a non-loopback bind without TLS\n"
         "  --trace F         record every protocol message to F\n"
         "  --max-message-mb N  the largest message decoded from a peer, "
         "in MiB (default 64)\n"
         "  --mysql-port P    aggregators: serve MySQL clients on bind:P\n"
         "  --mysql-max-connections N  MySQL connections at once "
         "(default 1000)\n"
         "  --root-password-file F  root's password, on the first line\n"
         "  --http-port P     serve /metrics, /api/cluster and, on "
         "aggregators,\n"
         "                    the cluster page on bind:P\n"
         "  --log-level L     trace, debug, info, warn, error, critical, "
         "off\n";
    return 0;
  }
  set_log_level(opts->log_level);
  // Block the stop signals before any thread starts, then wait for one.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  node_process node;
  if (auto err = node.start(*opts)) {
    std::cerr << "leafguard " << role << ": " << err.detail() << "\n";
    return 1;
  }
  std::cout << node.banner() << std::endl;
  int sig = 0;
  sigwait(&stop_signals, &sig);
  std::cout << "leafguard " << role << " " << opts->address()
            << ": stopping (signal " << sig << ")" << std::endl;
  node.stop();
  return 0;
}

} // namespace lg
