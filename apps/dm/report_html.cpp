#include "report_html.hpp"

#include <set>

#include "svg_chart.hpp"

namespace dm::cli {
namespace {

// The page may not load or run anything: if escaping were ever to miss, the browser still refuses.
constexpr const char* kHead = R"(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8"/>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'"/>
<meta name="viewport" content="width=device-width, initial-scale=1"/>
)";

constexpr const char* kStyle = R"(<style>
body { font-family: sans-serif; margin: 24px; color: #222222; background: #ffffff; }
h1 { font-size: 22px; }
h2 { font-size: 17px; margin-top: 28px; }
.chart { display: block; margin: 8px 0 24px 0; }
.chart .title { font-size: 15px; font-weight: bold; fill: #222222; }
.chart .tick { font-size: 11px; fill: #555555; }
.chart .label { font-size: 12px; fill: #333333; }
.chart .legend { font-size: 12px; fill: #222222; }
.chart .grid { stroke: #e4e4e4; stroke-width: 1; }
.chart .frame { fill: none; stroke: #888888; stroke-width: 1; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border: 1px solid #cccccc; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
.swatch { display: inline-block; width: 12px; height: 12px; margin-right: 6px; }
.note { color: #555555; font-size: 13px; }
</style>
)";

// Training loss: the logged steps, placed on the epoch axis, where the run logged them and
// says how many steps an epoch has; otherwise the epochs' mean loss at each epoch's end.
Series loss_series(const RunLog& run) {
  Series s{run.name, {}, false};
  if (!run.steps.empty() && run.steps_per_epoch > 0) {
    for (const auto& [step, p] : run.steps)
      s.points.emplace_back(static_cast<double>(step) / static_cast<double>(run.steps_per_epoch), p.loss);
    return s;
  }
  s.markers = true;
  for (const auto& [epoch, p] : run.epochs) s.points.emplace_back(static_cast<double>(epoch), p.train_loss);
  return s;
}

template <class Field>
Series epoch_series(const RunLog& run, Field field) {
  Series s{run.name, {}, true};
  for (const auto& [epoch, p] : run.epochs) s.points.emplace_back(static_cast<double>(epoch), field(p));
  return s;
}

std::string config_table(const std::vector<RunLog>& runs) {
  // One row per setting any run has, in the order first met; a column per run.
  std::vector<std::string> keys;
  std::set<std::string> seen;
  for (const RunLog& run : runs)
    for (const auto& [key, value] : run.config)
      if (seen.insert(key).second) keys.push_back(key);
  std::string html = "<table>\n<tr><th>setting</th>";
  for (std::size_t i = 0; i < runs.size(); ++i)
    html += "<th><span class=\"swatch\" style=\"background: " + series_colour(i) + "\"></span>" +
            html_escape(runs[i].name) + "</th>";
  html += "</tr>\n";
  auto row = [&](const std::string& key, auto value_of) {
    html += "<tr><th>" + html_escape(key) + "</th>";
    for (const RunLog& run : runs) html += "<td>" + html_escape(value_of(run)) + "</td>";
    html += "</tr>\n";
  };
  row("file", [](const RunLog& run) { return run.path; });
  for (const std::string& key : keys)
    row(key, [&key](const RunLog& run) {
      for (const auto& [k, v] : run.config)
        if (k == key) return v;
      return std::string("-");
    });
  row("epochs recorded", [](const RunLog& run) { return std::to_string(run.epochs.size()); });
  row("steps recorded", [](const RunLog& run) { return std::to_string(run.steps.size()); });
  row("resumed", [](const RunLog& run) {
    return run.parts > 1 ? std::to_string(run.parts - 1) + " time(s)" : std::string("no");
  });
  return html + "</table>\n";
}

}  // namespace

std::string report_html(const std::vector<RunLog>& runs, const std::string& title) {
  std::vector<Series> loss, accuracy, throughput;
  bool any_steps = false;
  for (const RunLog& run : runs) {
    loss.push_back(loss_series(run));
    any_steps = any_steps || !loss.back().markers;
    accuracy.push_back(epoch_series(run, [](const EpochPoint& p) { return p.test_accuracy; }));
    throughput.push_back(epoch_series(run, [](const EpochPoint& p) { return p.samples_per_s; }));
  }
  std::string html = kHead;
  html += "<title>" + html_escape(title) + "</title>\n";
  html += kStyle;
  html += "</head>\n<body>\n<h1>" + html_escape(title) + "</h1>\n";
  html += "<p class=\"note\">" + std::to_string(runs.size()) + (runs.size() == 1 ? " run" : " runs") + ": ";
  for (std::size_t i = 0; i < runs.size(); ++i) {
    if (i > 0) html += ", ";
    html += html_escape(runs[i].name);
  }
  html += "</p>\n";
  // Each chart carries its own title; the page's headings would only repeat them.
  html += line_chart_svg({"Training loss", any_steps ? "epoch (logged steps between epochs)" : "epoch", "loss", false, true},
                         loss);
  html += line_chart_svg({"Test accuracy after each epoch", "epoch", "accuracy", false, true}, accuracy);
  html += line_chart_svg({"Training throughput per epoch (samples/s)", "epoch", "samples/s", true, true}, throughput);
  html += "<h2>Configuration</h2>\n";
  html += config_table(runs);
  html += "<p class=\"note\">Written by dm report.</p>\n</body>\n</html>\n";
  return html;
}

}  // namespace dm::cli
