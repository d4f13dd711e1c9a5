#include "http/server.hpp"

#include <chrono>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include <httplib.h>

#include "base/log.hpp"
#include "http/cluster_json.hpp"

namespace lg::http {

namespace {

/// Requests larger than this are refused (413): nothing here takes a body.
constexpr size_t max_request_bytes = 64 * 1024;
/// Threads serving requests: a page or two and a scraper.
constexpr size_t server_threads = 4;
/// How long one answer of /api/cluster serves other requests (the page
/// asks every second).
constexpr auto snapshot_reuse = std::chrono::milliseconds{250};

int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

} // namespace

const char* to_string(errc code) {
  switch (code) {
    case errc::bad_file:
      return "bad_file";
    case errc::cannot_listen:
      return "cannot_listen";
  }
  return "unknown";
}

struct server::impl {
  server_config cfg;
  /// The last answer of /api/cluster, reused for snapshot_reuse.
  struct {
    std::mutex mutex;
    std::string json;
    std::chrono::steady_clock::time_point taken;
  } snapshot;
  std::unique_ptr<httplib::Server> srv;
  std::thread thread;
  uint16_t port = 0;
  bool tls = false;
};

result<std::unique_ptr<server>> server::start(server_config cfg) {
  std::unique_ptr<server> out{new server};
  out->impl_ = std::make_unique<impl>();
  auto& d = *out->impl_;
  d.tls = !cfg.tls_cert.empty();
  if (d.tls)
    d.srv = std::make_unique<httplib::SSLServer>(cfg.tls_cert.c_str(),
                                                 cfg.tls_key.c_str());
  else
    d.srv = std::make_unique<httplib::Server>();
  if (!d.srv->is_valid())
    return make_error(errc::bad_file,
                      "http-port: the certificate '" + cfg.tls_cert
                        + "' or its key '" + cfg.tls_key
                        + "' could not be loaded for HTTPS");
  d.cfg = std::move(cfg);
  if (d.cfg.metrics)
    metrics::add_process_metrics(*d.cfg.metrics);
  auto& srv = *d.srv;
  srv.new_task_queue = [] { return new httplib::ThreadPool(server_threads); };
  srv.set_payload_max_length(max_request_bytes);
  srv.set_read_timeout(5, 0);
  srv.set_write_timeout(5, 0);
  srv.set_keep_alive_max_count(100);
  auto* c = &d.cfg;
  srv.Get("/metrics", [c](const httplib::Request&, httplib::Response& res) {
    if (!c->metrics) {
      res.status = 404;
      res.set_content("metrics are off on this node\n", "text/plain");
      return;
    }
    res.set_content(c->metrics->scrape(),
                    "text/plain; version=0.0.4; charset=utf-8");
  });
  auto* snap = &d.snapshot;
  srv.Get("/api/cluster", [c, snap](const httplib::Request&,
                                    httplib::Response& res) {
    res.set_header("Cache-Control", "no-store");
    // One answer serves every request for a moment: several pages open (or
    // a page and a script) ask the cluster once, not once each. A request
    // that finds the answer being made waits for it.
    std::lock_guard<std::mutex> guard{snap->mutex};
    auto now = std::chrono::steady_clock::now();
    if (snap->json.empty() || now - snap->taken >= snapshot_reuse) {
      // The statements run at once; SHOW CLUSTER STATUS, which asks every
      // copy, sets the pace.
      std::map<std::string, std::future<pb::ResultSet>> running;
      for (auto* stmt : cluster_statements)
        running.emplace(stmt, std::async(std::launch::async,
                                         [c, stmt] { return c->run(stmt); }));
      std::map<std::string, pb::ResultSet> results;
      for (auto& [stmt, f] : running)
        results.emplace(stmt, f.get());
      snap->json = cluster_json(c->node, unix_ms(), results);
      snap->taken = std::chrono::steady_clock::now();
    }
    res.set_content(snap->json, "application/json");
  });
  if (d.cfg.serve_page)
    srv.Get("/", [](const httplib::Request&, httplib::Response& res) {
      res.set_header("Cache-Control", "no-store");
      res.set_content(cluster_page(), "text/html; charset=utf-8");
    });
  srv.set_error_handler([](const httplib::Request& req,
                           httplib::Response& res) {
    if (!res.body.empty())
      return;
    std::string why = res.status == 404   ? "no such page: " + req.path
                      : res.status == 413 ? "request too large"
                      : res.status == 400 ? "malformed request"
                                          : "request refused";
    res.set_content("leafguard: " + std::to_string(res.status) + " " + why
                      + "\n",
                    "text/plain");
  });
  int port = 0;
  if (d.cfg.port == 0) {
    port = srv.bind_to_any_port(d.cfg.bind.c_str());
  } else if (srv.bind_to_port(d.cfg.bind.c_str(), d.cfg.port)) {
    port = d.cfg.port;
  }
  if (port <= 0)
    return make_error(errc::cannot_listen,
                      "http-port: cannot listen on " + d.cfg.bind + ":"
                        + std::to_string(d.cfg.port)
                        + " (in use, or not an address of this machine)");
  d.port = static_cast<uint16_t>(port);
  d.thread = std::thread([&srv] { srv.listen_after_bind(); });
  return out;
}

server::~server() {
  if (impl_ && impl_->srv) {
    impl_->srv->stop();
    if (impl_->thread.joinable())
      impl_->thread.join();
  }
}

uint16_t server::port() const {
  return impl_->port;
}

const char* server::scheme() const {
  return impl_->tls ? "https" : "http";
}

} // namespace lg::http
