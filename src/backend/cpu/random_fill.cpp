// CPU kernels: filling flat buffers from Philox counter ranges. Value i of a draw depends only
// on (seed, start, i), so filling in parallel blocks gives the same tensor for any thread count.
#include <string>

#include "backend/cpu/training_kernels.hpp"
#include "backend/random_values.hpp"
#include "democratising/base/error.hpp"
#include "democratising/runtime/pool.hpp"

namespace dm::cpu {
namespace {

constexpr std::int64_t kRandomGrain = 1 << 16;

// Fills n values; gen(block, vals) writes PerBlock values from one counter.
template <class T, class Gen>
void fill_blocks(T* out, std::int64_t n, std::uint64_t seed, std::uint64_t start, Gen&& gen) {
  constexpr int kPer = random_values::kPerBlock<T>;
  const std::int64_t blocks = (n + kPer - 1) / kPer;
  par_for(blocks, kRandomGrain / kPer, [&](std::int64_t b0, std::int64_t b1) {
    for (std::int64_t b = b0; b < b1; ++b) {
      T vals[kPer];
      gen(philox::generate(start + static_cast<std::uint64_t>(b), seed), vals);
      const std::int64_t base = b * kPer;
      for (int k = 0; k < kPer && base + k < n; ++k) out[base + k] = vals[k];
    }
  });
}

[[noreturn]] void not_floating(DType dtype, const char* op) {
  throw DTypeError(std::string("[") + op + "] fills f32 or f64, got " + std::string(dtype_name(dtype)));
}

}  // namespace

void random_uniform(std::byte* out, DType dtype, std::int64_t n, std::uint64_t seed, std::uint64_t start, double low,
                    double high) {
  // low + (high - low) * u in T; [0, 1) draws keep u exactly.
  if (dtype == DType::f64) {
    fill_blocks(reinterpret_cast<double*>(out), n, seed, start, [&](const philox::Block& r, double* v) {
      random_values::uniform(r, v);
      for (int k = 0; k < 2; ++k) v[k] = low + (high - low) * v[k];
    });
  } else if (dtype == DType::f32) {
    const float lo = static_cast<float>(low), width = static_cast<float>(high - low);
    fill_blocks(reinterpret_cast<float*>(out), n, seed, start, [&](const philox::Block& r, float* v) {
      random_values::uniform(r, v);
      for (int k = 0; k < 4; ++k) v[k] = lo + width * v[k];
    });
  } else {
    not_floating(dtype, "random_uniform");
  }
}

void random_normal(std::byte* out, DType dtype, std::int64_t n, std::uint64_t seed, std::uint64_t start, double mean,
                   double std) {
  // The standard normal is left untouched (0 + 1 * -0.0 would turn a -0.0 into +0.0).
  const bool standard = mean == 0.0 && std == 1.0;
  if (dtype == DType::f64) {
    fill_blocks(reinterpret_cast<double*>(out), n, seed, start, [&](const philox::Block& r, double* v) {
      random_values::normal(r, v);
      if (!standard)
        for (int k = 0; k < 2; ++k) v[k] = mean + std * v[k];
    });
  } else if (dtype == DType::f32) {
    const float m = static_cast<float>(mean), s = static_cast<float>(std);
    fill_blocks(reinterpret_cast<float*>(out), n, seed, start, [&](const philox::Block& r, float* v) {
      random_values::normal(r, v);
      if (!standard)
        for (int k = 0; k < 4; ++k) v[k] = m + s * v[k];
    });
  } else {
    not_floating(dtype, "random_normal");
  }
}

void random_int(std::int64_t* out, std::int64_t n, std::uint64_t seed, std::uint64_t start, std::int64_t low,
                std::int64_t high) {
  const auto range = static_cast<std::uint64_t>(high) - static_cast<std::uint64_t>(low);
  fill_blocks(out, n, seed, start,
              [&](const philox::Block& r, std::int64_t* v) { random_values::integers(r, low, range, v); });
}

}  // namespace dm::cpu
