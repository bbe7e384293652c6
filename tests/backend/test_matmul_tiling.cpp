// The GEMM engine's tiling policy: tiles cover the output exactly, are balanced for two
// threads on the shapes that matter, keep tiny problems inline, and never split K.
#include <gtest/gtest.h>

#include <cstdint>

#include "backend/cpu/gemm_tiling.hpp"

namespace {

using dm::cpu::GemmShape;
using dm::cpu::GemmTiling;
using dm::cpu::plan_gemm_tiling;

void expect_covers(const GemmShape& s, const GemmTiling& t) {
  SCOPED_TRACE(::testing::Message() << s.batch << " x " << s.m << " x " << s.n << " x " << s.k);
  EXPECT_GE(t.tiles_m, 1);
  EXPECT_GE(t.tiles_n, 1);
  EXPECT_GE(t.tile_m * t.tiles_m, s.m);
  EXPECT_LT(t.tile_m * (t.tiles_m - 1), s.m);
  EXPECT_GE(t.tile_n * t.tiles_n, s.n);
  EXPECT_LT(t.tile_n * (t.tiles_n - 1), s.n);
  // Only a whole extent may be an odd size: inner tile edges sit on micro-kernel multiples.
  if (t.tiles_m > 1) {
    EXPECT_EQ(t.tile_m % 16, 0);
  }
  if (t.tiles_n > 1) {
    EXPECT_EQ(t.tile_n % 16, 0);
  }
  EXPECT_GE(t.grain, 1);
}

TEST(GemmTiling, TinyProblemsRunInline) {
  for (const GemmShape s : {GemmShape{1, 8, 8, 8}, GemmShape{1, 64, 64, 32}, GemmShape{100, 8, 8, 8}, GemmShape{1, 0, 5, 5},
                            GemmShape{1, 500, 500, 0}, GemmShape{0, 500, 500, 500}}) {
    const GemmTiling t = plan_gemm_tiling(s);
    EXPECT_TRUE(t.run_inline);
    EXPECT_EQ(t.tiles_m, 1);
    EXPECT_EQ(t.tiles_n, 1);
  }
}

TEST(GemmTiling, TwoThreadsGetEqualWorkAtM256) {
  // The MLP's layers: 256 rows of a batch against 784 -> 128 and 1024 -> 1024 weights.
  for (const GemmShape s : {GemmShape{1, 256, 128, 784}, GemmShape{1, 256, 1024, 1024}, GemmShape{1, 256, 256, 256}}) {
    const GemmTiling t = plan_gemm_tiling(s);
    expect_covers(s, t);
    EXPECT_FALSE(t.run_inline);
    const std::int64_t tasks = t.tasks(s.batch);
    EXPECT_GE(tasks, 2);
    EXPECT_EQ(tasks % 2, 0);
    EXPECT_EQ(s.m % t.tile_m, 0);  // all tiles the same size
    EXPECT_EQ(s.n % t.tile_n, 0);
  }
}

TEST(GemmTiling, TilesCoverEveryShape) {
  for (std::int64_t batch : {1, 3, 16})
    for (std::int64_t m : {1, 17, 100, 256, 513, 2048})
      for (std::int64_t n : {1, 31, 128, 784, 1030})
        for (std::int64_t k : {1, 64, 1000}) {
          const GemmShape s{batch, m, n, k};
          const GemmTiling t = plan_gemm_tiling(s);
          expect_covers(s, t);
          if (!t.run_inline && t.tasks(batch) < 8 && (m >= 64 || n >= 64)) {
            EXPECT_EQ(t.tasks(batch) % 2, 0);
          }
        }
}

TEST(GemmTiling, DependsOnTheShapeAlone) {
  const GemmShape s{1, 2048, 2048, 2048};
  const GemmTiling a = plan_gemm_tiling(s), b = plan_gemm_tiling(s);
  EXPECT_EQ(a.tile_m, b.tile_m);
  EXPECT_EQ(a.tile_n, b.tile_n);
  EXPECT_EQ(a.grain, b.grain);
  EXPECT_GE(a.tasks(1), 4);  // large products still spread over more than two threads
}

}  // namespace
