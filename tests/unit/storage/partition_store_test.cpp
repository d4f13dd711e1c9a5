// The store itself: appends, flushes, recovery after crashes and damage,
// deferred applies, the content checksum and the term history
// (storage/partition_store).
#include "storage/partition_store.hpp"

#include <boost/test/unit_test.hpp>

#include "base/bugs.hpp"

#include "support/temp_dir.hpp"

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "unit/storage/store_fixture.hpp"

using namespace lg::storage;
using namespace lg::storage::testing;

using lg::test::temp_dir;

BOOST_FIXTURE_TEST_SUITE(storage_partition_store, fixture)

BOOST_AUTO_TEST_CASE(reopen_restores_everything) {
  auto store = make();
  auto report = open(*store);
  BOOST_TEST(!report.snapshot_loaded);
  BOOST_TEST(report.records_replayed == 0u);
  append_range(*store, 1, 1, 50);
  store->append(del(1, 51, key_of(10)));
  store->append(put(1, 52, key_of(11), "overwritten"));
  BOOST_TEST(store->has_unflushed());
  BOOST_TEST(store->flushed().lsn == 0u);
  flush(*store);
  BOOST_TEST(!store->has_unflushed());
  BOOST_TEST(store->flushed() == (log_position{1, 52}));
  BOOST_TEST(store->log_bytes() == file(wal_path).size());
  auto rows = store->rows();
  auto sum = store->checksum();
  BOOST_TEST(rows.size() == 49u);
  BOOST_TEST(sum == sum_of_row_hashes(rows));

  auto again = make();
  report = open(*again);
  BOOST_TEST(report.records_replayed == 52u);
  BOOST_TEST(report.bytes_dropped == 0u);
  BOOST_TEST(report.drop_reason.empty());
  BOOST_TEST(again->rows() == rows);
  BOOST_TEST(again->checksum() == sum);
  BOOST_TEST(again->last() == (log_position{1, 52}));
  BOOST_TEST(again->flushed() == (log_position{1, 52}));
  BOOST_TEST(again->log_bytes() == store->log_bytes());
}

BOOST_AUTO_TEST_CASE(reopen_gives_back_the_write_ids_of_snapshot_and_log) {
  auto store = make();
  open(*store);
  append_range(*store, 1, 1, 10);
  BOOST_REQUIRE(!store->checkpoint());
  append_range(*store, 1, 11, 14);
  store->append(del(1, 15, key_of(2))); // a write without an id
  flush(*store);
  auto again = make();
  open(*again);
  auto ids = again->take_write_ids();
  BOOST_REQUIRE_EQUAL(ids.size(), 14u);
  for (uint64_t lsn = 1; lsn <= 14; ++lsn) {
    BOOST_TEST(ids[lsn - 1].id == lsn * 10);
    BOOST_TEST(ids[lsn - 1].lsn == lsn);
  }
}

BOOST_AUTO_TEST_CASE(recovery_drops_a_torn_tail) {
  auto store = make();
  open(*store);
  append_range(*store, 1, 1, 10);
  flush(*store);
  auto record_size = encode_record(numbered(1, 1)).size();
  auto full = file(wal_path).size();
  BOOST_REQUIRE(full == 10 * record_size);
  BOOST_REQUIRE(!fs->truncate(wal_path, full - 5));

  auto again = make();
  auto report = open(*again);
  BOOST_TEST(report.records_replayed == 9u);
  BOOST_TEST(report.bytes_dropped == record_size - 5);
  BOOST_TEST(report.drop_reason.find("torn") != std::string::npos);
  BOOST_TEST(report.drop_reason.find(wal_path) != std::string::npos);
  BOOST_TEST(again->last() == (log_position{1, 9}));
  BOOST_TEST(again->rows().size() == 9u);
  BOOST_TEST(again->rows().count(key_of(10)) == 0u);
  BOOST_TEST(file(wal_path).size() == 9 * record_size);
}

BOOST_AUTO_TEST_CASE(a_torn_tail_is_reported_with_its_file) {
  auto store = make();
  open(*store);
  append_range(*store, 1, 1, 3);
  flush(*store);
  auto record_size = encode_record(numbered(1, 1)).size();
  BOOST_REQUIRE(!fs->truncate(wal_path, 2 * record_size + 7));
  auto again = make();
  auto report = open(*again);
  BOOST_TEST(report.bytes_dropped == 7u);
  BOOST_TEST(report.dropped_file == wal_path);
  BOOST_TEST(report.drop_reason.rfind("torn_record at offset "
                                        + std::to_string(2 * record_size),
                                      0)
             == 0u);
  BOOST_TEST(report.corrupt_file.empty());
  BOOST_TEST(again->recovery().bytes_dropped == 7u);
  BOOST_TEST(again->last() == (log_position{1, 2}));
}

BOOST_AUTO_TEST_CASE(corruption_in_the_middle_fails_and_leaves_the_file) {
  auto store = make();
  open(*store);
  append_range(*store, 1, 1, 10);
  flush(*store);
  auto record_size = encode_record(numbered(1, 1)).size();
  auto before = file(wal_path);
  // A byte inside the value of record 5.
  BOOST_REQUIRE(!fs->corrupt(wal_path, 4 * record_size + record_size - 2));
  auto damaged = file(wal_path);

  auto again = make();
  auto res = again->open();
  BOOST_REQUIRE(!res.ok());
  BOOST_TEST(res.err().name() == "checksum_mismatch");
  BOOST_TEST(res.err().detail().find("corrupt at offset "
                                     + std::to_string(4 * record_size) + " of "
                                     + wal_path)
             != std::string::npos);
  // The report says where, and the store where its good records end.
  BOOST_TEST(again->recovery().corrupt_file == wal_path);
  BOOST_TEST(again->recovery().corrupt_offset == 4 * record_size);
  BOOST_TEST(again->recovery().bytes_dropped == 0u);
  BOOST_TEST(again->last() == (log_position{1, 4}));
  // Nothing was cut: the records after the damage are still there.
  BOOST_TEST(file(wal_path) == damaged);
  BOOST_TEST(file(wal_path).size() == before.size());
  // And it stays so: opening again fails the same way.
  BOOST_TEST(!make()->open().ok());
}

BOOST_AUTO_TEST_CASE(a_damaged_length_in_the_middle_is_corruption) {
  // Five records, the high byte of the second one's length changed: it
  // declares a record longer than the file (or than any record), as a torn
  // one would, but records follow it.
  // Byte 2 (xor 1): 64 KiB more, past the end of the file; byte 3 (xor
  // 0xFF): past the 64 MiB limit.
  for (auto [at, flip] : {std::pair<size_t, int>{2, 0x01}, {3, 0xFF}}) {
    BOOST_TEST_CONTEXT("byte " << at << " xor " << flip) {
      fixture f;
      auto store = f.make();
      f.open(*store);
      f.append_range(*store, 1, 1, 5);
      f.flush(*store);
      auto record_size = encode_record(numbered(1, 1)).size();
      auto bytes = f.file(wal_path);
      bytes[record_size + at] =
        static_cast<char>(bytes[record_size + at] ^ flip);
      BOOST_REQUIRE(!f.fs->write_atomic(wal_path, bytes));
      auto again = f.make();
      auto res = again->open();
      BOOST_REQUIRE(!res.ok());
      BOOST_TEST(res.err().name() == "bad_format");
      BOOST_TEST(again->recovery().corrupt_offset == record_size);
      BOOST_TEST(again->last() == (log_position{1, 1}));
      BOOST_TEST(f.file(wal_path) == bytes);
    }
  }
}

BOOST_AUTO_TEST_CASE(a_damaged_last_record_is_corruption_too) {
  auto store = make();
  open(*store);
  append_range(*store, 1, 1, 3);
  flush(*store);
  auto record_size = encode_record(numbered(1, 1)).size();
  // Its crc fails: the record is whole, and was acknowledged.
  BOOST_REQUIRE(!fs->corrupt(wal_path, 3 * record_size - 1));
  BOOST_TEST(!make()->open().ok());
  BOOST_TEST(file(wal_path).size() == 3 * record_size);
  BOOST_REQUIRE(!fs->corrupt(wal_path, 3 * record_size - 1));
  // Its length grows past the end of the file: the fields it covers say
  // the record was whole.
  BOOST_REQUIRE(!fs->corrupt(wal_path, 2 * record_size + 1));
  auto again = make();
  auto res = again->open();
  BOOST_REQUIRE(!res.ok());
  BOOST_TEST(again->recovery().corrupt_offset == 2 * record_size);
  BOOST_TEST(file(wal_path).size() == 3 * record_size);
}

BOOST_AUTO_TEST_CASE(corrupt_as_torn_cuts_at_the_first_bad_record) {
  // The broken variant: the old reader's behaviour, for the test that shows
  // what it loses.
  auto store = make();
  open(*store);
  append_range(*store, 1, 1, 5);
  flush(*store);
  auto record_size = encode_record(numbered(1, 1)).size();
  BOOST_REQUIRE(!fs->corrupt(wal_path, record_size + 2));
  lg::bugs::corrupt_as_torn = true;
  auto again = make();
  auto res = again->open();
  lg::bugs::reset();
  BOOST_REQUIRE_MESSAGE(res.ok(), why(res));
  BOOST_TEST(res->bytes_dropped == 4 * record_size);
  BOOST_TEST(again->last() == (log_position{1, 1}));
  BOOST_TEST(file(wal_path).size() == record_size);
}

BOOST_AUTO_TEST_CASE(an_out_of_sequence_record_is_corruption) {
  std::string log = encode_record(numbered(1, 1))
    + encode_record(numbered(1, 2)) + encode_record(numbered(1, 4));
  BOOST_REQUIRE(!fs->make_dirs(dir));
  BOOST_REQUIRE(!fs->write_atomic(wal_path, log));
  auto store = make();
  auto res = store->open();
  BOOST_REQUIRE(!res.ok());
  BOOST_TEST(res.err().name() == "bad_format");
  BOOST_TEST(store->last() == (log_position{1, 2}));
  BOOST_TEST(store->recovery().corrupt_reason.find("out_of_sequence")
             != std::string::npos);
  BOOST_TEST(file(wal_path) == log);

  // A term going backwards is as wrong as a gap.
  log = encode_record(numbered(3, 1)) + encode_record(numbered(2, 2));
  BOOST_REQUIRE(!fs->write_atomic(wal_path, log));
  auto other = make();
  BOOST_TEST(!other->open().ok());
  BOOST_TEST(other->last() == (log_position{3, 1}));
  BOOST_TEST(other->recovery().corrupt_reason.find("out_of_sequence")
             != std::string::npos);
}

BOOST_AUTO_TEST_CASE(append_refuses_out_of_sequence_records) {
  auto store = make();
  open(*store);
  store->append(numbered(2, 1));
  BOOST_CHECK_THROW(store->append(numbered(2, 3)), std::logic_error);
  BOOST_CHECK_THROW(store->append(numbered(1, 2)), std::logic_error);
  BOOST_TEST(store->last() == (log_position{2, 1}));
  BOOST_TEST(store->rows().size() == 1u);
}

BOOST_AUTO_TEST_CASE(records_covered_by_the_snapshot_are_skipped) {
  // As if a crash hit between writing the snapshot and emptying the log.
  std::string log;
  for (uint64_t lsn = 1; lsn <= 8; ++lsn)
    log += encode_record(numbered(1, lsn));
  snapshot_data snap;
  snap.position = {1, 5};
  snap.history = {{1, 1}};
  for (uint64_t lsn = 1; lsn <= 5; ++lsn)
    snap.rows[key_of(lsn)] = numbered(1, lsn).value;
  BOOST_REQUIRE(!fs->make_dirs(dir));
  BOOST_REQUIRE(!fs->write_atomic(wal_path, log));
  BOOST_REQUIRE(!fs->write_atomic(snap_path, encode_snapshot(snap)));
  auto store = make();
  auto report = open(*store);
  BOOST_TEST(report.records_replayed == 3u);
  BOOST_TEST(report.bytes_dropped == 0u);
  BOOST_TEST(store->last() == (log_position{1, 8}));
  BOOST_TEST(store->rows().size() == 8u);
}

BOOST_AUTO_TEST_CASE(corrupt_snapshot_is_an_error) {
  auto store = make();
  open(*store);
  append_range(*store, 1, 1, 5);
  BOOST_REQUIRE(!store->checkpoint());
  auto size = file(snap_path).size();
  BOOST_REQUIRE(!fs->corrupt(snap_path, size - 3));
  auto again = make();
  auto report = again->open();
  BOOST_REQUIRE(!report.ok());
  BOOST_TEST(report.err().module() == "storage");
  BOOST_TEST(report.err().name() == "checksum_mismatch");
  BOOST_TEST(report.err().to_string().rfind("storage.checksum_mismatch: ", 0)
             == 0u);
  BOOST_TEST(report.err().detail().find(snap_path) != std::string::npos);
}

BOOST_AUTO_TEST_CASE(crash_with_async_durability_loses_unsynced_records) {
  auto store = make(durability::async);
  open(*store);
  append_range(*store, 1, 1, 5);
  flush(*store);
  BOOST_TEST(store->flushed() == (log_position{1, 5}));
  append_range(*store, 1, 6, 8);
  fs->crash("/leaf1");
  auto again = make(durability::async);
  auto report = open(*again);
  BOOST_TEST(report.records_replayed == 0u);
  BOOST_TEST(again->last() == (log_position{0, 0}));
  BOOST_TEST(again->rows().empty());
}

BOOST_AUTO_TEST_CASE(crash_with_sync_durability_keeps_flushed_records) {
  auto store = make(durability::sync);
  open(*store);
  append_range(*store, 1, 1, 5);
  flush(*store);
  append_range(*store, 1, 6, 8); // never flushed
  fs->crash("/leaf1");
  auto again = make(durability::sync);
  auto report = open(*again);
  BOOST_TEST(report.records_replayed == 5u);
  BOOST_TEST(report.bytes_dropped == 0u);
  BOOST_TEST(again->last() == (log_position{1, 5}));
  BOOST_TEST(again->rows().size() == 5u);
}

BOOST_AUTO_TEST_CASE(torn_crash_after_a_checkpoint) {
  auto store = make(durability::async);
  open(*store);
  append_range(*store, 1, 1, 5);
  BOOST_REQUIRE(!store->checkpoint());
  append_range(*store, 1, 6, 8);
  flush(*store);
  fs->crash("/leaf1", 10);
  BOOST_REQUIRE(file(wal_path).size() == 10u);
  auto again = make(durability::async);
  auto report = open(*again);
  BOOST_TEST(report.snapshot_loaded);
  BOOST_TEST(report.records_replayed == 0u);
  BOOST_TEST(report.bytes_dropped == 10u);
  BOOST_TEST(report.drop_reason.find("torn_record at offset 0") == 0u);
  BOOST_TEST(again->last() == (log_position{1, 5}));
  BOOST_TEST(file(wal_path).empty());
}

BOOST_AUTO_TEST_CASE(wal_prev_may_end_torn_only_when_nothing_follows) {
  auto record_size = encode_record(numbered(1, 1)).size();
  auto prev = encode_record(numbered(1, 1)) + encode_record(numbered(1, 2));
  auto torn_prev = prev.substr(0, prev.size() - 3);
  BOOST_REQUIRE(!fs->make_dirs(dir));
  BOOST_REQUIRE(!fs->write_atomic(dir + "/wal.prev", torn_prev));
  // wal.log holds records after it: the bad record is in the middle.
  auto log = encode_record(numbered(1, 3));
  BOOST_REQUIRE(!fs->write_atomic(wal_path, log));
  auto store = make();
  BOOST_TEST(!store->open().ok());
  BOOST_TEST(store->recovery().corrupt_file == dir + "/wal.prev");
  BOOST_TEST(file(dir + "/wal.prev") == torn_prev);
  BOOST_TEST(file(wal_path) == log);
  // With wal.log empty it is the last record of the log: cut.
  BOOST_REQUIRE(!fs->write_atomic(wal_path, ""));
  auto again = make();
  auto report = open(*again);
  BOOST_TEST(report.bytes_dropped == record_size - 3);
  BOOST_TEST(report.dropped_file == dir + "/wal.prev");
  BOOST_TEST(again->last() == (log_position{1, 1}));
}

BOOST_AUTO_TEST_CASE(checksum_depends_on_content_not_history) {
  auto a = std::make_unique<partition_store>(fs, "/a", durability::async);
  auto b = std::make_unique<partition_store>(fs, "/b", durability::async);
  auto c = std::make_unique<partition_store>(fs, "/c", durability::async);
  open(*a);
  open(*b);
  open(*c);
  a->append(put(1, 1, "x", "1"));
  a->append(put(1, 2, "y", "2"));
  a->append(put(1, 3, "z", "3"));
  b->append(put(1, 1, "z", "3"));
  b->append(put(2, 2, "x", "old"));
  b->append(put(2, 3, "tmp", "gone"));
  b->append(put(2, 4, "y", "2"));
  b->append(del(2, 5, "tmp"));
  b->append(put(3, 6, "x", "1"));
  c->append(put(1, 1, "x", "2"));
  c->append(put(1, 2, "y", "1"));
  c->append(put(1, 3, "z", "3"));
  BOOST_TEST(a->rows() == b->rows());
  BOOST_TEST(a->checksum() == b->checksum());
  BOOST_TEST(a->checksum() == sum_of_row_hashes(a->rows()));
  BOOST_TEST(a->checksum() != c->checksum());
  BOOST_TEST(a->checksum() != 0u);
  b->append(del(3, 7, "x"));
  b->append(del(3, 8, "y"));
  b->append(del(3, 9, "z"));
  BOOST_TEST(b->checksum() == 0u);
}

/// Two stores on one file system: `eager` applies each record as it is
/// appended, `lazy` (in /other) is given the same records deferred.
struct eager_and_lazy {
  fixture f;
  std::unique_ptr<partition_store> eager;
  std::unique_ptr<partition_store> lazy;

  eager_and_lazy() {
    eager = f.make(durability::async);
    f.open(*eager);
    f.fs->make_dirs("/other");
    lazy = std::make_unique<partition_store>(f.fs, "/other",
                                             durability::async);
    f.open(*lazy);
  }
};

BOOST_AUTO_TEST_CASE(a_long_run_of_deferred_records_applies_as_appended) {
  // apply_pending decodes records ahead of the one it applies; puts,
  // overwrites and deletes of a few keys, close together and across many
  // look-ahead windows, must still land in log order.
  eager_and_lazy both;
  auto& eager = both.eager;
  auto& lazy = both.lazy;
  for (uint64_t lsn = 1; lsn <= 1000; ++lsn) {
    auto key = "k" + std::to_string(lsn % 7);
    auto rec = lsn % 5 == 0 ? del(1, lsn, key)
                            : put(1, lsn, key, "v" + std::to_string(lsn));
    eager->append(rec);
    lazy->append_deferred(rec);
  }
  lazy->apply_pending();
  BOOST_TEST(lazy->rows() == eager->rows());
  BOOST_TEST(lazy->checksum() == eager->checksum());
  // The last records: lsn 999 puts k5, lsn 1000 deletes k6.
  BOOST_TEST(lazy->rows().at("k5") == "v999");
  BOOST_TEST(lazy->rows().count("k6") == 0u);
}

BOOST_AUTO_TEST_CASE(deferred_records_apply_in_order_and_persist) {
  eager_and_lazy both;
  auto& f = both.f;
  auto& eager = both.eager;
  auto& lazy = both.lazy;
  std::vector<log_record> recs{put(1, 1, "a", "1"), put(1, 2, "b", "2"),
                               put(2, 3, "a", "3"), del(2, 4, "b")};
  for (auto& r : recs) {
    eager->append(r);
    lazy->append_deferred(r);
  }
  // Position and history move at once; the rows wait.
  BOOST_TEST(lazy->last().lsn == 4u);
  BOOST_TEST(lazy->history().size() == 2u);
  BOOST_TEST(lazy->rows().empty());
  BOOST_TEST(lazy->pending_apply_bytes() > 0u);
  f.flush(*lazy);
  lazy->apply_pending();
  BOOST_TEST(lazy->pending_apply_bytes() == 0u);
  BOOST_TEST(lazy->rows() == eager->rows());
  BOOST_TEST(lazy->checksum() == eager->checksum());
  // An eager append after deferred ones sees them first.
  lazy->append_deferred(put(2, 5, "c", "5"));
  lazy->append(put(2, 6, "c", "6"));
  BOOST_TEST(lazy->rows().at("c") == "6");
  f.flush(*lazy);
  auto again = std::make_unique<partition_store>(f.fs, "/other",
                                                 durability::async);
  f.open(*again);
  BOOST_TEST(again->rows() == lazy->rows());
}

BOOST_AUTO_TEST_CASE(term_history_across_terms_and_checkpoints) {
  auto store = make();
  open(*store);
  append_range(*store, 1, 1, 3);
  append_range(*store, 2, 4, 5);
  append_range(*store, 4, 6, 6);
  std::vector<term_start> expected{{1, 1}, {2, 4}, {4, 6}};
  BOOST_TEST(store->history() == expected);
  flush(*store);
  auto again = make();
  open(*again);
  BOOST_TEST(again->history() == expected);

  BOOST_REQUIRE(!again->checkpoint());
  append_range(*again, 4, 7, 8);
  append_range(*again, 5, 9, 9);
  flush(*again);
  expected.push_back({5, 9});
  BOOST_TEST(again->history() == expected);
  BOOST_TEST(again->make_snapshot().history == expected);
  auto third = make();
  auto report = open(*third);
  BOOST_TEST(report.snapshot_loaded);
  BOOST_TEST(report.records_replayed == 3u);
  BOOST_TEST(third->history() == expected);
  BOOST_TEST(third->last() == (log_position{5, 9}));
}

BOOST_AUTO_TEST_CASE(a_log_record_out_of_sequence_is_refused) {
  auto store = make();
  open(*store);
  append_range(*store, 1, 1, 3);
  flush(*store);
  auto gap = encode_record(numbered(1, 5));
  auto err = store->append_log_bytes(gap, {});
  BOOST_TEST(err.name() == "bad_format");
  BOOST_TEST(err.detail().find("does not follow") != std::string::npos);
  auto torn = encode_record(numbered(1, 4));
  torn.pop_back();
  BOOST_TEST(store->append_log_bytes(torn, {}).name() == "torn_record");
  // A record of a term above the sender's is refused too.
  BOOST_TEST(store->append_log_bytes(encode_record(numbered(3, 4)), {}, 2)
               .name()
             == "bad_format");
  BOOST_TEST(store->last() == (log_position{1, 3}));
}

BOOST_AUTO_TEST_CASE(disk_store_round_trip) {
  temp_dir tmp;
  auto disk = make_disk_vfs();
  auto path = tmp.path + "/leaf/db_2";
  {
    partition_store store{disk, path, durability::sync};
    BOOST_REQUIRE(store.open().ok());
    append_range(store, 1, 1, 100);
    flush(store);
    BOOST_REQUIRE(!store.checkpoint());
    append_range(store, 2, 101, 150);
    flush(store);
  }
  partition_store store{disk, path, durability::sync};
  auto report = store.open();
  BOOST_REQUIRE_MESSAGE(report.ok(), why(report));
  BOOST_TEST(report->snapshot_loaded);
  BOOST_TEST(report->records_replayed == 50u);
  BOOST_TEST(store.rows().size() == 150u);
  BOOST_TEST(store.last() == (log_position{2, 150}));
  auto listed = disk->list_dir(path);
  BOOST_REQUIRE(listed.ok());
  BOOST_TEST(*listed == (std::vector<std::string>{"snapshot.bin", "wal.log"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(async_flush_is_lost_in_a_machine_crash_unless_synced) {
  auto store = make(durability::async);
  open(*store);
  append_range(*store, 1, 1, 10);
  flush(*store);
  BOOST_TEST(store->flushed() == (log_position{1, 10}));
  BOOST_TEST(store->synced().lsn == 0u);
  BOOST_TEST(!store->sync_log());
  BOOST_TEST(store->synced() == (log_position{1, 10}));
  append_range(*store, 1, 11, 20);
  flush(*store);
  BOOST_TEST(store->synced() == (log_position{1, 10}));
  // The machine goes down: what was fsynced stays, the rest is gone.
  fs->crash(dir);
  auto again = make(durability::async);
  open(*again);
  BOOST_TEST(again->last() == (log_position{1, 10}));
  BOOST_TEST(again->synced() == (log_position{1, 10}));
}

BOOST_AUTO_TEST_CASE(sync_durability_is_synced_at_every_flush) {
  auto store = make(durability::sync);
  open(*store);
  append_range(*store, 1, 1, 5);
  flush(*store);
  BOOST_TEST(store->synced() == (log_position{1, 5}));
  BOOST_TEST(!store->sync_log());
}

BOOST_AUTO_TEST_CASE(a_checkpoint_keeps_what_was_flushed_on_disk) {
  auto store = make(durability::async);
  open(*store);
  append_range(*store, 1, 1, 10);
  flush(*store);
  store->sync_log();
  append_range(*store, 1, 11, 12);
  flush(*store);
  // Sealing wal.log fsyncs it first: sync_log() would only reach the new
  // one afterwards.
  auto job = store->begin_checkpoint();
  BOOST_REQUIRE(job.ok());
  BOOST_TEST(store->synced() == (log_position{1, 12}));
  fs->crash(dir);
  auto again = make(durability::async);
  open(*again);
  BOOST_TEST(again->last() == (log_position{1, 12}));
}

BOOST_AUTO_TEST_SUITE_END()
