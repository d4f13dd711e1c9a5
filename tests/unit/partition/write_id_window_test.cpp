#include "actors/partition/write_id_window.hpp"

#include <boost/test/unit_test.hpp>

using lg::write_id_window;

BOOST_AUTO_TEST_SUITE(partition_write_id_window)

BOOST_AUTO_TEST_CASE(a_write_is_found_at_its_last_record) {
  write_id_window w{8};
  // A replica is streamed one call per record: write 7 wrote lsn 1..3.
  w.note(7, 1);
  w.note(7, 2);
  w.note(7, 3);
  w.note(9, 4);
  BOOST_CHECK_EQUAL(w.size(), 2u);
  BOOST_CHECK(!w.indexed());
  BOOST_CHECK_EQUAL(w.find(7).value_or(0), 3u);
  BOOST_CHECK_EQUAL(w.find(9).value_or(0), 4u);
  BOOST_CHECK(!w.find(8).has_value());
  BOOST_CHECK(w.indexed()); // the first lookup built the index
}

BOOST_AUTO_TEST_CASE(id_zero_asks_for_no_deduplication) {
  write_id_window w{8};
  w.note(0, 1);
  BOOST_CHECK_EQUAL(w.size(), 0u);
  BOOST_CHECK(!w.find(0).has_value());
}

BOOST_AUTO_TEST_CASE(the_oldest_ids_leave_a_full_window) {
  // Indexed (a master) and not (a replica promoted later) must agree.
  for (bool indexed : {true, false}) {
    write_id_window w{4};
    w.set_indexed(indexed);
    for (uint64_t id = 1; id <= 10; ++id)
      w.note(id, id * 10);
    BOOST_CHECK_EQUAL(w.size(), 4u);
    for (uint64_t id = 1; id <= 6; ++id)
      BOOST_CHECK_MESSAGE(!w.find(id).has_value(), "id " << id << " kept");
    for (uint64_t id = 7; id <= 10; ++id)
      BOOST_CHECK_EQUAL(w.find(id).value_or(0), id * 10);
    // Still right after more evictions with the index in place.
    w.note(11, 110);
    BOOST_CHECK(!w.find(7).has_value());
    BOOST_CHECK_EQUAL(w.find(11).value_or(0), 110u);
    BOOST_CHECK_EQUAL(w.find(8).value_or(0), 80u);
  }
}

BOOST_AUTO_TEST_CASE(dropping_the_index_keeps_the_ids) {
  write_id_window w{16};
  w.set_indexed(true);
  w.note(1, 5);
  w.set_indexed(false); // demoted to replica
  BOOST_CHECK(!w.indexed());
  w.note(2, 6);
  w.set_indexed(true); // promoted again
  BOOST_CHECK_EQUAL(w.find(1).value_or(0), 5u);
  BOOST_CHECK_EQUAL(w.find(2).value_or(0), 6u);
}

BOOST_AUTO_TEST_CASE(a_reused_id_keeps_its_first_write) {
  write_id_window w{16};
  w.set_indexed(true);
  w.note(1, 5);
  w.note(2, 6);
  w.note(1, 7); // not the newest: a retry the master should have absorbed
  BOOST_CHECK_EQUAL(w.find(1).value_or(0), 5u);
  BOOST_CHECK_EQUAL(w.size(), 2u);
}

BOOST_AUTO_TEST_CASE(clear_forgets_everything) {
  write_id_window w{4};
  w.note(1, 1);
  BOOST_CHECK(w.find(1).has_value());
  w.clear();
  BOOST_CHECK_EQUAL(w.size(), 0u);
  BOOST_CHECK(!w.find(1).has_value());
  w.note(2, 2);
  BOOST_CHECK_EQUAL(w.find(2).value_or(0), 2u);
}

BOOST_AUTO_TEST_SUITE_END()
