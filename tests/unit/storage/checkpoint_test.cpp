// Checkpoints: sealing the log, folding it into the snapshot, and crashes
// or failures at each step (storage/checkpoint).
#include "storage/checkpoint.hpp"

#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "storage/partition_store.hpp"
#include "unit/storage/store_fixture.hpp"

using namespace lg::storage;
using namespace lg::storage::testing;

BOOST_FIXTURE_TEST_SUITE(storage_checkpoint, fixture)

BOOST_AUTO_TEST_CASE(snapshot_plus_log) {
  auto store = make();
  open(*store);
  append_range(*store, 1, 1, 20);
  store->append(del(1, 21, key_of(3)));
  BOOST_REQUIRE(!store->checkpoint());
  BOOST_TEST(!store->has_unflushed());
  BOOST_TEST(store->log_bytes() == 0u);
  BOOST_TEST(file(wal_path).empty());
  append_range(*store, 2, 22, 30);
  flush(*store);
  auto rows = store->rows();
  BOOST_TEST(rows.size() == 28u);

  auto again = make();
  auto report = open(*again);
  BOOST_TEST(report.snapshot_loaded);
  BOOST_TEST(report.snapshot_position == (log_position{1, 21}));
  BOOST_TEST(report.records_replayed == 9u);
  BOOST_TEST(again->rows() == rows);
  BOOST_TEST(again->checksum() == store->checksum());
  BOOST_TEST(again->last() == (log_position{2, 30}));
}

BOOST_AUTO_TEST_CASE(a_checkpoint_keeps_the_write_ids_it_folds) {
  auto store = make();
  open(*store);
  append_range(*store, 1, 1, 20);
  // One write of two records: one id, at its last LSN.
  auto a = numbered(1, 21);
  auto b = numbered(1, 22);
  a.write_id = b.write_id = 777;
  store->append(a);
  store->append(b);
  BOOST_REQUIRE(!store->checkpoint());
  append_range(*store, 1, 23, 25);
  BOOST_REQUIRE(!store->checkpoint());
  auto snap = decode_snapshot(file(snap_path));
  BOOST_REQUIRE_MESSAGE(snap.ok(), why(snap));
  BOOST_REQUIRE_EQUAL(snap->write_ids.size(), 24u);
  BOOST_TEST(snap->write_ids[0].id == 10u);
  BOOST_TEST(snap->write_ids[20].id == 777u);
  BOOST_TEST(snap->write_ids[20].lsn == 22u);
  BOOST_TEST(snap->write_ids[23].lsn == 25u);
  // Reopened from the snapshot alone, the copy still knows them.
  auto again = make();
  open(*again);
  BOOST_TEST((again->take_write_ids() == snap->write_ids));
  BOOST_TEST(again->take_write_ids().empty()); // taken once
}

BOOST_AUTO_TEST_CASE(a_checkpoint_keeps_only_the_newest_write_ids) {
  auto store = make(durability::async);
  open(*store);
  auto n = remembered_write_ids + 100;
  append_range(*store, 1, 1, n);
  BOOST_REQUIRE(!store->checkpoint());
  auto snap = decode_snapshot(file(snap_path));
  BOOST_REQUIRE_MESSAGE(snap.ok(), why(snap));
  BOOST_REQUIRE_EQUAL(snap->write_ids.size(), remembered_write_ids);
  BOOST_TEST(snap->write_ids.front().lsn == 101u);
  BOOST_TEST(snap->write_ids.back().lsn == n);
}

BOOST_AUTO_TEST_CASE(writes_go_on_while_a_checkpoint_folds_the_sealed_log) {
  auto store = make();
  open(*store);
  append_range(*store, 1, 1, 10);
  auto job = store->begin_checkpoint();
  BOOST_REQUIRE_MESSAGE(job.ok(), why(job));
  BOOST_TEST(store->checkpoint_open());
  BOOST_TEST(store->log_bytes() == 0u);
  BOOST_TEST(file(wal_path).empty());
  BOOST_TEST(!file(dir + "/wal.prev").empty());
  // A second one waits for the first.
  BOOST_TEST(!store->begin_checkpoint().ok());
  // Step 1 done: writes go on into the new wal.log while the job runs.
  append_range(*store, 2, 11, 15);
  flush(*store);
  auto folded = job->run();
  BOOST_REQUIRE_MESSAGE(folded.ok(), why(folded));
  BOOST_TEST(*folded == (log_position{1, 10}));
  append_range(*store, 2, 16, 18);
  flush(*store);
  BOOST_REQUIRE(!store->end_checkpoint(*job, folded));
  BOOST_TEST(!store->checkpoint_open());
  BOOST_TEST(!fs->exists(dir + "/wal.prev"));
  BOOST_TEST(!fs->exists(job->out_path));
  // The folded segment waits for the caller to remove it (off the actor);
  // a reopen removes a leftover one.
  auto folded_logs = store->take_folded_logs();
  BOOST_REQUIRE_EQUAL(folded_logs.size(), 1u);
  BOOST_TEST(fs->exists(folded_logs[0]));
  BOOST_TEST(store->take_folded_logs().empty());

  auto again = make();
  auto report = open(*again);
  BOOST_TEST(!fs->exists(folded_logs[0]));
  BOOST_TEST(report.snapshot_loaded);
  BOOST_TEST(report.snapshot_position == (log_position{1, 10}));
  BOOST_TEST(report.records_replayed == 8u);
  BOOST_TEST(again->rows() == store->rows());
  BOOST_TEST(again->checksum() == store->checksum());
  BOOST_TEST(again->history() == store->history());
  BOOST_TEST(again->last() == (log_position{2, 18}));
}

BOOST_AUTO_TEST_CASE(a_checkpoint_merges_the_log_into_the_snapshot_rows) {
  auto store = make();
  open(*store);
  uint64_t lsn = 0;
  auto w = [&](log_record rec) {
    rec.lsn = ++lsn;
    store->append(rec);
  };
  for (auto key : {"a", "c", "e", "g"})
    w(put(1, 0, key, std::string{"old-"} + key));
  BOOST_REQUIRE(!store->checkpoint());
  // Overwrites, deletes and new keys on both sides of the snapshot's; a
  // key written and deleted; a key written twice.
  w(put(2, 0, "b", "new-b"));
  w(put(2, 0, "c", "new-c"));
  w(del(2, 0, "e"));
  w(put(2, 0, "a", "new-a"));
  w(del(2, 0, "a"));
  w(put(2, 0, "h", "first-h"));
  w(put(3, 0, "h", "last-h"));
  w(del(3, 0, "zz")); // a key nobody had
  BOOST_REQUIRE(!store->checkpoint());
  BOOST_TEST(store->log_bytes() == 0u);
  auto again = make();
  auto report = open(*again);
  BOOST_TEST(report.snapshot_position == (log_position{3, lsn}));
  BOOST_TEST(report.records_replayed == 0u);
  BOOST_TEST(again->rows() == store->rows());
  BOOST_TEST(again->rows().size() == 4u);
  BOOST_TEST(again->rows().at("h") == "last-h");
  BOOST_TEST(again->rows().at("c") == "new-c");
  BOOST_TEST(again->rows().count("a") == 0u);
  BOOST_TEST(again->checksum() == store->checksum());
  BOOST_TEST(again->history() == store->history());
}

BOOST_AUTO_TEST_CASE(a_crash_at_any_step_of_a_checkpoint_keeps_every_record) {
  // Before the job ran, after it wrote its file, and after the new snapshot
  // took the place of the old one but before wal.prev went.
  for (int step = 1; step <= 3; ++step) {
    BOOST_TEST_CONTEXT("crash after step " << step) {
      fs = std::make_shared<memory_vfs>();
      auto store = make();
      open(*store);
      append_range(*store, 1, 1, 6);
      BOOST_REQUIRE(!store->checkpoint()); // snapshot at 6
      store->append(del(1, 7, key_of(2)));
      append_range(*store, 1, 8, 12);
      auto job = store->begin_checkpoint();
      BOOST_REQUIRE_MESSAGE(job.ok(), why(job));
      append_range(*store, 3, 13, 15);
      flush(*store);
      if (step >= 2)
        BOOST_REQUIRE(job->run().ok());
      if (step >= 3)
        BOOST_REQUIRE(!fs->rename(job->out_path, snap_path));
      auto again = make();
      auto report = open(*again);
      BOOST_TEST(report.bytes_dropped == 0u);
      BOOST_TEST(report.snapshot_position
                 == (step >= 3 ? log_position{1, 12} : log_position{1, 6}));
      BOOST_TEST(again->last() == (log_position{3, 15}));
      BOOST_TEST(again->rows() == store->rows());
      BOOST_TEST(again->rows().count(key_of(2)) == 0u);
      BOOST_TEST(again->checksum() == store->checksum());
      // The leftover job file is gone; the next checkpoint folds wal.prev.
      BOOST_TEST(!fs->exists(job->out_path));
      BOOST_REQUIRE(!again->checkpoint());
      BOOST_TEST(!fs->exists(dir + "/wal.prev"));
      auto third = make();
      auto last = open(*third);
      BOOST_TEST(last.snapshot_position == (log_position{1, 12}));
      BOOST_TEST(third->last() == (log_position{3, 15}));
      BOOST_TEST(third->rows() == store->rows());
    }
  }
}

BOOST_AUTO_TEST_CASE(a_checkpoint_begun_before_a_rebuild_is_discarded) {
  auto store = make();
  open(*store);
  append_range(*store, 1, 1, 5);
  auto job = store->begin_checkpoint();
  BOOST_REQUIRE_MESSAGE(job.ok(), why(job));
  auto folded = job->run();
  BOOST_REQUIRE(folded.ok());
  // Meanwhile the copy is replaced by its master's snapshot.
  snapshot_data snap;
  snap.position = {4, 40};
  snap.history = {{4, 1}};
  snap.rows["other"] = "row";
  BOOST_REQUIRE(!receive(*store, encode_snapshot(snap)));
  BOOST_TEST(!store->checkpoint_open());
  BOOST_TEST(!fs->exists(dir + "/wal.prev"));
  BOOST_REQUIRE(!store->end_checkpoint(*job, folded));
  BOOST_TEST(!fs->exists(job->out_path));
  auto again = make();
  auto report = open(*again);
  BOOST_TEST(report.snapshot_position == (log_position{4, 40}));
  BOOST_TEST(again->rows().size() == 1u);
  BOOST_TEST(again->rows().count("other") == 1u);
}

BOOST_AUTO_TEST_CASE(a_failed_checkpoint_leaves_the_sealed_log_for_the_next) {
  auto store = make();
  open(*store);
  append_range(*store, 1, 1, 5);
  auto job = store->begin_checkpoint();
  BOOST_REQUIRE(job.ok());
  // The sealed segment rots on disk before the job reads it.
  BOOST_REQUIRE(!fs->corrupt(dir + "/wal.prev", 20));
  auto folded = job->run();
  BOOST_REQUIRE(!folded.ok());
  BOOST_TEST(folded.err().detail().find("wal.prev") != std::string::npos);
  auto err = store->end_checkpoint(*job, folded);
  BOOST_TEST(err.name() == folded.err().name());
  BOOST_TEST(!store->checkpoint_open());
  BOOST_TEST(fs->exists(dir + "/wal.prev"));
  BOOST_TEST(!fs->exists(snap_path));
  // Recovery finds the damage and fails, cutting nothing: the records
  // after it, in wal.prev and wal.log, are still there for forensics.
  append_range(*store, 1, 6, 7);
  flush(*store);
  auto log_before = file(wal_path);
  auto again = make();
  auto report = again->open();
  BOOST_REQUIRE(!report.ok());
  BOOST_TEST(report.err().detail().find("wal.prev") != std::string::npos);
  BOOST_TEST(again->recovery().corrupt_file == dir + "/wal.prev");
  BOOST_TEST(again->last().lsn < 5u);
  BOOST_TEST(file(wal_path) == log_before);
  BOOST_TEST(!log_before.empty());
}

BOOST_AUTO_TEST_SUITE_END()
