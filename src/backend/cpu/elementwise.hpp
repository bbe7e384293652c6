#pragma once
// CPU kernels of the elementwise ops. The ops layer has already checked shapes, devices and
// dtypes, allocated `out` and chosen the compute dtype; these functions only compute.
//
// Every input is read through strides that map it onto out's shape (stride 0 on broadcast
// dims), so broadcasting, transposes and slices cost no copies. Inputs and out may have any
// storage dtype; values are converted to `compute` (f32, f64, i32, i64 or u8) on the way in
// and back to out's dtype on the way out. `out` may be the very same view as an input (the
// in-place ops), but must not overlap one partially.
#include "backend/backend.hpp"

namespace dm::cpu {

using backend::Operand;
using backend::Output;

/// out = op(a, b).
void binary(BinaryOp op, const Output& out, const Operand& a, const Operand& b, DType compute);
/// out = op(a, scalar) (side right) or op(scalar, a) (side left).
void binary_scalar(BinaryOp op, const Output& out, const Operand& a, double scalar, ScalarSide side, DType compute);
/// out = op(a); params are clamp's bounds.
void unary(UnaryOp op, const Output& out, const Operand& a, UnaryParams params, DType compute);
/// out (bool) = a op b.
void compare(CompareOp op, const Output& out, const Operand& a, const Operand& b, DType compute);
/// out (bool) = a op scalar.
void compare_scalar(CompareOp op, const Output& out, const Operand& a, double scalar, DType compute);
/// out = cond ? a : b, with cond bool and values converted to out's dtype.
void where(const Output& out, const Operand& cond, const Operand& a, const Operand& b);
/// out = src converted to out's dtype, strided on both sides.
void copy(const Output& out, const Operand& src);
/// out = value converted to out's dtype.
void fill(const Output& out, double value);
/// dx = g * f'(x) over flat (n) arrays of f32 or f64.
void unary_backward(UnaryGradOp op, DType dtype, const std::byte* g, const std::byte* x, const std::byte* y,
                    std::byte* dx, std::int64_t n);

/// For tests: run the x86-64 baseline (SSE2) loops even where AVX2 is available, so that both
/// compiled variants can be checked on one machine.
void force_baseline_simd(bool on);

}  // namespace dm::cpu
