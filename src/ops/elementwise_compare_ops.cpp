// Comparisons (eq, ne, lt, le, gt, ge; bool results) and where(cond, a, b).
#include <cmath>
#include <string>

#include "core/kernel_args.hpp"
#include "core/tensor_impl.hpp"
#include "democratising/base/error.hpp"
#include "democratising/core/tensor.hpp"
#include "ops/op_grads.hpp"
#include "elementwise_op.hpp"

namespace dm {
namespace {

using namespace elementwise;

Tensor compare_op(CompareOp op, const Tensor& a, const Tensor& b) {
  const char* name = op_name(op).data();  // the names are string literals, so null-terminated
  const TensorImpl& ia = impl_of(a, name);
  const TensorImpl& ib = impl_of(b, name);
  const Device device = common_device({&a, &b}, name);
  const Shape shape = broadcast_shapes(ia.shape, ib.shape, name);
  Tensor out = make_tensor(shape, DType::boolean, device);
  backend::backend_for(device).compare(op, output_of(out), operand_of(ia, broadcast_strides(ia, shape, name)),
                                       operand_of(ib, broadcast_strides(ib, shape, name)),
                                       compute_type(result_type(ia, ib)));
  return out;
}

// An integer tensor is compared with an integral scalar in its own dtype when the scalar fits,
// and in f64 otherwise, which gives the exact answer where PyTorch would round to f32 or
// overflow. Floating tensors compare in their own precision, the scalar rounded to it.
DType scalar_compare_type(DType t, double scalar) {
  const DType compute = compute_type(t);
  if (is_floating(t)) return compute;
  const bool integral = std::isfinite(scalar) && scalar == std::trunc(scalar);
  double lo = 0.0, hi = 256.0;  // u8 (and bool, which computes in u8)
  if (compute == DType::i32) lo = -2147483648.0, hi = 2147483648.0;
  if (compute == DType::i64) lo = -9223372036854775808.0, hi = 9223372036854775808.0;
  return integral && scalar >= lo && scalar < hi ? compute : DType::f64;
}

Tensor compare_scalar_op(CompareOp op, const Tensor& a, double scalar) {
  const char* name = op_name(op).data();
  const TensorImpl& ia = impl_of(a, name);
  Tensor out = make_tensor(ia.shape, DType::boolean, ia.storage->device());
  backend_of(ia).compare_scalar(op, output_of(out), operand_of(ia), scalar, scalar_compare_type(ia.dtype, scalar));
  return out;
}

}  // namespace

Tensor Tensor::eq(const Tensor& other) const { return compare_op(CompareOp::eq, *this, other); }
Tensor Tensor::ne(const Tensor& other) const { return compare_op(CompareOp::ne, *this, other); }
Tensor Tensor::lt(const Tensor& other) const { return compare_op(CompareOp::lt, *this, other); }
Tensor Tensor::le(const Tensor& other) const { return compare_op(CompareOp::le, *this, other); }
Tensor Tensor::gt(const Tensor& other) const { return compare_op(CompareOp::gt, *this, other); }
Tensor Tensor::ge(const Tensor& other) const { return compare_op(CompareOp::ge, *this, other); }
Tensor Tensor::eq(double other) const { return compare_scalar_op(CompareOp::eq, *this, other); }
Tensor Tensor::ne(double other) const { return compare_scalar_op(CompareOp::ne, *this, other); }
Tensor Tensor::lt(double other) const { return compare_scalar_op(CompareOp::lt, *this, other); }
Tensor Tensor::le(double other) const { return compare_scalar_op(CompareOp::le, *this, other); }
Tensor Tensor::gt(double other) const { return compare_scalar_op(CompareOp::gt, *this, other); }
Tensor Tensor::ge(double other) const { return compare_scalar_op(CompareOp::ge, *this, other); }

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  const TensorImpl& ic = impl_of(cond, "where");
  const TensorImpl& ia = impl_of(a, "where");
  const TensorImpl& ib = impl_of(b, "where");
  const Device device = common_device({&cond, &a, &b}, "where");
  if (ic.dtype != DType::boolean)
    throw DTypeError("[where] the condition must be bool, got " + std::string(dtype_name(ic.dtype)));
  const Shape shape = broadcast_shapes(broadcast_shapes(ic.shape, ia.shape, "where"), ib.shape, "where");
  Tensor out = make_tensor(shape, result_type(ia, ib), device);
  backend::backend_for(device).where(output_of(out), operand_of(ic, broadcast_strides(ic, shape, "where")),
                                     operand_of(ia, broadcast_strides(ia, shape, "where")),
                                     operand_of(ib, broadcast_strides(ib, shape, "where")));
  if (autograd::needs_grad({&a, &b}))
    autograd::record(out, "where", {&cond, &a, &b}, autograd::where_backward(cond, a, b));
  return out;
}

}  // namespace dm
