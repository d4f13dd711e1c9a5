#include "http/cluster_json.hpp"

#include <cstdlib>
#include <vector>

#include "base/json.hpp"

namespace lg::http {

const char* const cluster_statements[5] = {
  "SHOW AGGREGATORS", "SHOW LEAVES", "SHOW CLUSTER STATUS",
  "SHOW REBALANCE STATUS", "SHOW FAILOVERS"};

namespace {

/// One row of a result, its cells by column name.
class row {
public:
  row(const pb::ResultSet& rs, int i) : rs_(rs), i_(i) {
  }

  /// The cell of `column`, or "NULL" when the table has no such column.
  const std::string& cell(const char* column) const {
    static const std::string null = "NULL";
    for (int c = 0; c < rs_.columns_size(); ++c)
      if (rs_.columns(c) == column && c < rs_.rows(i_).cells_size())
        return rs_.rows(i_).cells(c);
    return null;
  }

  bool is_null(const char* column) const {
    return cell(column) == "NULL";
  }

private:
  const pb::ResultSet& rs_;
  int i_;
};

/// Writes the members of one JSON object.
class object {
public:
  object& str(const char* name, const std::string& v) {
    key(name);
    out_ += '"';
    out_ += json_escape(v);
    out_ += '"';
    return *this;
  }
  /// A string, or null for a "NULL" cell.
  object& text(const char* name, const std::string& v) {
    if (v == "NULL")
      return raw(name, "null");
    return str(name, v);
  }
  /// A number, or null for a "NULL" cell or text that is not a number.
  object& num(const char* name, const std::string& v) {
    char* end = nullptr;
    std::strtod(v.c_str(), &end);
    bool ok = !v.empty() && end != nullptr && *end == '\0'
              && v.find_first_not_of("0123456789.-+e") == std::string::npos;
    return raw(name, ok ? v : "null");
  }
  object& boolean(const char* name, bool v) {
    return raw(name, v ? "true" : "false");
  }
  object& raw(const char* name, const std::string& json) {
    key(name);
    out_ += json;
    return *this;
  }
  std::string done() {
    return "{" + out_ + "}";
  }

private:
  void key(const char* name) {
    if (!out_.empty())
      out_ += ',';
    out_ += '"';
    out_ += name;
    out_ += "\":";
  }
  std::string out_;
};

std::string address(const std::string& host, const std::string& port) {
  if (host == "NULL")
    return "NULL";
  return host + ":" + port;
}

std::string array(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i)
    out += (i > 0 ? "," : "") + items[i];
  return out + "]";
}

/// The rows of `stmt`'s result, or none (with its error noted) when it
/// failed or is missing.
const pb::ResultSet* result_of(
  const std::map<std::string, pb::ResultSet>& results, const char* stmt,
  std::vector<std::string>& errors) {
  auto it = results.find(stmt);
  if (it == results.end()) {
    errors.push_back("\"" + json_escape(std::string{stmt} + ": not run")
                     + "\"");
    return nullptr;
  }
  if (it->second.error_code() != 0) {
    errors.push_back("\""
                     + json_escape(std::string{stmt} + ": "
                                   + it->second.error())
                     + "\"");
    return nullptr;
  }
  return &it->second;
}

template <class F>
std::vector<std::string> each_row(const pb::ResultSet* rs, F f) {
  std::vector<std::string> out;
  if (rs == nullptr)
    return out;
  for (int i = 0; i < rs->rows_size(); ++i)
    out.push_back(f(row{*rs, i}));
  return out;
}

std::string aggregators(const pb::ResultSet* rs) {
  return array(each_row(rs, [](const row& r) {
    return object{}
      .str("host", r.cell("Host"))
      .num("port", r.cell("Port"))
      .str("state", r.cell("State"))
      .boolean("master", r.cell("Master_Aggregator") == "1")
      .boolean("voting", r.cell("Voting_Member") == "1")
      .num("term", r.cell("Term"))
      .num("latency_ms", r.cell("Average_Roundtrip_Latency_ms"))
      .done();
  }));
}

std::string leaves(const pb::ResultSet* rs) {
  return array(each_row(rs, [](const row& r) {
    return object{}
      .str("host", r.cell("Host"))
      .num("port", r.cell("Port"))
      .str("address", address(r.cell("Host"), r.cell("Port")))
      .num("group", r.cell("Availability_Group"))
      .text("pair", address(r.cell("Pair_Host"), r.cell("Pair_Port")))
      .str("state", r.cell("State"))
      .num("latency_ms", r.cell("Average_Roundtrip_Latency_ms"))
      .done();
  }));
}

std::string partitions(const pb::ResultSet* rs) {
  // Rows come grouped by database and ordinal (one per copy).
  std::vector<std::string> out;
  if (rs == nullptr)
    return "[]";
  std::string db;
  std::string ordinal;
  std::vector<std::string> instances;
  bool offline = false;
  auto flush = [&] {
    if (!instances.empty())
      out.push_back(object{}
                      .str("database", db)
                      .num("ordinal", ordinal)
                      .boolean("offline", offline)
                      .raw("instances", array(instances))
                      .done());
    instances.clear();
    offline = false;
  };
  for (int i = 0; i < rs->rows_size(); ++i) {
    row r{*rs, i};
    if (r.cell("Database_Name") != db || r.cell("Ordinal") != ordinal) {
      flush();
      db = r.cell("Database_Name");
      ordinal = r.cell("Ordinal");
    }
    const auto& details = r.cell("Details");
    if (details.find("partition offline") != std::string::npos)
      offline = true;
    // Position is "term:lsn".
    std::string term = "NULL";
    std::string lsn = "NULL";
    const auto& position = r.cell("Position");
    auto colon = position.find(':');
    if (colon != std::string::npos) {
      term = position.substr(0, colon);
      lsn = position.substr(colon + 1);
    }
    const auto& meta_role = r.cell("Metadata_Role");
    // The master it follows: what the copy said, else what the metadata
    // records.
    auto master = address(r.cell("Master_Host"), r.cell("Master_Port"));
    if (master == "NULL")
      master = address(r.cell("Metadata_Master_Host"),
                       r.cell("Metadata_Master_Port"));
    instances.push_back(
      object{}
        .str("leaf", address(r.cell("Host"), r.cell("Port")))
        .str("role", meta_role)
        .text("reported_role", r.cell("Role"))
        .str("leaf_state", r.cell("State"))
        .num("term", term)
        .num("lsn", lsn)
        .text("master", master)
        .text("details", details)
        .done());
  }
  flush();
  return array(out);
}

std::string jobs(const pb::ResultSet* rs) {
  return array(each_row(rs, [](const row& r) {
    return object{}
      .str("database", r.cell("Database_Name"))
      .str("action", r.cell("Action"))
      .num("ordinal", r.cell("Ordinal"))
      .str("leaf", address(r.cell("Host"), r.cell("Port")))
      .str("status", r.cell("Status"))
      .num("bytes_copied", r.cell("Bytes_Copied"))
      .num("bytes_total", r.cell("Bytes_Total"))
      .num("running_time_ms", r.cell("Running_Time_Ms"))
      .text("details", r.cell("Details"))
      .done();
  }));
}

std::string failovers(const pb::ResultSet* rs) {
  return array(each_row(rs, [](const row& r) {
    return object{}
      .str("leaf", address(r.cell("Host"), r.cell("Port")))
      .str("reason", r.cell("Reason"))
      .num("detected_at_ms", r.cell("Detected_At_Ms"))
      .num("silent_ms", r.cell("Silent_Ms"))
      .num("promoted_ms", r.cell("Promoted_Ms"))
      .num("writable_ms", r.cell("Writable_Ms"))
      .num("promotions", r.cell("Promotions"))
      .num("offline_partitions", r.cell("Offline_Partitions"))
      .str("status", r.cell("Status"))
      .text("trace_command", r.cell("Trace_Command"))
      .done();
  }));
}

} // namespace

std::string cluster_json(const std::string& node, int64_t time_ms,
                         const std::map<std::string, pb::ResultSet>& results) {
  std::vector<std::string> errors;
  auto aggs = result_of(results, cluster_statements[0], errors);
  auto lvs = result_of(results, cluster_statements[1], errors);
  auto status = result_of(results, cluster_statements[2], errors);
  auto rebalance = result_of(results, cluster_statements[3], errors);
  auto fails = result_of(results, cluster_statements[4], errors);
  return object{}
    .str("node", node)
    .raw("time_ms", std::to_string(time_ms))
    .raw("errors", array(errors))
    .raw("aggregators", aggregators(aggs))
    .raw("leaves", leaves(lvs))
    .raw("partitions", partitions(status))
    .raw("jobs", jobs(rebalance))
    .raw("failovers", failovers(fails))
    .done();
}

} // namespace lg::http
