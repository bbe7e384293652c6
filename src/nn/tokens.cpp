// PositionalEmbedding and TokenMean: the shapes are checked here, so that a sequence of the
// wrong length is named rather than broadcast against the table or averaged over the wrong dim.
#include "democratising/nn/tokens.hpp"

#include "democratising/base/error.hpp"

namespace dm::nn {
namespace {

std::string shape_of(const Tensor& x) {
  return x.defined() ? "shape " + x.shape().str() : std::string("an undefined tensor");
}

}  // namespace

PositionalEmbedding::PositionalEmbedding(std::int64_t tokens, std::int64_t dim, DType dtype)
    : tokens_(tokens), dim_(dim) {
  if (tokens < 1 || dim < 1)
    throw ShapeError("[PositionalEmbedding] tokens and dim must be positive, got " + std::to_string(tokens) + " x " +
                     std::to_string(dim));
  if (!is_floating(dtype))
    throw DTypeError("[PositionalEmbedding] parameters must be f32, f64 or bf16, got " +
                     std::string(dtype_name(dtype)));
  // The generator draws in f32 for bf16, as the other layers do.
  const DType draw = dtype == DType::bf16 ? DType::f32 : dtype;
  register_parameter("weight", (Tensor::randn({tokens, dim}, draw) * 0.02).to(dtype));
}

Tensor PositionalEmbedding::forward(const Tensor& x) const {
  if (!x.defined() || x.dim() != 3 || x.size(1) != tokens_ || x.size(2) != dim_)
    throw ShapeError("[" + name() + "] x must be (batch, " + std::to_string(tokens_) + ", " + std::to_string(dim_) +
                     "), got " + shape_of(x));
  return x + weight();
}

std::string PositionalEmbedding::name() const {
  return "PositionalEmbedding(" + std::to_string(tokens_) + ", " + std::to_string(dim_) + ")";
}

Tensor TokenMean::forward(const Tensor& x) const {
  if (!x.defined() || x.dim() != 3 || x.size(1) < 1)
    throw ShapeError("[TokenMean] x must be (batch, tokens, dim) with at least one token, got " + shape_of(x));
  return x.mean({1});
}

}  // namespace dm::nn
