#include "svg_chart.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iterator>
#include <limits>

namespace dm::cli {
namespace {

constexpr double kWidth = 720, kPlotHeight = 300;
constexpr double kLeft = 72, kRight = 24, kTop = 40, kBottom = 52;  // margins around the plot area
constexpr double kLegendLine = 20;
constexpr double kLargest = 1e300;
// A browser draws a polyline of 10^6 points slowly; more points than pixels show nothing more.
constexpr std::size_t kMaxPointsDrawn = 2000;

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

// Tick labels: "%g" keeps 0.1 from turning into 0.1000000000000000055.
std::string tick_text(double v) {
  if (std::fabs(v) < 1e-12) v = 0.0;  // no "-0" or "1.4e-17" where a tick lands on zero
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

// A step of 1, 2 or 5 times a power of ten giving about `target` intervals over `span`.
double nice_step(double span, int target) {
  const double raw = span / target;
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0})
    if (raw <= m * power) return m * power;
  return 10.0 * power;
}

struct Axis {
  double lo, hi, step;
  double at(double v, double from, double to) const { return from + (v / 2 - lo / 2) / (hi / 2 - lo / 2) * (to - from); }
  // By index, not by adding steps: near 1e15 a step can be lost in rounding and never reach hi.
  std::vector<double> ticks() const {
    std::vector<double> out;
    const double n = std::min(50.0, std::round((hi / 2 - lo / 2) / (step / 2)));
    for (int i = 0; i <= static_cast<int>(n); ++i) out.push_back(lo + step * i);
    return out;
  }
};

Axis make_axis(double lo, double hi, bool from_zero, bool whole) {
  if (from_zero) lo = std::min(lo, 0.0);
  if (!(hi > lo)) {  // one value: a band around it
    const double pad = lo == 0.0 ? 1.0 : std::fabs(lo) * 0.1;  // a tenth: even 1e308 stays finite
    lo = from_zero && lo >= 0.0 ? 0.0 : lo - pad;
    hi = hi + pad;
  }
  // Halved before subtracting: hi - lo of two huge values of opposite sign overflows.
  double step = nice_step(hi / 2 - lo / 2, 5) * 2;
  if (whole) step = std::max(step, 1.0);  // no tick at epoch 1.2
  const Axis axis{std::floor(lo / step) * step, std::ceil(hi / step) * step, step};
  if (std::isfinite(axis.lo) && std::isfinite(axis.hi) && axis.hi > axis.lo) return axis;
  return {lo, hi, hi / 2 - lo / 2};  // values near the limits of a double: the data's own range
}

void append_utf8(std::string& out, const std::string& text, std::size_t& i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char c = byte(i);
  std::size_t length = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c <= 0xdf ? 2 : 0;
  bool valid = length > 0 && i + length <= text.size();
  for (std::size_t k = 1; valid && k < length; ++k) valid = (byte(i + k) & 0xc0) == 0x80;
  if (valid && length == 3) {  // no overlong forms, no UTF-16 surrogates
    const unsigned b = byte(i + 1);
    valid = !(c == 0xe0 && b < 0xa0) && !(c == 0xed && b >= 0xa0);
  }
  if (valid && length == 4) {
    const unsigned b = byte(i + 1);
    valid = !(c == 0xf0 && b < 0x90) && !(c == 0xf4 && b >= 0x90);
  }
  if (!valid) {
    out += "\xef\xbf\xbd";
    ++i;
    return;
  }
  out.append(text, i, length);
  i += length;
}

}  // namespace

std::string html_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      append_utf8(out, text, i);
      continue;
    }
    ++i;
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default:
        if (c >= 0x20 && c != 0x7f) out += static_cast<char>(c);
        else if (c == '\t' || c == '\n') out += ' ';
    }
  }
  return out;
}

std::string series_colour(std::size_t index) {
  // Tableau's ten: distinct for most kinds of colour blindness, and printable.
  static const char* const kColours[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                         "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
  return kColours[index % std::size(kColours)];
}

std::string line_chart_svg(const ChartSpec& spec, const std::vector<Series>& input) {
  // Values beyond +-1e300 are drawn at that edge, so that padding an axis never overflows.
  std::vector<Series> series = input;
  for (Series& s : series)
    for (auto& [x, y] : s.points) {
      x = std::clamp(x, -kLargest, kLargest);
      y = std::clamp(y, -kLargest, kLargest);
    }
  double x_lo = std::numeric_limits<double>::infinity(), x_hi = -x_lo, y_lo = x_lo, y_hi = -x_lo;
  for (const Series& s : series)
    for (const auto& [x, y] : s.points) {
      x_lo = std::min(x_lo, x);
      x_hi = std::max(x_hi, x);
      y_lo = std::min(y_lo, y);
      y_hi = std::max(y_hi, y);
    }
  const bool empty = !(x_lo <= x_hi);
  if (empty) x_lo = x_hi = y_lo = y_hi = 0.0;
  const Axis xa = make_axis(x_lo, x_hi, false, spec.x_whole);
  const Axis ya = make_axis(y_lo, y_hi, spec.y_from_zero, false);
  const double plot_right = kWidth - kRight, plot_bottom = kTop + kPlotHeight;
  const double height = plot_bottom + kBottom + kLegendLine * static_cast<double>(series.size()) + 8;
  auto px = [&](double x) { return num(xa.at(x, kLeft, plot_right)); };
  auto py = [&](double y) { return num(ya.at(y, plot_bottom, kTop)); };

  std::string svg = "<svg class=\"chart\" role=\"img\" width=\"" + num(kWidth) + "\" height=\"" + num(height) +
                    "\" viewBox=\"0 0 " + num(kWidth) + " " + num(height) + "\" aria-label=\"" +
                    html_escape(spec.title) + "\">\n";
  svg += "<title>" + html_escape(spec.title) + "</title>\n";
  svg += "<rect x=\"0\" y=\"0\" width=\"" + num(kWidth) + "\" height=\"" + num(height) + "\" fill=\"#ffffff\"/>\n";
  svg += "<text x=\"" + num(kLeft) + "\" y=\"24\" class=\"title\">" + html_escape(spec.title) + "</text>\n";
  // Grid and ticks.
  for (const double t : ya.ticks()) {
    svg += "<line x1=\"" + num(kLeft) + "\" x2=\"" + num(plot_right) + "\" y1=\"" + py(t) + "\" y2=\"" + py(t) +
           "\" class=\"grid\"/>\n";
    svg += "<text x=\"" + num(kLeft - 6) + "\" y=\"" + num(ya.at(t, plot_bottom, kTop) + 4) +
           "\" text-anchor=\"end\" class=\"tick\">" + tick_text(t) + "</text>\n";
  }
  for (const double t : xa.ticks()) {
    svg += "<line x1=\"" + px(t) + "\" x2=\"" + px(t) + "\" y1=\"" + num(kTop) + "\" y2=\"" + num(plot_bottom) +
           "\" class=\"grid\"/>\n";
    svg += "<text x=\"" + px(t) + "\" y=\"" + num(plot_bottom + 18) + "\" text-anchor=\"middle\" class=\"tick\">" +
           tick_text(t) + "</text>\n";
  }
  svg += "<rect x=\"" + num(kLeft) + "\" y=\"" + num(kTop) + "\" width=\"" + num(plot_right - kLeft) + "\" height=\"" +
         num(kPlotHeight) + "\" class=\"frame\"/>\n";
  svg += "<text x=\"" + num((kLeft + plot_right) / 2) + "\" y=\"" + num(plot_bottom + 38) +
         "\" text-anchor=\"middle\" class=\"label\">" + html_escape(spec.x_label) + "</text>\n";
  svg += "<text transform=\"translate(16 " + num((kTop + plot_bottom) / 2) +
         ") rotate(-90)\" text-anchor=\"middle\" class=\"label\">" + html_escape(spec.y_label) + "</text>\n";
  if (empty)
    svg += "<text x=\"" + num((kLeft + plot_right) / 2) + "\" y=\"" + num((kTop + plot_bottom) / 2) +
           "\" text-anchor=\"middle\" class=\"label\">no data</text>\n";

  for (std::size_t i = 0; i < series.size(); ++i) {
    const Series& s = series[i];
    const std::string colour = series_colour(spec.first_colour + i);
    const std::size_t stride = std::max<std::size_t>(1, (s.points.size() + kMaxPointsDrawn - 1) / kMaxPointsDrawn);
    std::string points;
    for (std::size_t k = 0; k < s.points.size(); k += stride) {
      // The last point always, so a thinned curve still ends where the run ended.
      const auto& [x, y] = s.points[k + stride >= s.points.size() ? s.points.size() - 1 : k];
      // Appended piece by piece: GCC 12 warns falsely (-Wrestrict) on "literal" + std::string.
      if (!points.empty()) points += ' ';
      points.append(px(x)).append(",").append(py(y));
    }
    if (!points.empty())
      svg += "<polyline fill=\"none\" stroke=\"" + colour + "\" stroke-width=\"2\" points=\"" + points + "\"/>\n";
    if (s.markers)
      for (const auto& [x, y] : s.points)
        svg += "<circle cx=\"" + px(x) + "\" cy=\"" + py(y) + "\" r=\"3.5\" fill=\"" + colour + "\"/>\n";
    const double ly = plot_bottom + kBottom + kLegendLine * static_cast<double>(i) + 4;
    svg += "<rect x=\"" + num(kLeft) + "\" y=\"" + num(ly) + "\" width=\"18\" height=\"10\" fill=\"" + colour + "\"/>\n";
    svg += "<text x=\"" + num(kLeft + 26) + "\" y=\"" + num(ly + 10) + "\" class=\"legend\">" + html_escape(s.name) +
           (s.points.empty() ? " (no data)" : "") + "</text>\n";
  }
  return svg + "</svg>\n";
}

}  // namespace dm::cli
