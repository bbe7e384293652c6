#pragma once
// The tables of dm report's page, shared by its dm train and dm ps serve sections.
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace dm::cli {

using Settings = std::vector<std::pair<std::string, std::string>>;
using TableRow = std::vector<std::string>;

/// A column heading with the colour swatch of series `colour_index` (svg_chart.hpp), escaped.
std::string swatch_heading(std::size_t colour_index, const std::string& name);

/// A <table>: `head_html` (already HTML) as the header row, then `rows`, each row's first cell
/// as its heading; every body text is escaped here.
std::string table_html(const std::vector<std::string>& head_html, const std::vector<TableRow>& rows);

/// One row per setting any column has, in the order first met, a cell per column ("-" where
/// a column lacks it).
std::vector<TableRow> settings_rows(const std::vector<const Settings*>& columns);

/// A row headed `key` with a cell value_of(log) for each of `logs`.
template <class Log, class ValueOf>
TableRow row_for_each(const std::string& key, const std::vector<Log>& logs, ValueOf value_of) {
  TableRow row{key};
  for (const Log& log : logs) row.push_back(value_of(log));
  return row;
}

/// A column per log (its .name under its colour swatch, colours from `first_colour` on): its
/// file (.path), its settings (.config), then the rows of `tail`.
template <class Log>
std::string settings_table(const std::vector<Log>& logs, std::size_t first_colour, const std::vector<TableRow>& tail) {
  std::vector<std::string> head{"setting"};
  std::vector<const Settings*> configs;
  for (std::size_t i = 0; i < logs.size(); ++i) {
    head.push_back(swatch_heading(first_colour + i, logs[i].name));
    configs.push_back(&logs[i].config);
  }
  std::vector<TableRow> rows{row_for_each("file", logs, [](const Log& log) { return log.path; })};
  for (TableRow& row : settings_rows(configs)) rows.push_back(std::move(row));
  rows.insert(rows.end(), tail.begin(), tail.end());
  return table_html(head, rows);
}

}  // namespace dm::cli
