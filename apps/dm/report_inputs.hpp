#pragma once
// The files dm report draws: metrics files of dm train runs and of dm ps serve, told apart by
// their first record (the server's opens with a config of format "dm-ps-metrics-1").
#include <string>
#include <vector>

#include "ps_log.hpp"
#include "run_log.hpp"

namespace dm::cli {

struct ReportInputs {
  std::vector<RunLog> runs;    // dm train --metrics, in the order given
  std::vector<PsLog> servers;  // dm ps serve --metrics, in the order given
};

/// Reads every file of `paths`. Throws IoError for a file that cannot be read and FormatError
/// naming the file and line for anything else (see read_run_record and read_ps_record), or
/// naming the file when it holds nothing to draw. Two files of the same base name are told
/// apart by their paths.
ReportInputs read_report_inputs(const std::vector<std::string>& paths);

}  // namespace dm::cli
