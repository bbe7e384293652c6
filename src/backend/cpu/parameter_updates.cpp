// CPU kernels over whole parameter or gradient blocks: many scaled updates added to one
// buffer (dm::Parameters::update_batch), and the weighted sum of shard gradients.
#include <cstddef>

#include "backend/cpu/training_kernels.hpp"
#include "base/dispatch.hpp"
#include "democratising/runtime/pool.hpp"

namespace dm::cpu {
namespace {

// 16384 floats = 64 KiB: a block of the parameters stays in L2 while every update is added to
// it, and each update is read in runs long enough for the hardware prefetcher to follow. The
// boundaries depend only on the size (not on the pool), and each element sees the same
// additions in the same order either way.
constexpr std::int64_t kBlock = 16384;
// A single update is one streaming pass: larger blocks, fewer tasks.
constexpr std::int64_t kSingleUpdateBlock = kBlock * 16;
// Shard gradients summed per block of this many elements.
constexpr std::int64_t kReduceBlock = 4096;

// The one loop both update paths use, so a fused batch and a sequence of single updates
// round identically. A plain loop the compiler vectorises.
void add_scaled(float* __restrict params, const float* __restrict delta, float alpha, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) params[i] += alpha * delta[i];
}

}  // namespace

void add_scaled_many(float* p, std::span<const float* const> deltas, float alpha, std::int64_t n) {
  const std::int64_t grain = deltas.size() == 1 ? kSingleUpdateBlock : kBlock;
  par_for(n, grain, [&](std::int64_t b, std::int64_t e) {
    for (const float* src : deltas) add_scaled(p + b, src + b, alpha, e - b);
  });
}

void weighted_sum(DType dtype, std::byte* out, std::span<const std::byte* const> sources,
                  std::span<const double> weights, std::int64_t n) {
  dispatch_float(dtype, "weighted_sum", [&]<class T>(TypeTag<T>) {
    T* dst = reinterpret_cast<T*>(out);
    par_for(n, kReduceBlock, [&](std::int64_t b, std::int64_t e) {
      // Each element is read before it is overwritten, so out may be sources[0].
      const T w0 = static_cast<T>(weights[0]);
      const T* src0 = reinterpret_cast<const T*>(sources[0]);
      for (std::int64_t i = b; i < e; ++i) dst[i] = w0 * src0[i];
      for (std::size_t k = 1; k < sources.size(); ++k) {
        const T w = static_cast<T>(weights[k]);
        const T* src = reinterpret_cast<const T*>(sources[k]);
        for (std::int64_t i = b; i < e; ++i) dst[i] += w * src[i];
      }
    });
  });
}

}  // namespace dm::cpu
