#include "cluster/trace_reader.hpp"

#include <cstdio>
#include <fstream>

#include <boost/test/unit_test.hpp>

using namespace lg;

namespace {

std::string line(int64_t at, uint64_t lamport, const std::string& from,
                 const std::string& to, const std::string& type,
                 const std::string& partition, uint64_t term) {
  return "{\"at_us\":" + std::to_string(at) + ",\"lamport\":"
         + std::to_string(lamport) + ",\"event\":\"sent\",\"from\":\"" + from
         + "\",\"to\":\"" + to + "\",\"type\":\"" + type
         + "\",\"partition\":\"" + partition + "\",\"term\":"
         + std::to_string(term)
         + ",\"trace_id\":0,\"correlation_id\":0,\"reply_to\":0,"
           "\"fields\":{\"term\":\"2\"}}";
}

trace_record rec(const std::string& text) {
  auto r = parse_trace_line(text);
  std::string why = r.ok() ? std::string{} : r.err().detail();
  BOOST_REQUIRE_MESSAGE(r.ok(), why);
  return *r;
}

} // namespace

BOOST_AUTO_TEST_SUITE(cluster_trace_reader)

BOOST_AUTO_TEST_CASE(parses_a_trace_line) {
  auto r = rec(line(1500, 7, "ma/ma", "h:2/p/db/0", "PromoteRequest", "db:0",
                    2));
  BOOST_TEST(r.at_us == 1500);
  BOOST_TEST(r.lamport == 7u);
  BOOST_TEST(r.from == "ma/ma");
  BOOST_TEST(r.to == "h:2/p/db/0");
  BOOST_TEST(r.type == "PromoteRequest");
  BOOST_TEST(r.partition == "db:0");
  BOOST_TEST(r.term == 2u);
  BOOST_TEST(r.fields_json.find("\"term\"") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(damaged_lines_get_errors_naming_the_problem) {
  auto not_json = parse_trace_line("{\"at_us\":1,");
  BOOST_REQUIRE(!not_json.ok());
  BOOST_TEST(not_json.err().detail().find("not a JSON object")
             != std::string::npos);
  auto missing = parse_trace_line("{\"at_us\":1,\"lamport\":2}");
  BOOST_REQUIRE(!missing.ok());
  BOOST_TEST(missing.err().detail().find("\"event\"") != std::string::npos);
  auto file = read_trace_file("/nonexistent/trace.jsonl");
  BOOST_REQUIRE(!file.ok());
  BOOST_TEST(file.err().detail().find("/nonexistent/trace.jsonl")
             != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_torn_last_line_is_skipped_with_a_note) {
  auto path = "/tmp/leafguard-trace-reader-torn.jsonl";
  auto whole = line(10, 1, "x/a", "y/b", "A", "", 0);
  {
    std::ofstream out{path, std::ios::trunc};
    out << whole << "\n" << whole.substr(0, whole.size() / 2);
  }
  std::string note;
  auto file = read_trace_file(path, &note);
  BOOST_REQUIRE(file.ok());
  BOOST_TEST(file->size() == 1u);
  BOOST_TEST(note.find("line 2 is incomplete") != std::string::npos);
  // Without a note to give, or in the middle of the file, it is an error.
  BOOST_TEST(!read_trace_file(path).ok());
  {
    std::ofstream out{path, std::ios::trunc};
    out << whole.substr(0, whole.size() / 2) << "\n" << whole << "\n";
  }
  note.clear();
  auto middle = read_trace_file(path, &note);
  BOOST_REQUIRE(!middle.ok());
  BOOST_TEST(middle.err().detail().find("line 1 is damaged")
             != std::string::npos);
  std::remove(path);
}

BOOST_AUTO_TEST_CASE(merges_processes_by_lamport_clock) {
  std::vector<trace_record> a{rec(line(10, 1, "x/a", "y/b", "A", "", 0)),
                              rec(line(20, 5, "x/a", "y/b", "C", "", 0))};
  std::vector<trace_record> b{rec(line(900, 3, "y/b", "x/a", "B", "", 0))};
  auto all = merge_traces({a, b});
  BOOST_REQUIRE_EQUAL(all.size(), 3u);
  BOOST_TEST(all[0].type == "A");
  BOOST_TEST(all[1].type == "B");
  BOOST_TEST(all[2].type == "C");
}

BOOST_AUTO_TEST_CASE(filters_by_partition_leaf_type_and_time) {
  std::vector<trace_record> all{
    rec(line(0, 1, "ma/ma", "h:1/leaf", "HeartbeatRequest", "", 0)),
    rec(line(1000, 2, "ma/ma", "h:2/p/db/0", "PromoteRequest", "db:0", 2)),
    rec(line(2000, 3, "h:2/p/db/0", "ma/ma", "PromoteReply", "db:0", 2)),
    rec(line(3000, 4, "s/1", "h:2/p/db/1", "WriteRequest", "db:1", 1))};
  trace_filter f;
  f.partition = "db:0";
  BOOST_TEST(filter_trace(all, f, 0).size() == 2u);
  f = {};
  f.leaf = "h:1";
  BOOST_TEST(filter_trace(all, f, 0).size() == 1u);
  f = {};
  f.type = "PromoteReply";
  BOOST_TEST(filter_trace(all, f, 0).size() == 1u);
  f = {};
  f.from_ms = 1.0;
  f.to_ms = 2.0;
  BOOST_TEST(filter_trace(all, f, 0).size() == 2u);
  auto text = render_timeline(filter_trace(all, f, 0), 0);
  BOOST_TEST(text.find("PromoteRequest") != std::string::npos);
  auto html = render_html(all, 0, "t");
  BOOST_TEST(html.find("<svg") != std::string::npos);
  BOOST_TEST(html.find("PromoteReply") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
