// Streaming a copy to a rebuilding replica: snapshot_source,
// snapshot_receiver, install, and the writer thread
// (storage/snapshot_transfer).
#include "storage/snapshot_transfer.hpp"

#include <boost/test/unit_test.hpp>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "storage/background_worker.hpp"
#include "storage/partition_store.hpp"
#include "unit/storage/store_fixture.hpp"

using namespace lg::storage;
using namespace lg::storage::testing;

BOOST_FIXTURE_TEST_SUITE(storage_snapshot_transfer, fixture)

BOOST_AUTO_TEST_CASE(a_rebuild_source_includes_the_sealed_log) {
  auto store = make();
  open(*store);
  append_range(*store, 1, 1, 4);
  BOOST_REQUIRE(!store->checkpoint());
  append_range(*store, 1, 5, 8);
  auto job = store->begin_checkpoint();
  BOOST_REQUIRE(job.ok());
  append_range(*store, 1, 9, 10);
  flush(*store);
  auto src = store->open_snapshot_source();
  BOOST_REQUIRE_MESSAGE(src.ok(), why(src));
  BOOST_TEST(src->position == (log_position{1, 10}));
  auto copy = std::make_unique<partition_store>(fs, "/leaf2/db_0",
                                                durability::sync);
  BOOST_REQUIRE(copy->open().ok());
  auto in = copy->receive_snapshot();
  BOOST_REQUIRE(in.ok());
  auto snap = src->read_snapshot(0, src->snapshot_bytes());
  BOOST_REQUIRE(snap.ok());
  BOOST_REQUIRE(!(*in)->feed(*snap));
  BOOST_REQUIRE(!copy->install(**in));
  BOOST_REQUIRE(!copy->append_log_bytes(src->log, nullptr));
  copy->apply_pending();
  BOOST_TEST(copy->last() == (log_position{1, 10}));
  BOOST_TEST(copy->rows() == store->rows());
  BOOST_REQUIRE(!store->end_checkpoint(*job, job->run()));
}

BOOST_AUTO_TEST_CASE(a_received_snapshot_resets_a_diverged_copy) {
  auto source = std::make_unique<partition_store>(fs, "/master",
                                                  durability::sync);
  open(*source);
  append_range(*source, 3, 1, 4);
  append_range(*source, 5, 5, 7);
  auto snap = source->make_snapshot();
  BOOST_TEST(snap.position == (log_position{5, 7}));
  BOOST_TEST(snap.rows == (std::map<std::string, std::string>{
                             source->rows().begin(), source->rows().end()}));

  auto store = make();
  open(*store);
  append_range(*store, 4, 1, 9); // a diverged history
  store->append(put(4, 10, "stale", "x"));
  flush(*store);
  BOOST_REQUIRE(!receive(*store, encode_snapshot(snap)));
  BOOST_TEST(store->rows() == row_map(snap.rows.begin(), snap.rows.end()));
  BOOST_TEST(store->history() == snap.history);
  BOOST_TEST(store->last() == snap.position);
  BOOST_TEST(store->flushed() == snap.position);
  BOOST_TEST(store->checksum() == source->checksum());
  BOOST_TEST(store->log_bytes() == 0u);
  BOOST_TEST(file(wal_path).empty());
  store->append(numbered(5, 8));
  flush(*store);

  auto again = make();
  auto report = open(*again);
  BOOST_TEST(report.snapshot_position == snap.position);
  BOOST_TEST(report.records_replayed == 1u);
  BOOST_TEST(again->last() == (log_position{5, 8}));
  BOOST_TEST(again->rows().count("stale") == 0u);
  BOOST_TEST(again->checksum() == store->checksum());

  snapshot_data bad = snap;
  bad.history = {{5, 1}, {3, 2}};
  BOOST_TEST(receive(*store, encode_snapshot(bad)).name() == "bad_format");
  BOOST_TEST(store->last() == (log_position{5, 8}));
}

BOOST_AUTO_TEST_CASE(a_received_snapshot_replaces_everything) {
  auto source = std::make_unique<partition_store>(fs, "/master",
                                                  durability::sync);
  open(*source);
  append_range(*source, 3, 1, 40);
  append_range(*source, 5, 41, 50);
  BOOST_REQUIRE(!source->checkpoint());
  auto encoded = file("/master/snapshot.bin");

  auto store = make();
  open(*store);
  append_range(*store, 4, 1, 9); // a diverged history
  flush(*store);
  auto in = store->receive_snapshot();
  BOOST_REQUIRE_MESSAGE(in.ok(), why(in));
  for (size_t at = 0; at < encoded.size(); at += 333) {
    auto err = (*in)->feed(std::string_view{encoded}.substr(at, 333));
    BOOST_REQUIRE_MESSAGE(!err, err.to_string());
  }
  // Nothing changes before the install.
  BOOST_TEST(store->last() == (log_position{4, 9}));
  auto err = store->install(**in);
  BOOST_REQUIRE_MESSAGE(!err, err.to_string());
  BOOST_TEST(store->rows() == source->rows());
  BOOST_TEST(store->last() == source->last());
  BOOST_TEST(store->history() == source->history());
  BOOST_TEST(store->checksum() == source->checksum());
  BOOST_TEST(file(snap_path) == encoded);
  BOOST_TEST(!fs->exists(snap_path + ".incoming"));
  BOOST_TEST(file(wal_path).empty());
  store->append(numbered(5, 51));
  flush(*store);

  auto again = make();
  auto report = open(*again);
  BOOST_TEST(report.snapshot_position == source->last());
  BOOST_TEST(report.records_replayed == 1u);
  BOOST_TEST(again->checksum() == store->checksum());
}

/// Streams `source`'s files into `target` as a rebuild does: the snapshot in
/// pieces of `piece` bytes, then the log cut at record boundaries. Returns
/// how many log records `target` took.
size_t stream_files(partition_store& source, partition_store& target,
                    size_t piece) {
  auto src = source.open_snapshot_source();
  BOOST_REQUIRE_MESSAGE(src.ok(), why(src));
  auto in = target.receive_snapshot();
  BOOST_REQUIRE_MESSAGE(in.ok(), why(in));
  for (uint64_t at = 0; at < src->snapshot_bytes(); at += piece) {
    auto bytes = src->read_snapshot(at, piece);
    BOOST_REQUIRE_MESSAGE(bytes.ok(), why(bytes));
    BOOST_REQUIRE(!(*in)->feed(*bytes));
  }
  BOOST_REQUIRE((*in)->complete());
  auto err = target.install(**in);
  BOOST_REQUIRE_MESSAGE(!err, err.to_string());
  size_t taken = 0;
  std::string_view log{src->log};
  while (!log.empty()) {
    auto len = record_length(log);
    BOOST_REQUIRE(len > 0u);
    err = target.append_log_bytes(log.substr(0, len),
                                  [&](const log_record_view&) { ++taken; });
    BOOST_REQUIRE_MESSAGE(!err, err.to_string());
    log.remove_prefix(len);
  }
  err = target.flush();
  BOOST_REQUIRE_MESSAGE(!err, err.to_string());
  BOOST_TEST(target.last() == src->position);
  return taken;
}

BOOST_AUTO_TEST_CASE(a_copy_rebuilt_from_a_masters_files_matches_it) {
  auto source = std::make_unique<partition_store>(fs, "/master",
                                                  durability::async);
  open(*source);
  append_range(*source, 2, 1, 40);
  BOOST_REQUIRE(!source->checkpoint());
  append_range(*source, 3, 41, 55); // after the snapshot, in wal.log
  flush(*source);

  auto store = make();
  open(*store);
  append_range(*store, 1, 1, 70); // a longer, diverged history
  flush(*store);
  BOOST_TEST(stream_files(*source, *store, 97) == 15u);
  // The write ids the snapshot carried replace those of the diverged copy;
  // the log part's come with its records.
  auto ids = store->take_write_ids();
  BOOST_REQUIRE_EQUAL(ids.size(), 40u);
  BOOST_TEST(ids.front().id == 10u);
  BOOST_TEST(ids.back().lsn == 40u);
  store->apply_pending();
  BOOST_TEST(store->rows() == source->rows());
  BOOST_TEST(store->history() == source->history());
  BOOST_TEST(store->checksum() == source->checksum());

  auto again = make();
  auto report = open(*again);
  BOOST_TEST(report.snapshot_position == (log_position{2, 40}));
  BOOST_TEST(report.records_replayed == 15u);
  BOOST_TEST(again->rows() == source->rows());
}

BOOST_AUTO_TEST_CASE(a_master_without_a_snapshot_streams_its_whole_log) {
  auto source = std::make_unique<partition_store>(fs, "/master",
                                                  durability::async);
  open(*source);
  append_range(*source, 1, 1, 12);
  flush(*source);
  auto store = make();
  open(*store);
  BOOST_TEST(stream_files(*source, *store, 5) == 12u);
  store->apply_pending();
  BOOST_TEST(store->rows() == source->rows());
  BOOST_TEST(store->checksum() == source->checksum());
  // A source opened with records not yet flushed is refused.
  source->append(numbered(1, 13));
  BOOST_TEST(!source->open_snapshot_source().ok());
}

BOOST_AUTO_TEST_CASE(a_damaged_received_snapshot_changes_nothing) {
  auto source = std::make_unique<partition_store>(fs, "/master",
                                                  durability::sync);
  open(*source);
  append_range(*source, 2, 1, 30);
  BOOST_REQUIRE(!source->checkpoint());
  auto encoded = file("/master/snapshot.bin");
  encoded[encoded.size() - 2] ^= 0x20;

  auto store = make();
  open(*store);
  append_range(*store, 1, 1, 5);
  flush(*store);
  auto rows = store->rows();
  auto in = store->receive_snapshot();
  BOOST_REQUIRE_MESSAGE(in.ok(), why(in));
  // In two pieces: the crc is checked once all arrived.
  auto half = encoded.size() / 2;
  BOOST_REQUIRE(!(*in)->feed(std::string_view{encoded}.substr(0, half)));
  BOOST_REQUIRE(!(*in)->feed(std::string_view{encoded}.substr(half)));
  BOOST_TEST(store->install(**in).name() == "checksum_mismatch");
  BOOST_TEST(store->rows() == rows);
  BOOST_TEST(store->last() == (log_position{1, 5}));
  auto again = make();
  open(*again);
  BOOST_TEST(again->rows() == rows);
}

/// A memory file system whose incoming snapshot files refuse appends.
class incoming_fails_vfs : public memory_vfs {
public:
  lg::result<std::unique_ptr<append_file>>
  open_append(const std::string& path) override {
    struct failing : append_file {
      lg::error append(std::string_view) override {
        return lg::error{"storage", "io_error", "no space left (test)"};
      }
      lg::error sync() override {
        return {};
      }
      uint64_t size() const override {
        return 0;
      }
    };
    if (path.size() > 9 && path.compare(path.size() - 9, 9, ".incoming") == 0)
      return std::unique_ptr<append_file>{new failing};
    return memory_vfs::open_append(path);
  }
};

/// A snapshot of `n` rows and its encoding.
std::string snapshot_of(size_t n) {
  snapshot_data snap;
  snap.position = {3, n};
  snap.history = {{1, 1}, {3, 2}};
  for (size_t i = 0; i < n; ++i)
    snap.rows.emplace("key" + std::to_string(i),
                      std::string(100 + i % 50, static_cast<char>('a' + i % 26)));
  return encode_snapshot(snap);
}

BOOST_AUTO_TEST_CASE(a_snapshot_written_on_a_writer_thread_installs_whole) {
  auto encoded = snapshot_of(2000);
  auto writer = std::make_shared<lg::storage::background_worker>();
  auto store = make(durability::sync);
  open(*store);
  auto in = store->receive_snapshot(writer);
  BOOST_REQUIRE_MESSAGE(in.ok(), why(in));
  // Many small pieces, alternately kept alive by the caller and copied.
  for (size_t at = 0, i = 0; at < encoded.size(); at += 1000, ++i) {
    auto piece = std::make_shared<std::string>(encoded.substr(at, 1000));
    auto err = i % 2 == 0 ? (*in)->feed(*piece, piece) : (*in)->feed(*piece);
    BOOST_REQUIRE_MESSAGE(!err, err.to_string());
  }
  auto err = store->install(**in);
  BOOST_REQUIRE_MESSAGE(!err, err.to_string());
  BOOST_TEST(file(dir + "/snapshot.bin") == encoded);
  BOOST_TEST(store->rows().size() == 2000u);
  auto again = make();
  open(*again);
  BOOST_TEST(again->rows() == store->rows());
  BOOST_TEST(again->last() == (log_position{3, 2000}));
  // The writer thread summed the checksum; it is the one recovery computes.
  BOOST_TEST(again->checksum() == store->checksum());
  BOOST_TEST(store->checksum() == sum_of_row_hashes(store->rows()));
}

BOOST_AUTO_TEST_CASE(a_corrupt_snapshot_fails_the_crc_check_on_the_writer) {
  auto encoded = snapshot_of(300);
  encoded[encoded.size() / 2] ^= 0x20; // inside a value: parses, crc differs
  auto writer = std::make_shared<lg::storage::background_worker>();
  auto store = make(durability::async);
  open(*store);
  store->append(put(1, 1, "kept", "row"));
  flush(*store);
  auto in = store->receive_snapshot(writer);
  BOOST_REQUIRE_MESSAGE(in.ok(), why(in));
  for (size_t at = 0; at < encoded.size(); at += 4096)
    BOOST_REQUIRE(!(*in)->feed(std::string_view{encoded}.substr(at, 4096)));
  BOOST_TEST(store->install(**in).name() == "checksum_mismatch");
  BOOST_TEST(store->rows().size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_failed_append_on_the_writer_thread_fails_the_install) {
  auto failing_fs = std::make_shared<incoming_fails_vfs>();
  auto store = std::make_unique<partition_store>(failing_fs, dir,
                                                 durability::async);
  BOOST_REQUIRE(store->open().ok());
  store->append(put(1, 1, "kept", "row"));
  BOOST_REQUIRE(!store->flush());
  auto writer = std::make_shared<lg::storage::background_worker>();
  auto in = store->receive_snapshot(writer);
  BOOST_REQUIRE_MESSAGE(in.ok(), why(in));
  auto encoded = snapshot_of(50);
  BOOST_REQUIRE(!(*in)->feed(encoded));
  auto err = store->install(**in);
  BOOST_TEST(err.detail().find("no space left") != std::string::npos);
  // The store keeps what it had.
  BOOST_TEST(store->rows().size() == 1u);
  BOOST_TEST(store->rows().count("kept") == 1u);
}

BOOST_AUTO_TEST_CASE(an_append_dropped_by_a_stopped_writer_fails_the_install) {
  auto writer = std::make_shared<lg::storage::background_worker>();
  writer->stop();
  auto store = make(durability::async);
  open(*store);
  auto in = store->receive_snapshot(writer);
  BOOST_REQUIRE_MESSAGE(in.ok(), why(in));
  BOOST_REQUIRE(!(*in)->feed(snapshot_of(10)));
  auto err = store->install(**in);
  BOOST_TEST(err.detail().find("dropped") != std::string::npos);
  BOOST_TEST(store->rows().empty());
}

BOOST_AUTO_TEST_CASE(a_store_never_opened_receives_a_snapshot) {
  snapshot_data snap;
  snap.position = {2, 3};
  snap.history = {{1, 1}, {2, 3}};
  snap.rows = {{"a", "b"}};
  auto store = make();
  BOOST_REQUIRE(!receive(*store, encode_snapshot(snap)));
  store->append(put(2, 4, "c", "d"));
  flush(*store);
  auto again = make();
  open(*again);
  BOOST_TEST(again->rows().size() == 2u);
  BOOST_TEST(again->last() == (log_position{2, 4}));
}

BOOST_AUTO_TEST_SUITE_END()
