#include "report_html.hpp"

#include "report_ps_html.hpp"
#include "report_tables.hpp"
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
  return settings_table(
      runs, 0,
      {row_for_each("epochs recorded", runs, [](const RunLog& run) { return std::to_string(run.epochs.size()); }),
       row_for_each("steps recorded", runs, [](const RunLog& run) { return std::to_string(run.steps.size()); }),
       row_for_each("resumed", runs, [](const RunLog& run) {
         return run.parts > 1 ? std::to_string(run.parts - 1) + " time(s)" : std::string("no");
       })});
}

std::string train_sections(const std::vector<RunLog>& runs) {
  std::vector<Series> loss, accuracy, throughput;
  bool any_steps = false;
  for (const RunLog& run : runs) {
    loss.push_back(loss_series(run));
    any_steps = any_steps || !loss.back().markers;
    accuracy.push_back(epoch_series(run, [](const EpochPoint& p) { return p.test_accuracy; }));
    throughput.push_back(epoch_series(run, [](const EpochPoint& p) { return p.samples_per_s; }));
  }
  // Each chart carries its own title; the page's headings would only repeat them.
  std::string html =
      line_chart_svg({"Training loss", any_steps ? "epoch (logged steps between epochs)" : "epoch", "loss", false, true},
                     loss);
  html += line_chart_svg({"Test accuracy after each epoch", "epoch", "accuracy", false, true}, accuracy);
  html += line_chart_svg({"Training throughput per epoch (samples/s)", "epoch", "samples/s", true, true}, throughput);
  html += "<h2>Configuration</h2>\n";
  return html + config_table(runs);
}

template <class Log>
std::string names(const std::vector<Log>& logs, const char* one, const char* many) {
  std::string text = std::to_string(logs.size()) + (logs.size() == 1 ? one : many) + ": ";
  for (std::size_t i = 0; i < logs.size(); ++i) text += (i > 0 ? ", " : "") + html_escape(logs[i].name);
  return text;
}

}  // namespace

std::string report_html(const ReportInputs& inputs, const std::string& title) {
  std::string html = kHead;
  html += "<title>" + html_escape(title) + "</title>\n";
  html += kStyle;
  html += "</head>\n<body>\n<h1>" + html_escape(title) + "</h1>\n";
  html += "<p class=\"note\">";
  if (!inputs.runs.empty()) html += names(inputs.runs, " run", " runs");
  if (!inputs.runs.empty() && !inputs.servers.empty()) html += "; ";
  if (!inputs.servers.empty()) html += names(inputs.servers, " parameter server", " parameter servers");
  html += "</p>\n";
  if (!inputs.runs.empty()) html += train_sections(inputs.runs);
  // The servers' colours follow the runs', so no line of one stands in another's colour.
  if (!inputs.servers.empty()) html += ps_sections_html(inputs.servers, inputs.runs.size());
  html += "<p class=\"note\">Written by dm report.</p>\n</body>\n</html>\n";
  return html;
}

}  // namespace dm::cli
