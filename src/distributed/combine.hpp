#pragma once
// Element-wise combination of reduction inputs: the in-process transport's arithmetic, kept
// apart so that it is the one place where the order of a sum is decided (rank 0, 1, 2, ...),
// which is what makes every rank's result bitwise the same.
#include <algorithm>
#include <cstdint>
#include <string>

#include "democratising/distributed/world.hpp"
#include "democratising/base/error.hpp"

namespace dm::dist::detail {

template <class T>
void combine_into(T* acc, const T* in, std::int64_t n, Reduction op) {
  switch (op) {
    case Reduction::Sum:
    case Reduction::Mean:  // the division happens once, after the sum
      for (std::int64_t i = 0; i < n; ++i) acc[i] += in[i];
      break;
    case Reduction::Max:
      for (std::int64_t i = 0; i < n; ++i) acc[i] = std::max(acc[i], in[i]);
      break;
    case Reduction::Min:
      for (std::int64_t i = 0; i < n; ++i) acc[i] = std::min(acc[i], in[i]);
      break;
  }
}

/// acc[0..n) op= in[0..n) for a dtype the collectives support.
inline void combine_into(void* acc, const void* in, std::int64_t n, DType dtype, Reduction op) {
  switch (dtype) {
    case DType::f32: return combine_into(static_cast<float*>(acc), static_cast<const float*>(in), n, op);
    case DType::f64: return combine_into(static_cast<double*>(acc), static_cast<const double*>(in), n, op);
    case DType::i32:
      return combine_into(static_cast<std::int32_t*>(acc), static_cast<const std::int32_t*>(in), n, op);
    case DType::i64:
      return combine_into(static_cast<std::int64_t*>(acc), static_cast<const std::int64_t*>(in), n, op);
    default:
      throw DTypeError(std::string("[all_reduce] collectives support f32, f64, i32 and i64, not ") +
                       std::string(dtype_name(dtype)));
  }
}

}  // namespace dm::dist::detail
