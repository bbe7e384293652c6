#pragma once
// Argument checks shared by the fused nn ops: every message starts with "[op]" and names the
// shapes or dtypes involved.
#include <string>

#include "core/tensor_impl.hpp"
#include "democratising/base/error.hpp"
#include "democratising/core/tensor.hpp"

namespace dm::nn::detail {

/// Throws DTypeError unless `t` is f32, f64 or bf16; `what` names the argument.
inline void require_floating(const Tensor& t, const char* op, const char* what) {
  if (!is_floating(t.dtype()))
    throw DTypeError(std::string("[") + op + "] " + what + " must be f32, f64 or bf16, got " +
                     std::string(dtype_name(t.dtype())));
}

/// Throws DTypeError unless `t` holds integers (class labels).
inline void require_labels(const Tensor& t, const char* op) {
  const DType d = t.dtype();
  if (d != DType::i32 && d != DType::i64 && d != DType::u8)
    throw DTypeError(std::string("[") + op + "] labels must be i32, i64 or u8, got " + std::string(dtype_name(d)));
}

/// The dtype kernels compute in: bf16 is stored only, its arithmetic runs in f32.
inline DType compute_dtype(DType d) { return d == DType::bf16 ? DType::f32 : d; }

/// `t` as a contiguous tensor of its compute dtype (no copy when it already is one).
inline Tensor compute_view(const Tensor& t) { return t.to(compute_dtype(t.dtype())).contiguous(); }

}  // namespace dm::nn::detail
