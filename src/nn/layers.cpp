// The layers with state: Dense, Dropout, LayerNorm.
#include "democratising/nn/layers.hpp"

#include <cmath>
#include <sstream>
#include <string>

#include "democratising/base/error.hpp"
#include "democratising/nn/functional.hpp"

namespace dm::nn {
namespace {

// Uniform in [-bound, bound) from the global generator, in `dtype` (bf16 drawn in f32).
Tensor uniform_symmetric(const Shape& shape, double bound, DType dtype) {
  const DType draw_dtype = dtype == DType::bf16 ? DType::f32 : dtype;
  Tensor t = Tensor::rand(shape, draw_dtype);
  t.mul_(2.0 * bound).sub_(bound);  // two roundings, as u * scale - shift in draw_dtype
  return t.to(dtype);
}

std::string format_double(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

}  // namespace

// torch.nn.Linear's reset_parameters: kaiming_uniform(a = sqrt(5)) on W works out to
// U(-1/sqrt(in), 1/sqrt(in)), and the bias uses the same bound. W is drawn before b.
Dense::Dense(std::int64_t in_features, std::int64_t out_features, bool bias, DType dtype)
    : in_(in_features), out_(out_features), has_bias_(bias) {
  if (in_features < 0 || out_features < 0)
    throw ValueError("[Dense] features must be >= 0, got " + std::to_string(in_features) + " -> " +
                     std::to_string(out_features));
  if (!is_floating(dtype))
    throw DTypeError("[Dense] parameters must be f32, f64 or bf16, got " + std::string(dtype_name(dtype)));
  const double bound = in_features > 0 ? 1.0 / std::sqrt(static_cast<double>(in_features)) : 0.0;
  register_parameter("weight", uniform_symmetric({out_features, in_features}, bound, dtype));
  if (bias) register_parameter("bias", uniform_symmetric({out_features}, bound, dtype));
}

Tensor Dense::forward(const Tensor& x) const {
  return linear(x, weight(), has_bias_ ? parameter(1) : Tensor());
}

std::string Dense::name() const {
  return "Dense(" + std::to_string(in_) + " -> " + std::to_string(out_) + (has_bias_ ? "" : ", no bias") + ")";
}

Dropout::Dropout(double p) : p_(p) {
  if (!(p >= 0.0 && p < 1.0)) throw ValueError("[Dropout] p must be in [0, 1), got " + format_double(p));
}

Tensor Dropout::forward(const Tensor& x) const { return dropout(x, p_, is_training()); }

std::string Dropout::name() const { return "Dropout(p=" + format_double(p_) + ")"; }

LayerNorm::LayerNorm(const Shape& normalized_shape, double eps, DType dtype) : shape_(normalized_shape), eps_(eps) {
  if (normalized_shape.empty())
    throw ShapeError("[LayerNorm] normalized_shape needs at least one dim, got " + normalized_shape.str());
  for (std::int64_t d : normalized_shape)
    if (d < 1) throw ShapeError("[LayerNorm] normalized_shape must be positive, got " + normalized_shape.str());
  if (!(eps >= 0.0)) throw ValueError("[LayerNorm] eps must be >= 0, got " + format_double(eps));
  if (!is_floating(dtype))
    throw DTypeError("[LayerNorm] parameters must be f32, f64 or bf16, got " + std::string(dtype_name(dtype)));
  register_parameter("weight", Tensor::ones(normalized_shape, dtype));
  register_parameter("bias", Tensor::zeros(normalized_shape, dtype));
}

Tensor LayerNorm::forward(const Tensor& x) const { return layer_norm(x, shape_, weight(), bias(), eps_); }

std::string LayerNorm::name() const { return "LayerNorm(" + shape_.str() + ", eps=" + format_double(eps_) + ")"; }

}  // namespace dm::nn
