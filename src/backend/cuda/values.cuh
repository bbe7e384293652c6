#pragma once
// Reading and writing one element of any storage dtype on the device, converting to and from
// a compute type with convert.hpp's rules. The dtype is a kernel argument, so one kernel per
// compute type serves every storage dtype.
#include <cstdint>

#include "backend/cuda/convert.hpp"
#include "democratising/base/dtype.hpp"

namespace dm::cuda_backend {

/// Element i of `p` (of dtype dt) as T.
template <class T>
__device__ inline T load(const std::byte* p, DType dt, std::int64_t i) {
  switch (dt) {
    case DType::f32: return to<T>(reinterpret_cast<const float*>(p)[i]);
    case DType::f64: return to<T>(reinterpret_cast<const double*>(p)[i]);
    case DType::bf16: return to<T>(bf16_to_float(reinterpret_cast<const std::uint16_t*>(p)[i]));
    case DType::i32: return to<T>(reinterpret_cast<const std::int32_t*>(p)[i]);
    case DType::i64: return to<T>(reinterpret_cast<const std::int64_t*>(p)[i]);
    case DType::u8: return to<T>(reinterpret_cast<const std::uint8_t*>(p)[i]);
    case DType::boolean: return to<T>(reinterpret_cast<const bool*>(p)[i]);
  }
  return T{};
}

/// Stores v (a T) as element i of `p` (of dtype dt).
template <class T>
__device__ inline void store(std::byte* p, DType dt, std::int64_t i, T v) {
  switch (dt) {
    case DType::f32: reinterpret_cast<float*>(p)[i] = to<float>(v); return;
    case DType::f64: reinterpret_cast<double*>(p)[i] = to<double>(v); return;
    case DType::bf16: reinterpret_cast<std::uint16_t*>(p)[i] = float_to_bf16(to<float>(v)); return;
    case DType::i32: reinterpret_cast<std::int32_t*>(p)[i] = to<std::int32_t>(v); return;
    case DType::i64: reinterpret_cast<std::int64_t*>(p)[i] = to<std::int64_t>(v); return;
    case DType::u8: reinterpret_cast<std::uint8_t*>(p)[i] = to<std::uint8_t>(v); return;
    case DType::boolean: reinterpret_cast<bool*>(p)[i] = to<bool>(v); return;
  }
}

}  // namespace dm::cuda_backend
