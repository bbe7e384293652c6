// Pieces of dm tested directly (compiled into this binary from apps/dm): the run's ETA, and
// the SVG charts and escaping of dm report.
#include <gtest/gtest.h>

#include <string>

#include "progress.hpp"
#include "svg_chart.hpp"

namespace {

using dm::cli::html_escape;
using dm::cli::line_chart_svg;
using dm::cli::run_eta_seconds;

TEST(RunEta, CoversTheEpochsStillToCome) {
  // 1000 samples per epoch at 100 samples/s: 250 done in epoch 1 of 3 leaves 750 + 2 * 1000.
  EXPECT_DOUBLE_EQ(run_eta_seconds(250, 1000, 2, 100.0), 27.5);
  // The last epoch: only its rest.
  EXPECT_DOUBLE_EQ(run_eta_seconds(250, 1000, 0, 100.0), 7.5);
  EXPECT_DOUBLE_EQ(run_eta_seconds(1000, 1000, 0, 100.0), 0.0);
  // No rate yet: no estimate, never a division by zero.
  EXPECT_EQ(run_eta_seconds(0, 1000, 4, 0.0), 0.0);
}

TEST(HtmlEscape, MarkupQuotesControlsAndBrokenUtf8) {
  EXPECT_EQ(html_escape("<script>alert('x') & \"y\"</script>"),
            "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;");
  EXPECT_EQ(html_escape(std::string("a\0b\x01\x7f" "c\td", 8)), "abc d");
  EXPECT_EQ(html_escape("caf\xc3\xa9 \xe2\x82\xac"), "caf\xc3\xa9 \xe2\x82\xac");  // valid UTF-8 stays
  const std::string replacement = "\xef\xbf\xbd";
  EXPECT_EQ(html_escape("a\xff" "b"), "a" + replacement + "b");
  EXPECT_EQ(html_escape("\xc3"), replacement);                           // cut short
  EXPECT_EQ(html_escape("\xc0\xbc"), replacement + replacement);         // overlong '<'
  EXPECT_EQ(html_escape("\xed\xa0\x80"), replacement + replacement + replacement);  // a UTF-16 surrogate
}

int count(const std::string& text, const std::string& part) {
  int n = 0;
  for (std::size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

TEST(LineChart, OneLineAndOneLegendEntryPerSeries) {
  const std::string svg = line_chart_svg({"Loss <1>", "epoch", "loss", false},
                                         {{"run <a>", {{1, 0.9}, {2, 0.5}, {3, 0.4}}, true},
                                          {"run b", {{1, 1.2}, {2, 0.7}}, false}});
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_EQ(count(svg, "<svg"), 1);
  EXPECT_EQ(count(svg, "</svg>"), 1);
  EXPECT_EQ(count(svg, "<polyline"), 2);
  EXPECT_EQ(count(svg, "<circle"), 3);  // markers on the first series only
  EXPECT_NE(svg.find("run &lt;a&gt;"), std::string::npos);
  EXPECT_NE(svg.find("Loss &lt;1&gt;"), std::string::npos);
  EXPECT_EQ(svg.find("<a>"), std::string::npos);
  EXPECT_NE(svg.find("#1f77b4"), std::string::npos);
  EXPECT_NE(svg.find("#ff7f0e"), std::string::npos);
}

TEST(LineChart, DegenerateAndExtremeDataStillDraw) {
  const std::vector<std::vector<std::pair<double, double>>> cases = {
      {},                                  // nothing at all
      {{1, 0.5}},                          // one point
      {{1, 0}, {2, 0}},                    // a flat zero line
      {{1, 1e308}, {2, -1.7e308}},         // the ends of a double
      {{1e15, 1}, {1e15 + 1, 1 + 1e-15}},  // steps far below the values' magnitude
      {{1, 5e-324}, {2, 1e-323}},          // subnormals
  };
  for (const auto& points : cases) {
    SCOPED_TRACE(points.size());
    const std::string svg = line_chart_svg({"t", "x", "y", true}, {{"s", points, true}});
    EXPECT_EQ(svg.find("nan"), std::string::npos) << svg;
    EXPECT_EQ(svg.find("inf"), std::string::npos) << svg;
    EXPECT_LT(count(svg, "<line"), 120) << "too many ticks";
    EXPECT_EQ(count(svg, "</svg>"), 1);
  }
}

}  // namespace
