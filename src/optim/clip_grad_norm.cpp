// Gradient clipping by global norm: one squared-sum pass per tensor (the backend's, summed in
// f64 over fixed blocks, so the norm does not depend on the thread count), then one scaling pass
// when the norm is above the bound.
#include "democratising/optim/clip_grad_norm.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "backend/backend.hpp"
#include "democratising/autograd/autograd.hpp"
#include "democratising/base/error.hpp"

namespace dm::optim {
namespace {

// torch.nn.utils.clip_grad_norm_ adds this to the norm before dividing, so a zero gradient
// scales by a finite number.
constexpr double kNormEpsilon = 1e-6;

std::string number(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return std::to_string(v);
}

void check_max_norm(double max_norm) {
  if (!(max_norm > 0.0) || !std::isfinite(max_norm))
    throw ValueError("[clip_grad_norm] max_norm must be positive and finite, got " + number(max_norm));
}

double squared_sum(const Tensor& g) {
  if (!is_floating(g.dtype()))
    throw DTypeError("[clip_grad_norm] gradients must be floating point, got " + std::string(dtype_name(g.dtype())));
  // bf16 blocks are read in f32: the backend's sum takes f32 and f64 only.
  const Tensor c = g.dtype() == DType::bf16 ? g.to(DType::f32) : g.contiguous();
  return backend::backend_for(c.device())
      .squared_error_sum(c.dtype(), static_cast<const std::byte*>(c.data_ptr()), nullptr, c.numel());
}

// The factor torch applies, min(1, max_norm / (norm + eps)); ValueError for a non-finite norm.
double clip_factor(double norm, double max_norm) {
  if (!std::isfinite(norm))
    throw ValueError("[clip_grad_norm] the gradients' norm is " + number(norm) +
                     " (NaN or infinity in a gradient: training diverged); nothing was scaled");
  return std::min(1.0, max_norm / (norm + kNormEpsilon));
}

}  // namespace

double clip_grad_norm(const Tensor& flat, double max_norm) {
  return clip_grad_norm(std::vector<Tensor>{flat}, max_norm);
}

double clip_grad_norm(const std::vector<Tensor>& grads, double max_norm) {
  check_max_norm(max_norm);
  double sum = 0.0;
  for (const Tensor& g : grads)
    if (g.defined()) sum += squared_sum(g);
  const double norm = std::sqrt(sum);
  const double factor = clip_factor(norm, max_norm);
  if (factor < 1.0) {
    NoGradGuard no_grad;
    for (const Tensor& g : grads)
      if (g.defined()) Tensor(g).mul_(factor);
  }
  return norm;
}

}  // namespace dm::optim
