#pragma once
// Layers over sequences of tokens (N, T, D): a learned positional embedding added to each
// position, and the mean over the tokens that turns a sequence into one vector per sample (the
// pooling of a vision transformer without a class token).
#include <cstdint>
#include <string>

#include "democratising/nn/module.hpp"

namespace dm::nn {

/// x (N, T, D) + weight (T, D): one learned vector per position, broadcast over the batch.
/// The weight is initialised N(0, 0.02^2), as in ViT, from the global generator. An input that
/// is not (N, T, D) is a ShapeError naming the layer and the shape.
class PositionalEmbedding : public Module {
 public:
  /// `tokens` positions of `dim` values (each at least 1: ShapeError otherwise), of `dtype`.
  PositionalEmbedding(std::int64_t tokens, std::int64_t dim, DType dtype = DType::f32);
  Tensor forward(const Tensor& x) const override;
  /// E.g. "PositionalEmbedding(16, 64)".
  std::string name() const override;
  /// The table, (T, D).
  const Tensor& weight() const { return parameter(0); }

 private:
  std::int64_t tokens_, dim_;
};

/// The mean over the tokens: (N, T, D) to (N, D). Any other number of dims is a ShapeError.
class TokenMean : public Module {
 public:
  Tensor forward(const Tensor& x) const override;
  std::string name() const override { return "TokenMean"; }
};

}  // namespace dm::nn
