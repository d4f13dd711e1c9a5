// The Boost.Test runner of the simulation tier.
#define BOOST_TEST_MODULE leafguard_simulation
#include <boost/test/unit_test.hpp>
