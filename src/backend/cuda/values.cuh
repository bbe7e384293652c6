#pragma once
// Reading and writing one element of any storage dtype on the device, converting to and from
// a compute type the way the CPU's convert<> does: bf16 rounds to nearest even through f32
// (NaN stays NaN), bool is "not zero". The dtype is a kernel argument, so one kernel per
// compute type serves every storage dtype.
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "democratising/dtype.hpp"

namespace dm::cuda_backend {

__host__ __device__ inline float bf16_to_float(std::uint16_t bits) {
  const std::uint32_t u = std::uint32_t{bits} << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

__host__ __device__ inline std::uint16_t float_to_bf16(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((u >> 16) | 0x40u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<std::uint16_t>(u >> 16);
}

template <class To, class From>
__host__ __device__ inline To to(From v) {
  if constexpr (std::is_same_v<To, bool>) return static_cast<double>(v) != 0.0;
  else return static_cast<To>(v);
}

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
