// nn::embedding: a gather of weight rows forward, a deterministic scatter-add backward.
//
//   indices (...) integers   weight (num, dim)   y (..., dim) = weight[indices]
//   backward: dweight (num, dim) = the rows of g (n, dim) added up per index, in a fixed order
//   (the backend's embedding_backward); the indices themselves get no gradient.
#include <string>
#include <vector>

#include "autograd/record.hpp"
#include "backend/backend.hpp"
#include "democratising/autograd/autograd.hpp"
#include "democratising/nn/attention.hpp"
#include "op_checks.hpp"

namespace dm::nn {
namespace {

constexpr const char* kOp = "embedding";

void check_arguments(const Tensor& indices, const Tensor& weight) {
  impl_of(indices, kOp);
  impl_of(weight, kOp);
  common_device({&indices, &weight}, kOp);
  if (indices.dtype() != DType::i32 && indices.dtype() != DType::i64)
    throw DTypeError("[embedding] indices must be i32 or i64, got " + std::string(dtype_name(indices.dtype())));
  if (weight.dim() != 2) throw ShapeError("[embedding] weight must be 2-d (num, dim), got shape " + weight.shape().str());
  detail::require_floating(weight, kOp, "weight");
}

// The indices, flattened to i64 on the weight's device, after checking each on the host.
Tensor checked_indices(const Tensor& indices, const Tensor& weight) {
  const Tensor host = indices.to(Device::cpu()).to(DType::i64).contiguous();
  const std::int64_t num = weight.size(0);
  const std::int64_t* p = host.data<std::int64_t>();
  for (std::int64_t i = 0; i < host.numel(); ++i)
    if (p[i] < 0 || p[i] >= num)
      throw ValueError("[embedding] index " + std::to_string(p[i]) + " (at flat position " + std::to_string(i) +
                       " of indices " + indices.shape().str() + ") is out of range for weight " +
                       weight.shape().str() + " (valid: 0 to " + std::to_string(num - 1) + ")");
  return host.reshape({host.numel()}).to(weight.device());
}

struct EmbeddingBackward {
  Tensor flat;  // i64 (n) on the weight's device
  std::int64_t num, dim;
  DType dtype;  // of the weight; its gradient goes back in it

  std::vector<Tensor> operator()(const Tensor& grad) const {
    const Tensor g = detail::compute_view(grad);
    Tensor dw = Tensor::empty({num, dim}, g.dtype(), g.device());
    backend::backend_for(g.device())
        .embedding_backward(g.dtype(), static_cast<const std::byte*>(g.data_ptr()), flat.data<std::int64_t>(),
                            flat.numel(), num, dim, static_cast<std::byte*>(dw.data_ptr()));
    return {Tensor(), dw.to(dtype)};
  }
};

}  // namespace

Tensor embedding(const Tensor& indices, const Tensor& weight) {
  check_arguments(indices, weight);
  const Tensor flat = checked_indices(indices, weight);
  Shape out_shape = indices.shape();
  out_shape.push_back(weight.size(1));
  Tensor y;
  {
    NoGradGuard no_grad;  // the one node recorded below stands for the whole op
    y = weight.index_select(0, flat).reshape(out_shape).contiguous();
  }
  if (autograd::needs_grad({&weight})) {
    EmbeddingBackward backward{flat, weight.size(0), weight.size(1), weight.dtype()};
    autograd::record(y, kOp, {&indices, &weight}, std::move(backward));
  }
  return y;
}

}  // namespace dm::nn
