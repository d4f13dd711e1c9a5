#include "consensus/raft_member.hpp"
#include "consensus/election_timeout.hpp"
#include "consensus/raft_memory.hpp"

#include <algorithm>
#include <cstring>
#include <deque>
#include <map>
#include <optional>
#include <utility>

extern "C" {
#include <raft.h>
}

namespace lg::consensus {

using namespace detail;

const char* to_string(member_role r) {
  switch (r) {
    case member_role::unavailable:
      return "unavailable";
    case member_role::follower:
      return "follower";
    case member_role::candidate:
      return "candidate";
    case member_role::leader:
      return "leader";
  }
  return "unknown";
}

struct raft_member::impl {
  member_config& cfg;
  raft_host& host;
  state_machine fsm;
  raft_store store;
  std::mt19937_64 rng;
  struct raft r {};
  struct raft_io io {};
  struct raft_fsm rfsm {};
  raft_io_tick_cb tick_cb = nullptr;
  raft_io_recv_cb recv_cb = nullptr;
  std::optional<loaded_state> loaded;
  bool initialised = false;
  bool started = false;
  bool stopped = false;
  /// Completion callbacks owed to libraft, run from host.defer().
  std::deque<std::function<void()>> pending;
  bool flush_armed = false;
  std::shared_ptr<bool> alive = std::make_shared<bool>(true);
  /// The rank and voter count the election timeout was last drawn for:
  /// a follower added as a voter after it drew (as a standby) draws again.
  long drawn_rank = -1;
  size_t drawn_voters = 0;
  /// Addresses handed to libraft as const char*: kept for good.
  std::map<std::string, std::unique_ptr<std::string>> interned;

  impl(member_config& c, raft_host& h, state_machine f)
    : cfg(c),
      host(h),
      fsm(std::move(f)),
      store(c.fs, c.dir),
      rng(c.seed) {
  }

  static impl* of(raft_io* io) {
    return static_cast<impl*>(io->impl);
  }

  const char* intern(const std::string& s) {
    auto& slot = interned[s];
    if (!slot)
      slot = std::make_unique<std::string>(s);
    return slot->c_str();
  }

  void later(std::function<void()> fn) {
    pending.push_back(std::move(fn));
    if (flush_armed)
      return;
    flush_armed = true;
    std::weak_ptr<bool> token = alive;
    host.defer([this, token] {
      if (token.lock())
        flush();
    });
  }

  void flush() {
    flush_armed = false;
    while (!pending.empty()) {
      auto fn = std::move(pending.front());
      pending.pop_front();
      fn();
    }
  }

  int io_failed(raft_io* io, const error& e) {
    std::snprintf(io->errmsg, RAFT_ERRMSG_BUF_SIZE, "%s",
                  e.to_string().c_str());
    return RAFT_IOERR;
  }

  error ensure_loaded() {
    if (loaded)
      return {};
    auto st = store.load();
    if (!st)
      return st.err();
    loaded = std::move(*st);
    return {};
  }

  // -- raft_io -------------------------------------------------------------

  static int io_init(raft_io*, raft_id, const char*) {
    return 0;
  }

  static void io_close(raft_io* io, raft_io_close_cb cb) {
    auto* self = of(io);
    self->flush();
    if (cb != nullptr)
      cb(io);
  }

  static int io_load(raft_io* io, raft_term* term, raft_id* voted_for,
                     raft_snapshot** snapshot, raft_index* start_index,
                     raft_entry** entries, size_t* n_entries) {
    auto* self = of(io);
    if (auto err = self->ensure_loaded())
      return self->io_failed(io, err);
    auto& st = *self->loaded;
    *term = st.term;
    *voted_for = st.vote;
    *snapshot = st.snapshot ? snapshot_copy(*st.snapshot) : nullptr;
    *start_index = st.start_index;
    *entries = entry_batch(st.entries);
    *n_entries = st.entries.size();
    self->loaded->entries.clear(); // libraft holds them now
    return 0;
  }

  static int io_start(raft_io* io, unsigned, raft_io_tick_cb tick,
                      raft_io_recv_cb recv) {
    auto* self = of(io);
    self->tick_cb = tick;
    self->recv_cb = recv;
    return 0;
  }

  static int io_bootstrap(raft_io* io, const raft_configuration* conf) {
    auto* self = of(io);
    if (auto err = self->ensure_loaded())
      return self->io_failed(io, err);
    if (!self->store.empty())
      return RAFT_CANTBOOTSTRAP;
    raft_buffer buf{};
    if (int rv = raft_configuration_encode(conf, &buf))
      return rv;
    stored_entry e;
    e.term = 1;
    e.type = RAFT_CHANGE;
    e.data = to_bytes(buf);
    raft_free(buf.base);
    if (auto err = self->store.set_term(1))
      return self->io_failed(io, err);
    if (auto err = self->store.append(1, {e}))
      return self->io_failed(io, err);
    self->loaded.reset(); // load() reads what bootstrap wrote
    self->store = raft_store{self->cfg.fs, self->cfg.dir};
    return 0;
  }

  static int io_recover(raft_io* io, const raft_configuration* conf) {
    auto* self = of(io);
    raft_buffer buf{};
    if (int rv = raft_configuration_encode(conf, &buf))
      return rv;
    stored_entry e;
    e.term = self->loaded ? self->loaded->term : 1;
    e.type = RAFT_CHANGE;
    e.data = to_bytes(buf);
    raft_free(buf.base);
    if (auto err = self->store.append(self->store.last_index() + 1, {e}))
      return self->io_failed(io, err);
    return 0;
  }

  static int io_set_term(raft_io* io, raft_term term) {
    auto* self = of(io);
    if (auto err = self->store.set_term(term))
      return self->io_failed(io, err);
    return 0;
  }

  static int io_set_vote(raft_io* io, raft_id id) {
    auto* self = of(io);
    if (auto err = self->store.set_vote(id))
      return self->io_failed(io, err);
    return 0;
  }

  static int io_send(raft_io* io, raft_io_send* req, const raft_message* m,
                     raft_io_send_cb cb) {
    auto* self = of(io);
    pb::RaftMessage out;
    out.set_from_id(self->cfg.id);
    out.set_from_address(self->cfg.address);
    switch (m->type) {
      case RAFT_IO_REQUEST_VOTE: {
        auto& a = m->request_vote;
        auto* v = out.mutable_request_vote();
        v->set_term(a.term);
        v->set_candidate_id(a.candidate_id);
        v->set_last_log_index(a.last_log_index);
        v->set_last_log_term(a.last_log_term);
        v->set_disrupt_leader(a.disrupt_leader);
        v->set_pre_vote(a.pre_vote);
        break;
      }
      case RAFT_IO_REQUEST_VOTE_RESULT: {
        auto& a = m->request_vote_result;
        auto* v = out.mutable_request_vote_result();
        v->set_term(a.term);
        v->set_vote_granted(a.vote_granted);
        v->set_pre_vote(static_cast<int32_t>(a.pre_vote));
        break;
      }
      case RAFT_IO_APPEND_ENTRIES: {
        auto& a = m->append_entries;
        auto* v = out.mutable_append_entries();
        v->set_term(a.term);
        v->set_prev_log_index(a.prev_log_index);
        v->set_prev_log_term(a.prev_log_term);
        v->set_leader_commit(a.leader_commit);
        for (unsigned i = 0; i < a.n_entries; ++i) {
          auto* e = v->add_entries();
          e->set_term(a.entries[i].term);
          e->set_type(a.entries[i].type);
          e->set_data(a.entries[i].buf.base, a.entries[i].buf.len);
        }
        break;
      }
      case RAFT_IO_APPEND_ENTRIES_RESULT: {
        auto& a = m->append_entries_result;
        auto* v = out.mutable_append_entries_result();
        v->set_term(a.term);
        v->set_rejected(a.rejected);
        v->set_last_log_index(a.last_log_index);
        break;
      }
      case RAFT_IO_INSTALL_SNAPSHOT: {
        auto& a = m->install_snapshot;
        auto* v = out.mutable_install_snapshot();
        v->set_term(a.term);
        v->set_last_index(a.last_index);
        v->set_last_term(a.last_term);
        v->set_conf_index(a.conf_index);
        for (auto& s : servers_of(a.conf)) {
          auto* srv = v->add_conf();
          srv->set_id(s.id);
          srv->set_address(s.address);
          srv->set_role(s.role);
        }
        v->set_data(a.data.base, a.data.len);
        break;
      }
      case RAFT_IO_TIMEOUT_NOW: {
        auto& a = m->timeout_now;
        auto* v = out.mutable_timeout_now();
        v->set_term(a.term);
        v->set_last_log_index(a.last_log_index);
        v->set_last_log_term(a.last_log_term);
        break;
      }
      default:
        return RAFT_MALFORMED;
    }
    self->host.send(m->server_address, std::move(out));
    if (cb != nullptr)
      self->later([req, cb] { cb(req, 0); });
    return 0;
  }

  static int io_append(raft_io* io, raft_io_append* req,
                       const raft_entry entries[], unsigned n,
                       raft_io_append_cb cb) {
    auto* self = of(io);
    std::vector<stored_entry> batch;
    batch.reserve(n);
    for (unsigned i = 0; i < n; ++i)
      batch.push_back({entries[i].term, entries[i].type,
                       to_bytes(entries[i].buf)});
    auto err = self->store.append(self->store.last_index() + 1, batch);
    int status = err ? self->io_failed(io, err) : 0;
    if (cb != nullptr)
      self->later([req, cb, status] { cb(req, status); });
    return 0;
  }

  static int io_truncate(raft_io* io, raft_index index) {
    auto* self = of(io);
    if (auto err = self->store.truncate(index))
      return self->io_failed(io, err);
    return 0;
  }

  static int io_snapshot_put(raft_io* io, unsigned trailing,
                             raft_io_snapshot_put* req,
                             const raft_snapshot* s,
                             raft_io_snapshot_put_cb cb) {
    auto* self = of(io);
    stored_snapshot snap;
    snap.index = s->index;
    snap.term = s->term;
    snap.conf_index = s->configuration_index;
    snap.conf = servers_of(s->configuration);
    for (unsigned i = 0; i < s->n_bufs; ++i)
      snap.data += to_bytes(s->bufs[i]);
    auto err = self->store.put_snapshot(std::move(snap), trailing);
    int status = err ? self->io_failed(io, err) : 0;
    if (cb != nullptr)
      self->later([req, cb, status] { cb(req, status); });
    return 0;
  }

  static int io_snapshot_get(raft_io* io, raft_io_snapshot_get* req,
                             raft_io_snapshot_get_cb cb) {
    auto* self = of(io);
    auto& snap = self->store.snapshot();
    if (!snap)
      return RAFT_NOTFOUND;
    auto* copy = snapshot_copy(*snap);
    self->later([req, cb, copy] { cb(req, copy, 0); });
    return 0;
  }

  static raft_time io_time(raft_io* io) {
    return of(io)->host.now_ms();
  }

  static int io_random(raft_io* io, int min, int max) {
    auto* self = of(io);
    // Followers only: a candidate whose election failed draws at random.
    if (self->cfg.ranked_election_timeouts && max > min && self->initialised
        && raft_state(&self->r) == RAFT_FOLLOWER)
      if (auto ranked = self->ranked_timeout(min, max))
        return *ranked;
    return std::uniform_int_distribution<int>{min, max}(self->rng);
  }

  /// The ranked election timeout (election_timeout.hpp), remembering
  /// what it was drawn for.
  std::optional<int> ranked_timeout(int min, int max) {
    auto draw = ranked_election_timeout(voter_ids(r.configuration), cfg.id,
                                        min, max, rng(),
                                        2 * static_cast<int>(cfg.tick_ms));
    if (!draw)
      return std::nullopt;
    drawn_rank = draw->rank;
    drawn_voters = draw->voters;
    return draw->timeout_ms;
  }

  // -- raft_fsm ------------------------------------------------------------

  static impl* of(raft_fsm* f) {
    return static_cast<impl*>(f->data);
  }

  static int fsm_apply(raft_fsm* f, const raft_buffer* buf, void** result) {
    auto* self = of(f);
    *result = nullptr;
    if (self->fsm.apply)
      self->fsm.apply(raft_last_applied(&self->r) + 1, to_bytes(*buf));
    return 0;
  }

  static int fsm_snapshot(raft_fsm* f, raft_buffer* bufs[], unsigned* n) {
    auto* self = of(f);
    auto bytes = self->fsm.take_snapshot ? self->fsm.take_snapshot()
                                         : std::string{};
    *bufs = static_cast<raft_buffer*>(raft_malloc(sizeof(raft_buffer)));
    (*bufs)[0].base = raft_copy(bytes);
    (*bufs)[0].len = bytes.size();
    *n = 1;
    return 0;
  }

  static int fsm_restore(raft_fsm* f, raft_buffer* buf) {
    auto* self = of(f);
    if (self->fsm.restore)
      self->fsm.restore(to_bytes(*buf));
    raft_free(buf->base);
    return 0;
  }

  error init() {
    io.version = 1;
    io.impl = this;
    io.init = io_init;
    io.close = io_close;
    io.load = io_load;
    io.start = io_start;
    io.bootstrap = io_bootstrap;
    io.recover = io_recover;
    io.set_term = io_set_term;
    io.set_vote = io_set_vote;
    io.send = io_send;
    io.append = io_append;
    io.truncate = io_truncate;
    io.snapshot_put = io_snapshot_put;
    io.snapshot_get = io_snapshot_get;
    io.time = io_time;
    io.random = io_random;
    rfsm.version = 1;
    rfsm.data = this;
    rfsm.apply = fsm_apply;
    rfsm.snapshot = fsm_snapshot;
    rfsm.restore = fsm_restore;
    if (int rv = raft_init(&r, &io, &rfsm, cfg.id, cfg.address.c_str()))
      return make_error(errc::io, std::string{"raft_init: "}
                                    + raft_strerror(rv));
    initialised = true;
    raft_set_election_timeout(&r, cfg.election_timeout_ms);
    raft_set_heartbeat_timeout(&r, cfg.heartbeat_timeout_ms);
    raft_set_snapshot_threshold(&r, cfg.snapshot_threshold);
    raft_set_snapshot_trailing(&r, cfg.snapshot_trailing);
    raft_set_pre_vote(&r, true);
    return {};
  }

  void receive(const pb::RaftMessage& in) {
    raft_message m{};
    m.server_id = in.from_id();
    m.server_address = intern(in.from_address());
    switch (in.kind_case()) {
      case pb::RaftMessage::kRequestVote: {
        auto& v = in.request_vote();
        m.type = RAFT_IO_REQUEST_VOTE;
        m.request_vote.term = v.term();
        m.request_vote.candidate_id = v.candidate_id();
        m.request_vote.last_log_index = v.last_log_index();
        m.request_vote.last_log_term = v.last_log_term();
        m.request_vote.disrupt_leader = v.disrupt_leader();
        m.request_vote.pre_vote = v.pre_vote();
        break;
      }
      case pb::RaftMessage::kRequestVoteResult: {
        auto& v = in.request_vote_result();
        m.type = RAFT_IO_REQUEST_VOTE_RESULT;
        m.request_vote_result.term = v.term();
        m.request_vote_result.vote_granted = v.vote_granted();
        m.request_vote_result.pre_vote = static_cast<raft_tribool>(
          v.pre_vote() < 0 || v.pre_vote() > 2 ? 0 : v.pre_vote());
        break;
      }
      case pb::RaftMessage::kAppendEntries: {
        auto& v = in.append_entries();
        m.type = RAFT_IO_APPEND_ENTRIES;
        m.append_entries.term = v.term();
        m.append_entries.prev_log_index = v.prev_log_index();
        m.append_entries.prev_log_term = v.prev_log_term();
        m.append_entries.leader_commit = v.leader_commit();
        std::vector<stored_entry> entries;
        for (auto& e : v.entries())
          entries.push_back(
            {e.term(), static_cast<uint16_t>(e.type()), e.data()});
        m.append_entries.entries = entry_batch(entries);
        m.append_entries.n_entries = static_cast<unsigned>(entries.size());
        break;
      }
      case pb::RaftMessage::kAppendEntriesResult: {
        auto& v = in.append_entries_result();
        m.type = RAFT_IO_APPEND_ENTRIES_RESULT;
        m.append_entries_result.term = v.term();
        m.append_entries_result.rejected = v.rejected();
        m.append_entries_result.last_log_index = v.last_log_index();
        break;
      }
      case pb::RaftMessage::kInstallSnapshot: {
        auto& v = in.install_snapshot();
        m.type = RAFT_IO_INSTALL_SNAPSHOT;
        m.install_snapshot.term = v.term();
        m.install_snapshot.last_index = v.last_index();
        m.install_snapshot.last_term = v.last_term();
        m.install_snapshot.conf_index = v.conf_index();
        std::vector<stored_server> conf;
        for (auto& s : v.conf())
          conf.push_back({s.id(), s.address(), s.role()});
        fill_conf(m.install_snapshot.conf, conf);
        m.install_snapshot.data.base = raft_copy(v.data());
        m.install_snapshot.data.len = v.data().size();
        break;
      }
      case pb::RaftMessage::kTimeoutNow: {
        auto& v = in.timeout_now();
        m.type = RAFT_IO_TIMEOUT_NOW;
        m.timeout_now.term = v.term();
        m.timeout_now.last_log_index = v.last_log_index();
        m.timeout_now.last_log_term = v.last_log_term();
        break;
      }
      default:
        return; // an empty or unknown message: nothing to do
    }
    recv_cb(&io, &m);
  }
};

namespace {

struct change_request {
  raft_change req{};
  std::function<void(bool, const std::string&)> done;
  raft* r = nullptr;
  uint64_t id = 0;
  bool then_voter = false;
};

void change_done(raft_change* req, int status) {
  auto* c = static_cast<change_request*>(req->data);
  if (status == 0 && c->then_voter) {
    // Added as a spare: now a voter (libraft catches it up first).
    c->then_voter = false;
    if (int rv = raft_assign(c->r, &c->req, c->id, RAFT_VOTER, change_done);
        rv != 0) {
      c->done(false, raft_strerror(rv));
      delete c;
    }
    return;
  }
  c->done(status == 0, status == 0 ? std::string{} : raft_strerror(status));
  delete c;
}

struct apply_request {
  struct raft_apply req {};
  std::function<void(bool, const std::string&)> done;
};

void apply_done(struct raft_apply* req, int status, void*) {
  auto* a = static_cast<apply_request*>(req->data);
  a->done(status == 0, status == 0 ? std::string{} : raft_strerror(status));
  delete a;
}

} // namespace

raft_member::raft_member(member_config cfg, raft_host& host, state_machine fsm)
  : cfg_(std::move(cfg)),
    impl_(std::make_unique<impl>(cfg_, host, std::move(fsm))) {
}

raft_member::~raft_member() {
  stop();
  *impl_->alive = false;
}

error raft_member::bootstrap(
  const std::vector<std::pair<uint64_t, std::string>>& voters) {
  if (!impl_->initialised)
    if (auto err = impl_->init())
      return err;
  raft_configuration conf;
  raft_configuration_init(&conf);
  for (auto& [id, address] : voters)
    raft_configuration_add(&conf, id, address.c_str(), RAFT_VOTER);
  int rv = raft_bootstrap(&impl_->r, &conf);
  raft_configuration_close(&conf);
  if (rv == RAFT_CANTBOOTSTRAP)
    return {}; // already has state: it was bootstrapped before
  if (rv != 0)
    return make_error(errc::io, std::string{"bootstrap: "} + raft_strerror(rv)
                                  + " (" + impl_->io.errmsg + ")");
  return {};
}

error raft_member::start() {
  if (!impl_->initialised)
    if (auto err = impl_->init())
      return err;
  if (int rv = raft_start(&impl_->r)) {
    auto why = std::string{raft_strerror(rv)};
    if (impl_->io.errmsg[0] != '\0')
      why += std::string{" ("} + impl_->io.errmsg + ")";
    return make_error(rv == RAFT_CORRUPT || rv == RAFT_MALFORMED
                        ? errc::corrupt
                        : errc::io,
                      "starting the Raft member in " + cfg_.dir + ": " + why);
  }
  impl_->started = true;
  return {};
}

void raft_member::tick() {
  if (impl_->started && !impl_->stopped && impl_->tick_cb != nullptr)
    impl_->tick_cb(&impl_->io);
  if (cfg_.ranked_election_timeouts && impl_->started && !impl_->stopped
      && raft_state(&impl_->r) == RAFT_FOLLOWER) {
    auto voters = voter_ids(impl_->r.configuration);
    auto me = std::find(voters.begin(), voters.end(), cfg_.id);
    long rank = std::count_if(voters.begin(), voters.end(),
                              [this](uint64_t id) { return id < cfg_.id; });
    if (me != voters.end()
        && (rank != impl_->drawn_rank || voters.size() != impl_->drawn_voters))
      if (auto t = impl_->ranked_timeout(
            static_cast<int>(impl_->r.election_timeout),
            static_cast<int>(2 * impl_->r.election_timeout)))
        impl_->r.follower_state.randomized_election_timeout
          = static_cast<unsigned>(*t);
  }
  // An expedited election is over once a leader is known.
  if (expedited_from_ms_ != 0 && !impl_->stopped && leader().first != 0
      && leader().first != expedited_leader_) {
    auto configured = expedited_from_ms_;
    expedited_from_ms_ = 0;
    set_election_timeout(configured);
  }
}

void raft_member::receive(const pb::RaftMessage& msg) {
  if (impl_->started && !impl_->stopped && impl_->recv_cb != nullptr)
    impl_->receive(msg);
}

bool raft_member::propose(
  const std::string& command,
  std::function<void(bool ok, const std::string& why)> done) {
  if (!impl_->started || impl_->stopped || role() != member_role::leader)
    return false;
  auto* a = new apply_request;
  a->req.data = a;
  a->done = std::move(done);
  raft_buffer buf;
  buf.base = raft_copy(command);
  buf.len = command.size();
  if (raft_apply(&impl_->r, &a->req, &buf, 1, apply_done) != 0) {
    raft_free(buf.base);
    delete a;
    return false;
  }
  return true;
}

bool raft_member::add_voter(
  uint64_t id, const std::string& address,
  std::function<void(bool ok, const std::string& why)> done) {
  if (!impl_->started || impl_->stopped || role() != member_role::leader)
    return false;
  auto* c = new change_request;
  c->req.data = c;
  c->done = std::move(done);
  c->r = &impl_->r;
  c->id = id;
  c->then_voter = true;
  if (raft_add(&impl_->r, &c->req, id, address.c_str(), change_done) != 0) {
    delete c;
    return false;
  }
  return true;
}

bool raft_member::remove(
  uint64_t id, std::function<void(bool ok, const std::string& why)> done) {
  if (!impl_->started || impl_->stopped || role() != member_role::leader)
    return false;
  auto* c = new change_request;
  c->req.data = c;
  c->done = std::move(done);
  c->r = &impl_->r;
  c->id = id;
  if (raft_remove(&impl_->r, &c->req, id, change_done) != 0) {
    delete c;
    return false;
  }
  return true;
}

member_role raft_member::role() const {
  if (!impl_->started || impl_->stopped)
    return member_role::unavailable;
  switch (raft_state(&impl_->r)) {
    case RAFT_FOLLOWER:
      return member_role::follower;
    case RAFT_CANDIDATE:
      return member_role::candidate;
    case RAFT_LEADER:
      return member_role::leader;
    default:
      return member_role::unavailable;
  }
}

uint64_t raft_member::term() const {
  return impl_->initialised ? impl_->r.current_term : 0;
}

uint64_t raft_member::commit_index() const {
  return impl_->initialised ? impl_->r.commit_index : 0;
}

uint64_t raft_member::last_applied() const {
  return impl_->initialised ? raft_last_applied(&impl_->r) : 0;
}

std::pair<uint64_t, std::string> raft_member::leader() const {
  if (!impl_->started || impl_->stopped)
    return {0, {}};
  raft_id id = 0;
  const char* address = nullptr;
  raft_leader(&impl_->r, &id, &address);
  return {id, address == nullptr ? std::string{} : std::string{address}};
}

std::vector<stored_server> raft_member::members() const {
  if (!impl_->initialised)
    return {};
  return servers_of(impl_->r.configuration);
}

void raft_member::set_election_timeout(unsigned ms) {
  expedited_from_ms_ = 0;
  cfg_.election_timeout_ms = ms;
  cfg_.heartbeat_timeout_ms = std::max(10u, ms / 10);
  if (!impl_->initialised)
    return;
  raft_set_election_timeout(&impl_->r, cfg_.election_timeout_ms);
  raft_set_heartbeat_timeout(&impl_->r, cfg_.heartbeat_timeout_ms);
  // libraft 0.15 draws a follower's or candidate's timer between 1x and 2x
  // the timeout only when its state changes: draw it again now, so that
  // the new timeout holds from this election on, not the one after.
  auto redraw = static_cast<unsigned>(impl::io_random(
    &impl_->io, static_cast<int>(ms), static_cast<int>(2 * ms)));
  if (raft_state(&impl_->r) == RAFT_FOLLOWER)
    impl_->r.follower_state.randomized_election_timeout = redraw;
  else if (raft_state(&impl_->r) == RAFT_CANDIDATE)
    impl_->r.candidate_state.randomized_election_timeout = redraw;
}

void raft_member::expedite_election(unsigned within_ms) {
  if (!impl_->initialised || impl_->stopped
      || raft_state(&impl_->r) == RAFT_LEADER
      || within_ms >= cfg_.election_timeout_ms)
    return;
  auto configured = expedited_from_ms_ != 0 ? expedited_from_ms_
                                            : cfg_.election_timeout_ms;
  auto gone = leader().first;
  set_election_timeout(within_ms);
  expedited_from_ms_ = configured;
  expedited_leader_ = gone;
}

void raft_member::stop() {
  if (!impl_->initialised || impl_->stopped)
    return;
  impl_->stopped = true;
  bool closed = false;
  impl_->r.data = &closed;
  raft_close(&impl_->r, [](struct raft* r) {
    *static_cast<bool*>(r->data) = true;
  });
  // The io closes at once (io_close runs what it owes libraft), so libraft
  // is done with it before this returns.
  impl_->flush();
  impl_->r.data = nullptr;
}

} // namespace lg::consensus
