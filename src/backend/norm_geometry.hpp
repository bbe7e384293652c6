#pragma once
// The geometry of batch and group normalisation, worked out and checked by the ops layer;
// kernels only read it.
#include <cstdint>

namespace dm::backend {

/// x and y (batch, channels, spatial), contiguous: a batch of samples with their trailing dims
/// flattened into `spatial` (1 for (N, C) input). Batch norm keeps one statistic per channel
/// over batch * spatial values; group norm one per (sample, group) over the group's
/// channels / groups * spatial contiguous values (groups divides channels; batch norm ignores it).
/// Affine weight and bias are per channel either way.
struct NormGeometry {
  std::int64_t batch = 0, channels = 0, spatial = 1;
  std::int64_t groups = 1;
};

}  // namespace dm::backend
