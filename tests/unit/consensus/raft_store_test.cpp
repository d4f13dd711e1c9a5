// What a Raft member keeps on disk, through the in-memory vfs: term and
// vote, the log, the snapshot; a torn tail is cut, corruption refused.
#include "consensus/raft_store.hpp"

#include <memory>
#include <string>

#include <boost/test/unit_test.hpp>

using namespace lg::consensus;

namespace {

std::shared_ptr<lg::storage::memory_vfs> fresh_fs() {
  return std::make_shared<lg::storage::memory_vfs>();
}

stored_entry entry(uint64_t term, const std::string& data) {
  return stored_entry{term, 1, data};
}

} // namespace

BOOST_AUTO_TEST_SUITE(consensus_raft_store)

BOOST_AUTO_TEST_CASE(term_vote_and_entries_survive_a_crash) {
  auto fs = fresh_fs();
  {
    raft_store s{fs, "/a/raft"};
    BOOST_REQUIRE(s.load());
    BOOST_TEST(s.empty());
    BOOST_TEST(!s.set_term(3));
    BOOST_TEST(!s.set_vote(2));
    BOOST_TEST(!s.append(1, {entry(1, "x"), entry(3, "y")}));
    BOOST_TEST(!s.append(3, {entry(3, "z")}));
  }
  fs->crash("/a"); // everything was synced: nothing is lost
  raft_store s{fs, "/a/raft"};
  auto st = s.load();
  BOOST_REQUIRE(st);
  BOOST_TEST(st->term == 3u);
  BOOST_TEST(st->vote == 2u);
  BOOST_TEST(st->start_index == 1u);
  BOOST_REQUIRE(st->entries.size() == 3u);
  BOOST_TEST(st->entries[1].data == "y");
  BOOST_TEST(st->entries[2].term == 3u);
  BOOST_TEST(s.last_index() == 3u);
}

BOOST_AUTO_TEST_CASE(an_append_that_does_not_follow_is_refused) {
  auto fs = fresh_fs();
  raft_store s{fs, "/a/raft"};
  BOOST_REQUIRE(s.load());
  BOOST_TEST(!s.append(1, {entry(1, "x")}));
  auto err = s.append(5, {entry(1, "y")});
  BOOST_TEST(bool(err));
  BOOST_TEST(err.detail().find("does not follow the last entry 1")
             != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_torn_last_record_is_cut_off) {
  auto fs = fresh_fs();
  {
    raft_store s{fs, "/a/raft"};
    BOOST_REQUIRE(s.load());
    BOOST_TEST(!s.append(1, {entry(1, "first"), entry(1, "second")}));
  }
  // Half of a third record reached the file.
  auto& log = fs->files()["/a/raft/raft-log"]->data;
  auto whole = log.size();
  auto third = encode_log_record(3, entry(1, "third"));
  log += third.substr(0, third.size() / 2);
  raft_store s{fs, "/a/raft"};
  auto st = s.load();
  BOOST_REQUIRE(st);
  BOOST_TEST(st->entries.size() == 2u);
  BOOST_TEST(fs->files()["/a/raft/raft-log"]->data.size() == whole);
  // Appends go on after the last whole record.
  BOOST_TEST(!s.append(3, {entry(1, "third")}));
  raft_store again{fs, "/a/raft"};
  auto st2 = again.load();
  BOOST_REQUIRE(st2);
  BOOST_TEST(st2->entries.size() == 3u);
  BOOST_TEST(st2->entries[2].data == "third");
}

BOOST_AUTO_TEST_CASE(corruption_before_the_end_is_refused_by_name) {
  auto fs = fresh_fs();
  {
    raft_store s{fs, "/a/raft"};
    BOOST_REQUIRE(s.load());
    BOOST_TEST(!s.append(1, {entry(1, "first"), entry(1, "second")}));
  }
  BOOST_TEST(!fs->corrupt("/a/raft/raft-log", 20)); // inside the first
  raft_store s{fs, "/a/raft"};
  auto st = s.load();
  BOOST_REQUIRE(!st);
  BOOST_TEST(st.err().name() == "corrupt");
  BOOST_TEST(st.err().detail().find("/a/raft/raft-log: checksum mismatch in "
                                    "the record at offset 0")
             != std::string::npos);
  // A damaged term file is refused too: a member that forgot its vote
  // could vote twice in one term.
  auto fs2 = fresh_fs();
  {
    raft_store s2{fs2, "/b"};
    BOOST_REQUIRE(s2.load());
    BOOST_TEST(!s2.set_term(7));
  }
  BOOST_TEST(!fs2->corrupt("/b/raft-meta", 9));
  raft_store s3{fs2, "/b"};
  auto st3 = s3.load();
  BOOST_REQUIRE(!st3);
  BOOST_TEST(st3.err().detail() == "/b/raft-meta: checksum mismatch");
}

BOOST_AUTO_TEST_CASE(truncate_and_snapshots_keep_the_log_in_step) {
  auto fs = fresh_fs();
  raft_store s{fs, "/a/raft"};
  BOOST_REQUIRE(s.load());
  std::vector<stored_entry> ten;
  for (int i = 1; i <= 10; ++i)
    ten.push_back(entry(1, "e" + std::to_string(i)));
  BOOST_TEST(!s.append(1, ten));
  BOOST_TEST(!s.truncate(9)); // 9 and 10 go
  BOOST_TEST(s.last_index() == 8u);
  stored_snapshot snap;
  snap.index = 6;
  snap.term = 1;
  snap.conf_index = 1;
  snap.conf = {{1, "agg-1", 1}, {2, "agg-2", 1}};
  snap.data = "state at 6";
  BOOST_TEST(!s.put_snapshot(snap, 2)); // keeps 5 and 6, and 7, 8 after
  raft_store r{fs, "/a/raft"};
  auto st = r.load();
  BOOST_REQUIRE(st);
  BOOST_REQUIRE(st->snapshot);
  BOOST_TEST(st->snapshot->data == "state at 6");
  BOOST_TEST(st->snapshot->conf.size() == 2u);
  BOOST_TEST(st->snapshot->conf[1].address == "agg-2");
  BOOST_TEST(st->start_index == 5u);
  BOOST_TEST(st->entries.size() == 4u);
  BOOST_TEST(st->entries.front().data == "e5");
  // A snapshot from the leader (trailing 0) replaces the whole log.
  snap.index = 20;
  BOOST_TEST(!r.put_snapshot(snap, 0));
  BOOST_TEST(r.last_index() == 20u);
  BOOST_TEST(!r.append(21, {entry(2, "after")}));
  raft_store q{fs, "/a/raft"};
  auto st2 = q.load();
  BOOST_REQUIRE(st2);
  BOOST_TEST(st2->start_index == 21u);
  BOOST_TEST(st2->entries.size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
