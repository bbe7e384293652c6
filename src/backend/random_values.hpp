#pragma once
// How one Philox block becomes values: 4 f32 or 2 f64 uniforms in [0, 1), normals by
// Box-Muller, and 2 integers in a range. Shared by every backend, so a device fills a tensor
// with the same numbers as the CPU for the same seed, counter range and shape.
#include <cmath>
#include <cstdint>

#include "backend/host_device.hpp"
#include "backend/philox.hpp"

namespace dm::random_values {

__extension__ typedef unsigned __int128 u128;

inline constexpr float kTwoPi = 6.283185307179586f;

/// The top 24 bits of x as a float in [0, 1).
DM_HOST_DEVICE inline float uniform_f32(std::uint32_t x) { return static_cast<float>(x >> 8) * 0x1.0p-24f; }
/// The top 53 bits of hi:lo as a double in [0, 1).
DM_HOST_DEVICE inline double uniform_f64(std::uint32_t hi, std::uint32_t lo) {
  return static_cast<double>(((std::uint64_t{hi} << 32) | lo) >> 11) * 0x1.0p-53;
}

DM_HOST_DEVICE inline void uniform(const philox::Block& r, float* v) {
  for (int k = 0; k < 4; ++k) v[k] = uniform_f32(r[k]);
}
DM_HOST_DEVICE inline void uniform(const philox::Block& r, double* v) {
  v[0] = uniform_f64(r[0], r[1]);
  v[1] = uniform_f64(r[2], r[3]);
}

DM_HOST_DEVICE inline void normal(const philox::Block& r, float* v) {
  for (int p = 0; p < 2; ++p) {
    const float u1 = 1.0f - uniform_f32(r[2 * p]);  // (0, 1]: log stays finite
    const float u2 = uniform_f32(r[2 * p + 1]);
    const float rad = std::sqrt(-2.0f * std::log(u1));
    v[2 * p] = rad * std::cos(kTwoPi * u2);
    v[2 * p + 1] = rad * std::sin(kTwoPi * u2);
  }
}
DM_HOST_DEVICE inline void normal(const philox::Block& r, double* v) {
  const double u1 = 1.0 - uniform_f64(r[0], r[1]);  // (0, 1]: log stays finite
  const double u2 = uniform_f64(r[2], r[3]);
  const double rad = std::sqrt(-2.0 * std::log(u1));
  v[0] = rad * std::cos(2.0 * M_PI * u2);
  v[1] = rad * std::sin(2.0 * M_PI * u2);
}

/// Two integers in [low, low + range) by Lemire's multiply-shift.
DM_HOST_DEVICE inline void integers(const philox::Block& r, std::int64_t low, std::uint64_t range, std::int64_t* v) {
  for (int k = 0; k < 2; ++k) {
    const std::uint64_t bits = (std::uint64_t{r[2 * k]} << 32) | r[2 * k + 1];
    v[k] = low + static_cast<std::int64_t>((bits * static_cast<u128>(range)) >> 64);
  }
}

/// Values per block for T (f32: 4, f64 and i64: 2).
template <class T>
inline constexpr int kPerBlock = sizeof(T) == 4 ? 4 : 2;

}  // namespace dm::random_values
