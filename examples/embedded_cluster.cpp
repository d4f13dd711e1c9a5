// Shows how to embed a leafguard test cluster in your own program or test:
// start it, run statements, kill a leaf and check that no row was lost.
#include <iostream>

#include "sql/result_proto.hpp"
#include "cluster/local_cluster.hpp"

int main() {
  lg::local_cluster_options opts;
  opts.leaves = 4;
  opts.redundancy = 2;
  opts.simulate = true; // deterministic, virtual time: exact and fast
  lg::local_cluster cluster{opts};
  if (cluster.startup_error()) {
    std::cerr << cluster.startup_error().to_string() << "\n";
    return 1;
  }
  auto run = [&](const std::string& stmt) {
    auto rs = cluster.execute(stmt);
    std::cout << "> " << stmt << "\n" << lg::render(rs);
    return rs;
  };
  run("CREATE DATABASE app PARTITIONS 4");
  run("INSERT INTO app VALUES ('a','1'), ('b','2'), ('c','3')");
  if (auto err = cluster.kill_leaf("127.0.0.1:10001")) {
    std::cerr << err.to_string() << "\n";
    return 1;
  }
  auto count = run("SELECT COUNT(*) FROM app");
  bool ok = count.error_code() == 0 && count.rows_size() == 1
            && count.rows(0).cells(0) == "3";
  std::cout << (ok ? "all rows survived the kill\n" : "rows were lost!\n");
  return ok ? 0 : 1;
}
