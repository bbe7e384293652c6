// nn::linear: y = x W^T + b with a hand-written backward.
//
//   x (..., in)   W (out, in)   b (out)   y (..., out)
//   forward:  one GEMM of x with W's transposed view (no copy), bias added row by row in place
//   backward: dx = g W,  dW = g^T x (leading dims of x flattened),  db = g summed over rows;
//             only the gradients some input needs are computed (a batch of images does not
//             need dx, which saves the largest GEMM of a first layer).
#include <string>
#include <vector>

#include "autograd/grad_into.hpp"
#include "autograd/record.hpp"
#include "backend/backend.hpp"
#include "democratising/autograd/autograd.hpp"
#include "democratising/nn/functional.hpp"
#include "op_checks.hpp"
#include "ops/matmul_into.hpp"

namespace dm::nn {
namespace {

constexpr const char* kOp = "linear";

std::string operands(const Tensor& x, const Tensor& w) {
  return std::string("[linear] x ") + x.shape().str() + " vs weight " + w.shape().str();
}

void check_arguments(const Tensor& x, const Tensor& w, const Tensor& b) {
  impl_of(x, kOp);
  impl_of(w, kOp);
  common_device({&x, &w, &b}, kOp);
  if (w.dim() != 2) throw ShapeError("[linear] weight must be 2-d (out, in), got shape " + w.shape().str());
  if (x.dim() < 1) throw ShapeError("[linear] x must have at least 1 dim (..., in), got shape " + x.shape().str());
  if (x.size(-1) != w.size(1))
    throw ShapeError(operands(x, w) + ": x's last dim " + std::to_string(x.size(-1)) + " must equal in_features " +
                     std::to_string(w.size(1)));
  if (b.defined() && (b.dim() != 1 || b.size(0) != w.size(0)))
    throw ShapeError(std::string("[linear] bias ") + b.shape().str() + " vs weight " + w.shape().str() +
                     ": bias must have shape " + Shape{w.size(0)}.str());
  detail::require_floating(x, kOp, "x");
  if (x.dtype() != w.dtype() || (b.defined() && b.dtype() != w.dtype()))
    throw DTypeError(std::string("[linear] x ") + std::string(dtype_name(x.dtype())) + ", weight " +
                     std::string(dtype_name(w.dtype())) +
                     (b.defined() ? ", bias " + std::string(dtype_name(b.dtype())) : std::string()) +
                     ": dtypes must match");
}

// The forward pass in a compute dtype (f32 or f64), recording nothing.
Tensor linear_forward(const Tensor& x, const Tensor& w, const Tensor& b) {
  Tensor y = x.matmul(w.t());
  if (!b.defined()) return y;
  const Tensor bc = b.contiguous();
  const std::int64_t cols = w.size(0);
  backend::backend_for(y.device())
      .bias_add_rows(y.dtype(), static_cast<std::byte*>(y.data_ptr()), static_cast<const std::byte*>(bc.data_ptr()),
                     y.numel() / std::max<std::int64_t>(cols, 1), cols);
  return y;
}

struct LinearBackward {
  Tensor x, w;
  bool has_bias;
  bool need_x, need_w, need_b;
  DType dtype;  // of the inputs; gradients go back in it

  std::vector<Tensor> operator()(const Tensor& grad) const {
    const std::int64_t out = w.size(0), in = w.size(1);
    const Tensor g = detail::compute_view(grad).reshape({-1, out});  // (rows, out)
    const Tensor wc = w.to(detail::compute_dtype(dtype));
    std::vector<Tensor> grads(3);
    if (need_x) grads[0] = g.matmul(wc).reshape(x.shape()).to(dtype);  // (rows, in)
    // The weight's and bias's gradients go straight into the caller's buffers where the engine
    // offers them (and the compute dtype is theirs), saving a copy of the largest gradient.
    if (need_w) {
      const Tensor x2 = x.to(detail::compute_dtype(dtype)).reshape({-1, in});  // (rows, in)
      const Tensor dst = autograd::gradient_destination(1);
      if (dst.defined() && dst.dtype() == g.dtype()) {
        matmul_into(g.t(), x2, dst);
        grads[1] = dst;
      } else {
        grads[1] = g.t().matmul(x2).to(dtype);  // (out, in)
      }
    }
    if (need_b && has_bias) {
      const Tensor dst = autograd::gradient_destination(2);
      Tensor db = dst.defined() && dst.dtype() == g.dtype() ? dst : Tensor::empty({out}, g.dtype(), g.device());
      backend::backend_for(g.device())
          .sum_rows(g.dtype(), static_cast<const std::byte*>(g.data_ptr()), static_cast<std::byte*>(db.data_ptr()),
                    g.size(0), out);
      grads[2] = db.impl() == dst.impl() ? db : db.to(dtype);
    }
    return grads;
  }
};

}  // namespace

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  check_arguments(x, weight, bias);
  Tensor y;
  {
    NoGradGuard no_grad;  // the fused node below is the only one recorded
    if (x.dtype() == DType::bf16) {
      y = linear_forward(x.to(DType::f32), weight.to(DType::f32), bias.defined() ? bias.to(DType::f32) : Tensor())
              .to(DType::bf16);
    } else {
      y = linear_forward(x, weight, bias);
    }
  }
  if (autograd::needs_grad({&x, &weight, &bias})) {
    LinearBackward backward{x,
                            weight,
                            bias.defined(),
                            x.requires_grad(),
                            weight.requires_grad(),
                            bias.defined() && bias.requires_grad(),
                            x.dtype()};
    autograd::record(y, kOp, {&x, &weight, &bias}, std::move(backward));
  }
  return y;
}

}  // namespace dm::nn
