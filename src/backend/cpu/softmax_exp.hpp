#pragma once
// The exponentials of the softmax kernels: out[i] = exp(x[i] - shift) (one shift for a row)
// or exp(x[i] - shift[i]) (one shift per column). The f32 versions run vmath::exp on AVX2+FMA
// or SSE2 vectors, picked at run time (libm's expf is a scalar call per element and made
// softmax several times slower); the f64 versions call std::exp. `out` may equal `x`.
#include <cmath>
#include <cstdint>

namespace dm::cpu {

void exp_minus(const float* x, float shift, float* out, std::int64_t n);
void exp_minus(const float* x, const float* shift, float* out, std::int64_t n);

inline void exp_minus(const double* x, double shift, double* out, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) out[i] = std::exp(x[i] - shift);
}
inline void exp_minus(const double* x, const double* shift, double* out, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) out[i] = std::exp(x[i] - shift[i]);
}

}  // namespace dm::cpu
