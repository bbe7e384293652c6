// dm report: one HTML page of charts and settings from the metrics files of dm train runs and
// of dm ps serve.
#include <cstdio>
#include <filesystem>
#include <string>
#include <system_error>

#include "commands.hpp"
#include "democratising/io/file.hpp"
#include "report_html.hpp"
#include "report_inputs.hpp"

namespace dm::cli {

CLI::App* add_report_command(CLI::App& app, ReportOptions& o) {
  CLI::App* cmd = app.add_subcommand(
      "report", "Draw the metrics files of dm train and dm ps serve (--metrics) as one self-contained HTML page");
  cmd->add_option("metrics", o.inputs,
                  "Metrics files of dm train or dm ps serve (JSON lines); several runs overlay in each chart")
      ->required();
  cmd->add_option("-o,--output", o.output, "The HTML file to write (replaced atomically)")->required();
  cmd->add_option("--title", o.title, "Heading of the page")->capture_default_str();
  cmd->footer(
      "The page holds charts of training loss (per logged step with dm train --log-every, else per epoch), test\n"
      "accuracy and throughput per epoch, and each run's configuration. For a parameter server: test accuracy\n"
      "against version and time, each worker's pushes, samples/s and staleness against time, and its settings.\n"
      "It has no scripts and loads nothing.");
  return cmd;
}

int run_report(const ReportOptions& o) {
  // Writing the page over one of its own inputs would lose that run's records.
  for (const std::string& input : o.inputs) {
    std::error_code ec;
    if (std::filesystem::equivalent(input, o.output, ec))
      throw UsageError("[dm report] --output " + o.output + " is one of the metrics files it reads");
  }
  const ReportInputs inputs = read_report_inputs(o.inputs);
  const std::string html = report_html(inputs, o.title);
  io::write_file_atomic(o.output, html.data(), html.size());
  const std::size_t runs = inputs.runs.size(), servers = inputs.servers.size();
  if (servers == 0)
    std::printf("wrote %s (%zu run%s)\n", o.output.c_str(), runs, runs == 1 ? "" : "s");
  else
    std::printf("wrote %s (%zu run%s, %zu parameter server%s)\n", o.output.c_str(), runs, runs == 1 ? "" : "s",
                servers, servers == 1 ? "" : "s");
  return 0;
}

}  // namespace dm::cli
