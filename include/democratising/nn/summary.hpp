#pragma once
// nn::summary: a network's layers, the shape each one outputs and its parameter count, found by
// running one input of a given shape through it (without grad, in evaluation mode).
//
//   auto rows = dm::nn::summary(net, {1, 784});
//   std::cout << dm::nn::summary_table(rows);
#include <cstdint>
#include <string>
#include <vector>

#include "democratising/nn/module.hpp"
#include "democratising/base/shape.hpp"

namespace dm::nn {

/// One layer of a summary. Containers (Sequential) give no row of their own: their layers do.
struct SummaryRow {
  /// Dotted position, as in parameter names: "0", "2", "1.0" for nested.
  std::string path;
  /// The module's name(), e.g. "Dense(784 -> 128)".
  std::string layer;
  /// The layer's output shape for the probe input of summary().
  Shape output_shape;
  /// This layer's own parameters.
  std::int64_t parameters;
};

/// The rows of `module` for an input of `input_shape` (batch dim included), in forward order.
/// The probe input is zeros on the device of the module's first parameter (the CPU for a module
/// without any), of their dtype (f32 without any). A layer that refuses its input throws the
/// layer's error, prefixed with "[summary] layer <path> <name>: ".
std::vector<SummaryRow> summary(const Module& module, const Shape& input_shape);

/// The rows as a plain-text table (layer, output shape, parameters) with a total line.
std::string summary_table(const std::vector<SummaryRow>& rows);

}  // namespace dm::nn
