#pragma once
// The CPU GEMM engine: batched C = A * B, parallel over the one pool, with OpenBLAS running
// single-threaded inside each tile. The ops layer validates shapes and dtypes and works out
// layouts; this engine only computes.
#include <cstdint>
#include <span>

namespace dm::cpu {

/// Problem extents: `batch` independent products of an (m x k) by a (k x n) matrix.
struct GemmShape {
  std::int64_t batch = 1;
  std::int64_t m = 0;
  std::int64_t n = 0;
  std::int64_t k = 0;
};

/// One input operand. Batch item `b` is the matrix starting at data + batch_offsets[b]
/// (elements). Not transposed: stored row-major with leading dimension `ld` (rows are ld
/// apart). Transposed: the matrix's transpose is stored row-major with leading dimension `ld`,
/// i.e. the matrix itself is column-major. `ld` must be at least the stored row length.
template <class T>
struct GemmOperand {
  const T* data = nullptr;
  std::span<const std::int64_t> batch_offsets;  // one entry per batch item
  bool transposed = false;
  std::int64_t ld = 0;
};

/// Whether the engine may spread the tiles over the pool or must run them on the caller.
enum class GemmSchedule { parallel, sequential };

/// c (batch x m x n, contiguous row-major) = a (m x k) * b (k x n) per batch item.
/// k == 0 writes zeros. The tiling, and so every bit of the result, depends only on the
/// shape: never on the pool size or the schedule.
void gemm(const GemmShape& shape, const GemmOperand<float>& a, const GemmOperand<float>& b, float* c,
          GemmSchedule schedule = GemmSchedule::parallel);
void gemm(const GemmShape& shape, const GemmOperand<double>& a, const GemmOperand<double>& b, double* c,
          GemmSchedule schedule = GemmSchedule::parallel);

}  // namespace dm::cpu
