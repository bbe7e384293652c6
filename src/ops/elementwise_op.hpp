#pragma once
// Typing rules of the elementwise ops. The ops themselves (their enums, names and result
// rules) are declared once, in backend/op_kinds.hpp, which the backends share.
#include "backend/op_kinds.hpp"
#include "democratising/base/dtype.hpp"

namespace dm {

class Tensor;
struct TensorImpl;

// ---- typing rules shared by the elementwise op files (defined in elementwise_typing.cpp) ----
namespace elementwise {

/// PyTorch's result type of a tensor-tensor op: promote_types, except that a 0-d tensor does
/// not widen a dimensioned tensor of the same kind (bool < integral < floating).
DType result_type(const TensorImpl& a, const TensorImpl& b);
/// Result type of a tensor-scalar op: a double never widens a floating tensor; an integral
/// value keeps an integer tensor's dtype (bool becomes i64); a fractional one gives f32.
DType result_type(DType t, double scalar);
/// The dtype a kernel computes in for values stored as `t`: bf16 computes in f32, bool in u8.
DType compute_type(DType t);
/// Throws DTypeError naming `op` unless a `result` value can be stored in a `target` tensor
/// (the in-place rule: no float into an integer tensor, nothing but bool into a bool tensor).
void check_can_store(DType result, DType target, const char* op);
/// Throws ValueError naming `op` unless `scalar` is representable in the integer dtype `t`.
void check_scalar_fits(double scalar, DType t, const char* op);
/// The result dtype of a unary op on a `t` tensor, by the op's ResultRule (clamp's depends
/// on its bounds); DTypeError naming the op where the rule rejects `t`.
DType unary_result(UnaryOp op, DType t, UnaryParams params);
/// Throws ValueError naming `op` when `t` is an expanded view (a stride-0 dim of size > 1):
/// an in-place write would store several results into one element.
void require_writable(const TensorImpl& t, const char* op);

}  // namespace elementwise
}  // namespace dm
