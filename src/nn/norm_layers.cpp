// The normalisation layers with batch statistics or groups: BatchNorm1d, BatchNorm2d,
// GroupNorm. Constructor arguments are checked when the layer is made; shapes that depend on
// the input are checked by the ops.
#include <sstream>
#include <string>

#include "batch_norm_apply.hpp"
#include "democratising/autograd/autograd.hpp"
#include "democratising/base/error.hpp"
#include "democratising/nn/normalization.hpp"

namespace dm::nn {
namespace {

std::string format_double(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

void check_common(const char* layer, std::int64_t channels, double eps, DType dtype) {
  if (channels < 1)
    throw ShapeError(std::string("[") + layer + "] the number of channels must be positive, got " +
                     std::to_string(channels));
  if (!(eps >= 0.0)) throw ValueError(std::string("[") + layer + "] eps must be >= 0, got " + format_double(eps));
  if (!is_floating(dtype))
    throw DTypeError(std::string("[") + layer + "] parameters must be f32, f64 or bf16, got " +
                     std::string(dtype_name(dtype)));
}

}  // namespace

BatchNorm::BatchNorm(const char* layer, const char* input_form, int min_dim, int max_dim, std::int64_t num_features,
                     double eps, double momentum, DType dtype)
    : layer_(layer),
      input_form_(input_form),
      min_dim_(min_dim),
      max_dim_(max_dim),
      features_(num_features),
      eps_(eps),
      momentum_(momentum) {
  check_common(layer, num_features, eps, dtype);
  if (!(momentum >= 0.0 && momentum <= 1.0))
    throw ValueError(std::string("[") + layer + "] momentum must be in [0, 1], got " + format_double(momentum));
  register_parameter("weight", Tensor::ones({num_features}, dtype));
  register_parameter("bias", Tensor::zeros({num_features}, dtype));
  register_buffer("running_mean", Tensor::zeros({num_features}, dtype));
  register_buffer("running_var", Tensor::ones({num_features}, dtype));
  register_buffer("num_batches_tracked", Tensor::scalar(0, DType::i64));
}

Tensor BatchNorm::forward(const Tensor& x) const {
  if (x.defined() && (x.dim() < min_dim_ || x.dim() > max_dim_))
    throw ShapeError(std::string("[") + layer_ + "] expected input " + input_form_ + ", got x " + x.shape().str());
  if (is_training()) {
    // The batch's statistics without the lock; the lock only for the small running update, so
    // concurrent training calls overlap in everything but that.
    const detail::BatchNormResult r =
        detail::batch_norm_apply(x, Tensor(), Tensor(), weight(), bias(), true, eps_, layer_);
    with_buffer_lock([&] {
      detail::update_running_stats(buffer(0), buffer(1), r, momentum_);
      NoGradGuard no_grad;
      Tensor(buffer(2)).add_(1.0);
    });
    return r.y;
  }
  Tensor running_mean, running_var;
  with_buffer_lock([&] {
    running_mean = buffer(0).clone();
    running_var = buffer(1).clone();
  });
  return detail::batch_norm_apply(x, running_mean, running_var, weight(), bias(), false, eps_, layer_).y;
}

std::string BatchNorm::name() const {
  return std::string(layer_) + "(" + std::to_string(features_) + ", eps=" + format_double(eps_) +
         ", momentum=" + format_double(momentum_) + ")";
}

GroupNorm::GroupNorm(std::int64_t num_groups, std::int64_t num_channels, double eps, DType dtype)
    : groups_(num_groups), channels_(num_channels), eps_(eps) {
  check_common("GroupNorm", num_channels, eps, dtype);
  if (num_groups < 1 || num_channels % num_groups != 0)
    throw ShapeError("[GroupNorm] num_groups " + std::to_string(num_groups) + " must be positive and divide the " +
                     std::to_string(num_channels) + " channels");
  register_parameter("weight", Tensor::ones({num_channels}, dtype));
  register_parameter("bias", Tensor::zeros({num_channels}, dtype));
}

Tensor GroupNorm::forward(const Tensor& x) const { return group_norm(x, groups_, weight(), bias(), eps_); }

std::string GroupNorm::name() const {
  return "GroupNorm(" + std::to_string(groups_) + " groups, " + std::to_string(channels_) +
         " channels, eps=" + format_double(eps_) + ")";
}

}  // namespace dm::nn
