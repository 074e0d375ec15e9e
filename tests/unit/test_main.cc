// The one main of every Boost.Test executable; each test file holds suites only.
#define BOOST_TEST_MODULE amlflow
#include <boost/test/unit_test.hpp>
