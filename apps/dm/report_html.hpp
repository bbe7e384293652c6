#pragma once
// The page of `dm report`: one self-contained HTML document (inline SVG and CSS, no script,
// nothing fetched), every text from the metrics files escaped.
#include <string>
#include <vector>

#include "report_inputs.hpp"

namespace dm::cli {

/// For dm train runs: charts of training loss (per logged step where the run logged steps, else
/// per epoch), test accuracy and throughput per epoch, the runs overlaid with a legend; then
/// each run's settings. For parameter servers: the sections of report_ps_html.hpp.
std::string report_html(const ReportInputs& inputs, const std::string& title);

}  // namespace dm::cli
