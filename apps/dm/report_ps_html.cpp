#include "report_ps_html.hpp"

#include <algorithm>
#include <cstdio>

#include "report_tables.hpp"
#include "svg_chart.hpp"

namespace dm::cli {
namespace {

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

// A chart wants its points in x order; records written by one server are, but a file that
// was edited or concatenated need not be.
Series sorted(Series s) {
  std::stable_sort(s.points.begin(), s.points.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return s;
}

template <class X>
Series accuracy_series(const PsLog& server, X x_of) {
  Series s{server.name, {}, true};
  for (const PsEvalPoint& p : server.evals) s.points.emplace_back(x_of(p), p.test_accuracy);
  return sorted(std::move(s));
}

template <class Field>
std::vector<Series> worker_series(const PsLog& server, Field field) {
  std::vector<Series> all;
  for (const PsWorkerTrace& w : server.workers) {
    Series s{w.name, {}, w.points.size() <= 50};
    for (const PsWorkerPoint& p : w.points) s.points.emplace_back(p.seconds, field(p));
    all.push_back(sorted(std::move(s)));
  }
  return all;
}

std::string workers_table(const PsLog& server) {
  const std::vector<std::string> head{"worker",         "pushes",        "samples",       "samples/s",  "applied",
                                      "staleness mean", "staleness max", "stale-dropped", "reconnects", "at the end"};
  std::vector<TableRow> rows;
  for (const PsWorkerTrace& w : server.workers) {
    const dist::WorkerStats& p = w.points.back().stats;
    rows.push_back({w.name, std::to_string(p.pushes), std::to_string(p.samples), fixed(p.samples_per_s, 1),
                    std::to_string(p.applied), fixed(p.mean_staleness, 2), std::to_string(p.max_staleness),
                    std::to_string(p.stale_dropped), std::to_string(p.reconnects), p.connected ? "connected" : "gone"});
  }
  return table_html(head, rows);
}

// A row of figures from the summary records; "-" for a server stopped before it wrote one.
template <class Field>
TableRow summary_row(const std::string& key, const std::vector<PsLog>& servers, Field field) {
  return row_for_each(key, servers, [&](const PsLog& s) { return s.summary ? field(*s.summary) : std::string("-"); });
}

std::string server_table(const std::vector<PsLog>& servers, std::size_t first_colour) {
  return settings_table(
      servers, first_colour,
      {row_for_each("workers seen", servers, [](const PsLog& s) { return std::to_string(s.workers.size()); }),
       row_for_each("evaluations", servers, [](const PsLog& s) { return std::to_string(s.evals.size()); }),
       summary_row("versions", servers, [](const PsSummary& m) { return std::to_string(m.version); }),
       summary_row("samples", servers, [](const PsSummary& m) { return std::to_string(m.samples); }),
       summary_row("seconds", servers, [](const PsSummary& m) { return fixed(m.seconds, 3); }),
       summary_row("samples/s", servers, [](const PsSummary& m) { return fixed(m.samples_per_s, 1); })});
}

}  // namespace

std::string ps_sections_html(const std::vector<PsLog>& servers, std::size_t first_colour) {
  std::vector<Series> by_version, by_time;
  for (const PsLog& server : servers) {
    by_version.push_back(accuracy_series(server, [](const PsEvalPoint& p) { return static_cast<double>(p.version); }));
    by_time.push_back(accuracy_series(server, [](const PsEvalPoint& p) { return p.seconds; }));
  }
  std::string html = "<h2>Parameter server</h2>\n";
  html += line_chart_svg({"Test accuracy against version", "version", "accuracy", false, true, first_colour}, by_version);
  html += line_chart_svg({"Test accuracy against time", "seconds from the first update", "accuracy", false, false,
                          first_colour},
                         by_time);
  for (const PsLog& server : servers) {
    html += "<h2>Workers of " + html_escape(server.name) + "</h2>\n";
    const std::string x = "seconds from the first update";
    html += line_chart_svg({server.name + ": pushes taken", x, "pushes", true, false},
                           worker_series(server, [](const PsWorkerPoint& p) { return static_cast<double>(p.stats.pushes); }));
    html += line_chart_svg({server.name + ": throughput (samples/s)", x, "samples/s", true, false},
                           worker_series(server, [](const PsWorkerPoint& p) { return p.stats.samples_per_s; }));
    html += line_chart_svg({server.name + ": mean staleness (versions)", x, "versions", true, false},
                           worker_series(server, [](const PsWorkerPoint& p) { return p.stats.mean_staleness; }));
    html += workers_table(server);
  }
  html += "<h2>Server settings</h2>\n";
  return html + server_table(servers, first_colour);
}

}  // namespace dm::cli
