#pragma once
// Element conversions of the CUDA kernels, the CPU's rules (core/dispatch.hpp's convert<>)
// written on raw bits so they compile for the device: bf16 rounds to nearest
// even through f32 (NaN stays NaN), bool is "not zero". Plain C++ for the host tests.
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "backend/host_device.hpp"

namespace dm::cuda_backend {

DM_HOST_DEVICE inline float bf16_to_float(std::uint16_t bits) {
  const std::uint32_t u = std::uint32_t{bits} << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

DM_HOST_DEVICE inline std::uint16_t float_to_bf16(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((u >> 16) | 0x40u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<std::uint16_t>(u >> 16);
}

/// v as To: a plain conversion, except that bool means "not zero" (NaN included).
template <class To, class From>
DM_HOST_DEVICE inline To to(From v) {
  if constexpr (std::is_same_v<To, bool>) return static_cast<double>(v) != 0.0;
  else return static_cast<To>(v);
}

}  // namespace dm::cuda_backend
