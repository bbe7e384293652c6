#pragma once
// nn::Unflatten: the inverse of Flatten, as torch.nn.Unflatten. It lets a network that works on
// images take flat samples, e.g. Fashion-MNIST's 784 pixels as (N, 1, 28, 28):
//
//   dm::nn::Sequential().add(dm::nn::Unflatten(1, {1, 28, 28})).add(dm::nn::Conv2d(1, 32, 3, 1, 1))...
#include <cstdint>
#include <string>

#include "democratising/base/shape.hpp"
#include "democratising/nn/module.hpp"

namespace dm::nn {

/// Splits dim `dim` (negative counts from the end) into `sizes`, a view where the strides
/// allow one. An input whose dim does not hold exactly sizes.numel() elements is a ShapeError
/// naming both.
class Unflatten : public Module {
 public:
  /// Splits `dim` into `sizes` (each at least 1: ValueError otherwise).
  Unflatten(std::int64_t dim, const Shape& sizes);
  Tensor forward(const Tensor& x) const override;
  /// E.g. "Unflatten(1 -> (1, 28, 28))".
  std::string name() const override;

 private:
  std::int64_t dim_;
  Shape sizes_;
};

}  // namespace dm::nn
