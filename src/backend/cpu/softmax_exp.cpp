// exp_minus for f32 on GCC vectors: 8 lanes with AVX2+FMA when the CPU has them, else 4
// lanes of the x86-64 baseline. The last partial vector is padded, so every element goes
// through the same vector code.
#include "backend/cpu/softmax_exp.hpp"

#include <cstring>

#include "backend/cpu/elementwise_math.hpp"

// Vectors only cross always-inlined functions here, so GCC's AVX ABI note does not apply;
// it is reported at the end of the file, hence no matching pop.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace dm::cpu {
namespace {

bool cpu_has_avx2_fma() {
#if defined(__x86_64__)
  static const bool yes = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return yes;
#else
  return false;
#endif
}

// shift_step 0: every element subtracts shift[0]; 1: element i subtracts shift[i].
template <int Bytes>
[[gnu::always_inline]] inline void exp_minus_body(const float* x, const float* shift, int shift_step, float* out,
                                                  std::int64_t n) {
  using V = vmath::Vec<float, Bytes>;
  constexpr std::int64_t kLanes = Bytes / 4;
  const V scalar_shift = vmath::splat<V>(shift[0]);
  std::int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    V v, s = scalar_shift;
    std::memcpy(&v, x + i, Bytes);
    if (shift_step) std::memcpy(&s, shift + i, Bytes);
    v = vmath::exp(v - s);
    std::memcpy(out + i, &v, Bytes);
  }
  if (i < n) {
    const auto tail = static_cast<std::size_t>(n - i) * 4;
    V v{}, s = scalar_shift;
    std::memcpy(&v, x + i, tail);
    if (shift_step) std::memcpy(&s, shift + i, tail);
    v = vmath::exp(v - s);
    std::memcpy(out + i, &v, tail);
  }
}

#if defined(__x86_64__)
[[gnu::target("avx2,fma")]] void exp_minus_avx2(const float* x, const float* shift, int step, float* out,
                                                std::int64_t n) {
  exp_minus_body<32>(x, shift, step, out, n);
}
#endif

void exp_minus_baseline(const float* x, const float* shift, int step, float* out, std::int64_t n) {
  exp_minus_body<16>(x, shift, step, out, n);
}

void exp_minus_any(const float* x, const float* shift, int step, float* out, std::int64_t n) {
#if defined(__x86_64__)
  if (cpu_has_avx2_fma()) return exp_minus_avx2(x, shift, step, out, n);
#endif
  exp_minus_baseline(x, shift, step, out, n);
}

}  // namespace

void exp_minus(const float* x, float shift, float* out, std::int64_t n) { exp_minus_any(x, &shift, 0, out, n); }

void exp_minus(const float* x, const float* shift, float* out, std::int64_t n) {
  exp_minus_any(x, shift, 1, out, n);
}

}  // namespace dm::cpu

