// The Boost.Test runner of the unit tier.
#define BOOST_TEST_MODULE leafguard_unit
#include <boost/test/unit_test.hpp>
