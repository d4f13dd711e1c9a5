#include "http/cluster_json.hpp"

#include <boost/test/unit_test.hpp>

#include "sql/result_proto.hpp"

using namespace lg;

namespace {

std::map<std::string, pb::ResultSet> results() {
  std::map<std::string, pb::ResultSet> out;
  out["SHOW AGGREGATORS"] = make_table(
    {"Host", "Port", "State", "Master_Aggregator", "Voting_Member", "Term",
     "Average_Roundtrip_Latency_ms"},
    {{"127.0.0.1", "3306", "online", "1", "1", "4", "NULL"}});
  out["SHOW LEAVES"] = make_table(
    {"Host", "Port", "Availability_Group", "Pair_Host", "Pair_Port", "State",
     "Opened_Connections", "Average_Roundtrip_Latency_ms"},
    {{"127.0.0.1", "10001", "1", "127.0.0.1", "10002", "offline", "0",
      "NULL"},
     {"127.0.0.1", "10002", "2", "NULL", "NULL", "online", "0", "0.125"}});
  out["SHOW CLUSTER STATUS"] = make_table(
    {"Host", "Port", "Database_Name", "Ordinal", "Role", "State", "Position",
     "Master_Host", "Master_Port", "Metadata_Master_Host",
     "Metadata_Master_Port", "Metadata_Role", "Details"},
    {{"127.0.0.1", "10002", "db", "0", "Master", "online", "5:12", "NULL",
      "NULL", "NULL", "NULL", "Master", "NULL"},
     {"127.0.0.1", "10001", "db", "0", "NULL", "offline", "NULL", "NULL",
      "NULL", "127.0.0.1", "10002", "Replica", "out of sync"},
     {"127.0.0.1", "10002", "db", "1", "NULL", "online", "NULL", "NULL",
      "NULL", "NULL", "NULL", "Master", "partition offline"}});
  out["SHOW REBALANCE STATUS"] = make_failure(sql::errc::timeout, "no answer");
  out["SHOW FAILOVERS"] = make_table(
    {"Host", "Port", "Reason", "Detected_At_Ms", "Silent_Ms", "Promoted_Ms",
     "Writable_Ms", "Promotions", "Offline_Partitions", "Status",
     "Trace_Command"},
    {{"127.0.0.1", "10001", "its \"link\" went", "1765100000000", "3", "5",
      "NULL", "1", "0", "running", "NULL"}});
  return out;
}

bool has(const std::string& json, const std::string& part) {
  return json.find(part) != std::string::npos;
}

} // namespace

BOOST_AUTO_TEST_SUITE(http_cluster_json)

BOOST_AUTO_TEST_CASE(tables_become_typed_objects) {
  auto json = http::cluster_json("127.0.0.1:3306", 42, results());
  BOOST_TEST(has(json, "\"node\":\"127.0.0.1:3306\",\"time_ms\":42"));
  BOOST_TEST(has(json, "\"master\":true,\"voting\":true,\"term\":4,"
                       "\"latency_ms\":null"));
  BOOST_TEST(has(json, "\"address\":\"127.0.0.1:10001\",\"group\":1,"
                       "\"pair\":\"127.0.0.1:10002\",\"state\":\"offline\""));
  BOOST_TEST(has(json, "\"pair\":null,\"state\":\"online\","
                       "\"latency_ms\":0.125"));
  BOOST_TEST(has(json, "\"reason\":\"its \\\"link\\\" went\""));
  BOOST_TEST(has(json, "\"promoted_ms\":5,\"writable_ms\":null"));
}

BOOST_AUTO_TEST_CASE(copies_are_grouped_into_partitions) {
  auto json = http::cluster_json("n", 0, results());
  BOOST_TEST(has(json, "{\"database\":\"db\",\"ordinal\":0,\"offline\":false,"
                       "\"instances\":[{\"leaf\":\"127.0.0.1:10002\","
                       "\"role\":\"Master\",\"reported_role\":\"Master\","
                       "\"leaf_state\":\"online\",\"term\":5,\"lsn\":12,"));
  // A copy that did not answer: its metadata's role and master.
  BOOST_TEST(has(json, "\"role\":\"Replica\",\"reported_role\":null,"
                       "\"leaf_state\":\"offline\",\"term\":null,\"lsn\":null,"
                       "\"master\":\"127.0.0.1:10002\""));
  BOOST_TEST(has(json, "{\"database\":\"db\",\"ordinal\":1,\"offline\":true"));
}

BOOST_AUTO_TEST_CASE(a_failed_statement_is_an_error_and_an_empty_list) {
  auto json = http::cluster_json("n", 0, results());
  BOOST_TEST(has(json, "\"errors\":[\"SHOW REBALANCE STATUS: no answer\"]"));
  BOOST_TEST(has(json, "\"jobs\":[]"));
  auto none = http::cluster_json("n", 0, {});
  BOOST_TEST(has(none, "\"leaves\":[],\"partitions\":[]"));
  BOOST_TEST(has(none, "SHOW LEAVES: not run"));
}

BOOST_AUTO_TEST_SUITE_END()
