#pragma once
// A batch of samples: inputs x of shape (B, ...) and targets y of shape (B, ...).
#include "democratising/tensor.hpp"

namespace dm::data {

struct Batch {
  Tensor x;
  Tensor y;
};

}  // namespace dm

namespace dm {
using data::Batch;
}  // namespace dm
