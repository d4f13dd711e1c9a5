// Jobs of the master aggregator: the work SHOW REBALANCE STATUS lists.
//
//   1. A job starts when the aggregator begins work on one instance (attach,
//      rebuild, copy, switch master, detach, drop) or runs a REBALANCE or a
//      RESTORE REDUNDANCY. A newer job on the same instance supersedes it.
//   2. Masters report the progress of a replica rebuild (RebuildProgress):
//      bytes copied, a divergence found, an attempt that failed. An attach
//      that rebuilds becomes a rebuild.
//   3. A job ends in success (its replica in sync, its master moved) or
//      fails (its leaf or its master went away). A failed copy wakes whoever
//      waits for it, with the error.
//   4. SHOW REBALANCE STATUS lists a database's jobs, oldest first, with
//      their progress and running time (a CREATE DATABASE's too, counted in
//      instances created). Past max_jobs the oldest are forgotten.
//
// SingleStore: SHOW REBALANCE STATUS shows each step of a rebalance with its
// state.
#include <algorithm>
#include <cstdio>

#include "actors/aggregator/state.hpp"
#include "actors/names.hpp"

namespace lg {

namespace {

constexpr size_t max_jobs = 4096;

} // namespace

const char* to_string(job_action a) {
  switch (a) {
    case job_action::attach:
      return "attach";
    case job_action::rebuild:
      return "rebuild";
    case job_action::copy:
      return "copy";
    case job_action::switch_master:
      return "switch master";
    case job_action::detach:
      return "detach";
    case job_action::drop:
      return "drop";
    case job_action::rebalance:
      return "rebalance";
    case job_action::restore_redundancy:
      return "restore redundancy";
    case job_action::attach_rebalance:
      return "rebalance after attach";
    case job_action::create_database:
      return "create database";
  }
  return "unknown";
}

const char* to_string(job_status s) {
  switch (s) {
    case job_status::running:
      return "running";
    case job_status::success:
      return "success";
    case job_status::failed:
      return "failed";
    case job_status::superseded:
      return "superseded";
  }
  return "unknown";
}

rebuild_job& start_job(master_aggregator_state& st, time_point now,
                       job_action action, const std::string& db,
                       uint32_t ordinal, const std::string& leaf) {
  end_jobs(st, now, leaf, job_status::superseded, {}, db, ordinal);
  if (st.jobs.size() >= max_jobs)
    st.jobs.erase(st.jobs.begin());
  rebuild_job job;
  job.action = action;
  job.db = db;
  job.ordinal = ordinal;
  job.leaf = leaf;
  job.started = now;
  st.jobs.push_back(std::move(job));
  return st.jobs.back();
}

void end_jobs(master_aggregator_state& st, time_point now,
              const std::string& leaf, job_status status,
              const std::string& details, const std::string& db,
              int64_t ordinal) {
  for (auto& job : st.jobs) {
    // A rebalance after attach ends on its own (handover.cpp step 6).
    if (job.status != job_status::running || job.leaf != leaf
        || job.action == job_action::attach_rebalance)
      continue;
    if (!db.empty()
        && (job.db != db || static_cast<int64_t>(job.ordinal) != ordinal))
      continue;
    job.status = status;
    job.finished = now;
    if (!details.empty())
      job.details += (job.details.empty() ? "" : "; ") + details;
    if (status != job_status::failed)
      continue;
    wake_sync_waiters(st, job.db, job.ordinal, job.leaf,
                      "the copy of " + partition_label(job.db, job.ordinal)
                        + " on " + job.leaf + " failed: " + details);
  }
}

void on_rebuild_progress(ma_self self, const envelope_ptr& env) {
  auto& st = self->state;
  const auto& p = env->rebuild_progress();
  const auto& label = env->header().partition();
  for (auto& job : st.jobs) {
    if (job.status != job_status::running || job.leaf != p.replica()
        || job.action == job_action::attach_rebalance
        || partition_label(job.db, job.ordinal) != label)
      continue;
    if (job.action == job_action::attach)
      job.action = job_action::rebuild;
    job.bytes_done = p.bytes_done();
    job.bytes_total = p.bytes_total();
    if (p.diverged() && !job.diverged) {
      job.diverged = true;
      job.details += (job.details.empty() ? "" : "; ")
                     + std::string{"diverged: "} + p.reason();
    }
    if (p.failed()) {
      // The replica joins again and the master starts over: the job goes
      // on; it fails only with a leaf.
      job.details += (job.details.empty() ? "" : "; ")
                     + ("an attempt failed (" + p.error() + ")");
    } else if (p.finished() && job.diverged) {
      job.diverged = false; // the new copy no longer diverges
    }
  }
}

void exec_show_rebalance_status(ma_self self, envelope_ptr req,
                                const sql::show_rebalance_status& s) {
  auto& st = self->state;
  bool every = s.database.empty();
  // A database still being created has no metadata yet, only its job.
  bool creating = std::any_of(st.jobs.begin(), st.jobs.end(),
                              [&](const rebuild_job& j) {
                                return j.action == job_action::create_database
                                       && j.status == job_status::running
                                       && j.db == s.database;
                              });
  if (!every && !creating && st.meta.find_database(s.database) == nullptr) {
    reply_result(self, *req, unknown_database(s.database));
    return;
  }
  auto now = self->clock().now();
  std::vector<std::vector<std::string>> rows;
  for (auto& job : st.jobs) {
    if (!every && job.db != s.database)
      continue;
    auto hp = split_address(job.leaf);
    auto end = job.status == job_status::running ? now : job.finished;
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                end - job.started)
                .count();
    std::string progress = "NULL";
    if (job.bytes_total > 0) {
      char buf[16];
      std::snprintf(buf, sizeof(buf), "%.1f%%",
                    100.0 * static_cast<double>(job.bytes_done)
                      / static_cast<double>(job.bytes_total));
      progress = buf;
    } else if (job.steps_total > 0) {
      char buf[16];
      std::snprintf(buf, sizeof(buf), "%.1f%%",
                    100.0 * static_cast<double>(job.steps_done)
                      / static_cast<double>(job.steps_total));
      progress = buf;
    } else if (job.status == job_status::success) {
      progress = "100.0%";
    }
    rows.push_back({});
    if (every)
      rows.back().push_back(job.db);
    rows.back().insert(rows.back().end(),
                   {to_string(job.action), std::to_string(job.ordinal),
                    hp.first, hp.second, to_string(job.status),
                    std::to_string(job.bytes_done),
                    std::to_string(job.bytes_total), progress,
                    std::to_string(ms),
                    job.details.empty() ? "NULL" : job.details});
  }
  std::vector<std::string> columns{"Action", "Ordinal", "Host", "Port",
                                   "Status", "Bytes_Copied", "Bytes_Total",
                                   "Progress", "Running_Time_Ms", "Details"};
  // Without ON db, every database's jobs, each row naming its database.
  if (every)
    columns.insert(columns.begin(), "Database_Name");
  reply_result(self, *req, make_table(columns, rows));
}

} // namespace lg
