// Result-type and argument rules shared by the elementwise ops, following PyTorch's type
// promotion so that code ported from it computes in the same dtypes.
#include <cmath>
#include <limits>
#include <string>

#include "core/tensor_impl.hpp"
#include "democratising/base/error.hpp"
#include "elementwise_op.hpp"

namespace dm::elementwise {
namespace {

// PyTorch's categories: a 0-d operand only widens a dimensioned one of a lower category.
int category(DType t) {
  if (t == DType::boolean) return 0;
  return is_floating(t) ? 2 : 1;
}

std::string name(DType t) { return std::string(dtype_name(t)); }

}  // namespace

DType result_type(const TensorImpl& a, const TensorImpl& b) {
  const bool a_dimensioned = a.shape.size() > 0, b_dimensioned = b.shape.size() > 0;
  if (a_dimensioned && !b_dimensioned && category(b.dtype) <= category(a.dtype)) return a.dtype;
  if (b_dimensioned && !a_dimensioned && category(a.dtype) <= category(b.dtype)) return b.dtype;
  return promote_types(a.dtype, b.dtype);
}

DType result_type(DType t, double scalar) {
  if (is_floating(t)) return t;
  const bool integral_value = std::isfinite(scalar) && scalar == std::trunc(scalar);
  if (!integral_value) return DType::f32;  // PyTorch's default float dtype
  return t == DType::boolean ? DType::i64 : t;
}

DType compute_type(DType t) {
  switch (t) {
    case DType::bf16: return DType::f32;
    case DType::boolean: return DType::u8;
    default: return t;
  }
}

void check_can_store(DType result, DType target, const char* op) {
  const bool ok = is_floating(target) || (target == DType::boolean ? result == DType::boolean : !is_floating(result));
  if (!ok)
    throw DTypeError(std::string("[") + op + "] result type " + name(result) + " cannot be stored in place into a " +
                     name(target) + " tensor");
}

void check_scalar_fits(double scalar, DType t, const char* op) {
  double lo = 0.0, hi = 0.0;  // the representable range, as [lo, hi)
  switch (t) {
    case DType::i32: lo = -2147483648.0; hi = 2147483648.0; break;
    case DType::i64: lo = -9223372036854775808.0; hi = 9223372036854775808.0; break;
    case DType::u8: lo = 0.0; hi = 256.0; break;
    default: return;
  }
  if (!(scalar >= lo && scalar < hi))
    throw ValueError(std::string("[") + op + "] scalar " + std::to_string(scalar) + " does not fit the " + name(t) +
                     " tensor's dtype");
}

DType unary_result(UnaryOp op, DType t, UnaryParams params) {
  const OpInfo<UnaryOp>& info = op_info(op);
  switch (info.result) {
    case ResultRule::same: return t;
    case ResultRule::same_not_bool:
      if (t == DType::boolean)
        throw DTypeError("[" + std::string(info.name) + "] is not supported for bool tensors");
      return t;
    case ResultRule::floating: return is_floating(t) ? t : DType::f32;
    case ResultRule::bounds: return result_type(result_type(t, params.lo), params.hi);
    case ResultRule::boolean: return DType::boolean;
  }
  return t;
}

void require_writable(const TensorImpl& t, const char* op) {
  // An empty view writes nothing. Its strides may be 0 all the same: the contiguous strides
  // of (2, 0) are (0, 1), which would read as an expanded dim 0.
  if (t.shape.numel() == 0) return;
  for (int d = 0; d < t.shape.size(); ++d)
    if (t.shape[d] > 1 && t.strides[d] == 0)
      throw ValueError(std::string("[") + op + "] cannot write in place into an expanded view: shape " + t.shape.str() +
                       " has stride 0 in dim " + std::to_string(d) + " (strides " + t.strides.str() + ")");
}

}  // namespace dm::elementwise
