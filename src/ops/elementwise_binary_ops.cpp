// Binary arithmetic: add, sub, mul, div, pow, maximum, minimum, their scalar and in-place
// forms, and the + - * / operators. Each checks its operands, works out the broadcast shape
// and the result dtype (PyTorch's promotion), allocates and hands over to the CPU kernel.
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

// The op's ResultRule applied to the promoted dtype (torch: int / int is true division).
DType arithmetic_result(BinaryOp op, DType promoted) {
  return op_info(op).result == ResultRule::floating && !is_floating(promoted) ? DType::f32 : promoted;
}

void reject_bool_sub(BinaryOp op, DType a, DType b, const char* name) {
  if (op == BinaryOp::sub && a == DType::boolean && b == DType::boolean)
    throw DTypeError(std::string("[") + name + "] subtracting bool tensors is not supported");
}

Tensor binary_op(BinaryOp op, const Tensor& a, const Tensor& b) {
  const char* name = op_name(op).data();  // the names are string literals, so null-terminated
  const TensorImpl& ia = impl_of(a, name);
  const TensorImpl& ib = impl_of(b, name);
  const Device device = common_device({&a, &b}, name);
  reject_bool_sub(op, ia.dtype, ib.dtype, name);
  const Shape shape = broadcast_shapes(ia.shape, ib.shape, name);
  const DType result = arithmetic_result(op, result_type(ia, ib));
  Tensor out = make_tensor(shape, result, device);
  backend::backend_for(device).binary(op, output_of(out), operand_of(ia, broadcast_strides(ia, shape, name)),
                                      operand_of(ib, broadcast_strides(ib, shape, name)), compute_type(result));
  if (autograd::needs_grad({&a, &b})) autograd::record(out, name, {&a, &b}, autograd::binary_backward(op, a, b, out));
  return out;
}

// The dtype of `t op scalar`, with PyTorch's checks on the scalar.
DType scalar_result(BinaryOp op, DType t, double scalar, ScalarSide side, const char* name) {
  const DType result = arithmetic_result(op, result_type(t, scalar));
  if (is_floating(result)) return result;
  if (op == BinaryOp::pow && side == ScalarSide::right) {
    if (scalar < 0) throw ValueError(std::string("[") + name + "] integers to negative integer powers are not allowed");
    return result;  // the exponent may exceed the dtype; the kernel saturates it
  }
  check_scalar_fits(scalar, result, name);
  return result;
}

Tensor binary_scalar_op(BinaryOp op, const Tensor& a, double scalar, ScalarSide side) {
  const char* name = op_name(op).data();
  const TensorImpl& ia = impl_of(a, name);
  const DType result = scalar_result(op, ia.dtype, scalar, side, name);
  Tensor out = make_tensor(ia.shape, result, ia.storage->device());
  backend_of(ia).binary_scalar(op, output_of(out), operand_of(ia), scalar, side, compute_type(result));
  if (autograd::needs_grad({&a}))
    autograd::record(out, name, {&a}, autograd::binary_scalar_backward(op, a, scalar, side, out));
  return out;
}

bool same_view(const TensorImpl& x, const TensorImpl& y) {
  return x.storage == y.storage && x.offset == y.offset && x.shape == y.shape && x.strides == y.strides &&
         x.dtype == y.dtype;
}

void binary_inplace(BinaryOp op, Tensor& self, const Tensor& other, const char* name) {
  const TensorImpl& is = impl_of(self, name);
  const TensorImpl& io = impl_of(other, name);
  common_device({&self, &other}, name);
  require_writable(is, name);
  reject_bool_sub(op, is.dtype, io.dtype, name);
  const DType result = arithmetic_result(op, result_type(is, io));
  check_can_store(result, is.dtype, name);
  Strides other_strides = broadcast_strides(io, is.shape, name);
  // An operand overlapping self other than element for element would read values already
  // overwritten; it is read from a private copy instead.
  Tensor copy;
  const TensorImpl* src = &io;
  if (io.storage == is.storage && !same_view(io, is)) {
    copy = other.clone();
    src = copy.impl().get();
    other_strides = broadcast_strides(*src, is.shape, name);
  }
  autograd::prepare_inplace(self, name, &other);
  backend_of(is).binary(op, output_of(is, false), operand_of(is), operand_of(*src, other_strides), compute_type(result));
}

void binary_scalar_inplace(BinaryOp op, Tensor& self, double scalar, const char* name) {
  const TensorImpl& is = impl_of(self, name);
  require_writable(is, name);
  const DType result = scalar_result(op, is.dtype, scalar, ScalarSide::right, name);
  check_can_store(result, is.dtype, name);
  autograd::prepare_inplace(self, name);
  backend_of(is).binary_scalar(op, output_of(is, false), operand_of(is), scalar, ScalarSide::right,
                               compute_type(result));
}

}  // namespace

Tensor Tensor::add(const Tensor& other) const { return binary_op(BinaryOp::add, *this, other); }
Tensor Tensor::sub(const Tensor& other) const { return binary_op(BinaryOp::sub, *this, other); }
Tensor Tensor::mul(const Tensor& other) const { return binary_op(BinaryOp::mul, *this, other); }
Tensor Tensor::div(const Tensor& other) const { return binary_op(BinaryOp::div, *this, other); }
Tensor Tensor::pow(const Tensor& exponent) const { return binary_op(BinaryOp::pow, *this, exponent); }
Tensor Tensor::maximum(const Tensor& other) const { return binary_op(BinaryOp::maximum, *this, other); }
Tensor Tensor::minimum(const Tensor& other) const { return binary_op(BinaryOp::minimum, *this, other); }

Tensor Tensor::add(double other) const { return binary_scalar_op(BinaryOp::add, *this, other, ScalarSide::right); }
Tensor Tensor::sub(double other) const { return binary_scalar_op(BinaryOp::sub, *this, other, ScalarSide::right); }
Tensor Tensor::mul(double other) const { return binary_scalar_op(BinaryOp::mul, *this, other, ScalarSide::right); }
Tensor Tensor::div(double other) const { return binary_scalar_op(BinaryOp::div, *this, other, ScalarSide::right); }
Tensor Tensor::pow(double exponent) const {
  return binary_scalar_op(BinaryOp::pow, *this, exponent, ScalarSide::right);
}

Tensor& Tensor::add_(const Tensor& other) { binary_inplace(BinaryOp::add, *this, other, "add_"); return *this; }
Tensor& Tensor::sub_(const Tensor& other) { binary_inplace(BinaryOp::sub, *this, other, "sub_"); return *this; }
Tensor& Tensor::mul_(const Tensor& other) { binary_inplace(BinaryOp::mul, *this, other, "mul_"); return *this; }
Tensor& Tensor::div_(const Tensor& other) { binary_inplace(BinaryOp::div, *this, other, "div_"); return *this; }
Tensor& Tensor::add_(double other) { binary_scalar_inplace(BinaryOp::add, *this, other, "add_"); return *this; }
Tensor& Tensor::sub_(double other) { binary_scalar_inplace(BinaryOp::sub, *this, other, "sub_"); return *this; }
Tensor& Tensor::mul_(double other) { binary_scalar_inplace(BinaryOp::mul, *this, other, "mul_"); return *this; }
Tensor& Tensor::div_(double other) { binary_scalar_inplace(BinaryOp::div, *this, other, "div_"); return *this; }
Tensor& Tensor::pow_(double exponent) {
  binary_scalar_inplace(BinaryOp::pow, *this, exponent, "pow_");
  return *this;
}

Tensor operator+(const Tensor& a, const Tensor& b) { return a.add(b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return a.sub(b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return a.mul(b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return a.div(b); }
Tensor operator+(const Tensor& a, double b) { return a.add(b); }
Tensor operator-(const Tensor& a, double b) { return a.sub(b); }
Tensor operator*(const Tensor& a, double b) { return a.mul(b); }
Tensor operator/(const Tensor& a, double b) { return a.div(b); }
Tensor operator+(double a, const Tensor& b) { return b.add(a); }
Tensor operator-(double a, const Tensor& b) { return binary_scalar_op(BinaryOp::sub, b, a, ScalarSide::left); }
Tensor operator*(double a, const Tensor& b) { return b.mul(a); }
Tensor operator/(double a, const Tensor& b) { return binary_scalar_op(BinaryOp::div, b, a, ScalarSide::left); }
Tensor operator-(const Tensor& a) { return a.neg(); }

}  // namespace dm
