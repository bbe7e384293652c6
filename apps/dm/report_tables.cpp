#include "report_tables.hpp"

#include <set>

#include "svg_chart.hpp"

namespace dm::cli {

std::string swatch_heading(std::size_t colour_index, const std::string& name) {
  return "<span class=\"swatch\" style=\"background: " + series_colour(colour_index) + "\"></span>" + html_escape(name);
}

std::string table_html(const std::vector<std::string>& head_html, const std::vector<TableRow>& rows) {
  std::string html = "<table>\n<tr>";
  for (const std::string& cell : head_html) html += "<th>" + cell + "</th>";
  html += "</tr>\n";
  for (const TableRow& row : rows) {
    html += "<tr>";
    for (std::size_t i = 0; i < row.size(); ++i) {
      const char* tag = i == 0 ? "th" : "td";
      html += std::string("<") + tag + ">" + html_escape(row[i]) + "</" + tag + ">";
    }
    html += "</tr>\n";
  }
  return html + "</table>\n";
}

std::vector<TableRow> settings_rows(const std::vector<const Settings*>& columns) {
  std::vector<TableRow> rows;
  std::set<std::string> seen;
  for (const Settings* column : columns)
    for (const auto& [key, value] : *column) {
      if (!seen.insert(key).second) continue;
      TableRow row{key};
      for (const Settings* other : columns) {
        std::string cell = "-";
        for (const auto& [k, v] : *other)
          if (k == key) {
            cell = v;
            break;
          }
        row.push_back(cell);
      }
      rows.push_back(std::move(row));
    }
  return rows;
}

}  // namespace dm::cli
