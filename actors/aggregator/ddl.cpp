// Database statements and global variables, run by the master aggregator:
// CREATE DATABASE, DROP DATABASE and SET GLOBAL.
//
//   1. CREATE DATABASE places the partitions (ha::place_database: masters
//      spread by load, each replica on its master's pair in redundancy 2),
//      creates every instance on its leaf (a few hundred per message, which
//      the leaf syncs together; two messages in flight per leaf), and
//      records the database once all of them answered. On any error it
//      drops what it created.
//   2. DROP DATABASE forgets the database, then asks its leaves to drop its
//      instances (a few hundred per message, as for creations).
//   3. SET GLOBAL checks a variable alone and against the others
//      (config/variables.cpp), and records it; a refused value changes
//      nothing. A new sync_replication_timeout_ms or replication_backlog_mb
//      is sent to every instance with its role.
//
// SingleStore: CREATE DATABASE ... PARTITIONS n (default_partitions_per_leaf
// times the leaves otherwise); SET GLOBAL for the cluster's variables.
#include <algorithm>
#include <cctype>
#include <limits>

#include "actors/aggregator/state.hpp"
#include "actors/leaf/leaf.hpp"
#include "actors/names.hpp"
#include "base/log.hpp"
#include "config/variables.hpp"

namespace lg {

namespace {

uint32_t default_partitions(master_aggregator_state& st) {
  auto per_leaf = static_cast<uint32_t>(
    st.meta.globals().default_partitions_per_leaf());
  uint32_t leaves = 0;
  bool r2 = st.meta.globals().redundancy_level() == 2;
  for (auto& l : st.meta.leaves())
    if (state_of(l) == leaf_state::online
        && (!r2 || (l.group() == 1 && !l.pair().empty())))
      ++leaves;
  return std::max<uint32_t>(1, per_leaf * std::max<uint32_t>(leaves, 1));
}

/// Creations (or drops) per LeafOrdersRequest: a leaf makes them durable
/// with one sync and answers within tens of milliseconds, between two
/// heartbeats.
constexpr size_t creations_per_message = 256;

/// Drops every instance of `db`, many per message to each leaf; nobody
/// waits for the answers.
void drop_instances(ma_self self, const pb::DatabaseMeta& db) {
  leaf_orders drops;
  for (auto& part : db.parts())
    for (auto& inst : part.instances())
      drops.add(inst.leaf(), leaf_actor_name(),
                drop_instance_envelope(self, db.name(), part.ordinal()),
                [](const envelope*) {});
  // All at once, not paced: a link delivers in order, so every drop reaches
  // its leaf before the creations of a database created again under the
  // same name.
  drops.send_paced(self, instance_op_timeout, creations_per_message,
                   std::numeric_limits<int>::max());
}

/// The running job of `db`'s CREATE DATABASE, if any.
rebuild_job* creation_job(master_aggregator_state& st, const std::string& db) {
  for (auto i = st.jobs.rbegin(); i != st.jobs.rend(); ++i)
    if (i->action == job_action::create_database && i->db == db
        && i->status == job_status::running)
      return &*i;
  return nullptr;
}

/// Ends `db`'s creation job, in SHOW REBALANCE STATUS.
void end_creation_job(ma_self self, const std::string& db, job_status status,
                      const std::string& why = {}) {
  auto* job = creation_job(self->state, db);
  if (job == nullptr)
    return;
  job->status = status;
  job->finished = self->clock().now();
  if (!why.empty())
    job->details += "; " + why;
}

} // namespace

void exec_create_database(ma_self self, envelope_ptr req,
                          const sql::create_database& s) {
  auto& st = self->state;
  // Names become directory names on every leaf: keep them plain.
  bool plain = !s.name.empty() && s.name.size() <= 64
               && !std::isdigit(static_cast<unsigned char>(s.name[0]));
  for (auto c : s.name)
    plain = plain && (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
  if (!plain) {
    reply_result(self, *req,
                 make_failure(sql::errc::bad_value,
                              "database name '" + s.name
                                + "' is not allowed: use letters, digits and "
                                  "'_', starting with a letter or '_', at "
                                  "most 64 characters"));
    return;
  }
  if (st.meta.find_database(s.name) != nullptr) {
    reply_result(self, *req,
                 make_failure(sql::errc::database_exists,
                              "can't create database '" + s.name
                                + "'; database exists"));
    return;
  }
  if (creation_job(st, s.name) != nullptr) {
    // A retry while the first is still at work: its failure would drop the
    // first one's instances, which have the same names.
    reply_result(self, *req,
                 make_failure(sql::errc::database_exists,
                              "can't create database '" + s.name
                                + "'; it is being created"));
    return;
  }
  auto redundancy = st.meta.globals().redundancy_level();
  auto partitions = s.partitions ? *s.partitions : default_partitions(st);
  auto placed = ha::place_database(st.meta.leaf_infos(), partitions,
                                   redundancy, st.meta.masters_per_leaf(),
                                   st.meta.globals().load_balanced());
  if (!placed.ok()) {
    reply_result(self, *req,
                 make_failure(sql::errc::conflict,
                              "can't create database '" + s.name
                                + "': " + placed.err().detail()));
    return;
  }
  pb::DatabaseMeta db;
  db.set_name(s.name);
  db.set_partitions(partitions);
  db.set_sync_durability(s.sync_durability.value_or(false));
  for (auto& p : *placed) {
    auto* part = db.add_parts();
    part->set_ordinal(p.ordinal);
    part->set_term(1);
    auto* m = part->add_instances();
    m->set_leaf(p.master);
    m->set_role(pb::MASTER);
    m->set_in_sync(true);
    if (!p.replica.empty()) {
      auto* r = part->add_instances();
      r->set_leaf(p.replica);
      r->set_role(pb::REPLICA);
      r->set_in_sync(true);
    }
  }
  size_t total = 0;
  for (auto& part : db.parts())
    total += part.instances_size();
  // Long work shows progress: SHOW REBALANCE STATUS lists the creation
  // with the instances created so far.
  auto& job = start_job(st, self->clock().now(), job_action::create_database,
                        db.name(), 0, "");
  job.steps_total = total;
  job.details = "0 of " + std::to_string(total) + " instances created";
  auto cd = std::make_shared<countdown>();
  cd->remaining = total;
  cd->done = [self, req, db](std::vector<std::string> errors) {
    auto& st = self->state;
    if (!errors.empty()) {
      end_creation_job(self, db.name(), job_status::failed, errors.front());
      drop_instances(self, db);
      reply_result(self, *req,
                   make_failure(sql::errc::internal,
                                "can't create database '" + db.name()
                                  + "': " + errors.front()));
      return;
    }
    if (st.meta.find_database(db.name()) != nullptr) {
      end_creation_job(self, db.name(), job_status::failed,
                       "the database exists");
      reply_result(self, *req,
                   make_failure(sql::errc::database_exists,
                                "can't create database '" + db.name()
                                  + "'; database exists"));
      return;
    }
    auto before = st.meta;
    st.meta.add_database(db);
    if (persist_statement(self, *req, before)) {
      end_creation_job(self, db.name(), job_status::failed,
                       "the metadata could not be recorded");
      drop_instances(self, db);
      return;
    }
    end_creation_job(self, db.name(), job_status::success);
    logger("ma")->info("DatabaseCreated {} {} partitions={}", st.ctx(),
                       db.name(), db.partitions());
    reply_result(self, *req, make_message(rows_affected(1)));
  };
  // One message per leaf carries many creations, which the leaf syncs
  // together; a few such messages per leaf are in flight at once, so a
  // leaf's heartbeats never wait behind thousands of creations (sent all at
  // once, 16384 partitions on 4 leaf processes had healthy leaves declared
  // offline).
  leaf_orders creations;
  auto progress = std::make_shared<std::pair<size_t, time_point>>(
    0, self->clock().now());
  auto name = db.name();
  for (auto& part : db.parts()) {
    for (auto& inst : part.instances()) {
      std::string peer;
      for (auto& other : part.instances())
        if (other.leaf() != inst.leaf())
          peer = other.leaf();
      auto env = create_instance_envelope(db.name(), part.ordinal(),
                                          db.sync_durability(), inst.role(),
                                          part.term(), peer,
                                          st.meta.version());
      env->mutable_create_instance_request()->set_sync_replication_timeout_ms(
        st.meta.globals().sync_replication_timeout_ms());
      env->mutable_create_instance_request()->set_replication_backlog_mb(
        st.meta.globals().replication_backlog_mb());
      auto leaf = inst.leaf();
      creations.add(
        leaf, leaf_actor_name(), std::move(env),
        [self, cd, leaf, progress, total, name](const envelope* rep) {
          // Long work shows progress: a line a second (and the job).
          auto now = self->clock().now();
          if (++progress->first < total
              && now - progress->second >= std::chrono::seconds{1}) {
            progress->second = now;
            logger("ma")->info("DatabaseCreating {} {}: {} of {} instances",
                               self->state.ctx(), name, progress->first,
                               total);
          }
          if (rep == nullptr)
            cd->finish_one("leaf " + leaf + " did not answer");
          else if (rep->create_instance_reply().status() != pb::STATUS_OK)
            cd->finish_one(rep->create_instance_reply().error());
          else {
            if (auto* job = creation_job(self->state, name)) {
              ++job->steps_done;
              job->details = std::to_string(job->steps_done) + " of "
                             + std::to_string(total) + " instances created";
            }
            cd->finish_one();
          }
        });
    }
  }
  creations.send_paced(self,
                       instance_op_timeout
                         + std::chrono::milliseconds{5} * creations_per_message,
                       creations_per_message, 2);
}

void exec_drop_database(ma_self self, envelope_ptr req,
                        const sql::drop_database& s) {
  auto& st = self->state;
  auto before = st.meta;
  auto db = st.meta.remove_database(s.name);
  if (!db) {
    reply_result(self, *req, unknown_database(s.name));
    return;
  }
  if (persist_statement(self, *req, before))
    return;
  drop_instances(self, *db);
  logger("ma")->info("DatabaseDropped {} {}", st.ctx(), s.name);
  reply_result(self, *req, make_message(rows_affected(db->partitions())));
}

void exec_set_global(ma_self self, envelope_ptr req,
                     const sql::set_global& s) {
  auto& st = self->state;
  auto checked = config::check_variable(s.name, s.value);
  if (!checked.ok()) {
    auto code = checked.err().name() == "unknown_variable"
                  ? sql::errc::unknown_variable
                  : sql::errc::bad_value;
    reply_result(self, *req, make_failure(code, checked.err().detail()));
    return;
  }
  auto name = config::find_variable(s.name)->name;
  // Checked against the others as they would be after the change: one value
  // that contradicts another (a failure timeout under three heartbeats)
  // would make every leaf offline.
  auto after = st.meta.globals().all();
  after[name] = *checked;
  if (auto err = config::check_globals(after, name)) {
    reply_result(self, *req,
                 make_failure(sql::errc::bad_value, err.detail()));
    return;
  }
  auto before = st.meta;
  st.meta.set_global(name, *checked);
  if (persist_statement(self, *req, before))
    return;
  logger("ma")->info("GlobalSet {} {}={}", st.ctx(), name, *checked);
  arm_heartbeats(self);
  if (cluster_globals::sent_with_roles(name)) {
    // Instances read these from their role assignment: re-send it.
    for (auto& db : st.meta.databases())
      for (auto& part : db.parts())
        for (auto& inst : part.instances()) {
          if (!st.meta.leaf_online(inst.leaf()) || inst.role() == pb::ORPHAN)
            continue;
          auto peer = peer_of(part, inst);
          set_role(self, inst.leaf(), db.name(), part.ordinal(), inst.role(),
                   part.term(), peer.leaf, peer.in_sync,
                   [](const envelope*) {});
        }
  }
  reply_result(self, *req, make_message(rows_affected(0)));
}

} // namespace lg
