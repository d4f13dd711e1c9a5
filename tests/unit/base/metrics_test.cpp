#include "base/metrics.hpp"

#include <thread>

#include <boost/test/unit_test.hpp>

using namespace lg::metrics;

BOOST_AUTO_TEST_SUITE(base_metrics)

BOOST_AUTO_TEST_CASE(counters_and_gauges_render_in_the_text_format) {
  registry r;
  r.get_counter("lg_writes_total", "Writes.", {{"leaf", "a:1"}}).add(3);
  r.get_counter("lg_writes_total", "Writes.", {{"leaf", "a:1"}}).add();
  r.get_gauge("lg_leaves", "Leaves.", {{"state", "offline"}}).set(2);
  auto text = r.scrape();
  BOOST_TEST(text.find("# HELP lg_writes_total Writes.\n"
                       "# TYPE lg_writes_total counter\n"
                       "lg_writes_total{leaf=\"a:1\"} 4\n")
             != std::string::npos);
  BOOST_TEST(text.find("# TYPE lg_leaves gauge\nlg_leaves{state=\"offline\"} 2\n")
             != std::string::npos);
}

BOOST_AUTO_TEST_CASE(label_values_are_escaped) {
  BOOST_TEST(render_labels({{"a", "x\"y\\z\nw"}}) == "{a=\"x\\\"y\\\\z\\nw\"}");
  BOOST_TEST(render_labels({}).empty());
}

BOOST_AUTO_TEST_CASE(histograms_are_cumulative_with_sum_and_count) {
  registry r;
  auto& h = r.get_histogram("lg_latency_seconds", "Latency.", {0.001, 0.01});
  h.observe(0.0005);
  h.observe(0.005);
  h.observe(0.005);
  h.observe(2.0);
  auto text = r.scrape();
  BOOST_TEST(text.find("lg_latency_seconds_bucket{le=\"0.001\"} 1\n")
             != std::string::npos);
  BOOST_TEST(text.find("lg_latency_seconds_bucket{le=\"0.01\"} 3\n")
             != std::string::npos);
  BOOST_TEST(text.find("lg_latency_seconds_bucket{le=\"+Inf\"} 4\n")
             != std::string::npos);
  BOOST_TEST(text.find("lg_latency_seconds_count 4\n") != std::string::npos);
  BOOST_TEST(h.sum() > 2.0104);
  BOOST_TEST(h.sum() < 2.0106);
}

BOOST_AUTO_TEST_CASE(a_bound_holds_an_observation_equal_to_it) {
  registry r;
  // 0.00025 * 1e9 is 249999.99999999997 in doubles: the bound must still
  // hold 250 us, through either way of observing.
  auto& h = r.get_histogram("lg_b_seconds", "B.", {0.00025});
  h.observe(std::chrono::microseconds{250});
  h.observe(0.00025);
  h.observe_single(std::chrono::microseconds{250});
  BOOST_TEST(r.scrape().find("lg_b_seconds_bucket{le=\"0.00025\"} 3\n")
             != std::string::npos);
}

BOOST_AUTO_TEST_CASE(an_owned_gauge_goes_with_its_holder_only) {
  registry r;
  labels l{{"database", "db"}, {"ordinal", "0"}};
  auto first = r.owned_gauge("lg_lag_bytes", "Lag.", l);
  first->set(7);
  BOOST_TEST(r.scrape().find("lg_lag_bytes{database=\"db\",ordinal=\"0\"} 7")
             != std::string::npos);
  first->show(false);
  BOOST_TEST(r.scrape().find("lg_lag_bytes") == std::string::npos);
  first->show(true);
  // A newer holder of the same series (a copy opened again) replaces it:
  // the old holder going must not take the new one away.
  auto second = r.owned_gauge("lg_lag_bytes", "Lag.", l);
  second->set(9);
  first.reset();
  BOOST_TEST(r.scrape().find("ordinal=\"0\"} 9") != std::string::npos);
  second.reset();
  BOOST_TEST(r.scrape().find("lg_lag_bytes") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(collectors_run_at_each_scrape) {
  registry r;
  int runs = 0;
  r.add_collector("runs", [&runs](registry& reg) {
    reg.get_gauge("lg_runs", "Scrapes.").set(++runs);
  });
  r.add_collector("runs", [](registry&) { BOOST_FAIL("a second collector"); });
  r.scrape();
  BOOST_TEST(r.scrape().find("lg_runs 2\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(the_largest_value_per_label_is_kept) {
  registry r;
  add_max_by_label(r, "lg_lag", "leaf", "lg_max_lag", "Largest lag.");
  auto a = r.owned_gauge("lg_lag", "Lag.", {{"part", "0"}, {"leaf", "x"}});
  auto b = r.owned_gauge("lg_lag", "Lag.", {{"part", "1"}, {"leaf", "x"}});
  auto c = r.owned_gauge("lg_lag", "Lag.", {{"part", "2"}, {"leaf", "y"}});
  a->set(5);
  b->set(9);
  c->set(1);
  auto text = r.scrape();
  BOOST_TEST(text.find("lg_max_lag{leaf=\"x\"} 9\n") != std::string::npos);
  BOOST_TEST(text.find("lg_max_lag{leaf=\"y\"} 1\n") != std::string::npos);
  c.reset();
  BOOST_TEST(r.scrape().find("lg_max_lag{leaf=\"y\"} 0\n")
             != std::string::npos);
}

BOOST_AUTO_TEST_CASE(process_metrics_read_proc) {
  registry r;
  add_process_metrics(r);
  auto text = r.scrape();
  auto at = text.find("\nleafguard_process_resident_memory_bytes ");
  BOOST_REQUIRE(at != std::string::npos);
  auto bytes = std::stoll(text.substr(at + 41));
  BOOST_TEST(bytes > 1024 * 1024); // a test process holds more than 1 MiB
  BOOST_TEST(text.find("leafguard_process_open_fds ") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(counts_from_two_threads_add_up) {
  registry r;
  auto& c = r.get_counter("lg_n_total", "N.");
  auto work = [&c] {
    for (int i = 0; i < 100000; ++i)
      c.add();
  };
  std::thread a{work};
  std::thread b{work};
  a.join();
  b.join();
  BOOST_TEST(c.value() == 200000u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(base_metrics_shards)

BOOST_AUTO_TEST_CASE(shards_add_up_and_a_returned_shard_keeps_counting) {
  lg::metrics::registry r;
  lg::metrics::labels l{{"leaf", "a:1"}};
  auto* a = r.counter_shard("lg_w_total", "W.", l);
  auto* b = r.counter_shard("lg_w_total", "W.", l);
  BOOST_TEST(a != b);
  a->add_single(3);
  b->add_single(4);
  r.get_counter("lg_w_total", "W.", l).add(1);
  BOOST_TEST(r.scrape().find("lg_w_total{leaf=\"a:1\"} 8\n")
             != std::string::npos);
  // An instance that goes gives its shard back; the next one counts on.
  r.release_shard(a);
  auto* c = r.counter_shard("lg_w_total", "W.", l);
  BOOST_TEST(c == a);
  c->add_single();
  BOOST_TEST(r.scrape().find("lg_w_total{leaf=\"a:1\"} 9\n")
             != std::string::npos);
}

BOOST_AUTO_TEST_CASE(histogram_shards_add_up) {
  lg::metrics::registry r;
  auto* a = r.histogram_shard("lg_h_seconds", "H.", {0.001}, {});
  auto* b = r.histogram_shard("lg_h_seconds", "H.", {0.001}, {});
  a->observe_single(std::chrono::microseconds{500});
  b->observe_single(std::chrono::milliseconds{5});
  auto text = r.scrape();
  BOOST_TEST(text.find("lg_h_seconds_bucket{le=\"0.001\"} 1\n")
             != std::string::npos);
  BOOST_TEST(text.find("lg_h_seconds_bucket{le=\"+Inf\"} 2\n")
             != std::string::npos);
  BOOST_TEST(text.find("lg_h_seconds_sum 0.0055\n") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
