// Balanced pipeline stages: the classic linear-partition dynamic programme. Layers are few
// (tens), so the O(stages * layers^2) table costs nothing next to one forward pass.
#include "model_parallel_partition.hpp"

#include <algorithm>
#include <limits>
#include <string>

#include "democratising/base/error.hpp"

namespace dm::pipeline {

std::vector<std::size_t> balanced_split_points(const std::vector<std::int64_t>& costs, std::size_t stages) {
  const std::size_t n = costs.size();
  if (stages < 1 || stages > n)
    throw ValueError("[ModelParallel] cannot cut " + std::to_string(n) + " layers into " + std::to_string(stages) +
                     " non-empty stages");
  std::vector<std::int64_t> prefix(n + 1, 0);
  for (std::size_t i = 0; i < n; ++i) prefix[i + 1] = prefix[i] + costs[i];
  constexpr std::int64_t unreachable = std::numeric_limits<std::int64_t>::max();
  // best[k][i]: the smallest possible largest stage cost for layers [0, i) in k stages;
  // cut[k][i]: where the last of those k stages begins.
  std::vector<std::vector<std::int64_t>> best(stages + 1, std::vector<std::int64_t>(n + 1, unreachable));
  std::vector<std::vector<std::size_t>> cut(stages + 1, std::vector<std::size_t>(n + 1, 0));
  best[0][0] = 0;
  for (std::size_t k = 1; k <= stages; ++k) {
    for (std::size_t i = k; i <= n; ++i) {
      for (std::size_t j = k - 1; j < i; ++j) {
        if (best[k - 1][j] == unreachable) continue;
        const std::int64_t largest = std::max(best[k - 1][j], prefix[i] - prefix[j]);
        if (largest < best[k][i]) {
          best[k][i] = largest;
          cut[k][i] = j;
        }
      }
    }
  }
  std::vector<std::size_t> points(stages - 1);
  std::size_t end = n;
  for (std::size_t k = stages; k > 1; --k) {
    end = cut[k][end];
    points[k - 2] = end;
  }
  return points;
}

void check_split_points(const std::vector<std::size_t>& points, std::size_t layers, std::size_t stages) {
  if (points.size() + 1 != stages)
    throw ValueError("[ModelParallel] " + std::to_string(points.size()) + " split point(s) for " +
                     std::to_string(stages) + " device(s): give one fewer split point than devices");
  std::size_t previous = 0;
  for (std::size_t i = 0; i < points.size(); ++i) {
    const std::size_t p = points[i];
    if (p == 0 || p >= layers)
      throw ValueError("[ModelParallel] split point " + std::to_string(p) + " is outside 1.." +
                       std::to_string(layers - 1) + " (the Sequential has " + std::to_string(layers) +
                       " layers; a split point is the first layer of a stage)");
    if (i > 0 && p <= previous)
      throw ValueError("[ModelParallel] split points must increase strictly, got " + std::to_string(previous) +
                       " then " + std::to_string(p) + " (every stage needs at least one layer)");
    previous = p;
  }
}

std::size_t layer_of(const std::string& parameter, std::size_t layers) {
  const std::string head = parameter.substr(0, parameter.find('.'));
  std::size_t layer = 0;
  const bool digits = !head.empty() && std::all_of(head.begin(), head.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (digits && head.size() < 10) layer = std::stoul(head);
  if (!digits || head.size() >= 10 || layer >= layers)
    throw ValueError("[ModelParallel] parameter '" + parameter + "' is not inside one of the Sequential's " +
                     std::to_string(layers) + " layers: stages are made of whole layers, so a Sequential "
                     "subclass must keep its parameters in its layers");
  return layer;
}

}  // namespace dm::pipeline
