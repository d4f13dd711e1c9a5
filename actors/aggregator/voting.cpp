// The voting aggregator (steps in voting_aggregator.hpp): a Raft member
// whose host is this actor, and the master aggregator it runs while it
// leads.
#include "actors/aggregator/voting_aggregator.hpp"

#include <chrono>
#include <deque>
#include <functional>
#include <map>

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/net/handlers.hpp"
#include "actors/timers.hpp"
#include "admin.pb.h"
#include "base/bugs.hpp"
#include "base/log.hpp"
#include "consensus/raft_member.hpp"

namespace lg {

namespace {

constexpr auto tick_every = std::chrono::milliseconds{25};
/// The whole committed metadata, as written before entries carried their
/// version: 'M', the election timeout (u32), the metadata.
constexpr char metadata_entry = 'M';
/// The whole committed metadata: 'V', the election timeout (u32), the
/// metadata's version (u64), the metadata.
constexpr char versioned_metadata_entry = 'V';
constexpr char takeover_entry = 'T'; ///< a new leader's first entry

/// One metadata entry of the Raft log, decoded.
struct metadata_fields {
  unsigned election_timeout_ms = 0;
  uint64_t version = 0;
  std::string metadata;
};

std::string encode_metadata_entry(unsigned timeout, uint64_t version,
                                  const std::string& metadata) {
  std::string entry(1, versioned_metadata_entry);
  for (int i = 0; i < 4; ++i)
    entry.push_back(static_cast<char>(timeout >> (8 * i)));
  for (int i = 0; i < 8; ++i)
    entry.push_back(static_cast<char>(version >> (8 * i)));
  entry += metadata;
  return entry;
}

/// The version a ClusterMetadata holds (0 when it does not parse).
uint64_t version_of(const std::string& metadata) {
  pb::ClusterMetadata m;
  return m.ParseFromString(metadata) ? m.version() : 0;
}

/// Decodes a metadata entry; false for any other entry (a takeover).
bool decode_metadata_entry(const std::string& entry, metadata_fields& out) {
  bool versioned = !entry.empty() && entry[0] == versioned_metadata_entry;
  size_t header = versioned ? 13 : 5;
  if (entry.size() < header
      || (!versioned && entry[0] != metadata_entry))
    return false;
  auto byte = [&](size_t i) {
    return static_cast<uint64_t>(static_cast<unsigned char>(entry[i]));
  };
  out.election_timeout_ms = 0;
  for (size_t i = 0; i < 4; ++i)
    out.election_timeout_ms |= static_cast<unsigned>(byte(1 + i) << (8 * i));
  out.metadata = entry.substr(header);
  out.version = 0;
  if (versioned)
    for (size_t i = 0; i < 8; ++i)
      out.version |= byte(5 + i) << (8 * i);
  else
    out.version = version_of(out.metadata);
  return true;
}

struct voting_state;
using voting_self = voting_aggregator_actor::stateful_pointer<voting_state>;

/// The Raft member's host: the fabric, the actor's clock, and the actor's
/// own mailbox for what must run after the current message.
struct actor_host : consensus::raft_host {
  voting_self self;
  explicit actor_host(voting_self s) : self(s) {
  }
  uint64_t now_ms() override;
  void send(const std::string& address, pb::RaftMessage msg) override;
  void defer(std::function<void()> fn) override;
};

struct peer_stats {
  time_point last_heard{};
  bool crashed = false; ///< its actor went down, and it was not heard since
  time_point append_sent{};
  bool append_outstanding = false;
  double roundtrip_sum_ms = 0;
  uint64_t roundtrips = 0;
};

struct voting_state {
  endpoint ep;
  voting_aggregator_config cfg;
  std::unique_ptr<actor_host> host;
  std::unique_ptr<consensus::raft_member> member;
  std::deque<std::function<void()>> deferred;
  bool defer_armed = false;
  std::string committed; ///< the newest committed metadata (ClusterMetadata)
  uint64_t committed_version = 0; ///< its version
  caf::actor master;     ///< the master aggregator, while this one leads
  bool taking_over = false;
  /// A leader that has not heard from a majority for an election timeout:
  /// its master aggregator stops, and none starts until it hears again.
  bool quorum_lost = false;
  std::map<std::string, peer_stats> peers;
  bool closing = false; ///< being destroyed: callbacks do nothing
  /// The leader's actor, watched when it lives in this process: its crash
  /// starts an election at once (step 6).
  std::string watched_leader;
  caf::actor_addr watched_leader_actor;
  /// The leader last told to the gateway, and in which term (step 7).
  std::string told_leader;
  uint64_t told_term = 0;
  /// The leader and term its metrics last showed.
  std::string metrics_leader;
  uint64_t metrics_term = 0;

  ~voting_state() {
    // libraft is stopped while everything its callbacks touch still lives
    // (the master aggregator, linked, dies with the actor).
    closing = true;
    member.reset();
  }

  std::string ctx() const {
    return "[aggregator=" + cfg.node + " term="
           + std::to_string(member ? member->term() : 0) + "]";
  }
};

uint64_t actor_host::now_ms() {
  return static_cast<uint64_t>(
    std::chrono::duration_cast<std::chrono::milliseconds>(
      self->clock().now().time_since_epoch())
      .count());
}

void actor_host::send(const std::string& address, pb::RaftMessage msg) {
  auto& st = self->state;
  if (msg.has_append_entries()) {
    auto& p = st.peers[address];
    auto now = self->clock().now();
    // An answer later than an election timeout measures an outage, not a
    // round trip: that measurement starts again.
    if (!p.append_outstanding
        || now - p.append_sent
             > std::chrono::milliseconds{st.cfg.election_timeout_ms}) {
      p.append_outstanding = true;
      p.append_sent = now;
    }
  }
  auto env = make_envelope();
  *env->mutable_raft_message() = std::move(msg);
  st.ep.send(self, address, voting_aggregator_actor_name(), std::move(env));
}

void actor_host::defer(std::function<void()> fn) {
  auto& st = self->state;
  st.deferred.push_back(std::move(fn));
  if (!st.defer_armed) {
    st.defer_armed = true;
    self->send(self, flush_atom::value);
  }
}

void run_deferred(voting_self self) {
  auto& st = self->state;
  st.defer_armed = false;
  while (!st.deferred.empty()) {
    auto fn = std::move(st.deferred.front());
    st.deferred.pop_front();
    fn();
  }
}

void stop_master(voting_self self, const char* why) {
  auto& st = self->state;
  if (!st.master)
    return;
  logger("ma")->warn("MasterAggregatorStops {} {}", st.ctx(), why);
  self->unlink_from(st.master);
  // Not a kill: it tells the statements it held that their outcome is
  // unknown before it stops (master aggregator's step_down).
  self->send_exit(st.master, caf::exit_reason::user_shutdown);
  st.master = caf::actor{};
}

void start_master(voting_self self) {
  auto& st = self->state;
  auto mc = st.cfg.master;
  mc.consensus_node = st.cfg.node;
  mc.initial_metadata = st.committed;
  mc.consensus_term = st.member->term();
  mc.address = st.cfg.node;
  logger("ma")->warn("MasterAggregatorElected {} takes over the metadata",
                     st.ctx());
  st.master = caf::actor_cast<caf::actor>(
    spawn_master_aggregator(self->system(), std::move(mc)));
  // Killed with this one: a master aggregator never outlives its member.
  self->link_to(st.master);
}

/// Step 6: a follower watches its leader's actor when it lives in this
/// process (a leader in another process is not watched yet).
void watch_leader(voting_self self) {
  auto& st = self->state;
  auto leader = st.member->leader().second;
  if (leader.empty() || leader == st.cfg.node || leader == st.watched_leader)
    return;
  st.watched_leader = leader;
  st.watched_leader_actor = caf::actor_addr{};
  if (auto a = st.cfg.fab->lookup(leader, voting_aggregator_actor_name())) {
    st.watched_leader_actor = a.address();
    self->monitor(a);
  }
}

/// Step 7: tells the process's gateway of a new leader.
void tell_gateway(voting_self self) {
  auto& st = self->state;
  if (!st.cfg.tell_gateway)
    return;
  auto leader = st.member->leader();
  auto term = st.member->term();
  if (leader.first == 0
      || (leader.second == st.told_leader && term == st.told_term))
    return;
  st.told_leader = leader.second;
  st.told_term = term;
  auto env = make_envelope();
  auto* body = env->mutable_master_aggregator_known();
  body->set_address(leader.second);
  body->set_term(term);
  st.ep.send(self, st.cfg.node, "gateway", std::move(env));
}

/// Step 6: the leader's actor went down, or the link to its process.
void leader_gone(voting_self self, const std::string& why) {
  auto& st = self->state;
  auto within = std::max(100u, st.cfg.election_timeout_ms / 5);
  logger("ma")->warn("LeaderAggregatorDown {} {} is gone ({}): standing "
                     "for election within {} ms",
                     st.ctx(), st.watched_leader, why, within);
  st.watched_leader_actor = caf::actor_addr{};
  st.peers[st.watched_leader].crashed = true;
  st.member->expedite_election(within);
}

void on_link_lost(voting_self self, const envelope_ptr& env) {
  auto& st = self->state;
  if (!st.closing && env->link_lost().node() == st.watched_leader
      && st.member->role() == consensus::member_role::follower)
    leader_gone(self, "the link to its process closed: "
                        + env->link_lost().reason());
}

/// Step 4: a leader that has not heard from a majority of the voting
/// aggregators for an election timeout stops its master aggregator at once
/// (libraft steps down only at the end of a whole timeout window without
/// them, up to twice as late): a master aggregator cut off gives no order
/// after one election timeout.
void check_quorum(voting_self self) {
  auto& st = self->state;
  if (st.member->role() != consensus::member_role::leader) {
    st.quorum_lost = false;
    return;
  }
  auto now = self->clock().now();
  auto timeout = std::chrono::milliseconds{st.cfg.election_timeout_ms};
  size_t voters = 0;
  size_t heard = 0;
  for (auto& m : st.member->members()) {
    if (!m.voter())
      continue;
    ++voters;
    if (m.address == st.cfg.node) {
      ++heard;
      continue;
    }
    auto i = st.peers.find(m.address);
    if (i != st.peers.end() && now - i->second.last_heard <= timeout)
      ++heard;
  }
  bool lost = 2 * heard <= voters;
  if (lost && !st.quorum_lost)
    stop_master(self, "it has not heard from a majority of the voting "
                      "aggregators for an election timeout");
  st.quorum_lost = lost;
}

/// The aggregator's term and the leaders it saw, in the process's metrics.
void note_leader_metrics(voting_self self) {
  auto& st = self->state;
  auto* reg = st.cfg.fab->metrics();
  if (reg == nullptr)
    return;
  auto leader = st.member->leader().second;
  auto term = st.member->term();
  metrics::labels l{{"aggregator", st.cfg.node}};
  if (term != st.metrics_term) {
    st.metrics_term = term;
    reg->get_gauge("leafguard_aggregator_term",
                   "The consensus term a voting aggregator is in.", l)
      .set(static_cast<int64_t>(term));
  }
  if (!leader.empty() && leader != st.metrics_leader) {
    st.metrics_leader = leader;
    reg->get_counter("leafguard_aggregator_leader_changes_total",
                     "Leaders (master aggregators) a voting aggregator "
                     "learned of.",
                     l)
      .add();
  }
}

/// Steps 2 and 4: starts or stops the master aggregator as the role
/// changes.
void check_role(voting_self self) {
  auto& st = self->state;
  note_leader_metrics(self);
  watch_leader(self);
  tell_gateway(self);
  if (st.member->role() != consensus::member_role::leader) {
    st.taking_over = false;
    stop_master(self, "it leads the aggregators no more");
    return;
  }
  if (st.master || st.taking_over || st.quorum_lost)
    return;
  st.taking_over = true;
  auto term = st.member->term();
  bool taken = st.member->propose(
    std::string(1, takeover_entry) + std::to_string(term),
    [self, term](bool ok, const std::string& why) {
      auto& st = self->state;
      if (st.closing)
        return;
      st.taking_over = false;
      if (!ok || st.member->role() != consensus::member_role::leader
          || st.member->term() != term) {
        logger("ma")->info("TakeoverFailed {} {}", st.ctx(), why);
        return;
      }
      start_master(self);
    });
  if (!taken)
    st.taking_over = false;
}

void on_raft_message(voting_self self, const envelope_ptr& env) {
  auto& st = self->state;
  auto& m = env->raft_message();
  auto& p = st.peers[m.from_address()];
  p.last_heard = self->clock().now();
  p.crashed = false;
  if (m.has_append_entries_result() && p.append_outstanding) {
    p.append_outstanding = false;
    p.roundtrip_sum_ms += std::chrono::duration<double, std::milli>(
                            p.last_heard - p.append_sent)
                            .count();
    ++p.roundtrips;
  }
  st.member->receive(m);
  check_role(self);
}

/// Step 3.
void on_proposal(voting_self self, const envelope_ptr& env) {
  auto& st = self->state;
  auto version = env->metadata_proposal().version();
  auto answer = [self, env, version](bool ok, const std::string& why) {
    if (self->state.closing)
      return;
    auto rep = make_envelope();
    auto* c = rep->mutable_metadata_committed();
    c->set_version(version);
    c->set_applied_version(self->state.committed_version);
    c->set_ok(ok);
    c->set_error(why);
    self->state.ep.reply(self, *env, rep);
  };
  if (!st.master) {
    answer(false, "aggregator " + st.cfg.node + " is not the master "
                                                "aggregator");
    return;
  }
  auto& prop = env->metadata_proposal();
  auto entry = encode_metadata_entry(prop.election_timeout_ms(), version,
                                     prop.metadata());
  bool taken = st.member->propose(entry, answer);
  if (!taken)
    answer(false, "aggregator " + st.cfg.node + " leads the aggregators no "
                                                "more");
}

/// Step 5.
void on_status(voting_self self, const envelope_ptr& env) {
  auto& st = self->state;
  auto rep = make_envelope();
  auto* out = rep->mutable_aggregator_status_reply();
  auto leader = st.member->leader().first;
  auto now = self->clock().now();
  auto timeout = std::chrono::milliseconds{st.cfg.election_timeout_ms};
  for (auto& m : st.member->members()) {
    auto* a = out->add_aggregators();
    a->set_address(m.address);
    a->set_voting(m.voter());
    a->set_master(m.id == leader);
    a->set_term(st.member->term());
    if (m.address == st.cfg.node) {
      a->set_online(true);
      continue;
    }
    auto i = st.peers.find(m.address);
    if (i == st.peers.end())
      continue;
    a->set_online(!i->second.crashed
                  && now - i->second.last_heard <= timeout);
    if (i->second.roundtrips > 0)
      a->set_roundtrip_ms(i->second.roundtrip_sum_ms
                          / static_cast<double>(i->second.roundtrips));
  }
  st.ep.reply(self, *env, rep);
}

/// ADD AGGREGATOR / REMOVE AGGREGATOR (membership.cpp), on the leader.
void on_membership(voting_self self, const envelope_ptr& env) {
  auto& st = self->state;
  auto& body = env->aggregator_membership_request();
  auto addr = body.address();
  auto answer = [self, env](bool ok, const std::string& why) {
    if (self->state.closing)
      return;
    auto rep = make_envelope();
    auto* r = rep->mutable_aggregator_membership_reply();
    r->set_ok(ok);
    r->set_error(why);
    self->state.ep.reply(self, *env, rep);
  };
  const consensus::stored_server* found = nullptr;
  auto members = st.member->members();
  for (auto& m : members)
    if (m.address == addr)
      found = &m;
  auto failed = [addr, answer](const std::string& what) {
    return [addr, answer, what](bool ok, const std::string& why) {
      answer(ok, ok ? std::string{} : what + " '" + addr + "': " + why);
    };
  };
  bool taken = false;
  if (body.add()) {
    if (found != nullptr && found->voter()) {
      answer(false, "aggregator '" + addr + "' is already a voting member");
      return;
    }
    taken = st.member->add_voter(aggregator_raft_id(addr), addr,
                                 failed("ADD AGGREGATOR"));
  } else {
    if (found == nullptr) {
      answer(false, "no aggregator '" + addr + "' in the cluster");
      return;
    }
    if (addr == st.cfg.node) {
      answer(false, "aggregator '" + addr
                      + "' is the master aggregator, which cannot remove "
                        "itself");
      return;
    }
    taken = st.member->remove(found->id, failed("REMOVE AGGREGATOR"));
  }
  if (!taken)
    answer(false, "aggregator " + st.cfg.node
                    + " cannot change the membership now: it is not the "
                      "leader, or another change is under way");
}

const handler_table<voting_self> voting_requests{
  "ma",
  {
    {envelope::kRaftMessage, on_raft_message},
    {envelope::kMetadataProposal, on_proposal},
    {envelope::kAggregatorStatusRequest, on_status},
    {envelope::kAggregatorMembershipRequest, on_membership},
    {envelope::kLinkLost, on_link_lost},
  }};

voting_aggregator_actor::behavior_type
voting_impl(voting_self self, voting_aggregator_config cfg) {
  auto& st = self->state;
  st.ep = endpoint{cfg.fab, cfg.node, voting_aggregator_actor_name()};
  st.cfg = std::move(cfg);
  st.host = std::make_unique<actor_host>(self);
  consensus::member_config mc;
  mc.id = st.cfg.id;
  mc.address = st.cfg.node;
  mc.dir = st.cfg.data_dir + "/raft";
  mc.fs = st.cfg.fs;
  mc.seed = st.cfg.seed;
  mc.ranked_election_timeouts = st.cfg.ranked_election_timeouts;
  mc.election_timeout_ms = st.cfg.election_timeout_ms;
  mc.heartbeat_timeout_ms = std::max(10u, st.cfg.election_timeout_ms / 10);
  mc.tick_ms = static_cast<unsigned>(tick_every.count());
  consensus::state_machine sm;
  sm.apply = [self](uint64_t, const std::string& entry) {
    metadata_fields e;
    if (!decode_metadata_entry(entry, e))
      return;
    auto& st = self->state;
    // A proposal resent after its answer was lost can commit after a newer
    // version: it is older than what is in force, and changes nothing.
    if (e.version < st.committed_version && !bugs::apply_stale_metadata) {
      logger("ma")->info("StaleMetadataEntrySkipped {} version {} after {}",
                         st.ctx(), e.version, st.committed_version);
      return;
    }
    st.committed = std::move(e.metadata);
    st.committed_version = e.version;
    auto timeout = e.election_timeout_ms;
    if (timeout >= 100 && timeout != st.cfg.election_timeout_ms) {
      st.cfg.election_timeout_ms = timeout;
      st.member->set_election_timeout(timeout);
      logger("ma")->info("ElectionTimeoutSet {} {} ms", st.ctx(), timeout);
    }
  };
  sm.take_snapshot = [self] { return self->state.committed; };
  sm.restore = [self](const std::string& bytes) {
    self->state.committed = bytes;
    self->state.committed_version = version_of(bytes);
  };
  st.member = std::make_unique<consensus::raft_member>(mc, *st.host, sm);
  error err;
  if (!st.cfg.founders.empty())
    err = st.member->bootstrap(st.cfg.founders);
  if (!err)
    err = st.member->start();
  if (err) {
    logger("ma")->critical("AggregatorStartFailed {} {}", st.ctx(),
                           err.to_string());
    self->quit(caf::make_error(caf::sec::runtime_error, err.to_string()));
  } else {
    st.ep.attach(self, caf::actor_cast<caf::actor>(self));
    arm_timer(self, tick_every, timer_id::consensus_tick);
    self->set_down_handler([self](caf::down_msg& dm) {
      auto& st = self->state;
      if (dm.source == st.watched_leader_actor && !st.closing)
        leader_gone(self, to_string(dm.reason));
    });
  }
  return {
    [self](wire& msg) { voting_requests.dispatch(self, msg); },
    [self](tick_atom) { self->state.ep.on_tick(self); },
    [self](flush_atom) {
      run_deferred(self);
      check_role(self);
    },
    [self](timer_atom, uint64_t) {
      auto& st = self->state;
      st.member->tick();
      check_quorum(self);
      check_role(self);
      arm_timer(self, tick_every, timer_id::consensus_tick);
    },
  };
}

} // namespace

uint64_t aggregator_raft_id(const std::string& address) {
  uint64_t h = 14695981039346656037ull; // FNV-1a
  for (unsigned char c : address) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h == 0 ? 1 : h;
}

voting_aggregator_actor
spawn_voting_aggregator(caf::actor_system& sys, voting_aggregator_config cfg) {
  return sys.spawn(voting_impl, std::move(cfg));
}

} // namespace lg
