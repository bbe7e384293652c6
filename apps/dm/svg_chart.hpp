#pragma once
// Line charts as inline SVG text: axes with round-number ticks, one polyline per series, and a
// legend. Drawn here so that a report needs no script, font or file from anywhere else.
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace dm::cli {

struct Series {
  std::string name;
  std::vector<std::pair<double, double>> points;  // (x, y), finite, in x order
  bool markers = false;                           // a dot on every point (few points, e.g. per epoch)
};

struct ChartSpec {
  std::string title;
  std::string x_label;
  std::string y_label;
  bool y_from_zero = false;  // the y axis starts at 0 (rates, counts)
  bool x_whole = false;      // x ticks at whole numbers only (epochs)
  std::size_t first_colour = 0;  // series i takes colour first_colour + i
};

/// One <svg> element. Series take the colours of their position, so one run keeps its colour
/// across the charts of a page; a series with no points keeps its colour and legend entry.
/// Every text is HTML-escaped here.
std::string line_chart_svg(const ChartSpec& spec, const std::vector<Series>& series);

/// The colour of series `index` ("#1f77b4"...), repeating after ten.
std::string series_colour(std::size_t index);

/// `text` made safe inside an HTML or SVG element or a quoted attribute: & < > " ' escaped,
/// control characters dropped, and invalid UTF-8 replaced by U+FFFD.
std::string html_escape(const std::string& text);

}  // namespace dm::cli
