#include "report_inputs.hpp"

#include <filesystem>
#include <map>
#include <optional>
#include <utility>

#include "democratising/base/error.hpp"

namespace dm::cli {
namespace {

std::string base_name(const std::string& path) {
  const std::string stem = std::filesystem::path(path).stem().string();
  return stem.empty() ? path : stem;
}

void read_one(const std::string& path, ReportInputs& inputs) {
  std::optional<RunLog> run;
  std::optional<PsLog> server;
  for_each_record(path, [&](const LineReader& in, const Record& record) {
    if (!run && !server) {
      if (is_ps_config(record))
        server.emplace().path = path;
      else
        run.emplace().path = path;
    }
    if (server)
      read_ps_record(in, record, *server);
    else
      read_run_record(in, record, *run);
  });
  if (server) {
    if (server->workers.empty() && server->evals.empty())
      throw FormatError("[dm report] " + path +
                        ": no workers or eval records (the server stopped before its first report?)");
    server->name = base_name(path);
    inputs.servers.push_back(std::move(*server));
    return;
  }
  if (!run || (run->epochs.empty() && run->steps.empty()))
    throw FormatError("[dm report] " + path +
                      ": no epoch or step records (a metrics file of dm train --metrics or dm ps serve --metrics?)");
  run->name = base_name(path);
  inputs.runs.push_back(std::move(*run));
}

}  // namespace

ReportInputs read_report_inputs(const std::vector<std::string>& paths) {
  ReportInputs inputs;
  for (const std::string& path : paths) read_one(path, inputs);
  std::map<std::string, int> uses;
  for (const RunLog& log : inputs.runs) ++uses[log.name];
  for (const PsLog& log : inputs.servers) ++uses[log.name];
  for (RunLog& log : inputs.runs)
    if (uses[log.name] > 1) log.name = log.path;
  for (PsLog& log : inputs.servers)
    if (uses[log.name] > 1) log.name = log.path;
  return inputs;
}

}  // namespace dm::cli
