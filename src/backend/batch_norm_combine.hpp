#pragma once
// The combination of batch norm's per-part statistics (batch_norm_combine_statistics), one
// channel at a time, shared by the CPU loop and the CUDA kernel so both use one formula in one
// order: the rows (count, means, M2s) merged pairwise in row order (Chan et al.'s update), rows
// with no values skipped.
#include <cmath>
#include <cstdint>

#include "backend/host_device.hpp"

namespace dm::backend {

/// Writes channel ch of the whole batch's (3, c): mean, invstd = 1 / sqrt(var + eps) with the
/// biased var, and the unbiased var, from `parts` rows of 1 + 2 * c values.
DM_HOST_DEVICE inline void combine_channel_statistics(std::int64_t parts, std::int64_t c, std::int64_t ch,
                                                      const double* gathered, double eps, double* out) {
  const std::int64_t row = 1 + 2 * c;
  double n = 0.0, mean = 0.0, m2 = 0.0;
  for (std::int64_t p = 0; p < parts; ++p) {
    const double* r = gathered + p * row;
    const double nb = r[0], mean_b = r[1 + ch], m2_b = r[1 + c + ch];
    if (nb == 0.0) continue;
    if (n == 0.0) {
      n = nb;
      mean = mean_b;
      m2 = m2_b;
      continue;
    }
    const double total = n + nb, delta = mean_b - mean;
    mean += delta * nb / total;
    m2 += m2_b + delta * delta * (n * nb / total);
    n = total;
  }
  out[ch] = mean;
  out[c + ch] = 1.0 / sqrt(m2 / n + eps);
  out[2 * c + ch] = m2 / (n - 1.0);
}

}  // namespace dm::backend
