#pragma once
// How the GEMM engine cuts a batched product into tasks. A pure function of the problem size,
// so the same problem always runs the same per-tile BLAS calls, and its result is bitwise the
// same on any number of threads. K is never split: every output element is summed by one call.
#include <cstdint>

#include "gemm.hpp"

namespace dm::cpu {

struct GemmTiling {
  std::int64_t tile_m = 0;   // rows per tile (the last tile of a matrix may be shorter)
  std::int64_t tile_n = 0;   // columns per tile
  std::int64_t tiles_m = 0;  // tiles down one output matrix
  std::int64_t tiles_n = 0;  // tiles across one output matrix
  std::int64_t grain = 1;    // tasks per parallel block, so that a block is worth dispatching
  bool run_inline = true;    // the whole problem is too small for a parallel dispatch

  /// Every task: batch x tiles_m x tiles_n, batch outermost.
  std::int64_t tasks(std::int64_t batch) const { return batch * tiles_m * tiles_n; }
};

/// Below this many flops (2*batch*m*n*k) a product runs on the calling thread: a parallel
/// dispatch costs a few microseconds, about what 1 MFLOP costs on one core.
inline constexpr double kGemmInlineFlops = 1.0e6;

/// The tiling of `shape` (m, n, k may be 0; then a single empty tile per matrix).
GemmTiling plan_gemm_tiling(const GemmShape& shape);

}  // namespace dm::cpu
