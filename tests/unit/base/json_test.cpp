#include "base/json.hpp"

#include <boost/test/unit_test.hpp>

BOOST_AUTO_TEST_SUITE(base_json)

BOOST_AUTO_TEST_CASE(quotes_backslashes_and_controls_are_escaped) {
  BOOST_TEST(lg::json_escape("a\"b\\c") == "a\\\"b\\\\c");
  BOOST_TEST(lg::json_escape("x\ny") == "x\\ny");
  BOOST_TEST(lg::json_escape(std::string{"\x01", 1}) == "\\u0001");
  BOOST_TEST(lg::json_escape("plain text 123") == "plain text 123");
}

BOOST_AUTO_TEST_CASE(no_script_element_can_be_closed_from_inside) {
  BOOST_TEST(lg::json_escape("</script>") == "\\u003c/script>");
}

BOOST_AUTO_TEST_SUITE_END()
