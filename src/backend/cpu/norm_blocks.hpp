#pragma once
// The two loops batch norm is made of, over contiguous (batch, channels, spatial) data:
// per-channel sums over batch and spatial, and an element-wise pass plane by plane.
//
// Sums run over tasks of about kElementsPerTask values: a block of images times a block of
// channels. Each (image block, channel) pair is summed in a fixed order into its own f64 slot:
// value j of each plane goes to running sum j % kLanes (images, then spatial values, in
// ascending order), so kLanes additions are in flight at once instead of one long chain of
// dependent ones, and the lanes are added in lane order at the end. The slots of a channel
// are then added in image-block order. Blocks and lanes depend only on the geometry, never on
// the thread count, so neither does any bit of a sum.
#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include "backend/norm_geometry.hpp"
#include "democratising/base/checked.hpp"
#include "democratising/runtime/pool.hpp"

namespace dm::cpu::norm_blocks {

inline constexpr std::int64_t kElementsPerTask = 1 << 15;
inline constexpr int kLanes = 8;

/// out[k * channels + ch] = sum over (i, j) of the k-th term that term(ch, flat index, acc)
/// adds into acc (std::array<double, K>), for every channel ch.
template <int K, class Term>
void channel_sums(const backend::NormGeometry& geo, Term&& term, double* out) {
  const std::int64_t n = geo.batch, c = geo.channels, s = geo.spatial;
  std::fill(out, out + K * c, 0.0);
  if (n == 0 || c == 0 || s == 0) return;
  const std::int64_t images = std::clamp<std::int64_t>(kElementsPerTask / s, 1, n);
  const std::int64_t channels = std::clamp<std::int64_t>(kElementsPerTask / (images * s), 1, c);
  const std::int64_t image_blocks = ceil_div(n, images), channel_blocks = ceil_div(c, channels);
  // partial (image_blocks, K, channels)
  std::vector<double> partial(static_cast<std::size_t>(image_blocks * K * c), 0.0);
  par_for(image_blocks * channel_blocks, 1, [&](std::int64_t t0, std::int64_t t1) {
    for (std::int64_t t = t0; t < t1; ++t) {
      const std::int64_t ib = t / channel_blocks, cb = t % channel_blocks;
      const std::int64_t i0 = ib * images, i1 = std::min(n, i0 + images);
      const std::int64_t c0 = cb * channels, c1 = std::min(c, c0 + channels);
      double* p = partial.data() + ib * K * c;
      for (std::int64_t ch = c0; ch < c1; ++ch) {
        std::array<std::array<double, K>, kLanes> lanes{};
        for (std::int64_t i = i0; i < i1; ++i) {
          const std::int64_t base = (i * c + ch) * s;
          std::int64_t j = 0;
          for (; j + kLanes <= s; j += kLanes)
            for (int l = 0; l < kLanes; ++l) term(ch, base + j + l, lanes[static_cast<std::size_t>(l)]);
          for (int l = 0; j < s; ++j, ++l) term(ch, base + j, lanes[static_cast<std::size_t>(l)]);
        }
        for (int k = 0; k < K; ++k) {
          double total = 0.0;
          for (const auto& lane : lanes) total += lane[static_cast<std::size_t>(k)];
          p[k * c + ch] = total;
        }
      }
    }
  });
  for (std::int64_t ib = 0; ib < image_blocks; ++ib)
    for (std::int64_t k = 0; k < K * c; ++k) out[k] += partial[static_cast<std::size_t>(ib * K * c + k)];
}

/// Calls plane(ch, first flat index) for each (image, channel) plane of `spatial` values, in parallel.
template <class Plane>
void for_each_plane(const backend::NormGeometry& geo, Plane&& plane) {
  const std::int64_t c = geo.channels, s = geo.spatial;
  if (s == 0) return;
  par_for(geo.batch * c, std::max<std::int64_t>(1, kElementsPerTask / s), [&](std::int64_t p0, std::int64_t p1) {
    for (std::int64_t p = p0; p < p1; ++p) plane(p % c, p * s);
  });
}

}  // namespace dm::cpu::norm_blocks
