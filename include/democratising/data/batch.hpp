#pragma once
// A batch of samples: inputs x of shape (B, ...) and targets y of shape (B, ...).
#include "democratising/core/tensor.hpp"

namespace dm::data {

/// Inputs and targets of a batch of samples.
struct Batch {
  /// Inputs, (B, ...).
  Tensor x;
  /// Targets, (B, ...).
  Tensor y;
};

}  // namespace dm

namespace dm {
using data::Batch;
}  // namespace dm
