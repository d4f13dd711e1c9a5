#include "storage/vfs.hpp"

#include <boost/test/unit_test.hpp>

#include "support/temp_dir.hpp"

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

using namespace lg::storage;

namespace {

/// Describes a failed result for a test message (empty when it succeeded).
template <class T>
std::string why(const lg::result<T>& res) {
  return res.ok() ? std::string{} : res.err().to_string();
}

using names = std::vector<std::string>;

/// Returns the content of `path`, failing the test when it cannot.
std::string read(vfs& fs, const std::string& path) {
  auto bytes = fs.read_file(path);
  BOOST_REQUIRE_MESSAGE(bytes.ok(), why(bytes));
  return *bytes;
}

/// Opens `path` for appending, failing the test when it cannot.
std::unique_ptr<append_file> open_for_append(vfs& fs, const std::string& path) {
  auto file = fs.open_append(path);
  BOOST_REQUIRE_MESSAGE(file.ok(), why(file));
  return std::move(*file);
}

using lg::test::temp_dir;

} // namespace

BOOST_AUTO_TEST_SUITE(storage_vfs)

BOOST_AUTO_TEST_CASE(errors_print_with_module_and_name) {
  BOOST_TEST(to_string(errc::io_error) == std::string{"io_error"});
  BOOST_TEST(to_string(errc::not_found) == std::string{"not_found"});
  BOOST_TEST(to_string(errc::checksum_mismatch)
             == std::string{"checksum_mismatch"});
  BOOST_TEST(to_string(errc::torn_record) == std::string{"torn_record"});
  BOOST_TEST(to_string(errc::bad_format) == std::string{"bad_format"});
  auto err = make_error(errc::checksum_mismatch, "wal.log@4096");
  BOOST_TEST(static_cast<bool>(err));
  BOOST_TEST(err.to_string() == "storage.checksum_mismatch: wal.log@4096");
}

BOOST_AUTO_TEST_CASE(memory_crash_loses_unsynced_bytes) {
  memory_vfs fs;
  BOOST_REQUIRE(!fs.make_dirs("/n1/p0"));
  auto file = open_for_append(fs, "/n1/p0/wal.log");
  BOOST_REQUIRE(!file->append("abc"));
  BOOST_REQUIRE(!file->sync());
  BOOST_REQUIRE(!file->append("def"));
  BOOST_TEST(file->size() == 6u);
  BOOST_TEST(read(fs, "/n1/p0/wal.log") == "abcdef");
  fs.crash("/n1");
  BOOST_TEST(read(fs, "/n1/p0/wal.log") == "abc");
  BOOST_TEST(fs.files().at("/n1/p0/wal.log")->synced == 3u);
}

BOOST_AUTO_TEST_CASE(memory_crash_keeps_a_torn_tail_in_the_largest_file) {
  memory_vfs fs;
  BOOST_REQUIRE(!fs.make_dirs("/n1/a"));
  BOOST_REQUIRE(!fs.make_dirs("/n1/b"));
  auto small = open_for_append(fs, "/n1/a/wal.log");
  auto large = open_for_append(fs, "/n1/b/wal.log");
  BOOST_REQUIRE(!small->append("xy"));
  BOOST_REQUIRE(!large->append("0123"));
  BOOST_REQUIRE(!large->sync());
  BOOST_REQUIRE(!large->append("456789"));
  fs.crash("/n1", 2);
  BOOST_TEST(read(fs, "/n1/a/wal.log") == "");
  BOOST_TEST(read(fs, "/n1/b/wal.log") == "012345");
  // What survived is now on disk: a second crash changes nothing.
  fs.crash("/n1", 2);
  BOOST_TEST(read(fs, "/n1/b/wal.log") == "012345");
}

BOOST_AUTO_TEST_CASE(memory_crash_only_touches_its_prefix) {
  memory_vfs fs;
  BOOST_REQUIRE(!fs.make_dirs("/n1"));
  BOOST_REQUIRE(!fs.make_dirs("/n10"));
  auto a = open_for_append(fs, "/n1/wal.log");
  auto b = open_for_append(fs, "/n10/wal.log");
  BOOST_REQUIRE(!a->append("lost"));
  BOOST_REQUIRE(!b->append("kept"));
  fs.crash("/n1/");
  BOOST_TEST(read(fs, "/n1/wal.log") == "");
  BOOST_TEST(read(fs, "/n10/wal.log") == "kept");
}

BOOST_AUTO_TEST_CASE(memory_write_atomic_is_durable) {
  memory_vfs fs;
  BOOST_REQUIRE(!fs.make_dirs("/d"));
  BOOST_REQUIRE(!fs.write_atomic("/d/snapshot.bin", "first"));
  BOOST_REQUIRE(!fs.write_atomic("/d/snapshot.bin", "second"));
  fs.crash("/d", 100);
  BOOST_TEST(read(fs, "/d/snapshot.bin") == "second");
  BOOST_TEST(!fs.exists("/d/snapshot.bin.tmp"));
}

BOOST_AUTO_TEST_CASE(memory_missing_paths) {
  memory_vfs fs;
  auto missing = fs.read_file("/nope");
  BOOST_REQUIRE(!missing.ok());
  BOOST_TEST(missing.err().name() == "not_found");
  BOOST_TEST(missing.err().detail().find("/nope") != std::string::npos);
  auto orphan = fs.open_append("/no/dir/wal.log");
  BOOST_REQUIRE(!orphan.ok());
  BOOST_TEST(orphan.err().name() == "not_found");
  BOOST_TEST(fs.truncate("/nope", 0).name() == "not_found");
  BOOST_TEST(fs.corrupt("/nope", 0).name() == "not_found");
  BOOST_TEST(fs.rename("/nope", "/other").name() == "not_found");
  BOOST_TEST(fs.list_dir("/nope").err().name() == "not_found");
  BOOST_TEST(!fs.remove_all("/nope"));
}

BOOST_AUTO_TEST_CASE(memory_list_dir_returns_sorted_immediate_children) {
  memory_vfs fs;
  BOOST_REQUIRE(!fs.make_dirs("/root/zeta/deep"));
  BOOST_REQUIRE(!fs.make_dirs("/root/alpha"));
  BOOST_REQUIRE(!fs.write_atomic("/root/middle.txt", "m"));
  BOOST_REQUIRE(!fs.write_atomic("/root/alpha/inner.txt", "i"));
  BOOST_TEST(fs.exists("/root"));
  BOOST_TEST(fs.exists("/root/zeta/deep"));
  auto listed = fs.list_dir("/root");
  BOOST_REQUIRE(listed.ok());
  BOOST_TEST(*listed == (names{"alpha", "middle.txt", "zeta"}),
             boost::test_tools::per_element());
  auto empty = fs.list_dir("/root/zeta/deep");
  BOOST_REQUIRE(empty.ok());
  BOOST_TEST(empty->empty());
  BOOST_TEST(fs.list_dir("/root/middle.txt").err().name() == "io_error");
}

BOOST_AUTO_TEST_CASE(memory_rename_moves_a_directory_tree) {
  memory_vfs fs;
  BOOST_REQUIRE(!fs.make_dirs("/leaf/db_3/sub"));
  BOOST_REQUIRE(!fs.write_atomic("/leaf/db_3/snapshot.bin", "snap"));
  BOOST_REQUIRE(!fs.write_atomic("/leaf/db_3/sub/x", "x"));
  BOOST_REQUIRE(!fs.make_dirs("/leaf/db_30"));
  BOOST_REQUIRE(!fs.write_atomic("/leaf/db_30/keep", "other"));
  auto wal = open_for_append(fs, "/leaf/db_3/wal.log");
  BOOST_REQUIRE(!wal->append("rec"));
  BOOST_REQUIRE(!fs.rename("/leaf/db_3", "/leaf/orphans/db_3"));
  BOOST_TEST(!fs.exists("/leaf/db_3"));
  BOOST_TEST(!fs.exists("/leaf/db_3/snapshot.bin"));
  BOOST_TEST(read(fs, "/leaf/orphans/db_3/snapshot.bin") == "snap");
  BOOST_TEST(read(fs, "/leaf/orphans/db_3/sub/x") == "x");
  BOOST_TEST(read(fs, "/leaf/orphans/db_3/wal.log") == "rec");
  BOOST_TEST(read(fs, "/leaf/db_30/keep") == "other");
  auto moved = fs.list_dir("/leaf/orphans/db_3");
  BOOST_REQUIRE(moved.ok());
  BOOST_TEST(*moved == (names{"snapshot.bin", "sub", "wal.log"}),
             boost::test_tools::per_element());
  auto top = fs.list_dir("/leaf");
  BOOST_REQUIRE(top.ok());
  BOOST_TEST(*top == (names{"db_30", "orphans"}),
             boost::test_tools::per_element());
  // The open handle follows the file, like a POSIX descriptor.
  BOOST_REQUIRE(!wal->append("+"));
  BOOST_TEST(read(fs, "/leaf/orphans/db_3/wal.log") == "rec+");
}

BOOST_AUTO_TEST_CASE(memory_rename_refuses_a_non_empty_target) {
  memory_vfs fs;
  BOOST_REQUIRE(!fs.write_atomic("/a", "")); // parent "/" always exists
  BOOST_REQUIRE(!fs.make_dirs("/src"));
  BOOST_REQUIRE(!fs.write_atomic("/src/f", "1"));
  BOOST_REQUIRE(!fs.make_dirs("/dst"));
  BOOST_REQUIRE(!fs.write_atomic("/dst/g", "2"));
  BOOST_TEST(fs.rename("/src", "/dst").name() == "io_error");
  BOOST_TEST(fs.rename("/src", "/src/inner").name() == "io_error");
  BOOST_TEST(read(fs, "/src/f") == "1");
  BOOST_REQUIRE(!fs.rename("/src/f", "/dst/f"));
  BOOST_TEST(read(fs, "/dst/f") == "1");
  BOOST_TEST(!fs.exists("/src/f"));
}

BOOST_AUTO_TEST_CASE(memory_truncate_corrupt_and_remove_all) {
  memory_vfs fs;
  BOOST_REQUIRE(!fs.make_dirs("/d/e"));
  auto file = open_for_append(fs, "/d/e/f");
  BOOST_REQUIRE(!file->append("hello world"));
  BOOST_REQUIRE(!fs.truncate("/d/e/f", 5));
  BOOST_TEST(read(fs, "/d/e/f") == "hello");
  BOOST_TEST(file->size() == 5u);
  BOOST_REQUIRE(!fs.corrupt("/d/e/f", 1));
  auto data = read(fs, "/d/e/f");
  BOOST_TEST(static_cast<unsigned char>(data[1])
             == static_cast<unsigned char>('e' ^ 0xFF));
  BOOST_TEST(fs.corrupt("/d/e/f", 5).name() == "io_error");
  BOOST_REQUIRE(!fs.remove_all("/d"));
  BOOST_TEST(!fs.exists("/d"));
  BOOST_TEST(!fs.exists("/d/e/f"));
}

BOOST_AUTO_TEST_CASE(disk_round_trip) {
  temp_dir tmp;
  auto fs = make_disk_vfs();
  auto dir = tmp.path + "/leaf/db_1";
  BOOST_REQUIRE(!fs->make_dirs(dir));
  BOOST_TEST(fs->exists(dir));
  {
    auto file = open_for_append(*fs, dir + "/wal.log");
    BOOST_TEST(file->size() == 0u);
    BOOST_REQUIRE(!file->append("first "));
    BOOST_REQUIRE(!file->append(std::string(100000, 'z')));
    BOOST_REQUIRE(!file->sync());
    BOOST_TEST(file->size() == 100006u);
  }
  {
    // Reopening appends after what is there.
    auto file = open_for_append(*fs, dir + "/wal.log");
    BOOST_TEST(file->size() == 100006u);
    BOOST_REQUIRE(!file->append("!"));
  }
  auto wal = read(*fs, dir + "/wal.log");
  BOOST_TEST(wal.size() == 100007u);
  BOOST_TEST(wal.substr(0, 6) == "first ");
  BOOST_TEST(wal.back() == '!');
  BOOST_REQUIRE(!fs->truncate(dir + "/wal.log", 3));
  BOOST_TEST(read(*fs, dir + "/wal.log") == "fir");
  BOOST_REQUIRE(!fs->write_atomic(dir + "/snapshot.bin", "one"));
  BOOST_REQUIRE(!fs->write_atomic(dir + "/snapshot.bin", "two"));
  BOOST_TEST(read(*fs, dir + "/snapshot.bin") == "two");
  BOOST_TEST(!fs->exists(dir + "/snapshot.bin.tmp"));
  auto listed = fs->list_dir(dir);
  BOOST_REQUIRE(listed.ok());
  BOOST_TEST(*listed == (names{"snapshot.bin", "wal.log"}),
             boost::test_tools::per_element());
  BOOST_REQUIRE(!fs->rename(dir, tmp.path + "/orphans/db_1"));
  BOOST_TEST(!fs->exists(dir));
  BOOST_TEST(read(*fs, tmp.path + "/orphans/db_1/snapshot.bin") == "two");
  auto missing = fs->read_file(dir + "/wal.log");
  BOOST_REQUIRE(!missing.ok());
  BOOST_TEST(missing.err().name() == "not_found");
  BOOST_TEST(missing.err().detail().find(dir + "/wal.log")
             != std::string::npos);
  BOOST_TEST(fs->list_dir(dir).err().name() == "not_found");
  BOOST_TEST(fs->truncate(dir + "/wal.log", 0).name() == "not_found");
  BOOST_REQUIRE(!fs->remove_all(tmp.path + "/orphans"));
  BOOST_TEST(!fs->exists(tmp.path + "/orphans"));
  BOOST_TEST(!fs->remove_all(tmp.path + "/orphans"));
}

BOOST_AUTO_TEST_CASE(memory_files_created_unsynced_are_durable_once_synced) {
  memory_vfs fs;
  BOOST_REQUIRE(!fs.create_unsynced("/n1/instances/db.0",
                                    {{"descriptor.pb", "abc"}, {"wal.log", ""}}));
  BOOST_REQUIRE(!fs.create_unsynced("/n1/instances/db.1",
                                    {{"descriptor.pb", "def"}}));
  BOOST_TEST(read(fs, "/n1/instances/db.0/descriptor.pb") == "abc");
  BOOST_TEST(fs.exists("/n1/instances/db.0/wal.log"));
  // Before the sync a crash empties them.
  fs.crash("/n1");
  BOOST_TEST(read(fs, "/n1/instances/db.0/descriptor.pb").empty());
  BOOST_REQUIRE(!fs.create_unsynced("/n1/instances/db.0",
                                    {{"descriptor.pb", "abc"}}));
  BOOST_REQUIRE(!fs.create_unsynced("/n2/instances/db.0",
                                    {{"descriptor.pb", "ghi"}}));
  BOOST_REQUIRE(!fs.sync_created({"/n1/instances/db.0"}));
  fs.crash("");
  BOOST_TEST(read(fs, "/n1/instances/db.0/descriptor.pb") == "abc");
  // Only in the synced directories.
  BOOST_TEST(read(fs, "/n2/instances/db.0/descriptor.pb").empty());
  fs.fail_writes("/n1", "No space left on device");
  auto err = fs.create_unsynced("/n1/instances/db.2", {{"descriptor.pb", "x"}});
  BOOST_TEST(err.detail().find("No space left on device") != std::string::npos);
  BOOST_TEST(fs.sync_created({"/n1/instances/db.0"}).name() == "io_error");
}

BOOST_AUTO_TEST_CASE(disk_files_created_unsynced_then_synced) {
  temp_dir tmp;
  auto fs = make_disk_vfs();
  auto dir = tmp.path + "/instances/db.0";
  BOOST_REQUIRE(!fs->create_unsynced(dir, {{"descriptor.pb", "abc"},
                                           {"wal.log", ""}}));
  BOOST_REQUIRE(!fs->sync_created({dir}));
  BOOST_TEST(read(*fs, dir + "/descriptor.pb") == "abc");
  BOOST_TEST(read(*fs, dir + "/wal.log").empty());
  // Created again, a file is replaced, not appended to.
  BOOST_REQUIRE(!fs->create_unsynced(dir, {{"descriptor.pb", "d"}}));
  BOOST_TEST(read(*fs, dir + "/descriptor.pb") == "d");
  // Only where something was created: the sync's descriptor was opened
  // before the first file there.
  auto elsewhere = fs->sync_created({tmp.path + "/nowhere/db.0"});
  BOOST_TEST(elsewhere.detail().find("nothing was created there")
             != std::string::npos);
  BOOST_REQUIRE(!fs->make_dirs(tmp.path + "/file_parent"));
  BOOST_REQUIRE(!fs->write_atomic(tmp.path + "/file_parent/f", "x"));
  BOOST_TEST(static_cast<bool>(
    fs->create_unsynced(tmp.path + "/file_parent/f/sub", {{"a", "b"}})));
}

BOOST_AUTO_TEST_SUITE_END()
