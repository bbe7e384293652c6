// Unary maths: neg, abs, exp, log, sqrt, relu, sigmoid, tanh, gelu, clamp and their in-place
// forms. Transcendental functions of integer tensors give f32, as in PyTorch.
#include <string>

#include "core/kernel_args.hpp"
#include "core/tensor_impl.hpp"
#include "democratising/base/error.hpp"
#include "democratising/core/tensor.hpp"
#include "ops/op_grads.hpp"
#include "autograd/version.hpp"
#include "elementwise_op.hpp"

namespace dm {
namespace {

using namespace elementwise;

Tensor unary_op(UnaryOp op, const Tensor& a, UnaryParams params = {}) {
  const char* name = op_name(op).data();  // the names are string literals, so null-terminated
  const TensorImpl& ia = impl_of(a, name);
  const DType result = unary_result(op, ia.dtype, params);
  Tensor out = make_tensor(ia.shape, result, ia.storage->device());
  backend_of(ia).unary(op, output_of(out), operand_of(ia), params, compute_type(result));
  if (autograd::needs_grad({&a})) autograd::record(out, name, {&a}, autograd::unary_backward(op, a, out, params));
  return out;
}

void unary_inplace(UnaryOp op, Tensor& self, const char* name, UnaryParams params = {}) {
  const TensorImpl& is = impl_of(self, name);
  require_writable(is, name);
  const DType result = unary_result(op, is.dtype, params);
  check_can_store(result, is.dtype, name);
  autograd::prepare_inplace(self, name);
  backend_of(is).unary(op, output_of(is, false), operand_of(is), params, compute_type(result));
}

}  // namespace

Tensor Tensor::neg() const { return unary_op(UnaryOp::neg, *this); }
Tensor Tensor::abs() const { return unary_op(UnaryOp::abs, *this); }
Tensor Tensor::exp() const { return unary_op(UnaryOp::exp, *this); }
Tensor Tensor::log() const { return unary_op(UnaryOp::log, *this); }
Tensor Tensor::sqrt() const { return unary_op(UnaryOp::sqrt, *this); }
Tensor Tensor::relu() const { return unary_op(UnaryOp::relu, *this); }
Tensor Tensor::sigmoid() const { return unary_op(UnaryOp::sigmoid, *this); }
Tensor Tensor::tanh() const { return unary_op(UnaryOp::tanh, *this); }
Tensor Tensor::gelu() const { return unary_op(UnaryOp::gelu, *this); }
Tensor Tensor::clamp(double lo, double hi) const { return unary_op(UnaryOp::clamp, *this, {lo, hi}); }

Tensor& Tensor::neg_() { unary_inplace(UnaryOp::neg, *this, "neg_"); return *this; }
Tensor& Tensor::abs_() { unary_inplace(UnaryOp::abs, *this, "abs_"); return *this; }
Tensor& Tensor::exp_() { unary_inplace(UnaryOp::exp, *this, "exp_"); return *this; }
Tensor& Tensor::log_() { unary_inplace(UnaryOp::log, *this, "log_"); return *this; }
Tensor& Tensor::sqrt_() { unary_inplace(UnaryOp::sqrt, *this, "sqrt_"); return *this; }
Tensor& Tensor::relu_() { unary_inplace(UnaryOp::relu, *this, "relu_"); return *this; }
Tensor& Tensor::sigmoid_() { unary_inplace(UnaryOp::sigmoid, *this, "sigmoid_"); return *this; }
Tensor& Tensor::tanh_() { unary_inplace(UnaryOp::tanh, *this, "tanh_"); return *this; }
Tensor& Tensor::clamp_(double lo, double hi) {
  unary_inplace(UnaryOp::clamp, *this, "clamp_", {lo, hi});
  return *this;
}

}  // namespace dm
