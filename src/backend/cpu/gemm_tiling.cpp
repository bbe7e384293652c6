// The tiling policy of the GEMM engine. Each tile is one single-threaded BLAS call, which packs
// its own panels of A and B: splitting the output across N re-packs A once more per extra
// column of tiles, splitting across M re-packs B. So tiles stay large (packing then costs a
// few percent at most) and only as numerous as balancing the pool needs.
#include "gemm_tiling.hpp"

#include <algorithm>
#include <cmath>

namespace dm::cpu {
namespace {

// A tile side past this buys nothing (OpenBLAS blocks for the caches inside the call) and
// leaves fewer tasks to balance; 512 x 512 tiles cost ~1% extra packing against one big call.
constexpr std::int64_t kMaxTileExtent = 512;
// Tile sides are multiples of the micro-kernel footprints (sgemm 16 x 4, dgemm 4 x 8 on AVX2),
// so only the last tile of a matrix takes the slower edge kernels.
constexpr std::int64_t kTileAlign = 16;
// Fewer tasks than this leave a core idle; an odd count below kBalancedTasks leaves one core
// idle for a whole task at the end (e.g. 3 tasks on 2 threads run at 2/3 of full speed).
constexpr std::int64_t kMinTasks = 2;
constexpr std::int64_t kBalancedTasks = 8;
// Tiny tiles (a large batch of small matrices) are grouped into parallel blocks of at least
// this many flops, so scheduling stays negligible beside the arithmetic.
constexpr double kMinBlockFlops = 0.5e6;

std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

std::int64_t round_up(std::int64_t a, std::int64_t multiple) { return ceil_div(a, multiple) * multiple; }

// Side of each of `tiles` tiles covering `extent` (aligned, so the actual count may be lower).
std::int64_t tile_extent(std::int64_t extent, std::int64_t tiles) {
  if (tiles <= 1) return extent;
  return std::min(extent, round_up(ceil_div(extent, tiles), kTileAlign));
}

std::int64_t make_even(std::int64_t tiles) { return tiles > 1 && tiles % 2 == 1 ? tiles + 1 : tiles; }

}  // namespace

GemmTiling plan_gemm_tiling(const GemmShape& s) {
  GemmTiling t;
  t.tile_m = s.m;
  t.tile_n = s.n;
  t.tiles_m = 1;
  t.tiles_n = 1;
  const double flops = 2.0 * static_cast<double>(s.batch) * static_cast<double>(s.m) * static_cast<double>(s.n) *
                       static_cast<double>(s.k);
  if (s.batch <= 0 || s.m <= 0 || s.n <= 0 || flops < kGemmInlineFlops) {
    t.grain = std::max<std::int64_t>(1, t.tasks(s.batch));
    t.run_inline = true;
    return t;
  }
  t.run_inline = false;

  std::int64_t tm = make_even(ceil_div(s.m, kMaxTileExtent));
  std::int64_t tn = make_even(ceil_div(s.n, kMaxTileExtent));
  for (;;) {
    const std::int64_t tasks = s.batch * tm * tn;
    const bool balanced = tasks >= kBalancedTasks || (tasks >= kMinTasks && tasks % 2 == 0);
    if (balanced) break;
    const bool can_split_m = s.m >= 2 * kTileAlign * tm;
    const bool can_split_n = s.n >= 2 * kTileAlign * tn;
    if (!can_split_m && !can_split_n) break;
    // Doubling tn packs A (m x k) tn more times; doubling tm packs B (k x n) tm more times.
    const bool split_n = can_split_n && (!can_split_m || tn * s.m < tm * s.n);
    if (split_n) {
      tn *= 2;
    } else {
      tm *= 2;
    }
  }
  t.tile_m = tile_extent(s.m, tm);
  t.tile_n = tile_extent(s.n, tn);
  t.tiles_m = ceil_div(s.m, t.tile_m);
  t.tiles_n = ceil_div(s.n, t.tile_n);
  const double flops_per_task = flops / static_cast<double>(t.tasks(s.batch));
  t.grain = std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil(kMinBlockFlops / flops_per_task)));
  return t;
}

}  // namespace dm::cpu
