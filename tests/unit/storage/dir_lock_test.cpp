#include "storage/dir_lock.hpp"

#include <boost/test/unit_test.hpp>

#include <string>

#include <unistd.h>

#include "support/temp_dir.hpp"

using lg::storage::dir_lock;
using lg::test::temp_dir;

namespace {

/// Describes a failed acquire for a test message (empty when it succeeded).
std::string why(const lg::result<dir_lock>& res) {
  return res.ok() ? std::string{} : res.err().to_string();
}

} // namespace

BOOST_AUTO_TEST_SUITE(storage_dir_lock)

BOOST_AUTO_TEST_CASE(a_second_holder_is_refused_naming_the_first) {
  temp_dir dir;
  auto first = dir_lock::acquire(dir.path);
  BOOST_REQUIRE_MESSAGE(first.ok(), why(first));
  // flock(2) locks belong to an open file, so a second open in this process
  // stands for a second process.
  auto second = dir_lock::acquire(dir.path);
  BOOST_REQUIRE(!second.ok());
  BOOST_TEST(second.err().name() == "dir_in_use");
  auto text = second.err().detail();
  BOOST_TEST(text.find(dir.path) != std::string::npos, text);
  BOOST_TEST(text.find("pid " + std::to_string(getpid()))
               != std::string::npos,
             text);
}

BOOST_AUTO_TEST_CASE(a_released_lock_can_be_taken_again) {
  temp_dir dir;
  {
    auto first = dir_lock::acquire(dir.path);
    BOOST_REQUIRE(first.ok());
    BOOST_TEST(first->held());
  }
  auto again = dir_lock::acquire(dir.path);
  BOOST_REQUIRE_MESSAGE(again.ok(), why(again));
  again->release();
  BOOST_TEST(!again->held());
  BOOST_TEST(dir_lock::acquire(dir.path).ok());
}

BOOST_AUTO_TEST_CASE(a_dir_that_cannot_hold_the_lock_file_is_named) {
  auto missing = dir_lock::acquire("/nonexistent/leafguard-dir");
  BOOST_REQUIRE(!missing.ok());
  BOOST_TEST(missing.err().name() == "lock_failed");
  BOOST_TEST(missing.err().detail().find("/nonexistent/leafguard-dir")
             != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
