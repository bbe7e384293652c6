#pragma once
// dm report's sections for the metrics files of dm ps serve (ps_log.hpp).
#include <cstddef>
#include <string>
#include <vector>

#include "ps_log.hpp"

namespace dm::cli {

/// Test accuracy against version and against time, the servers overlaid (their series take
/// colours from `first_colour` on); then per server: pushes, samples/s and mean staleness of
/// each worker against time, a table of each worker's last figures, and a table of the
/// servers' settings and totals.
std::string ps_sections_html(const std::vector<PsLog>& servers, std::size_t first_colour);

}  // namespace dm::cli
