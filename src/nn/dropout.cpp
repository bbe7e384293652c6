// nn::dropout: y = x * mask, mask = (u < keep) / keep with u uniform from the global generator.
// The mask is kept for the backward, dx = g * mask.
#include <string>
#include <vector>

#include "autograd/record.hpp"
#include "backend/backend.hpp"
#include "democratising/autograd/autograd.hpp"
#include "democratising/nn/functional.hpp"
#include "op_checks.hpp"

namespace dm::nn {
namespace {

Tensor product(const Tensor& a, const Tensor& mask, DType result_dtype) {
  const Tensor ac = detail::compute_view(a);
  Tensor out = Tensor::empty(ac.shape(), ac.dtype(), ac.device());
  backend::backend_for(ac.device())
      .multiply(ac.dtype(), static_cast<const std::byte*>(ac.data_ptr()), static_cast<const std::byte*>(mask.data_ptr()),
                static_cast<std::byte*>(out.data_ptr()), ac.numel());
  return out.to(result_dtype);
}

}  // namespace

Tensor dropout(const Tensor& x, double p, bool training) {
  impl_of(x, "dropout");
  if (!(p >= 0.0 && p < 1.0)) throw ValueError("[dropout] p must be in [0, 1), got " + std::to_string(p));
  if (!training || p == 0.0) return x;
  common_device({&x}, "dropout");
  detail::require_floating(x, "dropout", "x");
  const DType cd = detail::compute_dtype(x.dtype());
  // mask (x's shape, compute dtype): 1/keep where kept, 0 where dropped.
  Tensor mask = Tensor::rand(x.shape(), cd, x.device());
  backend::backend_for(x.device()).dropout_mask(cd, static_cast<std::byte*>(mask.data_ptr()), 1.0 - p, mask.numel());
  Tensor y = product(x, mask, x.dtype());
  if (autograd::needs_grad({&x})) {
    const DType dtype = x.dtype();
    autograd::record(y, "dropout", {&x}, [mask, dtype](const Tensor& g) {
      return std::vector<Tensor>{product(g, mask, dtype)};
    });
  }
  return y;
}

}  // namespace dm::nn
