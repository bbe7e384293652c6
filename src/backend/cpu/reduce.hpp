#pragma once
// CPU reduction kernels. They only compute: the ops layer has already validated dims and
// dtypes and has laid the input out as one dense (outer, reduce, inner) block (see
// ReduceGeometry in backend/op_kinds.hpp).
//
// Every output element is reduced in an order fixed by (outer, reduce, inner) alone, never by
// how the work lands on threads, so results are bitwise identical for any pool size.
#include <cstddef>
#include <cstdint>

#include "backend/op_kinds.hpp"
#include "democratising/base/dtype.hpp"

namespace dm::cpu {

/// out = sum over k. f32/f64/bf16 inputs give the same dtype (accumulated in f64); integer
/// and bool inputs give i64.
void sum_kernel(const std::byte* in, DType dtype, ReduceGeometry g, std::byte* out);

/// out = sum over k / reduce, in the input's (floating) dtype; NaN when reduce == 0.
void mean_kernel(const std::byte* in, DType dtype, ReduceGeometry g, std::byte* out);

/// out = sum over k of (x - mean)^2 / max(0, reduce - correction), or its square root when
/// `take_sqrt`; floating dtypes only. Two passes (mean, then squared deviations) for accuracy.
void var_kernel(const std::byte* in, DType dtype, ReduceGeometry g, std::int64_t correction, bool take_sqrt,
                std::byte* out);

/// The first largest (or smallest) element over k; NaN counts as larger (and smaller) than
/// every number, so a slice holding NaN gives NaN and the index of its first NaN.
/// `values` (input dtype) and `indices` (i64, position along k) may each be null.
/// Requires reduce >= 1.
void extreme_kernel(const std::byte* in, DType dtype, ReduceGeometry g, Extreme kind, std::byte* values,
                    std::int64_t* indices);

/// out has the input's (floating) dtype and its (outer, reduce, inner) layout:
/// softmax = exp(x - max) / sum exp(x - max); log_softmax = x - max - log(sum exp(x - max)).
void softmax_kernel(const std::byte* in, DType dtype, ReduceGeometry g, SoftmaxKind kind, std::byte* out);

/// out[o, i] = log(sum_k exp(x[o, k, i])), stable: max + log(sum exp(x - max)); a slice of
/// all -inf gives -inf and one holding +inf gives +inf.
void logsumexp_kernel(const std::byte* in, DType dtype, ReduceGeometry g, std::byte* out);

}  // namespace dm::cpu
