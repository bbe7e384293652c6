#pragma once
// How the CUDA random kernels turn one Philox block into values: the CPU's own generator and
// value code (backend/philox.hpp, backend/random_values.hpp) with the same scaling, in plain
// C++ so the host tests check it against the CPU fill. Thread b of a kernel computes block b.
#include <cstdint>

#include "backend/host_device.hpp"
#include "backend/random_values.hpp"

namespace dm::cuda_backend::random_blocks {

template <class T>
struct Uniform {
  T low, width;  // low + width * u in T, as the CPU fill does
  DM_HOST_DEVICE void operator()(const philox::Block& r, T* v) const {
    random_values::uniform(r, v);
    for (int k = 0; k < random_values::kPerBlock<T>; ++k) v[k] = low + width * v[k];
  }
};

template <class T>
struct Normal {
  T mean, std;
  bool standard;  // mean 0, std 1: left untouched (0 + 1 * -0.0 would make a -0.0 +0.0)
  DM_HOST_DEVICE void operator()(const philox::Block& r, T* v) const {
    random_values::normal(r, v);
    if (!standard)
      for (int k = 0; k < random_values::kPerBlock<T>; ++k) v[k] = mean + std * v[k];
  }
};

struct Integers {
  std::int64_t low;
  std::uint64_t range;
  DM_HOST_DEVICE void operator()(const philox::Block& r, std::int64_t* v) const {
    random_values::integers(r, low, range, v);
  }
};

/// Values [base, base + per block) of a draw of n from counter `start`: block b's share.
template <class T, class Gen>
DM_HOST_DEVICE void fill_block(T* out, std::int64_t n, std::int64_t b, std::uint64_t seed, std::uint64_t start,
                               const Gen& gen) {
  constexpr int kPer = random_values::kPerBlock<T>;
  T vals[kPer];
  gen(philox::generate(start + static_cast<std::uint64_t>(b), seed), vals);
  const std::int64_t base = b * kPer;
  for (int k = 0; k < kPer && base + k < n; ++k) out[base + k] = vals[k];
}

}  // namespace dm::cuda_backend::random_blocks
