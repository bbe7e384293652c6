#pragma once
// Where a Sequential is cut into pipeline stages: balanced by cost, or at points the user gives.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace dm::pipeline {

/// Split points (the first layer of stages 1..stages-1) that cut `costs` (one per layer) into
/// `stages` contiguous non-empty runs whose largest total is as small as possible.
/// Requires 1 <= stages <= costs.size().
std::vector<std::size_t> balanced_split_points(const std::vector<std::int64_t>& costs, std::size_t stages);

/// Throws ValueError unless `points` has stages-1 entries, strictly increasing, each in
/// 1..layers-1, so that every stage gets at least one layer.
void check_split_points(const std::vector<std::size_t>& points, std::size_t layers, std::size_t stages);

/// The layer a parameter belongs to, from its dotted name ("3.body.0.weight" -> 3). ValueError
/// when the name does not start with a layer index below `layers`: a parameter a Sequential
/// subclass registered itself, outside its layers, belongs to no stage.
std::size_t layer_of(const std::string& parameter, std::size_t layers);

}  // namespace dm::pipeline
