#include "sql/table.hpp"

#include <algorithm>
#include <cstddef>

namespace lg::sql {

namespace {

/// Returns the number of UTF-8 code points in `s`.
size_t display_width(const std::string& s) {
  return static_cast<size_t>(std::count_if(s.begin(), s.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

void append_border(std::string& out, const std::vector<size_t>& widths) {
  out += '+';
  for (auto w : widths) {
    out.append(w + 2, '-');
    out += '+';
  }
  out += '\n';
}

void append_row(std::string& out, const std::vector<std::string>& cells,
                const std::vector<size_t>& widths) {
  static const std::string missing;
  out += '|';
  for (size_t i = 0; i < widths.size(); ++i) {
    const auto& cell = i < cells.size() ? cells[i] : missing;
    out += ' ';
    out += cell;
    out.append(widths[i] - display_width(cell) + 1, ' ');
    out += '|';
  }
  out += '\n';
}

} // namespace

std::string render(const result_set& rs) {
  std::string out;
  if (rs.columns.empty()) {
    out = rs.message.empty() ? "Query OK" : rs.message;
    out += '\n';
    return out;
  }
  if (rs.rows.empty()) {
    out = "Empty set\n";
  } else {
    // A row longer than the header still shows every cell, under a blank
    // heading, rather than silently losing data.
    size_t ncols = rs.columns.size();
    for (const auto& row : rs.rows)
      ncols = std::max(ncols, row.size());
    std::vector<size_t> widths(ncols, 0);
    for (size_t i = 0; i < rs.columns.size(); ++i)
      widths[i] = display_width(rs.columns[i]);
    for (const auto& row : rs.rows)
      for (size_t i = 0; i < row.size(); ++i)
        widths[i] = std::max(widths[i], display_width(row[i]));
    append_border(out, widths);
    append_row(out, rs.columns, widths);
    append_border(out, widths);
    for (const auto& row : rs.rows)
      append_row(out, row, widths);
    append_border(out, widths);
    out += std::to_string(rs.rows.size());
    out += rs.rows.size() == 1 ? " row in set\n" : " rows in set\n";
  }
  if (!rs.message.empty()) {
    out += rs.message;
    out += '\n';
  }
  return out;
}

std::string render_error(int code, const std::string& message) {
  return "ERROR " + std::to_string(code) + ": " + message + "\n";
}

} // namespace lg::sql
