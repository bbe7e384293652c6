#pragma once
// The page of `dm report`: one self-contained HTML document (inline SVG and CSS, no script,
// nothing fetched), every text from the metrics files escaped.
#include <string>
#include <vector>

#include "run_log.hpp"

namespace dm::cli {

/// Charts of training loss (per logged step where the run logged steps, else per epoch), test
/// accuracy and throughput per epoch, the runs overlaid with a legend; then each run's settings.
std::string report_html(const std::vector<RunLog>& runs, const std::string& title);

}  // namespace dm::cli
